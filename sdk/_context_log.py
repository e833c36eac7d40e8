"""`context.log`: a `logging.Logger` whose lines skip logging's machinery while captured.

A worker captures what an attempt writes (`conflux.workers._logs`). Through `logging` a
line costs ~9 us (a `LogRecord`, the handlers, formatting): a partition that logs 100
lines paid about 1 ms, against 1.5-3 ms for a partition that does nothing. So while a
capture sink is set for the current context (`log_sink`, set by the worker per attempt),
`context.log.<level>(msg, *args)` hands the line straight to it after the level check:
the sink formats the message (as `LogRecord.getMessage` would, with the exception's text
as `logging.Formatter` would add it) only if it keeps the line. Without a sink (the
in-process `materialize()`, tests, `--no-capture-logs`) a line takes logging's path as
before, through the logger of the same name (`logging.getLogger("conflux.asset.x")`),
so its level, handlers and pytest's `caplog` apply as they did.

Like Dagster's `DagsterLogManager`, the logger is a `logging.Logger` that is not in
logging's registry. `get_dagster_logger()` stays a plain registered `logging.Logger`
(as Dagster's is) and takes logging's path; the worker captures its records with a
handler.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import Protocol

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
"""What `sys.exc_info()` returns, as a record's `exc_info` holds it."""
LogArgs = tuple[object, ...] | Mapping[str, object]
"""A line's %-arguments: a tuple, or one mapping (`log.info("%(n)d", {"n": 1})`)."""


class LogSink(Protocol):
    """Where a captured attempt's `context.log` lines go (the worker's attempt log)."""

    def log_line(self, level: str, msg: object, args: LogArgs, exc_info: ExcInfo | None) -> None:
        """Keep one line; format it with `format_log_message` only if it is kept.

        Raises whatever formatting raises (the logger then takes logging's path, whose
        handler reports the record that does not format).
        """


log_sink: ContextVar[LogSink | None] = ContextVar("conflux_log_sink", default=None)
"""The current context's capture sink; None (the default) takes logging's path."""

_formatter = logging.Formatter()


def format_log_message(msg: object, args: LogArgs, exc_info: ExcInfo | None) -> str:
    """A line's text as logging would write it with the format `%(message)s`."""
    message = str(msg)
    if args:
        message = message % args
    if exc_info:
        message = f"{message}\n{_formatter.formatException(exc_info)}"
    return message


class ContextLogger(logging.Logger):
    """`context.log` of assets, checks and observations (see the module's docstring)."""

    def __init__(self, name: str) -> None:
        """A logger named `name` whose records propagate to the registered one of that name."""
        super().__init__(name)
        self.parent = logging.getLogger(name)

    def isEnabledFor(self, level: int) -> bool:
        """Logging's check; the registered logger's cached answer while this one has no level.

        This logger is not in logging's registry, whose changes of level clear the cache
        of the loggers in it only.
        """
        if self.disabled:
            return False
        if self.level == logging.NOTSET:
            return self.parent.isEnabledFor(level)  # type: ignore[union-attr]
        return self.manager.disable < level and level >= self.level

    def _log(
        self,
        level: int,
        msg: object,
        args: LogArgs,
        exc_info: object = None,
        extra: Mapping[str, object] | None = None,
        stack_info: bool = False,
        stacklevel: int = 1,
    ) -> None:
        sink = log_sink.get()
        if sink is not None and not stack_info and not self.filters:
            if args and len(args) == 1 and isinstance(args, tuple):
                only = args[0]
                if isinstance(only, Mapping) and only:  # as LogRecord does
                    args = only
            info: ExcInfo | None = None
            if exc_info:
                if isinstance(exc_info, BaseException):
                    info = (type(exc_info), exc_info, exc_info.__traceback__)
                elif isinstance(exc_info, tuple):
                    info = exc_info
                else:
                    info = sys.exc_info()
            try:
                sink.log_line(logging.getLevelName(level), msg, args, info)
            except Exception:  # a line that does not format: logging's path reports it
                pass
            else:
                return
        super()._log(
            level,
            msg,
            args,
            exc_info,  # type: ignore[arg-type]
            extra,
            stack_info,
            stacklevel + 1,  # this frame is not the caller
        )


_loggers: dict[str, ContextLogger] = {}


def context_logger(name: str) -> ContextLogger:
    """The `ContextLogger` named `name` (one per name, like `logging.getLogger`)."""
    logger = _loggers.get(name)
    if logger is None:
        logger = _loggers.setdefault(name, ContextLogger(name))
    return logger
