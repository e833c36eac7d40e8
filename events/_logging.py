"""Component logs as JSON lines, and the run and event that a log line is about.

`conflux coordinator|projector|worker --log-format json` writes one JSON object per line
(`JsonFormatter`): the time, the level, the component and its instance id, the logger and
the message, and the run id and event id when the line is about one. Those two come from
the record (`log.info(..., extra={"run_id": ...})`) or, for everything logged while a
worker executes a work item (the user's `context.log` too), from `log_context`.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

CONTEXT_FIELDS = ("run_id", "event_id", "work_item_id", "location")
"""Fields a log line may carry about what it concerns (from the record or the context)."""

_context: ContextVar[dict[str, str] | None] = ContextVar("conflux_log_context", default=None)


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Tag every line logged in this context (this thread) with `fields` (None: left out)."""
    outer = _context.get()
    token = _context.set({**(outer or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, component, instance id, logger, message.

    Args:
        component: `coordinator`, `projector`, `worker` or `dev`.
        instance_id: the process's id in its heartbeats (None: left out).
    """

    def __init__(self, component: str, instance_id: str | None = None) -> None:
        super().__init__()
        self.component = component
        self.instance_id = instance_id

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "component": self.component,
        }
        if self.instance_id is not None:
            line["instance_id"] = self.instance_id
        line["logger"] = record.name
        line["message"] = record.getMessage()
        context = _context.get() or {}
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None) or context.get(name)
            if value is not None:
                line[name] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)
