"""What an attempt wrote (`context.log`, stdout, stderr), as batches on the logs topic.

Run logs are not facts the system decides on: no fold reads them, and they can be many
(an asset printing in a loop). So they travel on a topic of their own (`<prefix>.logs`),
apart from the event topics every fold and replay reads, in batches of lines, and the
archive keeps them in a table of their own (`run_logs`). They are still events (one
envelope, validated when produced and consumed, dead-lettered when they do not parse) so
that every Kafka client and check of the log applies to them unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from conflux.events._base import Event

LogStream = Literal["log", "stdout", "stderr"]
"""Where a line was written: `context.log` (and Dagster's loggers), or the process streams."""


class LogLine(BaseModel):
    """One line an attempt wrote."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    seq: int
    """Its place in the attempt's lines, from 0: the order they were written in."""
    time: AwareDatetime
    """When it was written (the worker's clock)."""
    stream: LogStream
    level: str = ""
    """The logging level's name (`INFO`, `ERROR`, ...) of a `log` line; empty for streams."""
    message: str


class LogLinesCaptured(Event):
    """A batch of lines that one attempt at a work item wrote, in the order written.

    Keyed like the attempt's asset events (`asset#partition`), so one attempt's batches
    stay in order. `dropped` counts the lines past the worker's cap (`--max-log-lines`)
    so far in the attempt: counted, not kept.
    """

    type: Literal["LogLinesCaptured"] = "LogLinesCaptured"
    run_id: str
    asset_key: str
    """The node's first asset (a multi-asset's lines belong to the node, not one output)."""
    partition_key: str | None = None
    """The work item's partition; a range's first key (see `partition_count`)."""
    partition_count: int = 1
    work_item_id: str
    worker_id: str
    attempt: int = 1
    lines: tuple[LogLine, ...] = ()
    dropped: int = 0
    """Lines beyond the cap, written before this batch was sent, in the whole attempt."""
