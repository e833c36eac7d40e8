"""Tick evaluation in a worker: sensors and schedule functions, apart from asset work.

The coordinator never runs user code: it writes a `TickRequested` to the location's
tick-request topic; one worker of the location (consumer group
`{prefix}.sensors.{location}`) evaluates it and emits the `TickCompleted` with the run
requests, the skip reason or the error, and the new cursor.

Each evaluation runs in a fresh daemon thread that emits its own result as soon as it
returns, so sensors evaluate side by side and never wait behind asset work or behind
each other. The consuming thread watches the deadlines: an evaluation that runs past
its tick's `timeout_s` gets a failed tick at once, and its sensor is *busy* until the
thread ends (Python cannot stop a thread): its next ticks fail with "previous evaluation
still running" instead of piling up. Ticks of one instigator are evaluated in order, one
at a time. Offsets are committed when a batch is taken, so a tick is evaluated at most
once; a tick lost with its worker is recorded as failed by the coordinator.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from conflux.events import TickCompleted, TickRequested, derived_id
from conflux.sdk.runtime import error_type_name
from conflux.workers._deliveries import Deliveries

if TYPE_CHECKING:
    from conflux.events import EventProducer, Topics
    from conflux.sdk import Definitions
    from conflux.sdk.runtime import TickResult

log = logging.getLogger("conflux.worker.ticks")

BATCH = 64


@dataclass
class _Evaluation:
    request: TickRequested
    thread: threading.Thread | None = None
    deadline: float = 0.0
    started: float = 0.0
    state: Literal["running", "done", "timed_out"] = "running"
    lock: threading.Lock = field(default_factory=threading.Lock)


def needs_ticks(defs: Definitions) -> bool:
    """Tell whether the location has anything a worker evaluates (sensors, schedule functions)."""
    inst = defs.instigators
    return bool(inst.sensors) or any(s.execution_fn is not None for s in inst.schedules.values())


class TickEvaluator:
    """Consumes a location's tick requests and evaluates them (see the module docstring).

    Args:
        location: the code location's name.
        defs: its loaded definitions.
        bootstrap, topics, broker_kind: where the tick requests are.
        worker_id: recorded in each `TickCompleted`.
        producer_name: the `producer` of the events emitted.
    """

    def __init__(
        self,
        *,
        location: str,
        defs: Definitions,
        bootstrap: str,
        topics: Topics,
        broker_kind: Literal["kafka", "tansu"] | None,
        worker_id: str,
        producer_name: str,
    ) -> None:
        self.location = location
        self.defs = defs
        self.bootstrap = bootstrap
        self.topics = topics
        self.broker_kind = broker_kind
        self.worker_id = worker_id
        self.producer_name = producer_name
        self.evaluated = 0
        self._running: dict[str, _Evaluation] = {}
        self._queued: dict[str, deque[TickRequested]] = {}
        self._busy: dict[str, _Evaluation] = {}
        self.deliveries = Deliveries()
        """Which tick requests it evaluates: not a fenced leader's, each once."""

    def run(self, producer: EventProducer, stop: threading.Event) -> None:
        """Evaluate tick requests until `stop` is set (errors of user code never leave)."""
        try:
            self._run(producer, stop)
        except Exception:  # the worker goes on executing assets; the log says why ticks stopped
            log.exception("location %s: tick evaluation stopped", self.location)
            raise
        finally:
            self._close_sensors()

    def _close_sensors(self) -> None:
        """Release what sensors hold across ticks (a stream sensor's Kafka consumer)."""
        for sensor in self.defs.instigators.sensors.values():
            close = getattr(sensor, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # stopping: say so, and close the others
                    log.warning("sensor %s: closing failed", sensor.name, exc_info=True)

    def _run(self, producer: EventProducer, stop: threading.Event) -> None:
        from conflux.events import EventConsumer, ensure_topics

        ensure_topics(self.bootstrap, [self.topics.tick_requests_spec(self.location)])
        with EventConsumer(
            self.bootstrap,
            self.topics,
            [self.topics.tick_requests(self.location)],
            group_id=f"{self.topics.prefix}.sensors.{self.location}",
            client_id=f"{self.producer_name}:ticks",
            broker_kind=self.broker_kind,
        ) as consumer:
            while not stop.is_set():
                wait = 0.02 if self._running or self._queued else 0.1
                records = consumer.poll(timeout=wait, max_records=1)
                if records:
                    records += consumer.poll(timeout=0, max_records=BATCH - 1)
                for record in records:
                    event = record.event
                    if (
                        self.deliveries.take(record)  # first: it must see the marks too
                        and isinstance(event, TickRequested)
                        and event.location == self.location
                    ):
                        self._queued.setdefault(event.name, deque()).append(event)
                self._watch(producer)
                if records:
                    consumer.commit()  # once the evaluations have started: they run meanwhile

    def _watch(self, producer: EventProducer) -> None:
        """Time out overdue evaluations, and start the next queued tick of each name."""
        now = time.monotonic()
        failed: list[TickCompleted] = []
        for name, ev in list(self._running.items()):
            with ev.lock:
                if ev.state == "running" and now >= ev.deadline:
                    ev.state = "timed_out"
                    failed.append(
                        self._failure(
                            ev.request,
                            "TickTimeout",
                            f"the evaluation ran past its timeout of {ev.request.timeout_s:g} s",
                            (now - ev.started) * 1000,
                        )
                    )
                    self._busy[name] = ev
            if ev.state != "running":
                del self._running[name]
        for name in list(self._queued):
            if name in self._running:
                continue
            pending = self._queued[name]
            while pending and name not in self._running:
                request = pending.popleft()
                busy = self._busy.get(name)
                if busy is not None and busy.thread is not None and busy.thread.is_alive():
                    failed.append(
                        self._failure(
                            request,
                            "TickTimeout",
                            "the previous evaluation is still running (it ran past its timeout)",
                            0.0,
                        )
                    )
                    continue
                self._busy.pop(name, None)
                self._start(request, producer)
            if not pending:
                del self._queued[name]
        if failed:
            for event in failed:
                producer.emit(event)
            producer.flush()

    def _start(self, request: TickRequested, producer: EventProducer) -> None:
        ev = _Evaluation(request)
        ev.started = time.monotonic()
        ev.deadline = ev.started + request.timeout_s
        ev.thread = threading.Thread(
            target=self._evaluate,
            args=(ev, producer),
            name=f"tick:{request.name}",
            daemon=True,
        )
        self._running[request.name] = ev
        ev.thread.start()

    def _evaluate(self, ev: _Evaluation, producer: EventProducer) -> None:
        """The evaluation thread: run the user function, emit the outcome unless timed out."""
        request = ev.request
        try:
            result = self._call(request)
            event = self._success(request, result, (time.monotonic() - ev.started) * 1000)
        except Exception as exc:
            log.warning("%s %s: tick failed: %s", request.instigator_type, request.name, exc)
            event = self._failure(
                request,
                error_type_name(exc),
                str(exc) or error_type_name(exc),
                (time.monotonic() - ev.started) * 1000,
                "".join(traceback.format_exception(exc)),
            )
        with ev.lock:
            if ev.state != "running":
                return  # already recorded as timed out
            ev.state = "done"
        producer.emit(event)
        producer.flush()
        self.evaluated += 1

    def _call(self, request: TickRequested) -> TickResult:
        inst = self.defs.instigators
        logger = logging.getLogger(f"conflux.{request.instigator_type}.{request.name}")
        if request.instigator_type == "schedule":
            schedule = inst.schedules.get(request.name)
            if schedule is None:
                raise LookupError(f"location {self.location} defines no schedule {request.name}")
            return schedule.evaluate(request.tick_time, logger)
        sensor = inst.sensors.get(request.name)
        if sensor is None:
            raise LookupError(f"location {self.location} defines no sensor {request.name}")
        return sensor.evaluate(
            cursor=request.cursor,
            asset_events=request.asset_events,
            last_tick_completion_time=request.last_completion_time,
            log=logger,
        )

    def _common(self, request: TickRequested, duration_ms: float) -> dict[str, object]:
        return {
            "event_id": derived_id("tick-completed", request.tick_id),
            "producer": self.producer_name,
            "correlation_id": request.tick_id,
            "causation_id": request.event_id,
            "instigator_type": request.instigator_type,
            "name": request.name,
            "location": request.location,
            "tick_id": request.tick_id,
            "tick_time": request.tick_time,
            "worker_id": self.worker_id,
            "duration_ms": round(duration_ms, 3),
        }

    def _success(
        self, request: TickRequested, result: TickResult, duration_ms: float
    ) -> TickCompleted:
        return TickCompleted(
            **self._common(request, duration_ms),
            status="success" if result.has_effects else "skipped",
            run_requests=result.run_requests,
            skip_reason=None if result.has_effects else result.skip_reason,
            cursor=result.cursor,
            asset_events=result.asset_events,
            dynamic_partitions_requests=result.dynamic_partitions_requests,
            condition_results=result.condition_results,
        )

    def _failure(
        self,
        request: TickRequested,
        error_type: str,
        message: str,
        duration_ms: float,
        trace: str = "",
    ) -> TickCompleted:
        return TickCompleted(
            **self._common(request, duration_ms),
            status="failure",
            cursor=request.cursor,
            error_type=error_type,
            message=message,
            traceback=trace,
        )
