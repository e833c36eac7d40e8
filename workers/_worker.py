"""A worker: one code location's executor, stateless, one of many in a consumer group.

It loads the location's code in its own process, publishes the definitions snapshot,
then executes the work items of the location's work topic one at a time. Everything it
knows about a work item is in the work item; everything it did is an event. A user
exception fails that partition, never the worker; a location that fails to load is
reported (`LocationLoadFailed`) and the worker stays up, unready, so that `status`
shows why.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from conflux.events import (
    ComponentHeartbeat,
    DefinitionsPublished,
    LocationLoadFailed,
    PartitionFailed,
    Topics,
    WorkItemDispatched,
    log_context,
    new_id,
)
from conflux.sdk import Definitions, FilesystemIOManager
from conflux.sdk.runtime import (
    ExecutionRequest,
    NodeExecutor,
    build_location_snapshot,
    error_type_name,
    snapshot_id,
)
from conflux.workers._deliveries import Deliveries
from conflux.workers._logs import DEFAULT_MAX_LINES, AttemptLog, attempt_logs, capture_output

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from conflux.events import Event, EventProducer, MetricsServer
    from conflux.workers._metrics import Outcome, WorkerMetrics
    from conflux.workers._ticks import TickEvaluator

log = logging.getLogger("conflux.worker")

HEARTBEAT_INTERVAL_S = 2.0
BATCH = 64
"""Work items taken from the work topic at once (only what is already buffered)."""


def default_worker_id(location: str) -> str:
    """`location@host:pid:rand`: unique per process, readable in the event history."""
    return f"{location}@{socket.gethostname()}:{os.getpid()}:{new_id()[:6]}"


class Worker:
    """Executes one location's work items from its work topic.

    Args:
        location: the code location's name (its work topic is `topics.work(location)`).
        load: returns the location's `Definitions`; any exception it raises is reported as
            `LocationLoadFailed` with its traceback.
        bootstrap: Kafka bootstrap servers.
        topics: the system's topic names.
        storage_dir: where the default IO manager keeps asset values.
        max_log_lines: lines of `context.log`, stdout and stderr kept per attempt (the
            rest are counted; see `_logs.py`).
        capture_logs: False leaves what assets write to the worker's own output, as
            before run logs (for a deployment that collects process output itself).
        metrics_port: serve `/metrics` on this port while `run` runs, and say so in the
            heartbeat (0: a free one; None: no metrics).
        metrics_host: the interface `/metrics` listens on.

    Raises:
        MetricsUnavailableError: `metrics_port` was given and prometheus_client is not
            installed.
    """

    def __init__(
        self,
        *,
        location: str,
        load: Callable[[], Definitions],
        bootstrap: str,
        topics: Topics,
        storage_dir: str | Path,
        broker_kind: Literal["kafka", "tansu"] | None = None,
        worker_id: str | None = None,
        max_log_lines: int = DEFAULT_MAX_LINES,
        capture_logs: bool = True,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
    ) -> None:
        self.location = location
        self._load = load
        self.bootstrap = bootstrap
        self.topics = topics
        self.storage_dir = Path(storage_dir)
        self.broker_kind = broker_kind
        self.worker_id = worker_id or default_worker_id(location)
        self.producer_name = f"worker:{self.worker_id}"
        self.loaded = False
        self.current_item: str | None = None
        self.executed = 0
        self.ticks: TickEvaluator | None = None
        """Evaluates the location's sensor and schedule ticks (None: it has none)."""
        self.deliveries = Deliveries()
        """Which work items it takes: not a fenced leader's, each once (`_deliveries.py`)."""
        self.max_log_lines = max_log_lines
        self.capture_logs = capture_logs
        self.attempt_log: AttemptLog | None = None
        """The running attempt's lines (the heartbeat sends what is pending)."""
        self.heartbeat_error: BaseException | None = None
        """Why the heartbeat thread died, if it did (then `run` stops and re-raises it)."""
        self.metrics: WorkerMetrics | None = None
        if metrics_port is not None:
            from conflux.workers._metrics import WorkerMetrics

            self.metrics = WorkerMetrics(location)
        self._metrics_address = (metrics_host, metrics_port or 0)
        self.metrics_server: MetricsServer | None = None

    def run(self, stop: threading.Event) -> None:
        """Load, publish, and execute work items until `stop` is set.

        Raises:
            Exception: what killed the heartbeat thread. A worker that cannot beat must not
                go on taking work that the coordinator will soon give away (it reads the
                silence as a lost worker), so the worker stops instead; the process exits
                with the error and its supervisor starts it again.
        """
        from conflux.events import EventProducer, MetricsServer, ensure_topics

        if self.metrics is not None and self.metrics_server is None:
            host, port = self._metrics_address
            self.metrics_server = MetricsServer(self.metrics.registry, port, host)
            log.info("metrics at %s", self.metrics_server.url)
        producer = EventProducer(
            self.bootstrap,
            self.topics,
            client_id=self.producer_name,
            broker_kind=self.broker_kind,
        )
        beats = threading.Thread(
            target=self._heartbeat, args=(producer, stop), name="heartbeat", daemon=True
        )
        ticks: threading.Thread | None = None
        try:
            # Beat (unready) while the code loads: the producer gets its id meanwhile, so
            # the snapshot or the load error goes out at once instead of ~0.5 s later,
            # and `status` shows the worker as waiting during a slow import.
            beats.start()
            executor = self._publish_definitions(producer)
            if executor is None:
                stop.wait()
                return
            ticks = self._start_ticks(executor.defs, producer, stop)
            ensure_topics(
                self.bootstrap, [self.topics.work_spec(self.location), self.topics.logs_spec()]
            )
            try:
                if self.capture_logs:
                    with capture_output():
                        self._consume(producer, executor, stop)
                else:
                    self._consume(producer, executor, stop)
            finally:
                executor.close()
        finally:
            stop.set()
            if beats.is_alive():
                beats.join(timeout=5)
            if ticks is not None and ticks.is_alive():
                ticks.join(timeout=5)
            try:
                producer.close()
            finally:
                server, self.metrics_server = self.metrics_server, None
                if server is not None:
                    server.close()
        if self.heartbeat_error is not None:
            raise self.heartbeat_error

    def _start_ticks(
        self, defs: Definitions, producer: EventProducer, stop: threading.Event
    ) -> threading.Thread | None:
        """Evaluate sensor and schedule ticks on a thread of their own (see `_ticks.py`)."""
        from conflux.workers._ticks import TickEvaluator, needs_ticks

        if not needs_ticks(defs):
            return None
        self.ticks = TickEvaluator(
            location=self.location,
            defs=defs,
            bootstrap=self.bootstrap,
            topics=self.topics,
            broker_kind=self.broker_kind,
            worker_id=self.worker_id,
            producer_name=self.producer_name,
        )
        thread = threading.Thread(
            target=self.ticks.run, args=(producer, stop), name="ticks", daemon=True
        )
        thread.start()
        return thread

    def _publish_definitions(self, producer: EventProducer) -> NodeExecutor | None:
        try:
            defs = self._load()
            snapshot = build_location_snapshot(defs, self.location)
        except Exception as exc:
            error_type = error_type_name(exc)
            log.error("location %s failed to load: %s: %s", self.location, error_type, exc)
            producer.emit(
                LocationLoadFailed(
                    location=self.location,
                    error_type=error_type,
                    message=str(exc) or error_type,
                    traceback="".join(traceback.format_exception(exc)),
                    producer=self.producer_name,
                )
            )
            producer.flush()
            return None
        producer.emit(
            DefinitionsPublished(
                location=self.location,
                snapshot_id=snapshot_id(snapshot),
                snapshot=snapshot,
                producer=self.producer_name,
            )
        )
        producer.flush()
        self.loaded = True
        if self.metrics is not None:
            self.metrics.loaded.labels(self.location).set(1)
        log.info("location %s loaded: %d assets", self.location, len(snapshot.assets))
        return NodeExecutor(
            defs,
            default_io_manager=FilesystemIOManager(base_dir=str(self.storage_dir)),
            worker_id=self.worker_id,
            producer=self.producer_name,
        )

    def _consume(
        self, producer: EventProducer, executor: NodeExecutor, stop: threading.Event
    ) -> None:
        from conflux.events import EventConsumer

        with EventConsumer(
            self.bootstrap,
            self.topics,
            [self.topics.work(self.location)],
            group_id=f"{self.topics.prefix}.workers.{self.location}",
            client_id=self.producer_name,
            broker_kind=self.broker_kind,
        ) as consumer:
            while not stop.is_set():
                # Wait for the first item alone (returns as soon as it arrives), then take
                # what else is already buffered, up to BATCH, without waiting.
                records = consumer.poll(timeout=0.1, max_records=1)
                if records:
                    records += consumer.poll(timeout=0, max_records=BATCH - 1)
                # Every record goes through `take`: the marks too, which it keeps.
                items = [
                    r.event
                    for r in records
                    if self.deliveries.take(r)
                    and isinstance(r.event, WorkItemDispatched)
                    and r.event.location == self.location
                ]
                if records:
                    if self.metrics is not None:
                        self.metrics.refused_so_far(
                            fenced=self.deliveries.fenced, repeated=self.deliveries.repeated
                        )
                    self._execute(producer, executor, items, consumer.commit)

    def _execute(
        self,
        producer: EventProducer,
        executor: NodeExecutor,
        items: list[WorkItemDispatched],
        taken: Callable[[], None],
    ) -> None:
        """Execute a batch of work items, one at a time.

        The batch's offsets are committed (`taken`) once the items' starts are on the
        log, before any asset runs: the work topic delivers each item at most once, and
        an attempt lost with its worker (kill -9) is the coordinator's to dispatch again
        (it sees the start and then no heartbeat), rather than the consumer group's to
        redeliver as the same attempt while the coordinator retries it too. One flush
        and one commit per batch keep a busy worker's cost per item low.
        """
        requests = [ExecutionRequest.from_dispatch(item) for item in items]
        starts = [executor.started(request) for request in requests]
        for events in starts:
            for event in events:
                producer.emit(event)
        producer.flush()
        taken()
        metrics = self.metrics
        for request, item, started in zip(requests, items, starts, strict=True):
            self.current_item = request.work_item_id
            began = time.perf_counter()
            if metrics is not None:
                metrics.started()
            failed: bool | None = None  # None: the executor raised
            try:
                with log_context(
                    run_id=request.run_id,
                    event_id=item.event_id,
                    work_item_id=request.work_item_id,
                ):
                    # What the attempt writes goes to the logs topic (before its outcome,
                    # so the outcome's line counts are there to read once it is seen).
                    emitted: Sequence[Event]
                    if not started or not self.capture_logs:  # nothing to file lines under
                        emitted = executor.run(request)
                    else:
                        lines = AttemptLog(
                            started[0],
                            send=producer.emit,
                            max_lines=self.max_log_lines,
                            partition_count=request.partition_count,
                            producer=self.producer_name,
                        )
                        self.attempt_log = lines
                        try:
                            with attempt_logs(lines):
                                outcomes = executor.run(request)
                        finally:
                            self.attempt_log = None
                        emitted = lines.stamp(outcomes)
                failed = False
                for outcome in emitted:
                    failed = failed or isinstance(outcome, PartitionFailed)
                    producer.emit(outcome)
            finally:
                self.current_item = None
                self.executed += 1
                if metrics is not None:
                    verdict: Outcome = (
                        "error" if failed is None else "failure" if failed else "success"
                    )
                    metrics.executed(verdict, time.perf_counter() - began)
        producer.flush()

    def _heartbeat(self, producer: EventProducer, stop: threading.Event) -> None:
        """Beat every interval until `stop`; if beating fails, log it and stop the worker."""
        try:
            while True:
                producer.emit(self._beat())
                lines = self.attempt_log
                if lines is not None:  # a slow attempt's lines, every beat
                    lines.flush()
                if stop.wait(HEARTBEAT_INTERVAL_S):
                    return
        except Exception as exc:  # re-raised by `run` once the worker has stopped
            log.error(
                "worker %s: the heartbeat failed (%s: %s); stopping the worker so that its "
                "work is dispatched again",
                self.worker_id,
                type(exc).__name__,
                exc,
                exc_info=exc,
            )
            self.heartbeat_error = exc
            stop.set()

    def _beat(self) -> ComponentHeartbeat:
        return ComponentHeartbeat(
            component="worker",
            instance_id=self.worker_id,
            location=self.location,
            ready=self.loaded,
            work_item_id=self.current_item,
            interval_s=HEARTBEAT_INTERVAL_S,
            producer=self.producer_name,
            metrics_port=self.metrics_server.port if self.metrics_server is not None else None,
        )
