"""Leadership epochs, without a broker: claims, marks, and every fold's fence (issue 18).

The log here is built by hand with the real catalog's routing (murmur2 keys over the
core topics' partition counts), so that "after a mark in the same partition" means what
it means on Kafka.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import pytest
from coordinator_builders import T0, materialized, published, request, snap

from conflux.coordinator import CoordinatorState, coordinator_fold, decide
from conflux.coordinator._leadership import ClaimsFold, redeliveries
from conflux.events import (
    ComponentHeartbeat,
    ConsumedEvent,
    EpochFence,
    EpochMarked,
    LeadershipClaimed,
    MaterializationRequested,
    PartitionStarted,
    RunCompleted,
    Topics,
    WorkItemAbandoned,
    WorkItemDispatched,
    decision_epoch,
    encode_event,
    mark_id,
    mark_key,
    murmur2,
    partition_for,
)
from conflux.projections.projector import ReadModel
from conflux.workers._deliveries import Deliveries

if TYPE_CHECKING:
    from conflux.events import AnyEvent

TOPICS = Topics("t")
COUNTS = {spec.name: spec.partitions for spec in TOPICS.core()}


class Log:
    """Records as Kafka would hold them: per (topic, partition), in append order."""

    def __init__(self) -> None:
        self.records: list[ConsumedEvent] = []
        self._next: dict[tuple[str, int], int] = {}

    def append(self, *events: AnyEvent) -> None:
        for event in events:
            topic, key = TOPICS.route(event)
            count = COUNTS.get(topic, 6)
            partition = event.partition if isinstance(event, EpochMarked) else None
            if partition is None:
                partition = partition_for(key, count)
            offset = self._next.get((topic, partition), 0)
            self._next[(topic, partition)] = offset + 1
            self.records.append(
                ConsumedEvent(event, topic, partition, offset, key, 0, encode_event(event))
            )

    def mark(self, epoch: int, *topics: str) -> None:
        """A new leader's marks: one per partition of each topic."""
        for topic in topics or (TOPICS.runs, TOPICS.requests, TOPICS.ticks):
            for partition in range(COUNTS[topic]):
                self.append(
                    EpochMarked(
                        event_id=mark_id(epoch, topic, partition),
                        epoch=epoch,
                        instance_id=f"leader-{epoch}",
                        topic=topic,
                        partition=partition,
                        partitions=COUNTS[topic],
                    )
                )

    def replay(self) -> CoordinatorState:
        state, fold = coordinator_fold()
        fold(self.records)
        return state


def leader(log: Log, epoch: int) -> CoordinatorState:
    """A coordinator's state folded from `log` (through the fence), deciding under `epoch`."""
    state = log.replay()
    state.epoch = epoch
    return state


def step(state: CoordinatorState) -> list[AnyEvent]:
    """Decide until nothing more is due; fold each round at once, as the service does."""
    out: list[AnyEvent] = []
    for _ in range(10):
        events = decide(state, T0 + timedelta(seconds=5))
        if not events:
            return out
        for event in events:
            state.apply(event)
        out += events
    raise AssertionError("decisions did not settle")


# -- the hash and the keys ------------------------------------------------------------------


def test_murmur2_is_kafkas() -> None:
    """The Java client's test vectors (signed ints in Java)."""
    vectors = {
        "21": -973932308,
        "foobar": -790332482,
        "a-little-bit-long-string": -985981536,
        "a-little-bit-longer-string": -1486304829,
        "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        "abc": 479470107,
    }
    for key, signed in vectors.items():
        assert murmur2(key.encode()) == signed % 2**32, key


@pytest.mark.parametrize("partitions", [1, 3, 6, 12])
def test_a_mark_key_lands_in_its_partition(partitions: int) -> None:
    for partition in range(partitions):
        assert partition_for(mark_key(partition, partitions), partitions) == partition
    with pytest.raises(ValueError, match="not one of"):
        mark_key(partitions, partitions)


# -- which events are decisions -----------------------------------------------------------


def test_decisions_are_the_coordinators_events() -> None:
    by_cli = MaterializationRequested(run_id="r", selection="a", asset_keys=("a",), producer="cli")
    old = by_cli.model_copy(update={"producer": "coordinator"})
    assert decision_epoch(by_cli) is None  # a person's request is never fenced
    assert decision_epoch(old) == 0  # a coordinator's, from before leadership
    assert decision_epoch(old.model_copy(update={"epoch": 4})) == 4
    assert decision_epoch(RunCompleted(run_id="r", status="success")) == 0
    assert decision_epoch(RunCompleted(run_id="r", status="success", epoch=2)) == 2
    assert decision_epoch(published(snap("a"))) is None


def test_the_fence_refuses_older_decisions_after_a_newer_mark_in_the_same_partition() -> None:
    fence = EpochFence()
    done = RunCompleted(run_id="r", status="success", epoch=1)
    mark2 = EpochMarked(epoch=2, instance_id="b", topic="t.runs", partition=0, partitions=3)
    assert fence.admit(done, "t.runs", 0)  # no mark yet: everything counts
    assert fence.admit(mark2, "t.runs", 0)
    assert not fence.admit(done, "t.runs", 0)  # epoch 1 after epoch 2's mark
    assert fence.admit(done, "t.runs", 1)  # another partition has no mark
    assert fence.admit(done.model_copy(update={"epoch": 2}), "t.runs", 0)
    assert fence.admit(done.model_copy(update={"epoch": 3}), "t.runs", 0)
    stale = EpochMarked(epoch=1, instance_id="a", topic="t.runs", partition=0, partitions=3)
    assert fence.admit(stale, "t.runs", 0) and fence.line("t.runs", 0) == 2  # never lower
    worker = materialized(dispatch("r", "i", epoch=1))
    assert fence.admit(worker, "t.assets", 0)  # workers' reports are no decisions
    assert fence.admit(done, "t.runs", -1)  # read without a position: not fenced
    assert (fence.fenced, fence.highest) == (1, 2)


def test_claims_number_epochs_in_the_order_of_the_leader_topic() -> None:
    claims = ClaimsFold()
    first = LeadershipClaimed(instance_id="a", proposed_epoch=1)
    racing = LeadershipClaimed(instance_id="b", proposed_epoch=1)  # saw the same past
    after_restart = LeadershipClaimed(instance_id="c", proposed_epoch=9)  # marks up to 8
    for claim in (first, racing, first, after_restart):
        claims.apply(claim)
    assert claims.epochs == {first.event_id: 1, racing.event_id: 2, after_restart.event_id: 9}
    assert (claims.epoch, claims.holder) == (9, "c")


# -- a zombie's decisions, in every fold --------------------------------------------------


def dispatch(run_id: str, item: str, *, epoch: int, attempt: int = 1) -> WorkItemDispatched:
    return WorkItemDispatched(
        work_item_id=item,
        run_id=run_id,
        location="loc",
        node="a",
        asset_keys=("a",),
        attempt=attempt,
        epoch=epoch,
        producer="coordinator",
    )


def zombie_story() -> tuple[Log, WorkItemAbandoned, CoordinatorState]:
    """Leader 1 dispatches `a`; leader 2 takes over; leader 1 wakes and abandons `a`.

    The abandonment comes after leader 2's mark in the runs partition: it must not count,
    whereas without the fence it would fence attempt 1 off and retry `a`.
    """
    log = Log()
    log.append(published(snap("a"), snap("b", "a")), request("a", "b", run_id="r1"))
    log.mark(1)
    one = leader(log, 1)
    log.append(*step(one))  # RunStarted, and the dispatch of `a`
    log.mark(2)  # leader 2 took over: its marks precede what leader 1 writes from now on
    (item,) = [e for e in one.runs["r1"].dispatched.values()]
    zombie = WorkItemAbandoned(
        work_item_id=item.work_item_id,
        run_id="r1",
        asset_keys=("a",),
        attempt=1,
        worker_id="w1",
        reason="worker w1 sent no heartbeat (the zombie's clock stood still)",
        epoch=1,
        producer="coordinator",
    )
    log.append(zombie)
    log.append(materialized(item))
    two = leader(log, 2)
    log.append(*step(two))  # dispatches `b` under epoch 2
    return log, zombie, two


def test_a_zombies_decision_after_the_new_mark_counts_in_no_fold() -> None:
    log, zombie, live = zombie_story()
    item_a = zombie.work_item_id
    statuses = dict(live.runs["r1"].progress().items or ())
    assert statuses[item_a] == "materialized"  # leader 2 decided on that
    replayed = log.replay()
    run = replayed.runs["r1"]
    assert 1 not in run.outcomes[item_a].abandoned
    assert replayed.fence.fenced == 1
    dispatched_b = [d for d in run.dispatched.values() if d.asset_keys == ("b",)]
    assert [(d.attempt, d.epoch) for d in dispatched_b] == [(1, 2)]
    # Without the fence the same log retries `a` (the abandonment would count):
    unfenced = CoordinatorState()
    for record in log.records:
        unfenced.apply(record.event)
    assert 1 in unfenced.runs["r1"].outcomes[item_a].abandoned
    # The read model, folded with positions, refuses it as well.
    model = ReadModel()
    for record in log.records:
        model.apply(
            record.event, topic=record.topic, partition=record.partition, offset=record.offset
        )
    assert model.fence.fenced == 1
    # Its history is the archive's, which keeps no fenced decision (tested below).


def test_a_replay_in_any_order_of_topics_refuses_the_same_decisions() -> None:
    """Per-partition order is all the fence needs: interleave partitions differently."""
    log, _, _ = zombie_story()
    expected = log.replay().progress()
    by_partition: dict[tuple[str, int], list[ConsumedEvent]] = {}
    for record in log.records:
        by_partition.setdefault((record.topic, record.partition), []).append(record)
    for rotate in range(1, 4):
        order = list(by_partition.values())
        order = order[rotate:] + order[:rotate]
        state, fold = coordinator_fold()
        queues = [list(q) for q in order]
        while any(queues):
            for queue in queues:
                if queue:
                    fold([queue.pop(0)])
        assert state.progress() == expected


def test_a_new_leader_redecides_with_the_ids_the_zombie_used() -> None:
    """A decision the zombie made after the new mark is decided again, with the same id."""
    log = Log()
    log.append(published(snap("a")), request("a", run_id="r1"))
    log.mark(1)
    one = leader(log, 1)
    log.append(*step(one))
    (item,) = one.runs["r1"].dispatched.values()
    done = materialized(item)
    log.append(done)
    one.apply(done)  # leader 1 folded the outcome, then paused; leader 2 marks meanwhile
    log.mark(2)
    zombie = [e for e in step(one) if isinstance(e, RunCompleted)]
    log.append(*zombie)  # after the mark: refused
    assert log.replay().runs["r1"].completed is None
    two = leader(log, 2)
    again = [e for e in step(two) if isinstance(e, RunCompleted)]
    assert [e.event_id for e in again] == [e.event_id for e in zombie]
    assert [(e.epoch, z.epoch) for e, z in zip(again, zombie, strict=True)] == [(2, 1)]
    log.append(*again)
    completed = log.replay().runs["r1"].completed
    assert completed is not None and completed.epoch == 2


def test_the_archive_keeps_no_fenced_decision() -> None:
    from conflux.projections.archive import ArchiveSink, ChdbStore

    log, zombie, _ = zombie_story()
    with tempfile.TemporaryDirectory() as folder, ChdbStore(folder) as store:
        store.create_schema()
        sink = ArchiveSink(store, batch_size=1000)
        sink.add(log.records)
        sink.close()
        ids = {row["event_id"] for row in store.query_arrow("SELECT event_id FROM events")
               .to_pylist()}  # fmt: skip
    assert zombie.event_id not in ids
    assert len(ids) == len(log.records) - 1  # the marks too
    assert sink.fence.fenced == 1


def test_a_sink_restarted_on_the_archive_fences_with_the_marks_it_holds() -> None:
    """The sink resumes after its stored positions: the marks before them are the archive's.

    A projector restarted from its checkpoint reads the log from there (the marks may be
    gone: retention), so the fence must not depend on reading them again.
    """
    from conflux.projections.api import EventQuery
    from conflux.projections.archive import ArchiveSink, ChdbStore
    from conflux.projections.projector import EventHistory

    log, zombie, _ = zombie_story()
    cut = next(i for i, r in enumerate(log.records) if r.event.event_id == zombie.event_id)
    with tempfile.TemporaryDirectory() as folder, ChdbStore(folder) as store:
        store.create_schema()
        first = ArchiveSink(store, batch_size=1000)
        first.add(log.records[:cut])
        first.close()
        again = ArchiveSink(store, batch_size=1000)  # a restart: it reads on from the cut
        assert again.fence.marks == first.fence.marks and again.fence.highest == 2
        again.add(log.records[cut:])
        again.close()
        assert again.fence.fenced == 1
        model = ReadModel()
        seen = {e.event["event_id"]: e.type for e in EventHistory(store, model).events(
            EventQuery(run="r1"))}  # fmt: skip
    assert "WorkItemDispatched" in seen.values() and zombie.event_id not in seen


def test_the_archive_takes_the_new_event_types() -> None:
    from archive_tables import archived

    claim = LeadershipClaimed(instance_id="c", pid=7, proposed_epoch=2, time=T0)
    mark = EpochMarked(epoch=2, instance_id="c", topic="t.runs", partition=1, partitions=3)
    records = [
        ConsumedEvent(claim, "t.leader", 0, 0, "leader", 0, encode_event(claim)),
        ConsumedEvent(mark, "t.runs", 1, 0, mark_key(1, 3), 0, encode_event(mark)),
    ]
    rows = archived(records)["events"]
    assert [(r["type"], r["topic"]) for r in rows] == [
        ("LeadershipClaimed", "t.leader"),
        ("EpochMarked", "t.runs"),
    ]


# -- a new leader's reconciliation, and workers -------------------------------------------


def test_a_new_leader_delivers_again_what_no_worker_started() -> None:
    log = Log()
    log.append(published(snap("a"), snap("c")), request("a", "c", run_id="r1"))
    one = leader(log, 1)
    log.append(*step(one))
    items = sorted(one.runs["r1"].dispatched.values(), key=lambda d: d.asset_keys)
    started = items[0]
    log.append(
        PartitionStarted(
            asset_key="a",
            run_id="r1",
            work_item_id=started.work_item_id,
            worker_id="w1",
            attempt=1,
        )
    )
    state = log.replay()
    again = redeliveries(state, 2)
    assert [(e.event_id, e.epoch) for e in again] == [(items[1].event_id, 2)]
    assert isinstance(again[0], WorkItemDispatched) and again[0].asset_keys == ("c",)


def test_a_worker_takes_each_delivery_once_and_none_of_a_fenced_leader() -> None:
    deliveries = Deliveries()
    work = "t.work.loc"

    def record(event: AnyEvent, partition: int = 0) -> ConsumedEvent:
        return ConsumedEvent(event, work, partition, 0, None, 0, b"")

    old = dispatch("r", "i1", epoch=1)
    mark = EpochMarked(epoch=2, instance_id="b", topic=work, partition=0, partitions=6)
    assert deliveries.take(record(old))
    assert not deliveries.take(record(old.model_copy(update={"epoch": 2})))  # same id again
    assert not deliveries.take(record(mark))  # a mark is nothing to do
    assert not deliveries.take(record(dispatch("r", "i2", epoch=1)))  # the zombie's
    assert deliveries.take(record(dispatch("r", "i2", epoch=2)))  # the leader's
    assert deliveries.take(record(dispatch("r", "i3", epoch=1), partition=1))  # unmarked
    assert (deliveries.fenced, deliveries.repeated) == (1, 1)


# -- what `conflux status` shows -----------------------------------------------------------


def _coordinator_beat(
    instance: str, seconds: float, role: Literal["active", "standby"], epoch: int
) -> ComponentHeartbeat:
    return ComponentHeartbeat(
        component="coordinator",
        instance_id=instance,
        pid=100 + epoch,
        role=role,
        epoch=epoch,
        time=T0 + timedelta(seconds=seconds),
    )


def test_status_lists_coordinators_and_names_the_newest_epochs_leader() -> None:
    from conflux.projections.api import BrokerStatus

    model = ReadModel()
    model.apply(_coordinator_beat("a", 0, "active", 1))
    model.apply(_coordinator_beat("b", 0.5, "standby", 1))
    now = T0 + timedelta(seconds=1)
    broker = BrokerStatus(id=1, host="127.0.0.1", port=9092, state="online", controller=True)
    report = model.status(caught_up=True, now=now, brokers=[broker])
    assert report.ready and report.coordinator is not None
    assert (report.coordinator.instance_id, report.coordinator.pid) == ("a", 101)
    assert {(c.instance_id, c.role, c.epoch) for c in report.coordinators} == {
        ("a", "active", 1),
        ("b", "standby", 1),
    }
    assert report.brokers == [broker]
    # `a` paused; `b` took over with epoch 2; `a` wakes and beats once more as active.
    model.apply(_coordinator_beat("b", 8, "active", 2))
    model.apply(_coordinator_beat("a", 8.5, "active", 1))
    report = model.status(caught_up=True, now=T0 + timedelta(seconds=9))
    assert report.coordinator is not None
    assert (report.coordinator.instance_id, report.coordinator.epoch) == ("b", 2)
    # Only standbys alive: not ready, and the reason says a takeover is due.
    model.apply(_coordinator_beat("b", 20, "standby", 2))
    report = model.status(caught_up=True, now=T0 + timedelta(seconds=21))
    assert not report.ready
    assert report.not_ready[0].startswith("coordinator: no active coordinator (1 on standby")
