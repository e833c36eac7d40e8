"""The projector: folds the log into the read model and the archive, and serves both.

It reads every topic in assign mode. The read model (current state, compact) is
checkpointed with the positions it has applied (rule 5) every minute while events arrive
and on a clean stop, and a restart resumes from it; without a usable checkpoint it is
rebuilt from the archive (or, with no archive, from the log), showing its progress (see
`_restore`). The archive (when given) skips what it has stored already (its positions are
stored with its rows) and answers every question about history. It beats like every
other part so that `conflux status` can tell it is alive.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING

from conflux.events import BrokerUnavailableError, ComponentHeartbeat
from conflux.projections.projector._memory import release_free_memory
from conflux.projections.projector._query_api import QueryApi
from conflux.projections.projector._read_model import ReadModel
from conflux.projections.projector._unstored import Unstored

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from conflux.events import Event, EventConsumer, EventProducer, Topics
    from conflux.events.brokers import BrokerKind
    from conflux.projections.api import BrokerStatus
    from conflux.projections.archive import ArchiveSink, ArchiveStore
    from conflux.projections.projector._metrics import ProjectorMetrics

_log = logging.getLogger("conflux.projector")

HEARTBEAT_INTERVAL_S = 2.0
"""How often the projector beats (readers call it gone after 3 missed beats)."""
BROKERS_TTL_S = 2.0
"""How long the cluster's broker list is reused by `/status`."""
ARCHIVE_FLUSH_S = 0.25
"""The archive's flush interval: the most a kill -9 can lose on a broker that keeps
nothing (Tansu); on Apache Kafka the archive re-reads it from the log on restart."""
CONSUMER_CONFIG = {"queued.max.messages.kbytes": 16384}
"""librdkafka prefetches up to 64 MB by default; a poll takes 1,000 records (under 1 MB):
16 MB keeps catching up as fast and the projector's memory that much smaller."""
TRIM_INTERVAL_S = 5.0
"""How often, while events arrive, the pages malloc holds free go back to the system
(`release_free_memory`): folding and archiving a burst leaves freed pages behind, which
glibc would keep (a few ms per call)."""
CHECKPOINT_INTERVAL_S = 60.0
"""How often the read model is checkpointed while events arrive (the loop pauses while it
is written: about half a second per million partitions)."""


class Projector:
    """Consumes the log into a `ReadModel` and serves it on the query API.

    The API's socket is bound at construction (so `api_url` is known at once) and served
    from the start of `run`, before the log is read: until the projector has caught up,
    `/status` says so instead of the API being unreachable.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        *,
        api_port: int = 0,
        api_host: str = "127.0.0.1",
        api_token: str | None = None,
        broker_kind: BrokerKind | None = None,
        expected_locations: Sequence[str] = (),
        instance_id: str | None = None,
        archive: ArchiveStore | None = None,
        checkpoint: Path | None = None,
    ) -> None:
        """Bind the query API; nothing is read until `run`.

        Args:
            bootstrap: the broker.
            topics: the system's topic catalog.
            api_port: the query API's port; 0 picks a free one.
            api_host: the query API's interface (beyond loopback, `api_token` is needed).
            api_token: what every request to the API and UI must carry, when given.
            broker_kind: see `kafka_config`.
            expected_locations: code locations that must load (or report a failure)
                before `/status` is ready.
            instance_id: this projector's id in heartbeats (default: random).
            archive: where every event is archived and history (events, run timelines,
                lineage, SQL) is answered from; the projector creates its schema and
                closes it when `run` ends. Without it, the API answers no history.
            checkpoint: where the read model is checkpointed with its positions (None:
                never; a start rebuilds it from the archive, or the log).
        """
        self.bootstrap = bootstrap
        self.topics = topics
        self.broker_kind = broker_kind
        self.instance_id = instance_id or f"projector-{uuid.uuid4().hex[:8]}"
        self.model = ReadModel()
        self.archive = archive
        self.checkpoint_path = checkpoint
        self.resumed_from: dict[tuple[str, int], int] | None = None
        """The checkpoint's positions when the read model was loaded from one."""
        self.rebuilt = 0
        """Archived records folded to rebuild the read model at start (0: none)."""
        self._saved_at = -1
        """`model.applied` when the last checkpoint was written."""
        self._progress: str | None = None
        """What the projector is doing before it has caught up (for `/status`)."""
        self._sink: ArchiveSink | None = None
        self._seq = 0
        """Sequence numbers for the live stream when there is no archive to number them."""
        self._unstored = Unstored()
        """What the archive has not stored yet, by what it is about (see `_settle`)."""
        self._reader: ArchiveStore | None = None
        """A session of its own on the archive for history reads: they run beside the
        sink's inserts instead of waiting for them."""
        self._caught_up = False
        self._actions: EventProducer | None = None
        self._actions_lock = threading.Lock()
        self.api = QueryApi(
            self.model,
            port=api_port,
            host=api_host,
            token=api_token,
            caught_up=lambda: self._caught_up,
            progress=lambda: self._progress,
            broker_problem=self._broker_problem,
            expected_locations=expected_locations,
            emit=self._emit_action,
            brokers=self._brokers,
        )
        self._started = time.monotonic()
        self._echo: float | None = None
        """When the projector last read back its own heartbeat: a broker round trip."""
        self._cluster: tuple[float, list[BrokerStatus]] = (-BROKERS_TTL_S, [])
        self._cluster_lock = threading.Lock()
        self.metrics = _metrics_or_none()
        """Served at the API's `/metrics` (None: prometheus_client is not installed)."""
        self.api.metrics = self.metrics.registry if self.metrics is not None else None

    @property
    def api_url(self) -> str:
        """The query API's base URL, e.g. `http://127.0.0.1:8321`."""
        return self.api.url

    def _broker_problem(self) -> str | None:
        """None while our own heartbeats come back through the broker, else why not."""
        since = self._echo if self._echo is not None else self._started
        silent = time.monotonic() - since
        if silent <= 3 * HEARTBEAT_INTERVAL_S:
            return None
        return f"no round trip through {self.bootstrap} for {silent:.0f} s (is the broker running?)"

    def _brokers(self) -> list[BrokerStatus]:
        """The cluster's brokers from its metadata, asked at most every `BROKERS_TTL_S`.

        Called by the query API's threads (never the consume loop, which a broker that
        does not answer must not hold up); empty when the broker does not answer.
        """
        from conflux.events import describe_brokers
        from conflux.projections.api import BrokerStatus

        with self._cluster_lock:
            asked, known = self._cluster
            if time.monotonic() - asked < BROKERS_TTL_S:
                return known
            try:
                found = describe_brokers(self.bootstrap, timeout=1.0)
            except BrokerUnavailableError:
                found = []
            known = [
                BrokerStatus(
                    id=b.id, host=b.host, port=b.port, state=b.state, controller=b.controller
                )
                for b in found
            ]
            self._cluster = (time.monotonic(), known)
            return known

    @property
    def caught_up(self) -> bool:
        """Whether every topic has been read to its end at least once."""
        return self._caught_up

    def run(self, stop: threading.Event) -> None:
        """Serve and consume until `stop` is set; then release everything.

        Raises:
            InfrastructureError: a topic is missing, or the broker failed.
            RuntimeError: the query API's thread died (its error is the cause).
        """
        from conflux.events import EventConsumer, EventProducer

        consumer: EventConsumer | None = None
        producer: EventProducer | None = None
        self.api.start()
        _log.info("query API at %s", self.api_url)
        try:
            self._open_archive()
            start = self._restore()
            t = self.topics
            consumer = EventConsumer(
                self.bootstrap,
                t,
                [t.definitions, t.requests, t.runs, t.assets, t.ticks, t.heartbeats, t.dlq],
                client_id="conflux-projector",
                broker_kind=self.broker_kind,
                start_offsets=start,
                config=CONSUMER_CONFIG,
            )
            producer = EventProducer(
                self.bootstrap,
                t,
                client_id="conflux-projector-heartbeat",
                broker_kind=self.broker_kind,
                linger_ms=0,
            )
            self._progress = "reading the log"
            self._consume(consumer, producer, stop)
            if self._caught_up:
                self._checkpoint()
        finally:
            self.api.close()
            self._close_actions()
            self._close_archive()
            if consumer is not None:
                consumer.close()
            if producer is not None:
                try:
                    producer.close()
                except BrokerUnavailableError as exc:
                    # Heartbeats are disposable: a projector stopped during an outage
                    # loses its last beats, nothing else.
                    _log.warning("stopping with undelivered heartbeats: %s", exc)

    def _consume(
        self, consumer: EventConsumer, producer: EventProducer, stop: threading.Event
    ) -> None:
        next_beat = 0.0
        next_checkpoint = time.monotonic() + CHECKPOINT_INTERVAL_S
        next_trim, trimmed_at = 0.0, -1
        model = self.model
        while not stop.is_set():
            if self.api.error is not None:
                raise RuntimeError("the query API stopped") from self.api.error
            records = consumer.poll(timeout=0.05, max_records=1000)
            for record in records:
                event = record.event
                if isinstance(event, ComponentHeartbeat) and event.instance_id == self.instance_id:
                    self._echo = time.monotonic()
                model.apply(
                    event, topic=record.topic, partition=record.partition, offset=record.offset
                )
            if self._sink is not None:
                first, fresh = self._sink.take(records)  # numbered at once: nothing waits
                self._unstored.note(first, fresh)
            else:
                first, fresh = self._seq + 1, records
                self._seq += len(records)
            if fresh and self.api.stream.listening:  # before the archive may make us wait
                self.api.stream.publish((first + i, record.event) for i, record in enumerate(fresh))
            if self._sink is not None:
                self._sink.pump()
                self._unstored.forget(self._sink.stored_seq)
            if not self._caught_up and consumer.caught_up():
                self._caught_up = True
                self._progress = None
                next_beat = 0.0  # say so at once: `status` waits on it
                _log.info("caught up: %d events applied", model.applied)
            if self.metrics is not None:
                self.metrics.observe(records, consumer, self._sink, caught_up=self._caught_up)
            now = time.monotonic()
            if now >= next_checkpoint:
                next_checkpoint = now + CHECKPOINT_INTERVAL_S
                self._checkpoint()
            if now >= next_trim and model.applied != trimmed_at:
                next_trim, trimmed_at = now + TRIM_INTERVAL_S, model.applied
                release_free_memory()
            if now >= next_beat:
                next_beat = now + HEARTBEAT_INTERVAL_S
                self._beat(producer)

    def _restore(self) -> dict[tuple[str, int], int] | None:
        """Load the checkpoint, or rebuild from the archive; return where to read the log."""
        from conflux.projections.projector._restore import (
            load_read_model,
            rebuild_from_archive,
            start_offsets,
        )

        loaded = None
        if self.checkpoint_path is not None:
            self._progress = "loading its checkpoint"
            loaded = load_read_model(self.checkpoint_path, prefix=self.topics.prefix)
        if loaded is not None:
            self._use(loaded.state)
            self._saved_at = loaded.applied
            self.resumed_from = dict(loaded.offsets)
            _log.info("resumed from checkpoint: %d events applied", loaded.applied)
        elif self.archive is not None:
            started = time.monotonic()

            def progress(done: int, total: int) -> None:
                share = done / total if total else 1.0
                self._progress = (
                    f"rebuilding the read model from the archive: {done:,} of {total:,}"
                    f" events ({share:.0%})"
                )
                _log.info("%s", self._progress)

            self._progress = "rebuilding the read model from the archive"
            self.rebuilt = rebuild_from_archive(self.archive, self.model, progress=progress)
            gc.freeze()  # what was folded stays: out of the cyclic GC's sight
            if self.rebuilt:
                _log.info(
                    "read model rebuilt from %d archived events in %.1f s",
                    self.rebuilt,
                    time.monotonic() - started,
                )
        archived = None
        if self._sink is not None:
            archived = {tp: offset + 1 for tp, offset in self._sink.positions.items()}
        return start_offsets(self.model, archived)

    def _use(self, model: ReadModel) -> None:
        """Serve `model` (a checkpoint's) from now on."""
        self.model = model
        self.api.model = model
        if self.api.lineage is not None:
            self.api.lineage.model = model
        if self.api.history is not None:
            self.api.history.model = model

    def _checkpoint(self) -> None:
        """Store the read model with its positions, if it changed (consume thread only)."""
        if self.checkpoint_path is None or self.model.applied == self._saved_at:
            return
        from conflux.projections.projector._restore import save_read_model

        seconds = save_read_model(self.checkpoint_path, self.model, prefix=self.topics.prefix)
        self._saved_at = self.model.applied
        _log.info("checkpoint: %d events applied, written in %.2f s", self._saved_at, seconds)

    def _emit_action(self, event: Event) -> None:
        """Put a UI action's event on the log, and wait until the broker has it.

        Raises:
            BrokerUnavailableError: the broker did not take it within 10 s.
        """
        from conflux.events import EventProducer

        with self._actions_lock:
            if self._actions is None:
                self._actions = EventProducer(
                    self.bootstrap,
                    self.topics,
                    client_id="conflux-ui",
                    broker_kind=self.broker_kind,
                    linger_ms=0,
                )
            self._actions.emit(event)
            self._actions.flush(timeout=10.0)

    def _close_actions(self) -> None:
        with self._actions_lock:
            producer, self._actions = self._actions, None
        if producer is not None:
            try:
                producer.close()
            except BrokerUnavailableError as exc:
                _log.warning("stopping with an undelivered UI action: %s", exc)

    def _open_archive(self) -> None:
        if self.archive is None:
            return
        from conflux.projections.archive import ArchiveSink
        from conflux.projections.projector._history import EventHistory
        from conflux.projections.projector._lineage import LineageService

        self._progress = "opening the archive"
        self.archive.create_schema()
        self._sink = ArchiveSink(self.archive, flush_interval_s=ARCHIVE_FLUSH_S)
        self._reader = self._read_only_store()
        reader = self._reader or self.archive
        self.api.lineage = LineageService(reader, self.model, settle=self._settle)
        self.api.history = EventHistory(reader, self.model, settle=self._settle)
        self.api.sql = self._read_only_store()
        from conflux.projections.projector._logs import RunLogIngest

        self.api.logs = RunLogIngest(
            self.bootstrap, self.topics, self.archive, broker_kind=self.broker_kind
        )
        self.api.logs.start()
        _log.info("archive at %s (%s)", self.archive.location, self.archive.backend)

    def _read_only_store(self) -> ArchiveStore | None:
        """A read-only session on the archive (None: this backend has none)."""
        assert self.archive is not None
        try:
            return self.archive.read_only()
        except NotImplementedError:
            return None

    def _close_archive(self) -> None:
        sink, self._sink = self._sink, None
        logs, self.api.logs = self.api.logs, None
        try:
            if logs is not None:
                logs.close()
            if sink is not None:
                sink.close()
                _log.info("archive flushed: %d records stored this run", sink.archived)
        finally:
            for reader in (self.api.sql, self._reader):
                if reader is not None:
                    reader.close()
            self.api.sql = self._reader = None
            if self.archive is not None:
                self.archive.close()

    def _settle(
        self, timeout: float, asset: str | None = None, partition: str | None = None
    ) -> bool:
        """Wait until what was read so far about the asset (partition) is archived.

        Without an asset: everything read so far (API threads). Heartbeats are never
        waited for (see `Unstored`). Asks the sink to write what it holds at once rather
        than at its next interval.
        """
        sink = self._sink
        if sink is None:
            return True
        target = self._unstored.target(asset, partition)
        if sink.stored_seq >= target:
            return True
        sink.request_flush()
        deadline = time.monotonic() + timeout
        while sink.stored_seq < target:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def _beat(self, producer: EventProducer) -> None:
        producer.emit(
            ComponentHeartbeat(
                component="projector",
                instance_id=self.instance_id,
                ready=self._caught_up,
                interval_s=HEARTBEAT_INTERVAL_S,
                producer="projector",
            )
        )


def _metrics_or_none() -> ProjectorMetrics | None:
    """The projector's metrics, or None without prometheus_client (the server extra has it)."""
    from conflux.events import MetricsUnavailableError

    try:
        from conflux.projections.projector._metrics import ProjectorMetrics

        return ProjectorMetrics()
    except MetricsUnavailableError:
        _log.warning("no /metrics: pip install 'conflux[metrics]' to serve them")
        return None
