"""`EventQuery`: which events to list, from the CLI through the query API to the archive."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


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
