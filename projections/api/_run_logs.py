"""The query API's answer about a run's logs (`/runs/<id>/logs`, `conflux logs`)."""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 - pydantic reads it at runtime

from conflux.projections.api._models import RunStatus, _Model


class RunLogLine(_Model):
    """One line an attempt wrote: with `context.log`, on stdout or on stderr."""

    asset_key: str
    partition_key: str | None
    work_item_id: str
    attempt: int
    seq: int
    """Its place in the attempt's lines, from 0."""
    time: datetime | None
    """When the worker saw it written."""
    stream: str
    """`log` (`context.log` and Dagster's loggers), `stdout` or `stderr`."""
    level: str
    """The logging level of a `log` line (`INFO`, ...); empty for the streams."""
    message: str


class RunLogDrops(_Model):
    """An attempt that wrote more lines than the worker keeps: how many were only counted."""

    asset_key: str
    partition_key: str | None
    work_item_id: str
    attempt: int
    dropped: int


class RunLogs(_Model):
    """A run's lines (each attempt's in order; attempts by their first line)."""

    run_id: str
    run_status: RunStatus | None
    """The run's status now (None: the read model has not seen it): a follower stops once
    it has ended and the lines after `cursor` are empty."""
    lines: list[RunLogLine]
    dropped: list[RunLogDrops]
    cursor: str | None
    """Pass as `after` to get only the lines archived since this answer (None: no lines)."""
    truncated: bool = False
    """More lines matched than `limit`: ask again with `after=cursor`."""
