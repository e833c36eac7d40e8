"""Answers of the archive to read-only SQL (`/sql`, `conflux sql`).

Which events to list is `EventQuery` (`_event_query.py`): one model from the CLI's
options to the archive's history query.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, JsonValue


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
