from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from conflux.events import (
    EVENT_TYPES,
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    AssetSnapshot,
    AutomationEvaluated,
    BackfillCanceled,
    BackfillCompleted,
    BackfillRequested,
    ComponentHeartbeat,
    ConditionResult,
    DefinitionsPublished,
    DynamicPartitionsAdded,
    DynamicPartitionsDeleted,
    EpochMarked,
    EventValidationError,
    InstigatorStatusChanged,
    LeadershipClaimed,
    LocationLoadFailed,
    LocationReloadRequested,
    LocationSnapshot,
    LogLinesCaptured,
    MaterializationRequested,
    PartitionFailed,
    PartitionRange,
    PartitionStarted,
    RecordDeadLettered,
    RunCompleted,
    RunHeld,
    RunRequestSpec,
    RunStarted,
    SensorCursorSet,
    StaticPartitionsSnapshot,
    TickCompleted,
    TickRequested,
    Topics,
    UpstreamRef,
    WorkItemAbandoned,
    WorkItemDispatched,
    WorkItemSkipped,
    decode_event,
    derived_id,
    encode_event,
    mark_key,
    partition_for,
    register_upcaster,
)
from conflux.events._serde import UPCASTERS

if TYPE_CHECKING:
    from conflux.events import Event

SAMPLES = [
    DefinitionsPublished(
        location="shop",
        snapshot_id="abc",
        snapshot=LocationSnapshot(
            location="shop",
            assets=(
                AssetSnapshot(key="a", node="a", partitions=StaticPartitionsSnapshot(keys=("x",))),
            ),
        ),
    ),
    LocationLoadFailed(location="shop", error_type="SyntaxError", message="bad", traceback="tb"),
    MaterializationRequested(
        run_id="r1",
        selection="a*",
        asset_keys=("a", "b"),
        partition_range=PartitionRange(start="1", end="2"),
    ),
    RunStarted(run_id="r1", asset_keys=("a",), partition_count=2),
    WorkItemDispatched(
        work_item_id="w1",
        run_id="r1",
        location="shop",
        node="a",
        asset_keys=("a",),
        partition_key="x",
        upstream=(UpstreamRef(asset_key="u", partition_key="x", data_version="v1", event_id="e"),),
    ),
    WorkItemSkipped(work_item_id="w2", run_id="r1", asset_keys=("b",), reason="upstream a failed"),
    RunHeld(run_id="r1", location="shop", reason="location shop is down"),
    RunCompleted(run_id="r1", status="failed", materialized=1, failed=1),
    WorkItemAbandoned(
        work_item_id="w1", run_id="r1", asset_keys=("a",), attempt=1, reason="worker gone"
    ),
    BackfillRequested(
        backfill_id="b1",
        selection="a*",
        asset_keys=("a", "b"),
        partition_range=PartitionRange(start="2024-01-01", end="2024-12-31"),
        only="missing",
    ),
    BackfillCanceled(backfill_id="b1", requested_by="me"),
    BackfillCompleted(backfill_id="b1", status="canceled", chunks=3, materialized=10),
    PartitionStarted(
        asset_key="a", partition_key="x", run_id="r1", work_item_id="w1", worker_id="w"
    ),
    AssetMaterialized(
        asset_key="a",
        partition_key="x",
        data_version="v2",
        metadata={"rows": 3, "n": [1, {"k": None}]},
    ),
    AssetObserved(
        asset_key="src",
        partition_key="x",
        data_version="v7",
        metadata={"files": 2},
        source="sensor",
        tick_id="t1",
    ),
    PartitionFailed(
        asset_key="a",
        run_id="r1",
        work_item_id="w1",
        worker_id="w",
        error_type="ValueError",
        message="m",
        log_lines=3,
        log_dropped=0,
    ),
    LogLinesCaptured(
        run_id="r1",
        asset_key="a",
        partition_key="2024-01-01",
        work_item_id="w1",
        worker_id="w",
        attempt=2,
        first_seq=7,
        times=(1704067200.25, 1704067200.5),
        streams=("log", "stdout"),
        levels=("INFO", ""),
        messages=("loaded", "x"),
        dropped=4,
    ),
    ComponentHeartbeat(component="coordinator", instance_id="c1"),
    DynamicPartitionsAdded(partitions_def_name="customers", partition_keys=("acme", "bolt")),
    DynamicPartitionsDeleted(partitions_def_name="customers", partition_keys=("acme",)),
    InstigatorStatusChanged(instigator_type="schedule", name="nightly", status="running"),
    SensorCursorSet(name="new_files", cursor="42"),
    TickRequested(
        instigator_type="sensor",
        name="new_files",
        location="shop",
        tick_id="t1",
        tick_time=datetime(2024, 1, 1, tzinfo=UTC),
        cursor="41",
    ),
    TickCompleted(
        instigator_type="sensor",
        name="new_files",
        location="shop",
        tick_id="t1",
        tick_time=datetime(2024, 1, 1, tzinfo=UTC),
        status="success",
        run_requests=(RunRequestSpec(run_key="f-42", asset_keys=("orders",), tags={"f": "42"}),),
        cursor="42",
    ),
    AutomationEvaluated(
        asset_key="daily_revenue",
        partition_key="2024-01-01",
        run_id="r9",
        result=ConditionResult(
            condition="eager",
            value=True,
            children=(ConditionResult(condition="any_deps_updated", value=True, detail="orders"),),
        ),
    ),
    AssetCheckEvaluated(
        asset_key="orders",
        partition_key="2024-01-01",
        check_name="no_nulls",
        passed=False,
        blocking=True,
        metadata={"nulls": 3},
    ),
    LeadershipClaimed(instance_id="coordinator@h:1:ab", pid=1, proposed_epoch=3),
    EpochMarked(epoch=3, instance_id="c1", topic="t.runs", partition=2, partitions=3),
    LocationReloadRequested(location="shop", requested_by="me"),
    RecordDeadLettered(
        source_topic="t", source_partition=0, source_offset=5, value="{", reason="not JSON"
    ),
]


def test_every_event_type_has_a_sample() -> None:
    assert {type(e).__name__ for e in SAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip_is_exact(event: Event) -> None:
    raw = encode_event(event)
    back = decode_event(raw)
    assert back == event
    assert type(back) is type(event)
    assert json.loads(raw)["type"] == type(event).__name__


def test_events_are_frozen_and_reject_unknown_fields() -> None:
    event = RunStarted(run_id="r", asset_keys=("a",), partition_count=1)
    with pytest.raises(ValidationError):
        event.run_id = "other"  # type: ignore[misc]  # a frozen field, on purpose
    with pytest.raises(ValidationError):
        # an unknown field, on purpose
        RunStarted(run_id="r", asset_keys=("a",), partition_count=1, extra_field=1)  # type: ignore[call-arg]


def test_time_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationError):
        RunStarted(run_id="r", asset_keys=(), partition_count=0, time=datetime(2024, 1, 1))
    aware = RunStarted(
        run_id="r",
        asset_keys=(),
        partition_count=0,
        time=datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2))),
    )
    assert decode_event(encode_event(aware)).time == datetime(2023, 12, 31, 22, tzinfo=UTC)


def test_envelope_defaults() -> None:
    a = ComponentHeartbeat(component="projector", instance_id="p")
    b = ComponentHeartbeat(component="projector", instance_id="p")
    assert a.event_id != b.event_id
    assert a.schema_version == 1
    assert a.time.tzinfo is not None


def test_derived_ids_are_deterministic_and_distinct() -> None:
    assert derived_id("work", "r1", "a", "x") == derived_id("work", "r1", "a", "x")
    assert derived_id("work", "r1", "a", "x") != derived_id("work", "r1", "ax", "")
    assert derived_id("a", "bc") != derived_id("ab", "c")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "NoSuchEvent"}', "NoSuchEvent"),
        (b'{"type": "RunStarted", "run_id": "r"}', "asset_keys"),
        (
            b'{"type": "RunStarted", "run_id": "r", "asset_keys": [], "partition_count": "many"}',
            "partition_count",
        ),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_invalid_records_raise_one_typed_error_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(EventValidationError) as info:
        decode_event(raw)
    assert reason in info.value.reason
    assert "\n" not in info.value.reason


def test_upcaster_lifts_an_old_version() -> None:
    old = {
        "type": "RunStarted",
        "schema_version": 0,
        "run_id": "r",
        "assets": ["a"],
        "partition_count": 1,
        "event_id": "e",
        "time": "2024-01-01T00:00:00Z",
    }

    @register_upcaster("RunStarted", 0)
    def rename_assets(data: dict[str, object]) -> dict[str, object]:
        data = dict(data)
        data["asset_keys"] = data.pop("assets")
        data["schema_version"] = 1
        return data

    try:
        event = decode_event(json.dumps(old))
        assert isinstance(event, RunStarted)
        assert event.asset_keys == ("a",)
        assert event.schema_version == 1
    finally:
        UPCASTERS.pop(("RunStarted", 0))


def test_routing_keys_keep_one_asset_partition_together() -> None:
    topics = Topics("t")
    started = PartitionStarted(
        asset_key="a", partition_key="2024-01-01", run_id="r", work_item_id="w", worker_id="x"
    )
    done = AssetMaterialized(asset_key="a", partition_key="2024-01-01", data_version="v")
    assert topics.route(started) == topics.route(done) == ("t.assets", "a#2024-01-01")
    assert topics.route(AssetMaterialized(asset_key="a", data_version="v")) == ("t.assets", "a")
    assert topics.route(SAMPLES[2]) == ("t.requests", "r1")
    assert topics.route(SAMPLES[4]) == ("t.runs", "r1")
    assert topics.route(SAMPLES[0]) == ("t.definitions", "shop")
    assert topics.route(SAMPLES[-1]) == ("t.dlq", "t")
    assert topics.route(SAMPLES[-2]) == ("t.definitions", "shop")  # LocationReloadRequested
    claim, mark = SAMPLES[-4], SAMPLES[-3]
    assert topics.route(claim) == ("t.leader", "leader")
    assert topics.route(mark) == ("t.runs", mark_key(2, 3))
    assert partition_for(mark_key(2, 3), 3) == 2
    assert topics.work("shop") == "t.work.shop"
    assert {spec.name for spec in topics.core()} >= {"t.runs", "t.assets", "t.dlq", "t.requests"}
