"""Asset events and partition changes from sensors, and observable source assets.

A sensor's `SensorResult(asset_events=..., dynamic_partitions_requests=...)` travels in
its `TickCompleted`; the coordinator records the events (a reported materialization
counts like any other) and adds the keys before it plans the tick's run requests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from conflux import (
    AssetMaterialization,
    AssetObservation,
    AssetSpec,
    AutomationCondition,
    DataVersion,
    Definitions,
    DynamicPartitionsDefinition,
    ObserveResult,
    RunRequest,
    SensorResult,
    SourceAsset,
    asset,
    build_location_snapshot,
    materialize,
    observable_source_asset,
    sensor,
)
from conflux.coordinator import CoordinatorState, decide
from conflux.events import (
    AnyEvent,
    AssetMaterialized,
    AssetObserved,
    DefinitionsPublished,
    DynamicPartitionsAdded,
    MaterializationRequested,
    TickCompleted,
)

if TYPE_CHECKING:
    from conflux.sdk.runtime import TickResult

T0 = datetime(2024, 3, 1, tzinfo=UTC)
REGIONS = DynamicPartitionsDefinition(name="regions")


@asset(partitions_def=REGIONS)
def per_region() -> int:
    return 1


@asset(deps=["raw"], automation_condition=AutomationCondition.eager())
def report() -> None: ...


@sensor(target=[per_region])
def feed() -> SensorResult:
    return SensorResult(
        run_requests=[RunRequest(run_key="eu-1", partition_key="eu")],
        dynamic_partitions_requests=[REGIONS.build_add_request(["eu"])],
        asset_events=[
            AssetMaterialization(asset_key="raw", metadata={"rows": 3}),
            AssetObservation(asset_key="raw", tags={"dagster/data_version": "v9"}),
        ],
        cursor="c1",
    )


DEFS = Definitions(assets=[AssetSpec("raw"), per_region, report], sensors=[feed])


def _completed(result: TickResult, tick_id: str = "t1") -> TickCompleted:
    return TickCompleted(
        time=T0,
        instigator_type="sensor",
        name="feed",
        location="loc",
        tick_id=tick_id,
        tick_time=T0,
        status="success",
        run_requests=result.run_requests,
        asset_events=result.asset_events,
        dynamic_partitions_requests=result.dynamic_partitions_requests,
        cursor=result.cursor,
    )


def _state() -> CoordinatorState:
    state = CoordinatorState()
    snapshot = build_location_snapshot(DEFS, "loc")
    state.apply(DefinitionsPublished(time=T0, location="loc", snapshot_id="s", snapshot=snapshot))
    return state


def _settle(state: CoordinatorState, now: datetime) -> list[AnyEvent]:
    out: list[AnyEvent] = []
    for step in range(10):
        events = decide(state, now + timedelta(milliseconds=step))
        if not events:
            break
        for event in events:
            state.apply(event)
        out.extend(events)
    return out


def test_a_sensor_result_carries_its_asset_events_and_partition_changes() -> None:
    result = feed.evaluate(cursor=None)
    assert result.cursor == "c1" and result.has_effects
    assert [(e.kind, e.asset_key, e.data_version) for e in result.asset_events] == [
        ("materialization", "raw", None),
        ("observation", "raw", "v9"),
    ]
    [change] = result.dynamic_partitions_requests
    assert (change.action, change.partitions_def_name, change.partition_keys) == (
        "add",
        "regions",
        ("eu",),
    )


def test_the_coordinator_records_them_then_plans_the_runs_that_need_them() -> None:
    state = _state()
    _settle(state, T0)
    state.apply(_completed(feed.evaluate(cursor=None)))
    events = _settle(state, T0 + timedelta(seconds=1))
    types = [e.type for e in events]
    assert types.index("DynamicPartitionsAdded") < types.index("MaterializationRequested")
    [added] = [e for e in events if isinstance(e, DynamicPartitionsAdded)]
    assert added.requested_by == "sensor:feed"
    [reported] = [e for e in events if isinstance(e, AssetMaterialized) and e.asset_key == "raw"]
    assert reported.source == "reported" and reported.metadata == {"rows": 3}
    [observed] = [e for e in events if isinstance(e, AssetObserved)]
    assert observed.data_version == "v9" and observed.source == "sensor"
    runs = {e.asset_keys: e for e in events if isinstance(e, MaterializationRequested)}
    assert runs[("per_region",)].partition_keys == ("eu",)  # planned: "eu" exists now
    assert "RunStarted" in types
    # the reported materialization counts like any other: eager follows it
    assert runs[("report",)].tags["trigger"] == "automation"


def test_a_replay_records_nothing_twice() -> None:
    state = _state()
    log: list[AnyEvent] = []
    for event in [*_settle(state, T0)]:
        log.append(event)
    tick = _completed(feed.evaluate(cursor=None))
    state.apply(tick)
    emitted = _settle(state, T0 + timedelta(seconds=1))
    fresh = _state()
    for event in [tick, *emitted]:
        fresh.apply(event)
    again = _settle(fresh, T0 + timedelta(seconds=2))
    assert not [e for e in again if isinstance(e, AssetMaterialized | AssetObserved)]
    assert not [e for e in again if isinstance(e, DynamicPartitionsAdded)]


def test_sensor_results_refuse_what_they_cannot_carry() -> None:
    from conflux.sdk.runtime import TickResult  # noqa: F401 - the type the worker emits

    @sensor(target=[per_region])
    def bad() -> SensorResult:
        return SensorResult(asset_events=["raw"])

    with pytest.raises(Exception, match="AssetMaterialization"):
        bad.evaluate(cursor=None)


# -- source assets --------------------------------------------------------------------------


@observable_source_asset
def vendor_file() -> DataVersion:
    return DataVersion("abc")


@observable_source_asset(name="vendor_table", group_name="vendors")
def vendor_table_observer() -> ObserveResult:
    return ObserveResult(data_version="t1", metadata={"rows": 10})


def test_an_observable_source_is_observed_in_a_run_and_never_materialized() -> None:
    result = materialize([vendor_file, vendor_table_observer])
    assert result.success and result.materializations == []
    observed = {e.asset_key: e for e in result.events if isinstance(e, AssetObserved)}
    assert observed["vendor_file"].data_version == "abc"
    assert observed["vendor_table"].metadata == {"rows": 10}
    assert observed["vendor_table"].source == "executed"
    snapshot = build_location_snapshot(Definitions(assets=[vendor_file]), "loc")
    [asset_snapshot] = snapshot.assets
    assert asset_snapshot.is_observable and not asset_snapshot.is_external


def test_a_source_asset_is_an_external_asset() -> None:
    source = SourceAsset("raw", description="from the vendor")
    snapshot = build_location_snapshot(Definitions(assets=[source, report]), "loc")
    by_key = {a.key: a for a in snapshot.assets}
    assert by_key["raw"].is_external and by_key["raw"].description == "from the vendor"


def test_a_new_data_version_of_an_observable_source_updates_its_dependents() -> None:
    @asset(deps=[vendor_file], automation_condition=AutomationCondition.eager())
    def cleaned() -> None: ...

    defs = Definitions(assets=[vendor_file, cleaned])
    state = CoordinatorState()
    state.apply(
        DefinitionsPublished(
            time=T0, location="loc", snapshot_id="s", snapshot=build_location_snapshot(defs, "loc")
        )
    )
    _settle(state, T0)
    state.apply(
        AssetObserved(time=T0 + timedelta(seconds=1), asset_key="vendor_file", data_version="1")
    )
    first = [
        e
        for e in _settle(state, T0 + timedelta(seconds=1))
        if isinstance(e, MaterializationRequested)
    ]
    assert [r.asset_keys for r in first] == [("cleaned",)]
    state.apply(
        AssetObserved(time=T0 + timedelta(seconds=5), asset_key="vendor_file", data_version="1")
    )
    same = [
        e
        for e in _settle(state, T0 + timedelta(seconds=5))
        if isinstance(e, MaterializationRequested)
    ]
    assert same == []  # the same data version is no update


def test_observations_are_archived_and_indexed_by_asset() -> None:
    from projection_builders import archived

    from conflux.projections.api import EventQuery

    observed = AssetObserved(
        time=T0, asset_key="vendor_file", partition_key="p", data_version="v3", source="sensor"
    )
    with archived([observed]) as h:
        assert h.store.count("events") == 1
        for query in (EventQuery(asset="vendor_file", limit=10), EventQuery(partition="p")):
            [entry] = h.history.events(query)
            assert (entry.type, entry.asset_key, entry.partition_key) == (
                "AssetObserved",
                "vendor_file",
                "p",
            )
            assert entry.event == observed.model_dump(mode="json")


def test_a_tick_with_asset_events_survives_the_wire() -> None:
    from conflux.events import CustomConditionResult, decode_event, encode_event

    result = feed.evaluate(cursor=None)
    tick = _completed(result).model_copy(
        update={
            "condition_results": (
                CustomConditionResult(root_key="report", node_path="0.1", true_partitions=()),
            )
        }
    )
    assert decode_event(encode_event(tick)) == tick
