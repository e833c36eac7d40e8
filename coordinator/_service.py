"""The coordinator service: replay the log into the state, then decide and emit, forever.

One thread does everything (poll, fold, decide, produce, heartbeat), so there is no lock
and no error can be lost in a background thread: whatever goes wrong propagates out of
`run`. On start the state is loaded from the checkpoint (when there is a usable one) and
the log is read from the checkpoint's offsets, else from the beginning; decisions wait
until the consumer has caught up, so a restarted coordinator first learns what it already
decided (derived ids make any repeat a no-op anyway). The checkpoint is written every
`CHECKPOINT_INTERVAL_S` while events arrive, and on a clean stop.

Several coordinators may run against one log: each folds everything (a standby stays
current, so a takeover replays nothing), and only the leader decides (`_leadership.py`:
Kafka's consumer group picks it, epochs and marks fence the one before). Every record is
folded through the state's epoch fence; a decision this coordinator folded itself that the
log then refuses means it decided as a zombie, and it rebuilds its state from its last
checkpoint, which it writes only once the log has confirmed all its own decisions.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Literal, cast

from conflux.coordinator._checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from conflux.coordinator._decide import PRODUCER, decide
from conflux.coordinator._leadership import (
    DEFAULT_SESSION_TIMEOUT_S,
    LeaderGroup,
    redeliveries,
)
from conflux.coordinator._liveness import DEFAULT_HEARTBEAT_TIMEOUT_S, WorkerClock, lost_attempts
from conflux.coordinator._metrics import REFRESH_INTERVAL_S as METRICS_INTERVAL_S
from conflux.coordinator._queue import QueueLimits
from conflux.coordinator._state import CoordinatorState
from conflux.events import (
    FENCED_TYPES,
    AssetMaterialized,
    ComponentHeartbeat,
    DefinitionsPublished,
    EpochMarked,
    LeadershipClaimed,
    PartitionFailed,
    PartitionStarted,
    TickRequested,
    Topics,
    WorkItemDispatched,
    asset_partition_key,
    decision_epoch,
    mark_id,
    mark_key,
    new_id,
    utcnow,
)

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from conflux.coordinator._metrics import CoordinatorMetrics
    from conflux.events import (
        AnyEvent,
        ConsumedEvent,
        Event,
        EventConsumer,
        EventProducer,
        MetricsServer,
    )
    from conflux.events.brokers import BrokerKind

log = logging.getLogger("conflux.coordinator")

HEARTBEAT_INTERVAL_S = 2.0
POLL_TIMEOUT_S = 0.05
MAX_BATCH = 1000
CATCH_UP_BATCH = 10_000
"""Events folded per poll while replaying the log: fewer, fuller polls."""
"""Events folded per poll at most, between decision steps."""
MAX_ROUNDS = 100
"""Decision rounds per step; decisions settle in two, more would be a bug."""
LIVENESS_INTERVAL_S = 1.0
"""How often in-flight attempts are checked for lost workers."""
CHECKPOINT_INTERVAL_S = 60.0
"""How often the state is checkpointed while events arrive (it pauses the loop while it
is written: about a second per million folded partitions)."""
CONFIRM_WAIT_S = 5.0
"""How long the leader holds its decisions back so that the log confirms the last ones
before a checkpoint (a few milliseconds on a healthy broker); past it, the checkpoint
waits for the next interval."""
TAKEOVER_TIMEOUT_S = 15.0
"""How long a claim may take to come back from the leader topic, and the marks from the
topics the leader writes, before the claimant gives up (and tries again if it still owns
the leader partition)."""


def default_instance_id() -> str:
    """`coordinator@host:pid:rand`: unique per process, readable in heartbeats."""
    return f"coordinator@{socket.gethostname()}:{os.getpid()}:{new_id()[:6]}"


class Coordinator:
    """Turns requests into runs and work items, and drives runs to completion.

    Args:
        bootstrap: Kafka bootstrap servers.
        topics: the system's topic names.
        broker_kind: tunes the Kafka clients for the broker (`kafka` or `tansu`).
        instance_id: this process's id in heartbeats (default: host, pid and a nonce).
        poll_timeout_s: longest wait for new events before heartbeating again; events
            are handled as soon as they arrive whatever its value.
        checkpoint: where the state is checkpointed with its offsets (None: never; a
            restart replays the whole log).
        limits: the run queue's concurrency limits.
        heartbeat_timeout_s: silence after which a worker's attempts are abandoned and
            dispatched again.
        max_catchup_ticks: missed ticks per schedule run after downtime (None: the
            default, `MAX_CATCHUP_TICKS`).
        session_timeout_s: the leader group's session: how long a crashed leader holds
            leadership before a standby takes over (None: `DEFAULT_SESSION_TIMEOUT_S` of
            the broker kind; Kafka refuses less than its `group.min.session.timeout.ms`).
        metrics_port: serve `/metrics` on this port while `run` runs (0: a free one; None:
            no metrics, and nothing of them on the hot path).
        metrics_host: the interface `/metrics` listens on.

    Attributes:
        state: the folded state (read it from the `run` thread, or after it returned).
        ready: True once the consumer caught up with the log (a standby is ready too).
        role: `active` while it is the leader and decides, else `standby`.
        epoch: the leadership epoch it decides under (the last one it held, once it
            stepped down; 0: never led).
        refused: decisions its fold refused (a newer epoch's mark preceded them).
        rebuilds: how often it rebuilt its state because the log refused a decision it
            had folded itself (it decided as a zombie).
        metrics: its metrics (None: started without `metrics_port`).
        metrics_server: where they are served while `run` runs.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        *,
        broker_kind: BrokerKind | None = None,
        instance_id: str | None = None,
        poll_timeout_s: float = POLL_TIMEOUT_S,
        checkpoint: Path | None = None,
        limits: QueueLimits | None = None,
        heartbeat_timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S,
        max_catchup_ticks: int | None = None,
        session_timeout_s: float | None = None,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.broker_kind: BrokerKind | None = broker_kind
        self.instance_id = instance_id or default_instance_id()
        self.poll_timeout_s = poll_timeout_s
        self.state = CoordinatorState()
        self.ready = False
        self.applied = 0
        """Events folded so far (from the log and from its own decisions)."""
        self.emitted = 0
        """Events emitted so far (a dispatch counts once, though written to two topics)."""
        self._work_topics: set[str] = set()
        self._locations: set[str] = set()
        """Locations whose work and tick-request topics exist (a new leader marks them)."""
        self.checkpoint_path = checkpoint
        self.resumed_from: dict[tuple[str, int], int] | None = None
        """The checkpoint's offsets when the state was loaded from one."""
        self._saved_at = 0
        """`applied` when the last checkpoint was written."""
        self.limits = limits or QueueLimits()
        self.clock = WorkerClock(heartbeat_timeout_s)
        self.max_catchup_ticks = max_catchup_ticks
        kind = broker_kind or "kafka"
        self.session_timeout_s = session_timeout_s or DEFAULT_SESSION_TIMEOUT_S[kind]
        self.role: Literal["active", "standby"] = "standby"
        self.epoch = 0
        self.refused = 0
        self.rebuilds = 0
        self._group: LeaderGroup | None = None
        self._marked: set[str] = set()
        """Topics marked with the current epoch (a leader marks a topic before writing)."""
        self._unconfirmed: dict[str, int] = {}
        """Event id -> epoch of the decisions folded here and not yet read back from the log."""
        self._tainted = False
        """The log refused a decision folded here: the state must be rebuilt."""
        self.metrics: CoordinatorMetrics | None = None
        if metrics_port is not None:
            from conflux.coordinator._metrics import CoordinatorMetrics

            self.metrics = CoordinatorMetrics()
        self._metrics_address = (metrics_host, metrics_port or 0)
        self.metrics_server: MetricsServer | None = None
        self._configure_state()

    @property
    def active(self) -> bool:
        """Whether it is the leader now (it decides)."""
        return self.role == "active"

    def run(self, stop: threading.Event) -> None:
        """Replay, then stand by or lead (decide and emit) until `stop` is set.

        Raises:
            BrokerUnavailableError: the broker stopped acknowledging what was emitted.
        """
        from conflux.events import EventProducer, MetricsServer, ensure_topics

        if self.metrics is not None and self.metrics_server is None:
            host, port = self._metrics_address
            self.metrics_server = MetricsServer(self.metrics.registry, port, host)
            log.info("metrics at %s", self.metrics_server.url)
        ensure_topics(self.bootstrap, [*self.topics.core(), self.topics.leader_spec()])
        producer = EventProducer(
            self.bootstrap,
            self.topics,
            client_id=self.instance_id,
            broker_kind=self.broker_kind,
            linger_ms=0,
        )
        try:
            while self._serve(producer, stop):
                self.rebuilds += 1
                self._reset()
        finally:
            try:
                producer.close()
            finally:
                server, self.metrics_server = self.metrics_server, None
                if server is not None:
                    server.close()

    def _serve(self, producer: EventProducer, stop: threading.Event) -> bool:
        """Fold, lead or stand by until `stop` (False) or until the state is tainted (True)."""
        from conflux.events import EventConsumer

        consumer = EventConsumer(
            self.bootstrap,
            self.topics,
            [
                self.topics.definitions,
                self.topics.requests,
                self.topics.runs,
                self.topics.assets,
                self.topics.ticks,
                self.topics.leader,
            ],
            client_id=self.instance_id,
            broker_kind=self.broker_kind,
            start_offsets=self._resume(),
        )
        try:
            beats = self._heartbeat_consumer()
            try:
                if self._loop(consumer, beats, producer, stop):
                    return True
                self._leave()  # first: a standby takes over while this one checkpoints
                if self.ready:
                    self._confirm(consumer)
                    self._checkpoint(consumer)
                return False
            finally:
                beats.close()
        finally:
            try:
                self._leave()
            finally:
                consumer.close()

    def _leave(self) -> None:
        """Stop leading and leave the leader group: a standby takes over at once."""
        group, self._group = self._group, None
        if self.active:
            self._step_down("stopping")
        if group is not None:
            group.close()

    def _reset(self) -> None:
        """Forget the folded state (the log refused a decision in it): fold it again."""
        self.state = CoordinatorState()
        self._configure_state()
        self.ready = False
        self.applied = self._saved_at = 0
        self.resumed_from = None
        self.role = "standby"
        self._marked = set()
        self._unconfirmed = {}
        self._tainted = False

    def _configure_state(self) -> None:
        """Apply settings that live in the state (again after a checkpoint replaced it)."""
        if self.max_catchup_ticks is not None:
            self.state.instigators.max_catchup_ticks = self.max_catchup_ticks

    def _heartbeat_consumer(self) -> EventConsumer:
        """Read heartbeats from now on: liveness is about the present, never replayed."""
        from conflux.events import EventConsumer

        spec = next(t for t in self.topics.core() if t.name == self.topics.heartbeats)
        end = -1  # librdkafka's OFFSET_END
        return EventConsumer(
            self.bootstrap,
            self.topics,
            [spec.name],
            client_id=f"{self.instance_id}:liveness",
            broker_kind=self.broker_kind,
            start_offsets={(spec.name, p): end for p in range(spec.partitions)},
        )

    def _resume(self) -> dict[tuple[str, int], int] | None:
        """Load the checkpoint, if there is a usable one; return where to read from."""
        if self.checkpoint_path is None:
            return None
        loaded = load_checkpoint(self.checkpoint_path, prefix=self.topics.prefix)
        if loaded is None:
            return None
        self.state, self.applied, self._saved_at = loaded.state, loaded.applied, loaded.applied
        self._configure_state()
        self.resumed_from = dict(loaded.offsets)
        for location in self.state.definitions.locations:
            self._ensure_work_topic(location)
        log.info("resumed from checkpoint: %d events folded", loaded.applied)
        return dict(loaded.offsets)

    def _checkpoint(self, consumer: EventConsumer) -> None:
        """Store the state with the offsets it has applied (call between polls only).

        Never while a decision folded here is unconfirmed: the checkpoint is then exactly
        the log's fold up to its offsets, which a rebuild may trust.
        """
        if self.checkpoint_path is None or self.applied == self._saved_at:
            return
        if self._unconfirmed or self._tainted:
            return
        offsets = {**(self.resumed_from or {}), **consumer.positions()}
        seconds = save_checkpoint(
            self.checkpoint_path,
            Checkpoint(self.state, offsets, self.applied),
            prefix=self.topics.prefix,
        )
        self._saved_at = self.applied
        log.info("checkpoint: %d events folded, written in %.2f s", self.applied, seconds)

    def _loop(
        self,
        consumer: EventConsumer,
        beats: EventConsumer,
        producer: EventProducer,
        stop: threading.Event,
    ) -> bool:
        """Fold, lead or stand by until `stop` (False), or until the state is tainted (True)."""
        next_beat = 0.0
        next_liveness = time.monotonic() + LIVENESS_INTERVAL_S
        next_checkpoint = time.monotonic() + CHECKPOINT_INTERVAL_S
        confirming: float | None = None  # decisions held back until: the log confirms ours
        next_metrics = 0.0
        while not stop.is_set():
            if self.ready:
                self._fold(self._take(consumer))
            else:
                self._catch_up(consumer)
            if self._tainted:
                self._step_down("the log refused a decision it had folded: rebuilding its state")
                return True
            if not self.ready and consumer.caught_up():
                self.ready = True
                log.info(
                    "coordinator caught up: %d events, %d runs", self.applied, len(self.state.runs)
                )
            if self.ready:
                if self._lead(consumer, producer, stop):
                    next_beat = 0.0  # the role changed: say so at once
                if time.monotonic() >= next_liveness:
                    next_liveness = time.monotonic() + LIVENESS_INTERVAL_S
                    self._check_liveness(beats, producer)
                if time.monotonic() >= next_checkpoint:
                    if not self._unconfirmed:
                        next_checkpoint = time.monotonic() + CHECKPOINT_INTERVAL_S
                        confirming = None
                        self._checkpoint(consumer)
                    elif confirming is None:
                        confirming = time.monotonic() + CONFIRM_WAIT_S
                    elif time.monotonic() > confirming:
                        log.warning(
                            "checkpoint skipped: the log did not confirm the last decisions"
                        )
                        next_checkpoint = time.monotonic() + CHECKPOINT_INTERVAL_S
                        confirming = None
                if self.active and confirming is None:
                    self._step(producer)
            if self.metrics is not None and time.monotonic() >= next_metrics:
                next_metrics = time.monotonic() + METRICS_INTERVAL_S
                self.metrics.refresh(self.state, consumer, ready=self.ready, active=self.active)
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + HEARTBEAT_INTERVAL_S
                producer.emit(self._heartbeat())
        return False

    def _heartbeat(self) -> ComponentHeartbeat:
        return ComponentHeartbeat(
            component="coordinator",
            instance_id=self.instance_id,
            ready=self.ready,
            interval_s=HEARTBEAT_INTERVAL_S,
            pid=os.getpid(),
            role=self.role,
            epoch=self.epoch if self.active else self.state.claims.epoch,
            producer=PRODUCER,
            metrics_port=self.metrics_server.port if self.metrics_server is not None else None,
        )

    # -- leadership ------------------------------------------------------------------------

    def _lead(
        self, consumer: EventConsumer, producer: EventProducer, stop: threading.Event
    ) -> bool:
        """Keep, lose or take leadership; True when the role changed."""
        if self._group is None:  # joined once caught up: an owner must be able to claim
            self._group = LeaderGroup(
                self.bootstrap,
                self.topics,
                instance_id=self.instance_id,
                broker_kind=self.broker_kind,
                session_timeout_s=self.session_timeout_s,
            )
        owns = self._group.owns()
        if self.active:
            why = self._lost_leadership(owns)
            if why is None:
                return False
            self._step_down(why)
            return True
        if owns:
            return self._take_leadership(consumer, producer, stop)
        return False

    def _lost_leadership(self, owns: bool) -> str | None:
        """Why this leader is one no more (None: it still is)."""
        claims, fence = self.state.claims, self.state.fence
        if claims.epoch > self.epoch:
            return f"{claims.holder} claimed epoch {claims.epoch}"
        if fence.highest > self.epoch:
            return f"epoch {fence.highest} was marked"
        if not owns:
            return "the leader group gave its partition to another member"
        return None

    def _step_down(self, why: str) -> None:
        if self.active:
            log.warning("stepping down from epoch %d: %s", self.epoch, why)
        elif self._tainted:
            log.warning("%s", why)
        self.role = "standby"
        self._marked = set()

    def _take_leadership(
        self, consumer: EventConsumer, producer: EventProducer, stop: threading.Event
    ) -> bool:
        """Claim an epoch, mark it, read up to the marks, deliver again what waits: lead.

        Returns False (and stays a standby) when a newer claim or mark shows up meanwhile,
        or the steps take longer than `TAKEOVER_TIMEOUT_S`; the next loop tries again if
        the leader partition is still this member's.
        """
        started = time.monotonic()
        state = self.state
        claim = LeadershipClaimed(
            instance_id=self.instance_id,
            pid=os.getpid(),
            proposed_epoch=max(state.claims.epoch, state.fence.highest) + 1,
            producer=PRODUCER,
        )
        producer.emit(claim)
        producer.flush()
        if not self._fold_until(consumer, stop, lambda: claim.event_id in state.claims.epochs):
            return False
        epoch = state.claims.epochs[claim.event_id]
        if state.claims.epoch > epoch or state.fence.highest > epoch:
            log.info("claim of epoch %d overtaken by epoch %d", epoch, state.claims.epoch)
            return False
        self.epoch = state.epoch = epoch
        self._marked = set()
        written = [self.topics.runs, self.topics.requests, self.topics.ticks]
        for location in sorted(self._locations):
            written += [self.topics.work(location), self.topics.tick_requests(location)]
        self._mark(producer, written)
        producer.flush()
        folded = {self.topics.runs, self.topics.requests, self.topics.ticks}
        mine = sorted(tp for tp in consumer.assignment if tp[0] in folded)

        def marks_folded() -> bool:
            return all(state.fence.line(t, p) >= epoch for t, p in mine)

        if not self._fold_until(consumer, stop, marks_folded, epoch=epoch):
            return False
        self.role = "active"
        state.automation.repaired = False  # check once more that every evaluation landed
        again = redeliveries(state, epoch)
        for event in again:
            self._deliver(producer, event)
        producer.flush()
        log.warning(
            "leader with epoch %d after %.0f ms (claim, marks, log read to the marks); "
            "%d work item(s) and tick(s) delivered again",
            epoch,
            (time.monotonic() - started) * 1000,
            len(again),
        )
        return True

    def _fold_until(
        self,
        consumer: EventConsumer,
        stop: threading.Event,
        done: Callable[[], bool],
        *,
        epoch: int | None = None,
    ) -> bool:
        """Fold the log until `done()`; False on stop, timeout, taint, or a newer epoch."""
        deadline = time.monotonic() + TAKEOVER_TIMEOUT_S
        state = self.state
        while not done():
            if stop.is_set() or self._tainted:
                return False
            if epoch is not None and max(state.claims.epoch, state.fence.highest) > epoch:
                log.info("epoch %d overtaken by epoch %d", epoch, state.claims.epoch)
                return False
            if time.monotonic() > deadline:
                log.warning("taking over took more than %.0f s: trying again", TAKEOVER_TIMEOUT_S)
                return False
            self._fold(self._take(consumer))
        return True

    def _mark(self, producer: EventProducer, names: Sequence[str]) -> None:
        """Mark the current epoch in every partition of the topics not marked yet.

        One producer writes the marks and what follows them, so each mark precedes, in its
        partition, everything this leader writes there.
        """
        from conflux.events import partition_counts

        todo = [t for t in names if t not in self._marked]
        if not todo:
            return
        for topic, count in partition_counts(self.bootstrap, todo).items():
            for partition in range(count):
                producer.emit_to(
                    topic,
                    mark_key(partition, count),
                    EpochMarked(
                        event_id=mark_id(self.epoch, topic, partition),
                        epoch=self.epoch,
                        instance_id=self.instance_id,
                        topic=topic,
                        partition=partition,
                        partitions=count,
                        producer=PRODUCER,
                    ),
                    partition=partition,
                )
        self._marked.update(todo)

    def _deliver(self, producer: EventProducer, event: WorkItemDispatched | TickRequested) -> None:
        """Write a decision's delivery copy to its location's topic (marked first)."""
        if isinstance(event, WorkItemDispatched):
            topic = self.topics.work(event.location)
            key = asset_partition_key(  # a range spreads by its first key
                event.asset_keys[0],
                event.partition_range.start
                if event.partition_range is not None
                else event.partition_key,
            )
        else:
            topic, key = self.topics.tick_requests(event.location), event.name
        if topic not in self._marked:
            self._mark(producer, [topic])
        producer.emit_to(topic, key, event)

    def _check_liveness(self, beats: EventConsumer, producer: EventProducer) -> None:
        """Note the heartbeats that came in; the leader abandons the attempts of lost workers.

        A standby listens too, so that it knows at takeover which workers live.
        """
        for record in beats.poll(timeout=0, max_records=MAX_BATCH):
            beat = record.event
            if isinstance(beat, ComponentHeartbeat) and beat.component == "worker":
                self.clock.heard(beat.instance_id)
        if not self.active:
            return
        lost = lost_attempts(self.state, self.clock, utcnow())
        for event in lost:
            log.warning("abandoning %s: %s", event.work_item_id, event.reason)
            producer.emit(event)
        if lost:
            producer.flush()
            self._folded_own(lost)

    def _take(self, consumer: EventConsumer) -> list[ConsumedEvent]:
        """The next events: as soon as one is there, with what is buffered behind it."""
        # librdkafka's batch consume waits out its whole timeout unless the batch fills:
        # wait for the first event alone (returns as soon as it arrives), then take
        # whatever else is already buffered without waiting.
        records = consumer.poll(timeout=self.poll_timeout_s, max_records=1)
        if records:
            batch = MAX_BATCH if self.ready else CATCH_UP_BATCH
            records += consumer.poll(timeout=0, max_records=batch)
        return records

    def _catch_up(self, consumer: EventConsumer) -> None:
        """Read and fold a replayed batch: the lean path (no liveness; only snapshots need more).

        The cyclic GC is paused from reading to folding, and resumes once the batch's events
        are freed: the fold allocates no cycles, so a collection would only walk the growing
        state again and again (about 1.8 s per 1M events), and promote every decoded event
        to an older generation to be walked again there.
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            records = self._take(consumer)
            apply, admit = self.state.apply, self.state.fence.admit
            for record in records:
                event = record.event
                kind = event.type
                # `state.fold`, inlined: most records (the workers') are no decisions
                if kind in FENCED_TYPES and not admit(event, record.topic, record.partition):
                    self._refused(event)
                    continue
                apply(event)
                if kind == "DefinitionsPublished":
                    self._ensure_work_topic(cast("DefinitionsPublished", event).location)
            self.applied += len(records)
            if self.metrics is not None:
                self.metrics.count_folded(records, live=False)
            del records  # freed before the GC resumes (but the last event)
        finally:
            if paused:
                gc.enable()

    def _fold(self, records: list[ConsumedEvent]) -> None:
        """Fold records read from the log (through the epoch fence), live."""
        for record in records:
            event = record.event
            self.applied += 1
            if not self.state.fold(event, record.topic, record.partition):
                self._refused(event)
                continue
            if self._unconfirmed:
                mine = self._unconfirmed.get(event.event_id)
                if mine is not None and mine == decision_epoch(event):
                    del self._unconfirmed[event.event_id]  # our own decision, confirmed
            worker_events = PartitionStarted | AssetMaterialized | PartitionFailed
            if isinstance(event, worker_events) and event.worker_id is not None:
                self.clock.heard(event.worker_id)
            if isinstance(event, DefinitionsPublished):
                self._ensure_work_topic(event.location)
        if self.metrics is not None:
            self.metrics.count_folded(records, live=True)

    def _refused(self, event: AnyEvent) -> None:
        """A decision the fence refused; if it was ours and folded here, rebuild."""
        self.refused += 1
        epoch = decision_epoch(event)
        if self._unconfirmed.get(event.event_id, -1) == epoch:
            log.error(
                "the log refused our own %s %s of epoch %s (a newer leader marked its "
                "partition first: this coordinator was paused or cut off)",
                event.type,
                event.event_id,
                epoch,
            )
            self._tainted = True
        else:
            log.info("refused %s %s of epoch %s (fenced off)", event.type, event.event_id, epoch)

    def _folded_own(self, events: Sequence[Event]) -> None:
        """Fold this leader's own decisions (written and acknowledged) at once.

        They are expected back from the log; until then they are unconfirmed, and a
        checkpoint waits (`_checkpoint`).
        """
        apply = self.state.apply
        for event in events:
            apply(event)  # type: ignore[arg-type]
            self._unconfirmed[event.event_id] = self.epoch
        self.applied += len(events)
        self.emitted += len(events)

    def _confirm(self, consumer: EventConsumer) -> None:
        """Read the log until it confirmed our decisions (bounded), before the last checkpoint."""
        deadline = time.monotonic() + CONFIRM_WAIT_S
        while self._unconfirmed and not self._tainted and time.monotonic() < deadline:
            self._fold(self._take(consumer))

    def _ensure_work_topic(self, location: str) -> None:
        """Create a location's work and tick-request topics when its snapshot is first folded.

        Folding precedes deciding, so no dispatch to the location can come before it.
        """
        topic = self.topics.work(location)
        if topic in self._work_topics:
            return
        from conflux.events import ensure_topics

        ensure_topics(
            self.bootstrap,
            [self.topics.work_spec(location), self.topics.tick_requests_spec(location)],
        )
        self._work_topics.add(topic)
        self._locations.add(location)

    def _step(self, producer: EventProducer) -> None:
        """One decision step: emit every decision, flush, and fold them at once."""
        # Folding decisions can call for more (a skip completes a run): decide again.
        for _ in range(MAX_ROUNDS):
            started = time.perf_counter()
            events = decide(self.state, utcnow(), self.limits)
            if not events:
                return
            for event in events:
                producer.emit(event)
                if isinstance(event, WorkItemDispatched | TickRequested):
                    self._deliver(producer, event)
            producer.flush()
            self._folded_own(events)
            if self.metrics is not None:
                self.metrics.count_decided(events, time.perf_counter() - started)
            log.debug("emitted %d decisions", len(events))
        log.error("decisions did not settle after %d rounds; going on", MAX_ROUNDS)
