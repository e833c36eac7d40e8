"""Run logs: what an attempt writes with `context.log`, on stdout and on stderr, captured.

A worker runs one attempt at a time on its main thread, while its heartbeat and tick
threads (and, in tests, other workers) run beside it in the same process. So capture is
routed by a context variable, not by swapping streams per attempt: `capture_output()`
replaces `sys.stdout` / `sys.stderr` once with streams that hand a write to the attempt of
the writing context (or to the real stream when there is none), and routes the records of
Dagster's loggers (`context.log`, `get_dagster_logger()`, the IO manager's and resources'
loggers) the same way. A thread that the asset starts itself is captured when it runs in
a copy of the asset's context (`contextvars.copy_context().run`); otherwise its writes go
to the worker's own output, as they did before.

Writing costs the asset a number and an append to a deque, no lock; `context.log` skips
`logging`'s records and handlers while captured (`log_line`, the SDK's `log_sink`). Lines
are sent as `LogLinesCaptured` batches when a batch fills (`BATCH_LINES`, `BATCH_BYTES`),
on each heartbeat (so that `conflux logs --follow` shows a slow asset's lines within
seconds), and when the attempt ends.
Past `max_lines` per attempt, lines are counted (`dropped`), not kept.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from contextvars import ContextVar
from threading import get_ident
from typing import TYPE_CHECKING, TextIO, cast

from conflux.events import AssetMaterialized, LogLinesCaptured, PartitionFailed
from conflux.sdk.runtime import format_log_message, log_sink

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from conflux.events import Event, LogStream, PartitionStarted
    from conflux.sdk.runtime import ExcInfo, LogArgs

DEFAULT_MAX_LINES = 10_000
"""Lines kept per attempt by default (`conflux worker --max-log-lines`)."""
BATCH_LINES = 1_000
"""Lines per `LogLinesCaptured` batch at most."""
BATCH_BYTES = 256 * 1024
"""Characters per batch at most (well under Kafka's 1 MB record limit)."""
MAX_LINE_CHARS = 16 * 1024
"""A longer line is cut here (with a note of how much was cut)."""
CAPTURED_LOGGERS = (
    "conflux.asset",
    "conflux.check",
    "conflux.observe",
    "conflux.user",
    "conflux.io_manager",
    "conflux.resource",
)
"""Dagster's loggers as the SDK names them: `context.log` of assets, checks and
observations, `get_dagster_logger()`, and the IO managers' and resources' `log`."""

_current: ContextVar[AttemptLog | None] = ContextVar("conflux_attempt_log", default=None)

_Pending = tuple[float, "LogStream", str, str]


class AttemptLog:
    """The lines of one attempt at one work item, sent in batches through `send`.

    Thread-safe without a lock per line (an uncontended lock cost ~1 us a line here, half
    of a captured line): a line takes its number from an `itertools.count` (the cap) and
    is appended to a deque, both atomic in CPython; a flush (the asset's thread when a
    batch fills, the heartbeat's, the attempt's end) takes lines off the deque's other end
    under the send lock, so batches go out in `seq` order. Unfinished text waits per
    stream and thread, so two threads' partial lines do not mix. Only lines past the cap
    take a lock (to count them).
    """

    def __init__(
        self,
        started: PartitionStarted,
        *,
        send: Callable[[LogLinesCaptured], None],
        max_lines: int = DEFAULT_MAX_LINES,
        partition_count: int = 1,
        producer: str = "",
    ) -> None:
        """Collect for the attempt that `started` announced (its first partition's event)."""
        self._started = started
        self._send = send
        self._max_lines = max_lines
        self._partition_count = partition_count
        self._producer = producer
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._numbers = itertools.count()
        self._pending: deque[_Pending] = deque()
        self._pending_chars = 0  # a hint of when to flush; `flush` bounds batches itself
        self._partial: dict[tuple[LogStream, int], str] = {}
        self._sent = 0
        self.dropped = 0
        """Lines past the cap so far: counted, not kept."""
        self.batches = 0

    @property
    def kept(self) -> int:
        """Lines kept so far (exact once flushed: at the attempt's end)."""
        return self._sent + len(self._pending)

    def add(self, stream: LogStream, message: str, level: str = "") -> None:
        """Keep one line (or count it, past the cap); send a batch once one is full."""
        if next(self._numbers) >= self._max_lines:
            with self._lock:
                self.dropped += 1
            return
        if len(message) > MAX_LINE_CHARS:
            cut = len(message) - MAX_LINE_CHARS
            message = f"{message[:MAX_LINE_CHARS]}... [{cut} more characters cut]"
        self._pending.append((time.time(), stream, level, message))
        self._pending_chars += len(message)
        if len(self._pending) >= BATCH_LINES or self._pending_chars >= BATCH_BYTES:
            self.flush()

    def log_line(self, level: str, msg: object, args: LogArgs, exc_info: ExcInfo | None) -> None:
        """Keep one `context.log` line (`LogSink`): formatted only if it is kept.

        `add`, inlined: this is the path of every `context.log` line of a captured attempt.
        """
        if next(self._numbers) >= self._max_lines:  # past the cap: count it, do not format it
            with self._lock:
                self.dropped += 1
            return
        message = (
            msg
            if type(msg) is str and not args and not exc_info
            else format_log_message(msg, args, exc_info)
        )
        if len(message) > MAX_LINE_CHARS:
            cut = len(message) - MAX_LINE_CHARS
            message = f"{message[:MAX_LINE_CHARS]}... [{cut} more characters cut]"
        self._pending.append((time.time(), "log", level, message))
        self._pending_chars += len(message)
        if len(self._pending) >= BATCH_LINES or self._pending_chars >= BATCH_BYTES:
            self.flush()

    def write(self, stream: LogStream, text: str) -> None:
        """Take text written to a stream: each complete line is a line; the rest waits.

        `print(x)` writes `x` and then the line's end: the first write only waits. What
        waits is per stream and thread: only the writing thread touches its entry.
        """
        key = (stream, get_ident())
        partial = self._partial
        if "\n" not in text:
            if text:
                partial[key] = partial[key] + text if key in partial else text
            return
        if key in partial:
            text = partial.pop(key) + text
        *lines, rest = text.split("\n")
        if rest:
            partial[key] = rest
        for line in lines:
            self.add(stream, line[:-1] if line.endswith("\r") else line)

    def flush(self) -> None:
        """Send what is pending, in batches of at most `BATCH_LINES` and `BATCH_BYTES`."""
        with self._send_lock:
            pending = self._pending
            self._pending_chars = 0
            batch: list[_Pending] = []
            chars = 0
            for _ in range(len(pending)):
                line = pending.popleft()
                batch.append(line)
                chars += len(line[3])
                if len(batch) >= BATCH_LINES or chars >= BATCH_BYTES:
                    self._send_batch(batch)
                    batch, chars = [], 0
            if batch:
                self._send_batch(batch)

    def _send_batch(self, pending: list[_Pending]) -> None:
        """Send `pending` as one batch (under the send lock): its lines follow those sent."""
        times, streams, levels, messages = zip(*pending, strict=True)
        s = self._started
        self._send(
            LogLinesCaptured(
                run_id=s.run_id,
                asset_key=s.asset_key,
                partition_key=s.partition_key,
                partition_count=self._partition_count,
                work_item_id=s.work_item_id,
                worker_id=s.worker_id,
                attempt=s.attempt,
                first_seq=self._sent,
                times=times,
                streams=streams,
                levels=levels,
                messages=messages,
                dropped=self.dropped,
                producer=self._producer,
                correlation_id=s.run_id,
                causation_id=s.causation_id,
            )
        )
        self._sent += len(pending)
        self.batches += 1

    def close(self) -> None:
        """End the attempt: unfinished lines become lines, and everything is sent."""
        partial, self._partial = self._partial, {}
        for (stream, _), rest in partial.items():
            self.add(stream, rest)
        self.flush()

    def stamp(self, events: Sequence[Event]) -> list[Event]:
        """The attempt's outcomes, each terminal one carrying the attempt's line counts."""
        return [
            e.model_copy(update={"log_lines": self.kept, "log_dropped": self.dropped})
            if isinstance(e, AssetMaterialized | PartitionFailed)
            else e
            for e in events
        ]


@contextmanager
def attempt_logs(log: AttemptLog) -> Iterator[AttemptLog]:
    """Route this context's writes and Dagster log records to `log` until the block ends."""
    token = _current.set(log)
    sink_token = log_sink.set(log)  # `context.log` lines skip logging's machinery
    try:
        yield log
    finally:
        log_sink.reset(sink_token)
        _current.reset(token)
        log.close()


class _RoutedStream:
    """`sys.stdout` or `sys.stderr`: a write goes to the writing context's attempt, if any."""

    def __init__(self, name: LogStream, real: TextIO) -> None:
        self._name: LogStream = name
        self.real = real

    def write(self, text: str) -> int:
        log = _current.get()
        if log is None:
            return self.real.write(text)
        log.write(self._name, text)
        return len(text)

    def writelines(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if _current.get() is None:
            self.real.flush()

    def __getattr__(self, name: str) -> object:  # encoding, fileno, isatty, ...
        return getattr(self.real, name)


class _CaptureHandler(logging.Handler):
    """On Dagster's loggers: a record goes to the context's attempt, else on up as before."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._formatter = logging.Formatter()

    def handle(self, record: logging.LogRecord) -> bool:
        """Emit without the handler's lock and filters (the attempt has its own lock)."""
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        log = _current.get()
        if log is None:
            # What propagation did before capture: the parents' handlers, at their level.
            parent = logging.getLogger("conflux")
            if parent.isEnabledFor(record.levelno):
                parent.handle(record)
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{self._formatter.formatException(record.exc_info)}"
            elif record.exc_text:
                message = f"{message}\n{record.exc_text}"
            log.add("log", message, record.levelname)
        except Exception:  # a record that does not format: logging's own report
            self.handleError(record)


class _Installed:
    """What `capture_output` replaced, to put back when the last user is done."""

    def __init__(self) -> None:
        self.users = 0
        self.stdout: TextIO | None = None
        self.stderr: TextIO | None = None
        self.handler = _CaptureHandler()
        self.loggers: dict[str, tuple[int, bool]] = {}


_installed = _Installed()
_install_lock = threading.Lock()


@contextmanager
def capture_output() -> Iterator[None]:
    """Route stdout, stderr and Dagster's loggers by context while the block runs.

    Re-entrant and shared by every worker of the process; the last one out puts the
    streams and loggers back. Records of Dagster's loggers are captured at every level
    (Dagster keeps `context.log.debug` too); outside an attempt they reach the worker's
    own logging as before.
    """
    with _install_lock:
        state = _installed
        if state.users == 0:
            state.stdout, state.stderr = sys.stdout, sys.stderr
            sys.stdout = cast("TextIO", _RoutedStream("stdout", sys.stdout))
            sys.stderr = cast("TextIO", _RoutedStream("stderr", sys.stderr))
            for name in CAPTURED_LOGGERS:
                logger = logging.getLogger(name)
                state.loggers[name] = (logger.level, logger.propagate)
                logger.setLevel(logging.DEBUG)
                logger.propagate = False
                logger.addHandler(state.handler)
        state.users += 1
    try:
        yield
    finally:
        with _install_lock:
            state.users -= 1
            if state.users == 0:
                if state.stdout is not None and state.stderr is not None:
                    sys.stdout, sys.stderr = state.stdout, state.stderr
                for name, (level, propagate) in state.loggers.items():
                    logger = logging.getLogger(name)
                    logger.removeHandler(state.handler)
                    logger.setLevel(level)
                    logger.propagate = propagate
                state.loggers.clear()


def current_attempt() -> AttemptLog | None:
    """The attempt this context writes to (None outside one)."""
    return _current.get()
