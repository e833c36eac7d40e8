"""Questions to the archive: which events to list (`EventQuery`), and SQL answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, JsonValue


class EventQuery(BaseModel):
    """A filter over the event history (`conflux events`, `/events`); every field optional.

    Without `after`, the matches are listed oldest first by time and `limit` keeps the
    newest; with `after`, they are listed in the order archived (`seq`), so that a follower
    passing the last `seq` it saw misses nothing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset: str | None = None
    """Only events about this asset (its events, and the requests and work of it)."""
    partition: str | None = None
    """With `asset`: only events about this partition of it (a request or work item of a
    key range counts when the range holds the key)."""
    type: str | None = None
    """Only events of this type, e.g. `AssetMaterialized` (case-insensitive); heartbeats
    are listed only when asked for by type."""
    since: datetime | None = None
    """Only events whose time is at or after this."""
    after: int | None = None
    """Only events archived after this sequence number (`EventRecord.seq`)."""
    limit: int | None = None
    """At most this many (the newest)."""
    run: str | None = None
    """Only events of this run."""


class SqlColumn(BaseModel):
    """One column of a `conflux sql` answer."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    type: str
    """Its type as Arrow names it (e.g. `string`, `timestamp[us, tz=UTC]`, `uint64`)."""


class SqlAnswer(BaseModel):
    """What a read-only query of the archive returned (`/sql`, `conflux sql`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    columns: list[SqlColumn]
    rows: list[list[JsonValue]]
    """One list per row, a value per column: times as ISO text, bytes as UTF-8 text."""
