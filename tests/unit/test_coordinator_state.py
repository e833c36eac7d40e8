from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from coordinator_builders import (
    DAILY,
    HOURLY,
    T0,
    failed,
    interleave,
    materialized,
    published,
    request,
    snap,
)

from conflux.coordinator import (
    CoordinatorState,
    Decision,
    completed_id,
    decide,
    dispatch_id,
    skip_id,
    started_id,
    work_item_id,
)
from conflux.events import (
    AnyEvent,
    AssetMaterialized,
    AssetObserved,
    BackfillCompleted,
    DynamicPartitionsAdded,
    DynamicPartitionsDeleted,
    LocationLoadFailed,
    RunCompleted,
    RunStarted,
    TickCompleted,
    TickRequested,
    WorkItemDispatched,
    WorkItemSkipped,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

NOW = T0 + timedelta(hours=1)
HOURS = [f"2024-01-02-{h:02d}:00" for h in range(24)]
CHAIN = published(snap("a"), snap("b", "a"), snap("c", "b"), snap("d"))


class Live:
    """Folds events and decides the way the service does, keeping the whole log."""

    def __init__(self) -> None:
        self.state = CoordinatorState()
        self.log: list[AnyEvent] = []
        self.inputs: list[int] = []
        """Positions in `log` of the events that came from outside."""
        self.snapshots: list[tuple[int, object]] = []
        """(log length, progress) after each step."""

    def feed(self, *events: AnyEvent) -> list[Decision]:
        for event in events:
            self.inputs.append(len(self.log))
            self.log.append(event)
            self.state.apply(event)
        return self.step()

    def step(self) -> list[Decision]:
        out: list[Decision] = []
        while decisions := decide(self.state, NOW):
            for d in decisions:
                self.log.append(d)
                self.state.apply(d)
            out += decisions
        self.snapshots.append((len(self.log), self.state.progress()))
        return out

    def dispatched(self, node: str, partition: str | None = None) -> WorkItemDispatched:
        wid = work_item_id("run-1", node, partition)
        return next(
            e for e in self.log if isinstance(e, WorkItemDispatched) and e.work_item_id == wid
        )


def kinds(events: Iterable[Decision]) -> list[tuple[str, str]]:
    """(type, what): the node dispatched, the keys skipped, or the run started/completed."""
    out: list[tuple[str, str]] = []
    for e in events:
        if isinstance(e, WorkItemDispatched):
            out.append((e.type, e.node))
        elif isinstance(e, WorkItemSkipped):
            out.append((e.type, ",".join(e.asset_keys)))
        elif isinstance(
            e,
            BackfillCompleted
            | TickRequested
            | TickCompleted
            | DynamicPartitionsAdded
            | DynamicPartitionsDeleted
            | AssetObserved,
        ):
            raise AssertionError(f"{e.type} is no decision of a run")
        else:
            out.append((e.type, e.run_id or ""))
    return out


def run_chain(fail: str | None = None) -> Live:
    live = Live()
    live.feed(CHAIN, request("a", "b", "c", "d"))
    live.feed(materialized(live.dispatched("d")))
    for node in "abc":
        item = live.dispatched(node)
        if node == fail:
            live.feed(*failed(item))
            break
        live.feed(materialized(item))
    return live


def test_dispatch_follows_dependencies() -> None:
    live = Live()
    first = live.feed(CHAIN, request("a", "b", "c", "d"))
    assert kinds(first) == [
        ("RunStarted", "run-1"),
        ("WorkItemDispatched", "a"),
        ("WorkItemDispatched", "d"),
    ]
    started, dispatch_a = first[0], first[1]
    assert isinstance(started, RunStarted) and isinstance(dispatch_a, WorkItemDispatched)
    assert started.event_id == started_id("run-1")
    assert (started.partition_count, started.trigger, started.causation_id) == (
        4,
        "manual",
        "req-run-1",
    )
    assert dispatch_a.event_id == dispatch_id(dispatch_a.work_item_id, 1)
    assert (dispatch_a.correlation_id, dispatch_a.causation_id, dispatch_a.producer) == (
        "run-1",
        started.event_id,
        "coordinator",
    )
    assert live.feed(materialized(live.dispatched("d"))) == []
    mat_a = materialized(dispatch_a)
    second = live.feed(mat_a)
    assert kinds(second) == [("WorkItemDispatched", "b")]
    b = second[0]
    assert isinstance(b, WorkItemDispatched)
    assert b.causation_id == mat_a.event_id
    assert [(u.asset_key, u.data_version, u.event_id) for u in b.upstream] == [
        ("a", mat_a.data_version, mat_a.event_id)
    ]
    assert kinds(live.feed(materialized(b))) == [("WorkItemDispatched", "c")]
    last = live.feed(materialized(live.dispatched("c")))
    assert len(last) == 1 and isinstance(last[0], RunCompleted)
    done = last[0]
    assert (done.event_id, done.status, done.materialized, done.failed, done.skipped) == (
        completed_id("run-1"),
        "success",
        4,
        0,
        0,
    )
    assert live.step() == []


def test_failure_skips_downstream_and_fails_the_run() -> None:
    live = run_chain(fail="a")
    skips = [e for e in live.log if isinstance(e, WorkItemSkipped)]
    assert [s.asset_keys for s in skips] == [("b",), ("c",)]
    assert all("upstream a failed (ValueError)" in s.reason for s in skips)
    assert skips[0].event_id == skip_id(work_item_id("run-1", "b", None))
    assert skips[0].causation_id == f"fail-{work_item_id('run-1', 'a', None)}-a"
    assert skips[1].causation_id == skips[0].event_id
    done = live.log[-1]
    assert isinstance(done, RunCompleted)
    assert (done.status, done.materialized, done.failed, done.skipped) == ("failed", 1, 1, 2)


def test_run_waits_for_running_items_before_completing() -> None:
    live = Live()
    live.feed(CHAIN, request("a", "b", "d"))
    decisions = live.feed(*failed(live.dispatched("a")))
    assert kinds(decisions) == [("WorkItemSkipped", "b")]
    done = live.feed(materialized(live.dispatched("d")))
    assert isinstance(done[0], RunCompleted) and done[0].status == "failed"


def test_daily_is_dispatched_after_its_24_hours() -> None:
    live = Live()
    live.feed(
        published(snap("hourly", partitions=HOURLY), snap("daily", "hourly", partitions=DAILY))
    )
    first = live.feed(request("hourly", "daily", partitions=[*HOURS, "2024-01-02"]))
    assert len(first) == 25  # started + 24 hours
    for hour in HOURS[:-1]:
        assert live.feed(materialized(live.dispatched("hourly", hour))) == []
    (daily,) = live.feed(materialized(live.dispatched("hourly", HOURS[-1])))
    assert isinstance(daily, WorkItemDispatched) and daily.partition_key == "2024-01-02"
    assert [u.partition_key for u in daily.upstream] == HOURS
    assert all(u.data_version is not None for u in daily.upstream)


def test_multi_asset_item_is_done_when_every_key_materialized() -> None:
    live = Live()
    live.feed(published(snap("m/x", node="m"), snap("m/y", node="m"), snap("after", "m/y")))
    live.feed(request("after", "m/x"))
    m = live.dispatched("m")
    assert m.asset_keys == ("m/x", "m/y")
    assert live.feed(materialized(m, "m/x")) == []
    assert kinds(live.feed(materialized(m, "m/y"))) == [("WorkItemDispatched", "after")]


def test_upstream_refs_report_latest_versions_or_none() -> None:
    live = Live()
    reported = AssetMaterialized(
        event_id="rep", time=T0, asset_key="a", data_version="ext", source="reported"
    )
    live.feed(published(snap("a"), snap("x"), snap("b", "a", "x")), reported)
    (_, b) = live.feed(request("b"))
    assert isinstance(b, WorkItemDispatched)
    assert [(u.asset_key, u.data_version, u.event_id) for u in b.upstream] == [
        ("a", "ext", "rep"),
        ("x", None, None),
    ]


def test_unknown_asset_fails_the_run_with_one_line() -> None:
    live = Live()
    (done,) = live.feed(CHAIN, request("a", "nope"))
    assert isinstance(done, RunCompleted)
    assert (done.status, done.reason, done.causation_id) == (
        "failed",
        "unknown asset(s): nope",
        "req-run-1",
    )
    assert live.feed(request("a", "nope")) == []


def test_missing_partitions_fail_the_run() -> None:
    live = Live()
    (done,) = live.feed(published(snap("d", partitions=DAILY)), request("d"))
    assert isinstance(done, RunCompleted)
    assert done.reason == "asset d is partitioned: pass --partition KEY or --from/--to"


def test_invalid_partition_key_fails_the_run_naming_the_asset() -> None:
    live = Live()
    (done,) = live.feed(published(snap("d", partitions=DAILY)), request("d", partitions=["nope"]))
    assert isinstance(done, RunCompleted) and done.status == "failed"
    assert done.reason is not None and done.reason.startswith("asset d: partition key 'nope'")


def test_dispatch_is_held_while_the_location_is_down() -> None:
    live = Live()
    live.feed(CHAIN)
    down = LocationLoadFailed(
        time=T0 + timedelta(minutes=1), location="loc", error_type="ImportError", message="x"
    )
    assert kinds(live.feed(down, request("a"))) == [("RunStarted", "run-1"), ("RunHeld", "run-1")]
    back = published(
        snap("a"), snap("b", "a"), snap("c", "b"), snap("d"), at=T0 + timedelta(minutes=2)
    )
    assert kinds(live.feed(back)) == [("WorkItemDispatched", "a")]


def test_item_whose_asset_disappeared_is_skipped() -> None:
    live = Live()
    live.feed(CHAIN, request("a", "b"))
    live.feed(published(snap("a"), at=T0 + timedelta(minutes=1)))  # b is gone
    decisions = live.feed(materialized(live.dispatched("a")))
    assert kinds(decisions) == [("WorkItemSkipped", "b"), ("RunCompleted", "run-1")]
    assert isinstance(decisions[0], WorkItemSkipped)
    assert decisions[0].reason == "asset b is no longer defined by location loc"


def test_duplicates_change_nothing() -> None:
    once = run_chain()
    twice = Live()
    decided = twice.feed(CHAIN, CHAIN, request("a", "b", "c", "d"), request("a", "b", "c", "d"))
    decided += twice.feed(*[materialized(twice.dispatched("d"))] * 2)
    for node in "abc":
        item = twice.dispatched(node)
        decided += twice.feed(item, materialized(item), materialized(item), item)
    decided += twice.feed(*once.log)  # the whole history once more
    assert [d.event_id for d in decided] == [
        e.event_id for i, e in enumerate(once.log) if i not in once.inputs
    ]
    assert twice.state.progress() == once.state.progress()


def test_materialization_folded_before_its_dispatch() -> None:
    live = Live()
    live.feed(CHAIN, request("a", "b"))
    dispatch_a = live.dispatched("a")
    replay = CoordinatorState()
    outcome_first: list[AnyEvent] = [CHAIN, request("a", "b"), materialized(dispatch_a)]
    for event in [*outcome_first, live.log[2], dispatch_a]:
        replay.apply(event)  # the outcome, then the run's own events
    decisions = decide(replay, NOW)
    assert [d.event_id for d in decisions] == [dispatch_id(work_item_id("run-1", "b", None), 1)]


@pytest.mark.parametrize("fail", [None, "a", "b", "c"])
def test_replay_from_zero_equals_live_state(fail: str | None) -> None:
    live = run_chain(fail)
    for length, expected in live.snapshots:
        for seed in range(10):
            replay = CoordinatorState()
            for event in interleave(live.log[:length], seed):
                replay.apply(event)
            assert decide(replay, NOW) == []
            assert replay.progress() == expected


@pytest.mark.parametrize("fail", [None, "b"])
def test_restart_after_any_input_decides_the_same(fail: str | None) -> None:
    live = run_chain(fail)
    decided = {e.event_id for e in live.log if isinstance(e, Decision)}
    for cut, position in enumerate(live.inputs):
        prefix = live.log[: position + 1]
        following = [e.event_id for e in live.log[position + 1 :]]
        nxt = live.inputs[cut + 1] if cut + 1 < len(live.inputs) else len(live.log)
        expected = following[: nxt - position - 1]
        for seed in range(5):
            replay = Live()
            for event in interleave(prefix, seed):
                replay.state.apply(event)
            again = [d.event_id for d in replay.step()]
            assert sorted(again) == sorted(expected)
            assert set(again) <= decided


def test_decide_only_looks_at_touched_runs() -> None:
    live = Live()
    live.feed(CHAIN, request("a", run_id="r1"), request("d", run_id="r2"))
    assert live.state.dirty == set()
    item = next(e for e in live.log if isinstance(e, WorkItemDispatched) and e.run_id == "r2")
    live.state.apply(materialized(item))
    assert live.state.dirty == {"r2"}
    assert [d.type for d in decide(live.state, NOW)] == ["RunCompleted"]
    assert live.state.dirty == set()
