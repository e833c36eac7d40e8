"""The projector: replays the log into the read model and the archive, and serves both.

It reads every topic in assign mode from the beginning, so a restart rebuilds the
in-memory read model by replay (rule 4); the archive (when given) skips what it has
stored already (its positions are stored with its rows, rule 5). It beats like every
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
from conflux.projections.projector._query_api import QueryApi
from conflux.projections.projector._read_model import ReadModel

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conflux.events import AnyEvent, Event, EventConsumer, EventProducer, Topics
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
            archive: where every event is archived and lineage is answered from; the
                projector creates its schema and closes it when `run` ends.
        """
        self.bootstrap = bootstrap
        self.topics = topics
        self.broker_kind = broker_kind
        self.instance_id = instance_id or f"projector-{uuid.uuid4().hex[:8]}"
        self.model = ReadModel()
        self.archive = archive
        self._sink: ArchiveSink | None = None
        self._caught_up = False
        self._actions: EventProducer | None = None
        self._actions_lock = threading.Lock()
        self.api = QueryApi(
            self.model,
            port=api_port,
            host=api_host,
            token=api_token,
            caught_up=lambda: self._caught_up,
            broker_problem=self._broker_problem,
            expected_locations=expected_locations,
            emit=self._emit_action,
            brokers=self._brokers,
        )
        self._started = time.monotonic()
        self._frozen_at = 1000
        """Events in the log when the GC last froze what it holds (see `run`)."""
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
            t = self.topics
            consumer = EventConsumer(
                self.bootstrap,
                t,
                [t.definitions, t.requests, t.runs, t.assets, t.ticks, t.heartbeats, t.dlq],
                client_id="conflux-projector",
                broker_kind=self.broker_kind,
            )
            producer = EventProducer(
                self.bootstrap,
                t,
                client_id="conflux-projector-heartbeat",
                broker_kind=self.broker_kind,
                linger_ms=0,
            )
            next_beat = 0.0
            while not stop.is_set():
                if self.api.error is not None:
                    raise RuntimeError("the query API stopped") from self.api.error
                records = consumer.poll(timeout=0.05, max_records=1000)
                live = self.api.stream.listening
                applied: list[tuple[int, AnyEvent]] = []
                for record in records:
                    event = record.event
                    if (
                        isinstance(event, ComponentHeartbeat)
                        and event.instance_id == self.instance_id
                    ):
                        self._echo = time.monotonic()
                    new = self.model.apply(
                        record.event,
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                    )
                    if new and live:
                        applied.append((self.model.log.count, event))
                if applied:
                    self.api.stream.publish(applied)
                if self._sink is not None:
                    self._sink.add(records)
                if not self._caught_up and consumer.caught_up():
                    self._caught_up = True
                    next_beat = 0.0  # say so at once: `status` waits on it
                    _log.info("caught up: %d events applied", len(self.model.log))
                if self.metrics is not None:
                    self.metrics.observe(records, consumer, self._sink, caught_up=self._caught_up)
                if len(self.model.log) >= self._frozen_at * 2:
                    # The read model only grows and holds no cycles worth collecting: move
                    # what it holds out of the cyclic GC's sight, so that a full collection
                    # does not stop the API (and the live stream) for a scan of every event.
                    # Done as the log doubles: a few times per run, each a short pause.
                    self._frozen_at = max(len(self.model.log), 1000)
                    gc.freeze()
                now = time.monotonic()
                if now >= next_beat:
                    next_beat = now + HEARTBEAT_INTERVAL_S
                    self._beat(producer)
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
        from conflux.projections.projector._lineage import LineageService

        self.archive.create_schema()
        self._sink = ArchiveSink(self.archive, flush_interval_s=ARCHIVE_FLUSH_S)
        self.api.lineage = LineageService(self.archive, self.model, settle=self._settle)
        _log.info("archive at %s (%s)", self.archive.location, self.archive.backend)

    def _close_archive(self) -> None:
        sink, self._sink = self._sink, None
        try:
            if sink is not None:
                sink.close()
                _log.info("archive flushed: %d records stored this run", sink.archived)
        finally:
            if self.archive is not None:
                self.archive.close()

    def _settle(self, timeout: float) -> bool:
        """Wait until every record handed to the archive so far is stored (API threads)."""
        sink = self._sink
        if sink is None:
            return True
        target = sink.accepted
        deadline = time.monotonic() + timeout
        while sink.archived < target:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
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
