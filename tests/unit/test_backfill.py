"""Backfills: one request, walked in chunks, in dependency order, with filters and cancel."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import pytest
from coordinator_builders import DAILY, HOURLY, T0, failed, materialized, published, snap
from test_coordinator_queue import Driver, dispatches

from conflux.coordinator._queue import QueueLimits
from conflux.events import (
    AssetMaterialized,
    BackfillCanceled,
    BackfillCompleted,
    BackfillRequested,
    MaterializationRequested,
    PartitionRange,
    RunCompleted,
    WorkItemDispatched,
)
from conflux.projections.folds import _backfill_space

if TYPE_CHECKING:
    from collections.abc import Set

    from conflux.events import AnyEvent


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_backfill_space, "CHUNK_PARTITIONS", 24)


def backfill(
    *keys: str, start: str, end: str, only: Literal["all", "missing", "failed"] = "all"
) -> BackfillRequested:
    return BackfillRequested(
        event_id="bf-req",
        time=T0,
        backfill_id="bf",
        selection=",".join(keys),
        asset_keys=keys,
        partition_range=PartitionRange(start=start, end=end),
        only=only,
        producer="test",
    )


def drain(d: Driver, out: list[AnyEvent], *, fail: Set[str] = frozenset()) -> list[AnyEvent]:
    """Play workers: answer every dispatch until nothing is in flight."""
    done: list[AnyEvent] = []
    todo = dispatches(out)
    while todo:
        item = todo.pop(0)
        answer = d.feed(*failed(item)) if item.partition_key in fail else d.feed(materialized(item))
        done += answer
        todo += dispatches(answer)
    return done


def test_hourly_backfill_walks_chunks_and_the_daily_downstream_waits_for_24_hours() -> None:
    d = Driver(QueueLimits(max_concurrent=8))
    d.feed(
        published(
            snap("hourly", partitions=HOURLY),
            snap("daily", "hourly", partitions=DAILY),
        )
    )
    first = d.feed(backfill("hourly", "daily", start="2024-01-01-00:00", end="2024-01-03-23:00"))
    requests = [e for e in first if isinstance(e, MaterializationRequested)]
    assert len(requests) == 1  # one chunk at a time, never a request per partition
    assert len(dispatches(first)) == 8  # the queue's limit
    rest = drain(d, first)
    log = [e for e in d.log if isinstance(e, WorkItemDispatched)]
    days = [e for e in log if e.node == "daily"]
    assert [e.partition_key for e in days] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    for day in days:  # each day was dispatched after its 24 hours materialized
        position = d.log.index(day)
        hours = {
            e.partition_key
            for e in d.log[:position]
            if isinstance(e, AssetMaterialized) and e.asset_key == "hourly"
        }
        assert {f"{day.partition_key}-{h:02d}:00" for h in range(24)} <= hours
    (done,) = [e for e in rest if isinstance(e, BackfillCompleted)]
    assert (done.status, done.chunks, done.materialized) == ("success", 3, 72 + 3)


def test_missing_only_skips_what_is_materialized_and_chunks_left_empty() -> None:
    d = Driver()
    d.feed(published(snap("hourly", partitions=HOURLY)))
    first = d.feed(backfill("hourly", start="2024-01-01-00:00", end="2024-01-01-23:00"))
    drain(d, first, fail={"2024-01-01-05:00"})
    again = d.feed(
        backfill(
            "hourly", start="2024-01-01-00:00", end="2024-01-02-23:00", only="missing"
        ).model_copy(update={"backfill_id": "bf2", "event_id": "bf2-req"})
    )
    assert [e.partition_key for e in dispatches(again)] == ["2024-01-01-05:00"]
    rest = drain(d, again)
    keys = [e.partition_key for e in dispatches(rest)]
    assert len(keys) == 24 and keys[0] == "2024-01-02-00:00"
    (done,) = [e for e in rest if isinstance(e, BackfillCompleted)]
    assert (done.status, done.chunks, done.materialized) == ("success", 2, 25)


def test_cancel_stops_dispatch_and_lets_running_items_finish() -> None:
    d = Driver(QueueLimits(max_concurrent=4))
    d.feed(published(snap("hourly", partitions=HOURLY)))
    first = dispatches(d.feed(backfill("hourly", start="2024-01-01-00:00", end="2024-01-05-23:00")))
    assert len(first) == 4
    after = d.feed(BackfillCanceled(backfill_id="bf", producer="test"))
    assert dispatches(after) == []
    ends: list[AnyEvent] = []
    for item in first:
        ends += d.feed(materialized(item))
    assert dispatches(ends) == []
    (run,) = [e for e in ends if isinstance(e, RunCompleted)]
    (done,) = [e for e in ends if isinstance(e, BackfillCompleted)]
    assert run.status == "canceled" and run.materialized == 4 and run.skipped == 20
    assert done.status == "canceled" and done.materialized == 4


def test_backfill_survives_a_replay_into_a_fresh_state() -> None:
    d = Driver(QueueLimits(max_concurrent=5))
    d.feed(published(snap("hourly", partitions=HOURLY)))
    out = d.feed(backfill("hourly", start="2024-01-01-00:00", end="2024-01-02-23:00"))
    for item in dispatches(out)[:3]:
        d.feed(materialized(item))
    fresh = Driver(QueueLimits(max_concurrent=5))
    fresh.now = d.now + timedelta(seconds=1)
    for event in d.log:
        fresh.state.apply(event)
    assert fresh.step() == []  # it decided all of that already
    assert fresh.state.progress() == d.state.progress()


def test_unknown_range_fails_the_backfill_with_the_reason() -> None:
    d = Driver()
    d.feed(published(snap("hourly", partitions=HOURLY)))
    out = d.feed(backfill("hourly", start="2024-01-01", end="2024-01-02"))
    (done,) = [e for e in out if isinstance(e, BackfillCompleted)]
    assert done.status == "failed" and done.reason and "2024-01-01" in done.reason
