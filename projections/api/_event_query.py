"""`EventQuery`: which events to list, declared once for every hop from the CLI to the log.

`conflux events` builds it from its options, `ApiClient.events` sends it as a query
string (`to_params`), the query API reads it back (`from_params`), and the read model's
event log answers it (`EventLog.query`). A field that is None does not filter; a string
that is given is matched as written, also when it is empty: no partition has the key "",
so `--partition ''` matches nothing (and `conflux events` then says that the key is not
one of the asset's), where it used to be dropped on the way and match everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

if TYPE_CHECKING:
    from collections.abc import Mapping

_INTEGERS = ("after", "limit")


class EventQuery(BaseModel):
    """A filter over the event log: every field given narrows it.

    Without `after`, matches are listed by event time (then sequence number); with
    `after`, by sequence number, so that a follower passing the highest `seq` it has seen
    misses nothing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset: str | None = None
    """Only events about this asset (its asset events, the dispatches and requests)."""
    partition: str | None = None
    """Only events about this partition key (of `asset`, when given)."""
    type: str | None = None
    """Only events of this type, e.g. `AssetMaterialized` (case-insensitive); heartbeats
    are listed only when asked for by type."""
    since: datetime | None = None
    """Only events whose time is at or after this (a time without a zone is local)."""
    after: int | None = None
    """Only events with a sequence number above this (to follow the log)."""
    limit: int | None = None
    """Keep the newest `limit` matches (0 or less: none)."""
    run: str | None = None
    """Only events that carry this run id."""

    @field_validator("since", mode="before")
    @classmethod
    def _aware_since(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    f"since={value!r} is not an ISO time, e.g. 2024-01-31T12:00Z"
                ) from None
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.astimezone()
        return value

    def to_params(self) -> dict[str, str]:
        """The query string's parameters (`/events?...`): the fields that are not None."""
        return {
            name: value.isoformat() if isinstance(value, datetime) else str(value)
            for name, value in self
            if value is not None
        }

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> EventQuery:
        """Read a query string's parameters back (others, e.g. `token`, are ignored).

        Raises:
            ValueError: a value does not fit its field; the message is one line naming it.
        """
        given = {name: params[name] for name in cls.model_fields if name in params}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else "query"
            if name in _INTEGERS:
                message = f"{name}={given.get(name)!r} is not an integer"
            elif first["type"] == "value_error":
                message = str(first.get("ctx", {}).get("error", first["msg"]))
            else:
                message = f"{name}={given.get(name)!r}: {first['msg']}"
            raise ValueError(message) from None
