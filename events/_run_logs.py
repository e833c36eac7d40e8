"""What an attempt wrote (`context.log`, stdout, stderr), as batches on the logs topic.

Run logs are not facts the system decides on: no fold reads them, and they can be many
(an asset printing in a loop). So they travel on a topic of their own (`<prefix>.logs`),
apart from the event topics every fold and replay reads, in batches of lines, and the
archive keeps them in a table of their own (`run_logs`). They are still events (one
envelope, validated when produced and consumed, dead-lettered when they do not parse) so
that every Kafka client and check of the log applies to them unchanged.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import model_validator

from conflux.events._base import Event

LogStream = Literal["log", "stdout", "stderr"]
"""Where a line was written: `context.log` (and Dagster's loggers), or the process streams."""


class LogLinesCaptured(Event):
    """A batch of lines that one attempt at a work item wrote, in the order written.

    Keyed like the attempt's asset events (`asset#partition`), so one attempt's batches
    stay in order. Line `i` of the batch is (`times[i]`, `streams[i]`, `levels[i]`,
    `messages[i]`), and its place in the attempt's lines is `first_seq + i`: columns, not a
    model per line, because a chatty asset writes millions of lines and a model per line
    cost the worker and the archive more than the asset's own logging did. `dropped`
    counts the lines past the worker's cap (`--max-log-lines`) so far in the attempt:
    counted, not kept.
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
    first_seq: int = 0
    """The place of the batch's first line in the attempt's lines (from 0)."""
    times: tuple[float, ...] = ()
    """When each line was written: POSIX seconds, the worker's clock."""
    streams: tuple[LogStream, ...] = ()
    levels: tuple[str, ...] = ()
    """Each `log` line's logging level (`INFO`, ...); empty for the streams' lines."""
    messages: tuple[str, ...] = ()
    dropped: int = 0
    """Lines beyond the cap, written before this batch was sent, in the whole attempt."""

    @model_validator(mode="after")
    def _columns_align(self) -> Self:
        n = len(self.messages)
        if not len(self.times) == len(self.streams) == len(self.levels) == n:
            raise ValueError("times, streams, levels and messages must have one item per line")
        return self
