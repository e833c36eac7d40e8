"""The run queue, retries and fenced attempts: pure decisions over folded events."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from coordinator_builders import T0, failed, materialized, published, request

from conflux.coordinator import CoordinatorState, decide
from conflux.coordinator._liveness import WorkerClock, lost_attempts
from conflux.coordinator._queue import QueueLimits, parse_limits
from conflux.coordinator._retries import retry_delay_s
from conflux.events import (
    AssetSnapshot,
    PartitionStarted,
    RetryPolicySnapshot,
    RunCompleted,
    StaticPartitionsSnapshot,
    WorkItemAbandoned,
    WorkItemDispatched,
)

if TYPE_CHECKING:
    from conflux.events import AnyEvent

KEYS = tuple(f"k{i:02d}" for i in range(10))
PARTS = StaticPartitionsSnapshot(keys=KEYS)


class Driver:
    """Folds events and decides as the service does, with a settable clock and limits."""

    def __init__(self, limits: QueueLimits | None = None) -> None:
        self.state = CoordinatorState()
        self.limits = limits
        self.now = T0 + timedelta(hours=1)
        self.log: list[AnyEvent] = []

    def feed(self, *events: AnyEvent) -> list[AnyEvent]:
        for event in events:
            self.log.append(event)
            self.state.apply(event)
        return self.step()

    def step(self) -> list[AnyEvent]:
        out: list[AnyEvent] = []
        while decisions := decide(self.state, self.now, self.limits):
            for d in decisions:
                self.log.append(d)
                self.state.apply(d)
            out += decisions
        return out


def dispatches(events: list[AnyEvent]) -> list[WorkItemDispatched]:
    return [e for e in events if isinstance(e, WorkItemDispatched)]


def asset(key: str, **kwargs: object) -> AssetSnapshot:
    return AssetSnapshot(key=key, node=key, partitions=PARTS, **kwargs)


def test_global_limit_holds_items_back_until_room_frees() -> None:
    d = Driver(QueueLimits(max_concurrent=3))
    d.feed(published(asset("a")))
    first = dispatches(d.feed(request("a", partitions=KEYS)))
    assert [x.partition_key for x in first] == ["k00", "k01", "k02"]
    nxt = dispatches(d.feed(materialized(first[0])))
    assert [x.partition_key for x in nxt] == ["k03"]
    assert d.state.inflight["*"] == 3


def test_pool_limit_applies_across_runs() -> None:
    d = Driver(QueueLimits(max_concurrent=None, pools={"warehouse": 2}))
    d.feed(published(asset("a", pool="warehouse"), asset("b")))
    out = dispatches(d.feed(request("a", "b", partitions=KEYS[:4])))
    by_node = [x.node for x in out]
    assert by_node.count("a") == 2  # the pool's limit
    assert by_node.count("b") == 4  # no pool, no limit
    more = dispatches(d.feed(request("a", partitions=KEYS[4:6], run_id="run-2")))
    assert more == []  # the pool is full, whatever the run
    freed = dispatches(d.feed(materialized(out[0])))
    assert [x.node for x in freed] == ["a"]


def test_manual_runs_go_before_backfill_chunks_and_backfills_share() -> None:
    from conflux.coordinator._backfill import chunk_run_id
    from conflux.events import BackfillRequested

    d = Driver(QueueLimits(max_concurrent=4))
    d.feed(published(asset("a"), asset("b")))
    d.feed(
        *(
            BackfillRequested(
                event_id=f"req-{name}",
                time=T0,
                backfill_id=name,
                selection=key,
                asset_keys=(key,),
                partition_keys=KEYS,
                producer="test",
            )
            for name, key in (("bf-1", "a"), ("bf-2", "b"))
        )
    )
    inflight = [x for x in d.log if isinstance(x, WorkItemDispatched)]
    runs = {x.run_id for x in inflight}
    assert runs == {chunk_run_id("bf-1", 0), chunk_run_id("bf-2", 0)}
    per_run = [sum(1 for x in inflight if x.run_id == r) for r in sorted(runs)]
    assert per_run == [2, 2]  # fair share of 4
    manual = d.feed(request("a", partitions=["k09"], run_id="manual"))
    assert dispatches(manual) == []  # full
    freed = dispatches(d.feed(materialized(inflight[0])))
    assert [x.run_id for x in freed] == ["manual"]  # manual first


def test_failure_is_retried_after_the_policy_delay_then_fails_for_good() -> None:
    policy = RetryPolicySnapshot(max_retries=2, delay_s=10, backoff="exponential")
    d = Driver()
    d.feed(published(asset("a", retry_policy=policy)))
    (first,) = dispatches(d.feed(request("a", partitions=["k00"])))
    assert dispatches(d.feed(*failed(first, at=d.now))) == []  # not due yet
    d.now += timedelta(seconds=12)
    (second,) = dispatches(d.step())
    assert second.attempt == 2 and second.work_item_id == first.work_item_id
    d.feed(*failed(second, at=d.now))
    d.now += timedelta(seconds=15)  # 20 s backoff: not yet
    assert dispatches(d.step()) == []
    d.now += timedelta(seconds=10)
    (third,) = dispatches(d.step())
    assert third.attempt == 3
    done = d.feed(*failed(third, at=d.now))
    (completed,) = [e for e in done if isinstance(e, RunCompleted)]
    assert completed.status == "failed" and completed.failed == 1


def test_retry_that_succeeds_completes_the_run() -> None:
    d = Driver()
    d.feed(published(asset("a", retry_policy=RetryPolicySnapshot(max_retries=1))))
    (first,) = dispatches(d.feed(request("a", partitions=["k00"])))
    (second,) = dispatches(d.feed(*failed(first, at=d.now - timedelta(seconds=2))))
    done = d.feed(materialized(second))
    assert [e.status for e in done if isinstance(e, RunCompleted)] == ["success"]


def test_lost_worker_attempt_is_fenced_and_dispatched_again() -> None:
    d = Driver()
    d.feed(published(asset("a")))  # no retry policy: a lost worker is retried anyway
    (first,) = dispatches(d.feed(request("a", partitions=["k00"])))
    start = PartitionStarted(
        asset_key="a",
        partition_key="k00",
        run_id=first.run_id,
        work_item_id=first.work_item_id,
        worker_id="w-dead",
        attempt=1,
        producer="test",
    )
    d.feed(start)
    clock = WorkerClock(timeout_s=-1)  # everyone is silent for longer than that
    (lost,) = lost_attempts(d.state, clock, d.now)
    assert lost.attempt == 1 and lost.worker_id == "w-dead"
    (second,) = dispatches(d.feed(lost))
    assert second.attempt == 2 and second.causation_id == lost.event_id
    # The abandoned attempt reports late: it does not count.
    assert [e for e in d.feed(materialized(first)) if isinstance(e, RunCompleted)] == []
    done = d.feed(materialized(second, n=1))
    assert [e.status for e in done if isinstance(e, RunCompleted)] == ["success"]
    assert lost_attempts(d.state, clock, d.now) == []


def test_replay_in_any_order_gives_the_same_progress() -> None:
    d = Driver(QueueLimits(max_concurrent=2))
    d.feed(published(asset("a", retry_policy=RetryPolicySnapshot(max_retries=1))))
    items = dispatches(d.feed(request("a", partitions=KEYS[:3])))
    retried = dispatches(d.feed(*failed(items[0], at=d.now - timedelta(seconds=2))))
    abandon = WorkItemAbandoned(
        work_item_id=items[1].work_item_id,
        run_id=items[1].run_id,
        asset_keys=("a",),
        partition_key=items[1].partition_key,
        attempt=1,
        reason="test",
        producer="test",
    )
    more = dispatches(d.feed(abandon))
    assert len(retried) == 1 and len(more) == 1
    d.feed(*(materialized(x, n=9) for x in retried + more))
    rest = [x for x in d.log if isinstance(x, WorkItemDispatched) and x.attempt == 1]
    d.feed(*(materialized(x) for x in rest if x.partition_key == "k02"))
    for order in (d.log, list(reversed(d.log))):
        replay = CoordinatorState()
        for event in order:
            replay.apply(event)
        decide(replay, d.now)
        assert replay.progress() == d.state.progress()


def test_retry_delays() -> None:
    linear = RetryPolicySnapshot(max_retries=3, delay_s=2, backoff="linear")
    assert [retry_delay_s(linear, n, "x") for n in (1, 2, 3)] == [2, 4, 6]
    jitter = RetryPolicySnapshot(max_retries=3, delay_s=10, jitter="full")
    assert retry_delay_s(jitter, 1, "x") == retry_delay_s(jitter, 1, "x")  # deterministic
    assert 0 <= retry_delay_s(jitter, 1, "x") < 10
    plus_minus = RetryPolicySnapshot(max_retries=3, delay_s=10, jitter="plus_minus")
    assert 0 <= retry_delay_s(plus_minus, 1, "y") <= 20


def test_limits_parse_with_clear_errors() -> None:
    assert parse_limits(("warehouse=2", "api=10"), "pool") == {"warehouse": 2, "api": 10}
    for bad in ("warehouse", "=2", "w=0", "w=x"):
        try:
            parse_limits((bad,), "pool")
        except ValueError as exc:
            assert "NAME=N" in str(exc)
        else:
            raise AssertionError(bad)
