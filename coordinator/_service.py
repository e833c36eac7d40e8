"""The coordinator service: replay the log into the state, then decide and emit, forever.

One thread does everything (poll, fold, decide, produce, heartbeat), so there is no lock
and no error can be lost in a background thread: whatever goes wrong propagates out of
`run`. On start the state is loaded from the checkpoint (when there is a usable one) and
the log is read from the checkpoint's offsets, else from the beginning; decisions wait
until the consumer has caught up, so a restarted coordinator first learns what it already
decided (derived ids make any repeat a no-op anyway). The checkpoint is written every
`CHECKPOINT_INTERVAL_S` while events arrive, and on a clean stop.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import time
from typing import TYPE_CHECKING

from conflux.coordinator._checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from conflux.coordinator._decide import PRODUCER, decide
from conflux.coordinator._liveness import DEFAULT_HEARTBEAT_TIMEOUT_S, WorkerClock, lost_attempts
from conflux.coordinator._queue import QueueLimits
from conflux.coordinator._state import CoordinatorState
from conflux.events import (
    AssetMaterialized,
    ComponentHeartbeat,
    DefinitionsPublished,
    PartitionFailed,
    PartitionStarted,
    TickRequested,
    Topics,
    WorkItemDispatched,
    asset_partition_key,
    new_id,
    utcnow,
)

if TYPE_CHECKING:
    import threading
    from pathlib import Path

    from conflux.events import AnyEvent, ConsumedEvent, EventConsumer, EventProducer
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

    Attributes:
        state: the folded state (read it from the `run` thread, or after it returned).
        ready: True once the consumer caught up with the log and decisions began.
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
        self.checkpoint_path = checkpoint
        self.resumed_from: dict[tuple[str, int], int] | None = None
        """The checkpoint's offsets when the state was loaded from one."""
        self._saved_at = 0
        """`applied` when the last checkpoint was written."""
        self.limits = limits or QueueLimits()
        self.clock = WorkerClock(heartbeat_timeout_s)
        self.max_catchup_ticks = max_catchup_ticks
        self._configure_state()

    def run(self, stop: threading.Event) -> None:
        """Replay, then decide and emit until `stop` is set.

        Raises:
            BrokerUnavailableError: the broker stopped acknowledging what was emitted.
        """
        from conflux.events import EventConsumer, EventProducer, ensure_topics

        ensure_topics(self.bootstrap, self.topics.core())
        producer = EventProducer(
            self.bootstrap,
            self.topics,
            client_id=self.instance_id,
            broker_kind=self.broker_kind,
            linger_ms=0,
        )
        try:
            consumer = EventConsumer(
                self.bootstrap,
                self.topics,
                [
                    self.topics.definitions,
                    self.topics.requests,
                    self.topics.runs,
                    self.topics.assets,
                    self.topics.ticks,
                ],
                client_id=self.instance_id,
                broker_kind=self.broker_kind,
                start_offsets=self._resume(),
            )
            beats = self._heartbeat_consumer()
            try:
                self._loop(consumer, beats, producer, stop)
                if self.ready:
                    self._checkpoint(consumer)
            finally:
                beats.close()
                consumer.close()
        finally:
            producer.close()

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
        """Store the state with the offsets it has applied (call between polls only)."""
        if self.checkpoint_path is None or self.applied == self._saved_at:
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
    ) -> None:
        next_beat = 0.0
        next_liveness = time.monotonic() + LIVENESS_INTERVAL_S
        next_checkpoint = time.monotonic() + CHECKPOINT_INTERVAL_S
        while not stop.is_set():
            if self.ready:
                for record in self._take(consumer):
                    self._apply(record.event)
            else:
                self._catch_up(consumer)
            if not self.ready and consumer.caught_up():
                self.ready = True
                log.info(
                    "coordinator caught up: %d events, %d runs", self.applied, len(self.state.runs)
                )
            if self.ready:
                if time.monotonic() >= next_liveness:
                    next_liveness = time.monotonic() + LIVENESS_INTERVAL_S
                    self._check_liveness(beats, producer)
                self._step(producer)
                if time.monotonic() >= next_checkpoint:
                    next_checkpoint = time.monotonic() + CHECKPOINT_INTERVAL_S
                    self._checkpoint(consumer)
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + HEARTBEAT_INTERVAL_S
                producer.emit(
                    ComponentHeartbeat(
                        component="coordinator",
                        instance_id=self.instance_id,
                        ready=self.ready,
                        interval_s=HEARTBEAT_INTERVAL_S,
                        producer=PRODUCER,
                    )
                )

    def _check_liveness(self, beats: EventConsumer, producer: EventProducer) -> None:
        """Note the heartbeats that came in, then abandon the attempts of lost workers."""
        for record in beats.poll(timeout=0, max_records=MAX_BATCH):
            beat = record.event
            if isinstance(beat, ComponentHeartbeat) and beat.component == "worker":
                self.clock.heard(beat.instance_id)
        lost = lost_attempts(self.state, self.clock, utcnow())
        for event in lost:
            log.warning("abandoning %s: %s", event.work_item_id, event.reason)
            producer.emit(event)
        if lost:
            producer.flush()
            for event in lost:
                self.state.apply(event)
                self.applied += 1
            self.emitted += len(lost)

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
            apply = self.state.apply
            for record in records:
                event = record.event
                apply(event)
                if event.type == "DefinitionsPublished":
                    self._ensure_work_topic(event.location)
            self.applied += len(records)
            del records  # freed before the GC resumes (but the last event)
        finally:
            if paused:
                gc.enable()

    def _apply(self, event: AnyEvent) -> None:
        self.state.apply(event)
        self.applied += 1
        worker_events = PartitionStarted | AssetMaterialized | PartitionFailed
        if isinstance(event, worker_events) and event.worker_id is not None:
            self.clock.heard(event.worker_id)
        if isinstance(event, DefinitionsPublished):
            self._ensure_work_topic(event.location)

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

    def _step(self, producer: EventProducer) -> None:
        """One decision step: emit every decision, flush, and fold them at once."""
        # Folding decisions can call for more (a skip completes a run): decide again.
        for _ in range(MAX_ROUNDS):
            events = decide(self.state, utcnow(), self.limits)
            if not events:
                return
            for event in events:
                producer.emit(event)
                if isinstance(event, WorkItemDispatched):
                    producer.emit_to(
                        self.topics.work(event.location),
                        asset_partition_key(  # a range spreads by its first key
                            event.asset_keys[0],
                            event.partition_range.start
                            if event.partition_range is not None
                            else event.partition_key,
                        ),
                        event,
                    )
                elif isinstance(event, TickRequested):
                    producer.emit_to(self.topics.tick_requests(event.location), event.name, event)
            producer.flush()
            for event in events:
                self.state.apply(event)
                self.applied += 1
            self.emitted += len(events)
            log.debug("emitted %d decisions", len(events))
        log.error("decisions did not settle after %d rounds; going on", MAX_ROUNDS)
