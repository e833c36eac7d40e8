"""Several coordinators on one log: one decides, the others stand by, and a paused one is
fenced (issue 18). Counted from the log, as the folds see it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from brokers import BrokerHandle, read_to_end
from test_worker import running, wait_for_definitions

from conflux import DailyPartitionsDefinition, Definitions, asset
from conflux.coordinator import Coordinator, CoordinatorState, coordinator_fold
from conflux.coordinator._checkpoint import load_checkpoint
from conflux.events import (
    AnyEvent,
    AssetMaterialized,
    BackfillCompleted,
    BackfillRequested,
    ComponentHeartbeat,
    ConsumedEvent,
    EpochMarked,
    EventConsumer,
    EventProducer,
    PartitionRange,
    Topics,
    WorkItemDispatched,
    decision_epoch,
)
from conflux.projections.projector import ReadModel
from conflux.workers import Worker

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.integration

days = DailyPartitionsDefinition(start_date="2023-01-01", end_date="2024-01-01")


SLOW_MS = {"ms": 0}
"""How long each partition takes (the tests that pause a leader need the backfill to last)."""


@asset(partitions_def=days)
def daily() -> int:
    if SLOW_MS["ms"]:
        time.sleep(SLOW_MS["ms"] / 1000)
    return 1


def backfill(broker: BrokerHandle, topics: Topics, backfill_id: str) -> None:
    with EventProducer(broker.bootstrap, topics, broker_kind=broker.kind) as producer:
        producer.emit(
            BackfillRequested(
                backfill_id=backfill_id,
                selection="daily",
                asset_keys=("daily",),
                partition_range=PartitionRange(start="2023-01-01", end="2023-12-31"),
                producer="test",
            )
        )


def wait_for_backfill(
    broker: BrokerHandle, topics: Topics, backfill_id: str, timeout: float = 120
) -> BackfillCompleted:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in read_to_end(broker, topics, [topics.runs]):
            event = record.event
            if isinstance(event, BackfillCompleted) and event.backfill_id == backfill_id:
                return event
        time.sleep(0.5)
    raise AssertionError(f"backfill {backfill_id} did not complete within {timeout}s")


def make_worker(broker: BrokerHandle, topics: Topics, storage: Path, slow_ms: int = 0) -> Worker:
    SLOW_MS["ms"] = slow_ms
    return Worker(
        location="loc",
        load=lambda: Definitions(assets=[daily]),
        bootstrap=broker.bootstrap,
        topics=topics,
        storage_dir=storage,
        broker_kind=broker.kind,
    )


def test_two_coordinators_execute_a_backfill_of_365_partitions_once(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    """The issue's trial: `conflux coordinator` twice against one Kafka, one backfill."""
    first = Coordinator(broker.bootstrap, topics, broker_kind=broker.kind)
    second = Coordinator(broker.bootstrap, topics, broker_kind=broker.kind)
    worker = make_worker(broker, topics, tmp_path)
    with running(first, second, worker):
        wait_for_definitions(broker, topics, "loc")
        backfill(broker, topics, "bf-365")
        done = wait_for_backfill(broker, topics, "bf-365")
    assert (done.status, done.materialized) == ("success", 365)
    made = [
        r.event
        for r in read_to_end(broker, topics, [topics.assets])
        if isinstance(r.event, AssetMaterialized)
    ]
    per_partition = Counter(e.partition_key for e in made)
    assert len(per_partition) == 365
    assert len(made) == 365, f"{len(made) - 365} partitions executed more than once"


# -- a coordinator paused mid-decision ----------------------------------------------------


class _Believer:
    """A paused leader's view of the group: it still thinks the partition is its own."""

    def owns(self) -> bool:
        return True

    def close(self) -> None:
        pass


class _PausingProducer:
    """Hands everything to the real producer, but the first decision blocks until resumed.

    What a SIGSTOP between deciding and writing does, in a thread: meanwhile the paused
    coordinator leaves the leader group (its session expired), a standby claims and
    marks, and the decisions already made are written after the marks.
    """

    def __init__(self, producer: EventProducer, coordinator: PausingCoordinator) -> None:
        self._producer = producer
        self._coordinator = coordinator

    def emit(self, event: AnyEvent) -> None:
        coordinator = self._coordinator
        if coordinator.armed.is_set():
            coordinator.armed.clear()
            group, coordinator._group = coordinator._group, _Believer()  # type: ignore[assignment]
            if group is not None:
                group.close()
            coordinator.paused.set()
            assert coordinator.resume.wait(60), "never resumed"
        self._producer.emit(event)

    def __getattr__(self, name: str) -> object:
        return getattr(self._producer, name)


class PausingCoordinator(Coordinator):
    """A coordinator that can be paused after its next decision step has decided."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.armed = threading.Event()
        self.paused = threading.Event()
        self.resume = threading.Event()

    def _step(self, producer: EventProducer) -> None:
        super()._step(_PausingProducer(producer, self))  # type: ignore[arg-type]


def wait_until(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def log_of(broker: BrokerHandle, topics: Topics) -> list[ConsumedEvent]:
    core = [topics.definitions, topics.requests, topics.runs, topics.assets, topics.ticks]
    return read_to_end(broker, topics, [*core, topics.leader])


def after_newer_marks(records: list[ConsumedEvent]) -> list[ConsumedEvent]:
    """Decisions that follow a newer epoch's mark in their partition, counted raw."""
    line: dict[tuple[str, int], int] = {}
    late = []
    for record in records:
        event = record.event
        where = (record.topic, record.partition)
        if isinstance(event, EpochMarked):
            line[where] = max(line.get(where, 0), event.epoch)
            continue
        epoch = decision_epoch(event)
        if epoch is not None and epoch < line.get(where, 0):
            late.append(record)
    return late


def assert_counted_once(broker: BrokerHandle, topics: Topics) -> CoordinatorState:
    """365 partitions, each materialized once; every fold of the log from zero agrees."""
    records = log_of(broker, topics)
    made = Counter(r.event.partition_key for r in records if isinstance(r.event, AssetMaterialized))
    assert len(made) == 365, f"{365 - len(made)} partitions lost"
    assert max(made.values()) == 1, f"executed twice: {[k for k, n in made.items() if n > 1]}"
    state, fold = coordinator_fold()
    fold(records)
    late = after_newer_marks(records)
    assert state.fence.fenced == len(late)
    backfill = state.backfills["bf"]
    assert backfill.completed is not None
    assert (backfill.completed.status, backfill.completed.materialized) == ("success", 365)
    model = ReadModel()
    for r in records:
        model.apply(r.event, topic=r.topic, partition=r.partition, offset=r.offset)
    assert model.fence.fenced == len(late)
    assert model.asset_summary("daily").partitions.materialized == 365
    assert {r.status for r in model.run_summaries(limit=100)} == {"success"}
    return state


def test_a_leader_paused_mid_decision_gets_none_of_its_late_decisions_counted(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    zombie = PausingCoordinator(
        broker.bootstrap, topics, broker_kind=broker.kind, session_timeout_s=2.0
    )
    worker = make_worker(broker, topics, tmp_path, slow_ms=5)
    with running(zombie, worker):
        wait_until(lambda: zombie.active, 30, "the first coordinator never led")
        standby = Coordinator(
            broker.bootstrap, topics, broker_kind=broker.kind, session_timeout_s=2.0
        )
        with running(standby):
            wait_until(lambda: standby.ready, 30, "the standby did not catch up")
            wait_for_definitions(broker, topics, "loc")
            backfill(broker, topics, "bf")
            wait_until(lambda: worker.executed >= 60, 60, "the backfill did not start")
            zombie.armed.set()
            wait_until(zombie.paused.is_set, 30, "the leader did not decide again")
            wait_until(lambda: standby.active, 30, "the standby did not take over")
            assert standby.epoch > zombie.epoch
            zombie.resume.set()  # it writes what it decided before the pause
            wait_for_backfill(broker, topics, "bf")
            wait_until(lambda: zombie.rebuilds == 1 and zombie.ready, 60, "no rebuild")
            state = assert_counted_once(broker, topics)
            late = after_newer_marks(log_of(broker, topics))
            assert late, "the zombie wrote nothing after the marks: the test proved nothing"
            assert {decision_epoch(r.event) for r in late} == {zombie.epoch}
            # Both live folds equal the replay from zero (rule 4).
            wait_until(lambda: standby.state.progress() == state.progress(), 30, "standby")
            wait_until(lambda: zombie.state.progress() == state.progress(), 30, "zombie")
            assert not zombie.active and standby.active
            # The worker saw each late dispatch's delivery after the new leader's mark.
            dispatches = sum(isinstance(r.event, WorkItemDispatched) for r in late)
            assert worker.deliveries.fenced == dispatches


# -- processes: SIGSTOP past the takeover, then SIGCONT -----------------------------------


def start_coordinator(
    broker: BrokerHandle, topics: Topics, state: Path, session_s: float = 2.0
) -> subprocess.Popen[bytes]:
    """`conflux coordinator` in a process of its own (its log in `state/coordinator.log`)."""
    state.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CONFLUX_BOOTSTRAP": broker.bootstrap,
        "CONFLUX_BROKER_KIND": broker.kind,
        "CONFLUX_TOPIC_PREFIX": topics.prefix,
    }
    cli = "import sys; from conflux.cli import main; sys.argv[0] = 'conflux'; main()"
    args = ["-c", cli, "coordinator", "--session-timeout", str(session_s)]
    with (state / "coordinator.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, *args, "--state-dir", str(state)], env=env, stdout=log, stderr=log
        )


class Beats:
    """Coordinators' heartbeats, read as they come: the latest per process id."""

    def __init__(self, broker: BrokerHandle, topics: Topics) -> None:
        self.consumer = EventConsumer(
            broker.bootstrap, topics, [topics.heartbeats], broker_kind=broker.kind
        )
        self.latest: dict[int, ComponentHeartbeat] = {}

    def until(self, done: Callable[[dict[int, ComponentHeartbeat]], bool], what: str) -> None:
        deadline = time.monotonic() + 60
        while not done(self.latest):
            assert time.monotonic() < deadline, f"{what}; beats: {self.latest}"
            for record in self.consumer.poll(timeout=0.1):
                beat = record.event
                if isinstance(beat, ComponentHeartbeat) and beat.pid is not None:
                    self.latest[beat.pid] = beat

    def close(self) -> None:
        self.consumer.close()


def test_a_leader_stopped_past_its_takeover_and_continued_counts_nothing(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    beats = Beats(broker, topics)
    worker = make_worker(broker, topics, tmp_path / "storage", slow_ms=10)
    try:
        procs.append(start_coordinator(broker, topics, tmp_path / "a"))
        first = procs[0].pid
        beats.until(lambda b: first in b and b[first].role == "active", "a never led")
        procs.append(start_coordinator(broker, topics, tmp_path / "b"))
        second = procs[1].pid
        beats.until(lambda b: second in b and b[second].ready, "b never caught up")
        assert beats.latest[second].role == "standby"
        with running(worker):
            wait_for_definitions(broker, topics, "loc")
            backfill(broker, topics, "bf")
            wait_until(lambda: worker.executed >= 60, 60, "the backfill did not start")
            old = beats.latest[first].epoch or 0
            os.kill(first, signal.SIGSTOP)
            stopped = time.monotonic()
            try:
                beats.until(
                    lambda b: b[second].role == "active" and (b[second].epoch or 0) > old,
                    "b did not take over",
                )
                took_over = time.monotonic() - stopped
                time.sleep(1.0)  # it leads (and dispatches) for a while
            finally:
                os.kill(first, signal.SIGCONT)
            beats.until(lambda b: b[first].role == "standby", "the woken leader did not yield")
            wait_for_backfill(broker, topics, "bf")
        state = assert_counted_once(broker, topics)
        late = after_newer_marks(log_of(broker, topics))
        assert {decision_epoch(r.event) for r in late} <= {old}
        print(f"\ntakeover {took_over:.1f} s; the woken leader wrote {len(late)} late decisions")
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            assert proc.wait(timeout=60) == 0
        # Each process's last fold (its checkpoint on a clean stop) is the replay's.
        for name in ("a", "b"):
            saved = load_checkpoint(
                tmp_path / name / "coordinator" / "checkpoint", prefix=topics.prefix
            )
            assert saved is not None, f"{name} wrote no checkpoint"
            assert saved.state.progress() == state.progress()
            assert saved.state.assets.partitions == state.assets.partitions
    finally:
        beats.close()
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
            proc.wait(timeout=30)
