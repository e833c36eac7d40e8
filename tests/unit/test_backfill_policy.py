"""`BackfillPolicy` applied: ranged work items, planned, folded and executed.

Planning cuts a policy asset's keys into runs of consecutive keys (one item each); the
coordinator's fold calls a ranged item materialized once every partition of it is in;
the executor calls the asset once for the range and reports each partition.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from coordinator_builders import (
    DAILY,
    HOURLY,
    T0,
    graph_of,
    interleave,
    published,
    request,
    snap,
)

from conflux import (
    AssetCheckResult,
    AssetExecutionContext,
    BackfillPolicy,
    ContextError,
    DailyPartitionsDefinition,
    Definitions,
    MaterializeResult,
    PartitionKeyRange,
    RetryPolicy,
    asset,
    asset_check,
)
from conflux.coordinator import (
    CoordinatorState,
    Plan,
    _planner as planner,
    decide,
    plan_run,
    range_work_item_id,
    work_item_id,
)
from conflux.events import (
    AnyEvent,
    AssetCheckEvaluated,
    AssetCheckSnapshot,
    AssetMaterialized,
    AssetSnapshot,
    BackfillPolicySnapshot,
    DefinitionsPublished,
    DynamicPartitionsAdded,
    DynamicPartitionsSnapshot,
    MaterializationRequested,
    PartitionFailed,
    PartitionRange,
    RunCompleted,
    RunStarted,
    WorkItemAbandoned,
    WorkItemDispatched,
    WorkItemSkipped,
    decode_event,
    encode_event,
)
from conflux.projections.folds import RunsProjection
from conflux.sdk import InMemoryIOManager
from conflux.sdk._execute import ExecutionRequest, NodeExecutor
from conflux.sdk._snapshot import build_location_snapshot

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from conflux import AssetChecksDefinition, AssetsDefinition
    from conflux.events import UpstreamRef

SINGLE = BackfillPolicySnapshot(kind="single_run", max_partitions_per_run=None)


def multi(n: int) -> BackfillPolicySnapshot:
    return BackfillPolicySnapshot(kind="multi_run", max_partitions_per_run=n)


def with_policy(asset_snap: AssetSnapshot, policy: BackfillPolicySnapshot) -> AssetSnapshot:
    return asset_snap.model_copy(update={"backfill_policy": policy})


def days(first: int, last: int, month: int = 1) -> list[str]:
    return [f"2024-{month:02d}-{d:02d}" for d in range(first, last + 1)]


def hours(day: str) -> list[str]:
    return [f"{day}-{h:02d}:00" for h in range(24)]


def shape(plan: Plan) -> list[tuple[str, str | None, str | None, int]]:
    """(node, key, range, count) per item."""
    return [
        (
            it.node,
            it.partition_key,
            f"{it.partition_range.start}..{it.partition_range.end}" if it.partition_range else None,
            it.partition_count,
        )
        for it in plan.items
    ]


# -- planning -------------------------------------------------------------------------------


def test_single_run_covers_the_whole_range_in_one_item() -> None:
    graph = graph_of(published(with_policy(snap("a", partitions=DAILY), SINGLE)))
    plan = plan_run(request("a", start="2024-01-01", end="2024-01-10"), graph)
    assert shape(plan) == [("a", None, "2024-01-01..2024-01-10", 10)]
    (item,) = plan.items
    assert item.work_item_id == range_work_item_id("run-1", "a", "2024-01-01", "2024-01-10")
    assert item.partition_range == PartitionRange(start="2024-01-01", end="2024-01-10")
    assert item.partition_keys is None  # the worker expands the range itself
    assert plan.partition_count == 10


def test_multi_run_cuts_at_n_and_a_last_single_key_is_an_ordinary_item() -> None:
    graph = graph_of(published(with_policy(snap("a", partitions=DAILY), multi(3))))
    plan = plan_run(request("a", start="2024-01-01", end="2024-01-10"), graph)
    assert shape(plan) == [
        ("a", None, "2024-01-01..2024-01-03", 3),
        ("a", None, "2024-01-04..2024-01-06", 3),
        ("a", None, "2024-01-07..2024-01-09", 3),
        ("a", "2024-01-10", None, 1),
    ]
    assert plan.items[-1].work_item_id == work_item_id("run-1", "a", "2024-01-10")
    assert plan.partition_count == 10


def test_explicit_keys_group_by_consecutive_runs_in_the_definitions_order() -> None:
    graph = graph_of(published(with_policy(snap("a", partitions=DAILY), multi(4))))
    keys = ["2024-01-09", "2024-01-02", "2024-01-01", "2024-01-03", "2024-01-08", "2024-01-05"]
    plan = plan_run(request("a", partitions=keys), graph)
    assert shape(plan) == [
        ("a", None, "2024-01-01..2024-01-03", 3),
        ("a", "2024-01-05", None, 1),
        ("a", None, "2024-01-08..2024-01-09", 2),
    ]
    random.Random(7).shuffle(keys)  # the same keys in any order: the same plan
    assert plan_run(request("a", partitions=keys), graph) == plan


def test_ranged_ids_are_derived_and_plans_deterministic() -> None:
    graph = graph_of(
        published(
            with_policy(snap("hourly", partitions=HOURLY), multi(10)),
            with_policy(snap("daily", "hourly", partitions=DAILY), SINGLE),
        )
    )
    req = request("hourly", "daily", partitions=[*hours("2024-01-02"), "2024-01-02"])
    first = plan_run(req, graph)
    again = plan_run(req, graph_of(*[published(*graph.assets.values())]))
    assert first == again
    assert [it.work_item_id for it in first.items] == [it.work_item_id for it in again.items]
    other_run = plan_run(req.model_copy(update={"run_id": "run-2"}), graph)
    assert not {it.work_item_id for it in first.items} & {it.work_item_id for it in other_run.items}


def test_daily_without_policy_waits_for_the_ranged_items_of_its_hours() -> None:
    graph = graph_of(
        published(
            with_policy(snap("hourly", partitions=HOURLY), multi(10)),
            snap("daily", "hourly", partitions=DAILY),
        )
    )
    hrs = hours("2024-01-02") + hours("2024-01-03")
    plan = plan_run(
        request("hourly", "daily", partitions=[*hrs, "2024-01-02", "2024-01-03"]), graph
    )
    ranged = [it for it in plan.items if it.node == "hourly"]
    assert [it.partition_count for it in ranged] == [10, 10, 10, 10, 8]
    ids = [it.work_item_id for it in ranged]
    by_day = {it.partition_key: it for it in plan.items if it.node == "daily"}
    # day 2 is hours 0-23: items 0-9, 10-19, 20-29 (the third spans into day 3)
    assert by_day["2024-01-02"].depends_on == tuple(ids[:3])
    assert by_day["2024-01-03"].depends_on == tuple(ids[2:])
    assert len(by_day["2024-01-02"].upstream) == 24


def test_daily_single_run_reads_every_hour_and_tells_which_day_reads_which() -> None:
    graph = graph_of(
        published(
            snap("hourly", partitions=HOURLY),
            with_policy(snap("daily", "hourly", partitions=DAILY), SINGLE),
        )
    )
    hrs = hours("2024-01-02") + hours("2024-01-03")
    plan = plan_run(
        request("hourly", "daily", partitions=[*hrs, "2024-01-02", "2024-01-03"]), graph
    )
    daily = plan.items[-1]
    assert (daily.node, daily.partition_count) == ("daily", 2)
    hourly_ids = [it.work_item_id for it in plan.items if it.node == "hourly"]
    assert daily.depends_on == tuple(hourly_ids)  # all 48 hours
    assert daily.upstream == tuple(("hourly", h) for h in hrs)
    assert daily.upstream_spans == ((0, 24), (24, 48))


def test_a_ranged_item_reads_at_most_max_range_upstream_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(planner, "MAX_RANGE_UPSTREAM", 50)
    graph = graph_of(
        published(
            snap("hourly", partitions=HOURLY),
            with_policy(snap("daily", "hourly", partitions=DAILY), SINGLE),
        )
    )
    plan = plan_run(request("daily", start="2024-01-01", end="2024-01-05"), graph)
    assert shape(plan) == [
        ("daily", None, "2024-01-01..2024-01-02", 2),
        ("daily", None, "2024-01-03..2024-01-04", 2),
        ("daily", "2024-01-05", None, 1),
    ]


def test_dynamic_partitions_list_their_keys() -> None:
    customers = DynamicPartitionsSnapshot(name="customers")
    graph = graph_of(published(with_policy(snap("c", partitions=customers), SINGLE)))
    graph.apply(
        DynamicPartitionsAdded(
            partitions_def_name="customers", partition_keys=("acme", "bolt", "core")
        )
    )
    plan = plan_run(request("c", partitions=["core", "acme", "bolt"]), graph)
    (item,) = plan.items
    assert item.partition_keys == ("acme", "bolt", "core")
    assert item.partition_range == PartitionRange(start="acme", end="core")


def test_a_single_partition_or_unpartitioned_asset_is_unchanged_by_a_policy() -> None:
    graph = graph_of(
        published(with_policy(snap("a", partitions=DAILY), SINGLE), with_policy(snap("u"), SINGLE))
    )
    plan = plan_run(request("a", "u", partitions=["2024-01-05"]), graph)
    assert shape(plan) == [("a", "2024-01-05", None, 1), ("u", None, None, 1)]


# -- the coordinator's fold ---------------------------------------------------------------


class Loop:
    """A coordinator state fed by hand: decide, then report what workers would."""

    def __init__(self, *assets: AssetSnapshot) -> None:
        self.state = CoordinatorState()
        self.log: list[AnyEvent] = []
        self.now = T0
        self.feed(published(*assets))

    def feed(self, *events: AnyEvent) -> list[AnyEvent]:
        out: list[AnyEvent] = []
        for event in events:
            self.log.append(event)
            self.state.apply(event)
        while decisions := decide(self.state, self.now):
            for d in decisions:
                self.log.append(d)
                self.state.apply(d)
            out += decisions
        return out

    def dispatches(self) -> list[WorkItemDispatched]:
        return [e for e in self.log if isinstance(e, WorkItemDispatched)]

    def completed(self) -> RunCompleted | None:
        return next((e for e in self.log if isinstance(e, RunCompleted)), None)


def reported(
    item: WorkItemDispatched, keys: Iterable[str], *, n: int = 0, at_s: float = 1
) -> list[AssetMaterialized]:
    return [
        AssetMaterialized(
            event_id=f"mat-{item.work_item_id}-{item.attempt}-{key}-{n}",
            time=T0 + timedelta(seconds=at_s + i),
            asset_key=item.asset_keys[0],
            partition_key=key,
            data_version="v",
            run_id=item.run_id,
            work_item_id=item.work_item_id,
            worker_id="w1",
            attempt=item.attempt,
        )
        for i, key in enumerate(keys)
    ]


def failures(item: WorkItemDispatched, keys: Iterable[str]) -> list[PartitionFailed]:
    return [
        PartitionFailed(
            event_id=f"fail-{item.work_item_id}-{item.attempt}-{key}",
            time=T0 + timedelta(seconds=1),
            asset_key=item.asset_keys[0],
            partition_key=key,
            run_id=item.run_id,
            work_item_id=item.work_item_id,
            worker_id="w1",
            attempt=item.attempt,
            error_type="ValueError",
            message="boom",
        )
        for key in keys
    ]


def test_a_ranged_item_is_materialized_only_when_every_partition_is_in() -> None:
    loop = Loop(with_policy(snap("a", partitions=DAILY), SINGLE), snap("b", "a", partitions=DAILY))
    loop.feed(request("a", "b", start="2024-01-01", end="2024-01-04"))
    started = next(e for e in loop.log if isinstance(e, RunStarted))
    assert started.partition_count == 8
    (ranged,) = loop.dispatches()
    assert (ranged.partition_range, ranged.partition_count, ranged.partition_key) == (
        PartitionRange(start="2024-01-01", end="2024-01-04"),
        4,
        None,
    )
    first3 = reported(ranged, days(1, 3))
    assert [e for e in loop.feed(*first3) if isinstance(e, WorkItemDispatched)] == []
    assert loop.feed(*first3) == []  # duplicates count once
    run = loop.state.runs["run-1"]
    assert run.status[ranged.work_item_id] == "dispatched"
    woke = loop.feed(*reported(ranged, days(4, 4), at_s=10))
    assert run.status[ranged.work_item_id] == "materialized"
    assert sorted(e.partition_key or "" for e in woke if isinstance(e, WorkItemDispatched)) == (
        days(1, 4)
    )
    for item in loop.dispatches()[1:]:
        loop.feed(*reported(item, [item.partition_key or ""]))
    done = loop.completed()
    assert done is not None
    assert (done.status, done.materialized, done.failed) == ("success", 8, 0)


def test_any_partition_failing_fails_the_range_and_skips_its_dependents() -> None:
    loop = Loop(
        with_policy(snap("a", partitions=DAILY), multi(2)), snap("b", "a", partitions=DAILY)
    )
    loop.feed(request("a", "b", start="2024-01-01", end="2024-01-04"))
    first, second = loop.dispatches()
    loop.feed(*reported(first, days(1, 2)))
    loop.feed(*failures(second, days(3, 3)))
    skips = [e for e in loop.log if isinstance(e, WorkItemSkipped)]
    assert sorted(s.partition_key or "" for s in skips) == days(3, 4)
    assert "upstream a partition 2024-01-03..2024-01-04 failed" in skips[0].reason
    loop.feed(*failures(second, days(4, 4)))
    loop.feed(*[e for d in loop.dispatches()[2:] for e in reported(d, [d.partition_key or ""])])
    done = loop.completed()
    assert done is not None
    assert (done.status, done.materialized, done.failed, done.skipped) == ("failed", 4, 2, 2)


def test_a_retry_runs_the_whole_range_again() -> None:
    policy_asset = with_policy(snap("a", partitions=DAILY), SINGLE).model_copy(
        update={"retry_policy": RetryPolicy(max_retries=1).to_snapshot()}
    )
    loop = Loop(policy_asset)
    loop.feed(request("a", start="2024-01-01", end="2024-01-03"))
    (attempt1,) = loop.dispatches()
    loop.now += timedelta(seconds=5)  # the retry is due at once after the failure
    loop.feed(*failures(attempt1, days(1, 3)))
    attempt2 = loop.dispatches()[-1]
    assert (attempt2.attempt, attempt2.partition_range, attempt2.partition_count) == (
        2,
        attempt1.partition_range,
        3,
    )
    loop.feed(*reported(attempt2, days(1, 3)))
    done = loop.completed()
    assert done is not None
    assert (done.status, done.materialized) == ("success", 3)


def test_a_fenced_attempts_partitions_do_not_count() -> None:
    loop = Loop(with_policy(snap("a", partitions=DAILY), SINGLE))
    loop.feed(request("a", start="2024-01-01", end="2024-01-03"))
    (attempt1,) = loop.dispatches()
    loop.feed(*reported(attempt1, days(1, 2)))  # then its worker vanished
    loop.now += timedelta(minutes=1)
    loop.feed(
        WorkItemAbandoned(
            event_id="abandon-1",
            time=T0 + timedelta(seconds=30),
            work_item_id=attempt1.work_item_id,
            run_id="run-1",
            asset_keys=("a",),
            attempt=1,
            partition_range=attempt1.partition_range,
            partition_count=3,
            reason="lost",
        )
    )
    attempt2 = loop.dispatches()[-1]
    assert attempt2.attempt == 2
    loop.feed(*reported(attempt1, days(3, 3)))  # the late rest of the fenced attempt
    assert loop.completed() is None
    loop.feed(*reported(attempt2, days(1, 3), at_s=40))
    done = loop.completed()
    assert done is not None and done.status == "success"


def test_blocking_checks_gate_on_every_partition_of_the_range() -> None:
    loop = Loop(with_policy(snap("a", partitions=DAILY), SINGLE), snap("b", "a", partitions=DAILY))
    location = loop.state.definitions.locations["loc"]
    assert location.snapshot is not None
    location.snapshot = location.snapshot.model_copy(update={"asset_checks": (_check_snapshot(),)})
    loop.state.definitions._checks = None
    loop.feed(request("a", "b", start="2024-01-01", end="2024-01-02"))
    (ranged,) = loop.dispatches()
    loop.feed(*reported(ranged, days(1, 2)))
    assert len(loop.dispatches()) == 1  # the checks have not reported yet

    def check(key: str, passed: bool) -> AssetCheckEvaluated:
        return AssetCheckEvaluated(
            event_id=f"check-{key}",
            time=T0 + timedelta(seconds=5),
            asset_key="a",
            partition_key=key,
            check_name="positive",
            passed=passed,
            blocking=True,
            run_id="run-1",
            work_item_id=ranged.work_item_id,
            attempt=1,
        )

    loop.feed(check("2024-01-01", True))
    assert len(loop.dispatches()) == 1
    loop.feed(check("2024-01-02", False))
    skips = [e for e in loop.log if isinstance(e, WorkItemSkipped)]
    assert len(skips) == 2
    assert "blocking check positive on a partition 2024-01-02 failed" in skips[0].reason


def _check_snapshot() -> AssetCheckSnapshot:
    return AssetCheckSnapshot(name="positive", asset_key="a", blocking=True)


def covered(item: WorkItemDispatched) -> list[str]:
    """The daily keys a dispatch covers (January 2024)."""
    if item.partition_range is None:
        return [item.partition_key or ""]
    return days(int(item.partition_range.start[-2:]), int(item.partition_range.end[-2:]))


def test_a_replay_in_any_cross_topic_order_equals_the_live_state() -> None:
    loop = Loop(
        with_policy(snap("a", partitions=DAILY), multi(2)), snap("b", "a", partitions=DAILY)
    )
    snapshots = []
    loop.feed(request("a", "b", start="2024-01-01", end="2024-01-04"))
    snapshots.append((len(loop.log), loop.state.progress()))
    for item in loop.dispatches():
        for event in reported(item, covered(item)):  # partition by partition
            loop.feed(event)
            snapshots.append((len(loop.log), loop.state.progress()))
    for item in loop.dispatches()[2:]:
        loop.feed(*reported(item, covered(item)))
        snapshots.append((len(loop.log), loop.state.progress()))
    assert loop.completed() is not None
    for length, expected in snapshots:
        for seed in range(5):
            replay = CoordinatorState()
            for logged in interleave(loop.log[:length], seed):
                replay.apply(logged)
            assert decide(replay, loop.now) == []
            assert replay.progress() == expected


def test_skips_of_a_range_count_its_partitions_in_the_runs_projection() -> None:
    runs = RunsProjection()
    skip = WorkItemSkipped(
        event_id="s1",
        time=T0,
        work_item_id="w",
        run_id="r",
        asset_keys=("a", "b"),
        reason="upstream failed",
        partition_range=PartitionRange(start="2024-01-01", end="2024-01-05"),
        partition_count=5,
    )
    runs.apply(skip)
    runs.apply(skip.model_copy(update={"event_id": "s2"}))  # the same item again
    single = {"partition_range": None, "partition_count": 1, "partition_key": "2024-01-09"}
    runs.apply(skip.model_copy(update={"event_id": "s3", **single}))
    run = runs.get("r")
    assert run is not None and run.skipped == 12


def test_dispatch_events_without_a_range_read_as_before() -> None:
    old = {
        "type": "WorkItemDispatched",
        "event_id": "e",
        "time": "2024-01-01T00:00:00Z",
        "work_item_id": "w",
        "run_id": "r",
        "location": "loc",
        "node": "a",
        "asset_keys": ["a"],
        "partition_key": "2024-01-01",
    }
    import json

    event = decode_event(json.dumps(old).encode())
    assert isinstance(event, WorkItemDispatched)
    assert (event.partition_range, event.partition_count, event.upstream_spans) == (None, 1, ())
    ranged = event.model_copy(
        update={
            "partition_key": None,
            "partition_range": PartitionRange(start="2024-01-01", end="2024-01-31"),
            "partition_count": 31,
        }
    )
    assert decode_event(encode_event(ranged)) == ranged


# -- execution ----------------------------------------------------------------------------

DAYS = DailyPartitionsDefinition(start_date="2024-01-01")


def materializations(events: Sequence[object]) -> list[AssetMaterialized]:
    """`events`, each of which the test expects to be a materialization."""
    assert all(isinstance(e, AssetMaterialized) for e in events), events
    return [e for e in events if isinstance(e, AssetMaterialized)]


def executor(
    *assets: AssetsDefinition | AssetChecksDefinition, io: InMemoryIOManager | None = None
) -> NodeExecutor:
    return NodeExecutor(
        Definitions(assets=list(assets)),
        default_io_manager=io or InMemoryIOManager(),
        worker_id="w",
        producer="test",
        keep_errors=True,
    )


def ranged_request(
    node: str,
    first: str,
    last: str,
    count: int,
    *,
    upstream: tuple[UpstreamRef, ...] = (),
    upstream_spans: tuple[tuple[int, ...], ...] = (),
) -> ExecutionRequest:
    return ExecutionRequest(
        node=node,
        partition_key=None,
        run_id="r",
        work_item_id="w",
        partition_range=PartitionRange(start=first, end=last),
        partition_count=count,
        upstream=upstream,
        upstream_spans=upstream_spans,
    )


def test_the_asset_runs_once_for_the_range_and_each_partition_is_reported() -> None:
    calls: list[dict[str, object]] = []

    @asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
    def daily(context: AssetExecutionContext) -> dict[str, int]:
        window = context.partition_time_window
        calls.append(
            {
                "range": context.partition_key_range,
                "keys": context.partition_keys,
                "has_key": context.has_partition_key,
                "has_range": context.has_partition_key_range,
                "window": (window.start.isoformat(), window.end.isoformat()),
            }
        )
        with pytest.raises(ContextError, match="partition_key_range"):
            _ = context.partition_key
        return {k: i for i, k in enumerate(context.partition_keys)}

    io = InMemoryIOManager()
    ex = executor(daily, io=io)
    req = ranged_request("daily", "2024-01-01", "2024-01-03", 3)
    started = ex.started(req)
    assert [e.partition_key for e in started] == days(1, 3)
    events = ex.run(req)
    assert calls == [
        {
            "range": PartitionKeyRange("2024-01-01", "2024-01-03"),
            "keys": days(1, 3),
            "has_key": False,
            "has_range": True,
            "window": ("2024-01-01T00:00:00+00:00", "2024-01-04T00:00:00+00:00"),
        }
    ]
    assert [(type(e).__name__, e.partition_key) for e in events] == [
        ("AssetMaterialized", k) for k in days(1, 3)
    ]
    assert io.values == {("daily", k): i for i, k in enumerate(days(1, 3))}
    versions = {e.data_version for e in events if isinstance(e, AssetMaterialized)}
    assert len(versions) == 3  # each partition's stored value has its own fingerprint


def test_a_single_partition_sees_a_range_of_one() -> None:
    @asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.multi_run(5))
    def daily(context: AssetExecutionContext) -> None:
        assert context.partition_key_range == PartitionKeyRange("2024-01-02", "2024-01-02")
        assert context.partition_keys == ["2024-01-02"]
        assert context.has_partition_key and context.partition_key == "2024-01-02"

    req = ExecutionRequest(node="daily", partition_key="2024-01-02", run_id="r", work_item_id="w")
    (event,) = executor(daily).run(req)
    assert isinstance(event, AssetMaterialized)


def test_a_value_that_is_not_a_dict_of_the_ranges_keys_fails_every_partition() -> None:
    @asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
    def daily(context: AssetExecutionContext) -> object:
        return {"2024-01-01": 1}  # one key missing

    io = InMemoryIOManager()
    events = executor(daily, io=io).run(ranged_request("daily", "2024-01-01", "2024-01-02", 2))
    assert [(type(e).__name__, e.partition_key) for e in events] == [
        ("PartitionFailed", "2024-01-01"),
        ("PartitionFailed", "2024-01-02"),
    ]
    first, second = events
    assert isinstance(first, PartitionFailed) and isinstance(second, PartitionFailed)
    assert "exactly the keys of context.partition_keys" in first.message
    assert first.traceback and not second.traceback  # one call, one traceback
    assert io.values == {}  # nothing stored


def test_materialize_result_and_none_store_nothing_and_share_metadata() -> None:
    @asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
    def noop(context: AssetExecutionContext) -> MaterializeResult:
        return MaterializeResult(metadata={"rows": 7}, data_version="batch-1")

    io = InMemoryIOManager()
    events = executor(noop, io=io).run(ranged_request("noop", "2024-01-01", "2024-01-03", 3))
    assert [(e.partition_key, e.data_version, e.metadata) for e in materializations(events)] == [
        (k, "batch-1", {"rows": 7}) for k in days(1, 3)
    ]
    assert io.values == {}


def test_a_ranged_downstream_loads_a_dict_of_upstream_partitions_and_keeps_lineage() -> None:
    @asset(partitions_def=DAYS)
    def up(context: AssetExecutionContext) -> int:
        return int(context.partition_key[-2:])

    seen: list[object] = []

    @asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
    def down(context: AssetExecutionContext, up: dict[str, int]) -> dict[str, int]:
        seen.append(up)
        return {k: up[k] * 10 for k in context.partition_keys}

    io = InMemoryIOManager()
    ex = executor(up, down, io=io)
    from conflux.events import UpstreamRef

    for key in days(1, 2):
        ex.run(ExecutionRequest(node="up", partition_key=key, run_id="r", work_item_id=key))
    refs = tuple(
        UpstreamRef(asset_key="up", partition_key=k, data_version=f"v{k}") for k in days(1, 2)
    )
    req = ranged_request(
        "down", "2024-01-01", "2024-01-02", 2, upstream=refs, upstream_spans=((0, 1), (1, 2))
    )
    events = ex.run(req)
    assert seen == [{"2024-01-01": 1, "2024-01-02": 2}]
    assert [(e.partition_key, e.upstream) for e in materializations(events)] == [
        ("2024-01-01", (refs[0],)),
        ("2024-01-02", (refs[1],)),
    ]
    assert io.values[("down", "2024-01-02")] == 20


def test_checks_run_per_partition_of_the_range() -> None:
    @asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
    def daily(context: AssetExecutionContext) -> dict[str, int]:
        return {k: int(k[-2:]) - 2 for k in context.partition_keys}

    @asset_check(asset=daily, blocking=True)
    def positive(daily: int) -> AssetCheckResult:
        return AssetCheckResult(passed=daily > 0)

    events = executor(daily, positive).run(ranged_request("daily", "2024-01-02", "2024-01-04", 3))
    checks = [(e.partition_key, e.passed) for e in events if isinstance(e, AssetCheckEvaluated)]
    assert checks == [("2024-01-02", False), ("2024-01-03", True), ("2024-01-04", True)]


def test_a_range_that_no_longer_expands_to_its_count_fails_clearly() -> None:
    @asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
    def daily(context: AssetExecutionContext) -> None:
        raise AssertionError("not called")

    events = executor(daily).run(ranged_request("daily", "2024-01-01", "2024-01-03", 5))
    (failed,) = events
    assert isinstance(failed, PartitionFailed)
    assert "3 keys here, but 5 when the run was planned" in failed.message


def test_the_policy_reaches_the_coordinator_through_the_snapshot() -> None:
    @asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.multi_run(2))
    def daily() -> None: ...

    snapshot = build_location_snapshot(Definitions(assets=[daily]), "loc")
    state = CoordinatorState()
    state.apply(DefinitionsPublished(time=T0, location="loc", snapshot_id="s", snapshot=snapshot))
    state.apply(
        MaterializationRequested(
            time=T0,
            run_id="run-1",
            selection="daily",
            asset_keys=("daily",),
            partition_range=PartitionRange(start="2024-01-01", end="2024-01-04"),
        )
    )
    dispatched = [e for e in decide(state, T0) if isinstance(e, WorkItemDispatched)]
    assert [(d.partition_range, d.partition_count) for d in dispatched] == [
        (PartitionRange(start="2024-01-01", end="2024-01-02"), 2),
        (PartitionRange(start="2024-01-03", end="2024-01-04"), 2),
    ]


def test_the_run_timeline_and_the_history_place_a_ranged_item_by_partition() -> None:
    from projection_builders import archived

    from conflux.events import DefinitionsPublished, PartitionStarted
    from conflux.projections.api import EventQuery
    from conflux.projections.projector._run_timeline import run_timeline

    dispatch = WorkItemDispatched(
        event_id="d",
        time=T0,
        work_item_id="w",
        run_id="r",
        location="loc",
        node="a",
        asset_keys=("a",),
        partition_range=PartitionRange(start="2024-01-01", end="2024-01-02"),
        partition_count=2,
    )
    starts = [
        PartitionStarted(
            event_id=f"s-{key}",
            time=T0 + timedelta(seconds=1),
            asset_key="a",
            partition_key=key,
            run_id="r",
            work_item_id="w",
            worker_id="w1",
        )
        for key in days(1, 2)
    ]
    timeline = run_timeline("r", [dispatch, *starts], limit=10)
    assert [(p.partition_key, p.status, p.dispatched_at) for p in timeline.partitions] == [
        (key, "in_progress", T0) for key in days(1, 2)
    ]

    @asset(partitions_def=DAYS)
    def a() -> None: ...

    snapshot = build_location_snapshot(Definitions(assets=[a]), "loc")
    published = DefinitionsPublished(time=T0, location="loc", snapshot_id="s", snapshot=snapshot)
    with archived([published, dispatch, *starts]) as h:
        found = h.history.events(EventQuery(asset="a", partition="2024-01-02"))
        assert [r.event["event_id"] for r in found] == ["d", "s-2024-01-02"]
        assert h.history.events(EventQuery(asset="a", partition="2024-01-03")) == []
        served = h.history.run_partitions("r")
        assert served.partitions == timeline.partitions
