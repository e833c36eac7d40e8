"""The envelope every event carries: identity, schema version, time and provenance."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EVENT_NAMESPACE = uuid.UUID("6f1c3d5e-2a4b-4c8d-9e0f-1a2b3c4d5e6f")
"""Namespace for deterministic ids (uuid5): one decision always gets one id."""


def new_id() -> str:
    """A fresh random id (uuid4, hex) for events and runs that are not derived."""
    return uuid.uuid4().hex


def derived_id(*parts: str) -> str:
    """A deterministic id from its parts, so that re-deciding yields the same id.

    Duplicates of a derived event (a coordinator restart, a retried produce) carry the
    same id and folds drop them (rule 5).
    """
    return uuid.uuid5(EVENT_NAMESPACE, "\x1f".join(parts)).hex


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every event: an immutable fact with an id, a schema version and a time.

    Subclasses add a `type` literal (the discriminator) and their own fields. Events are
    frozen and reject unknown fields, so a record either is exactly an event or goes to
    the dead-letter topic.
    """

    # defer_build: each event type's validator is built when it is first used, so that
    # importing the contract costs the classes only (the CLI builds one event and exits).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    event_id: str = Field(default_factory=new_id)
    """Unique id; folds drop a second event with an id they have applied."""
    schema_version: int = 1
    """Version of this event type's schema; older versions are upcast on read."""
    time: AwareDatetime = Field(default_factory=utcnow)
    """When the fact happened (the producer's clock), timezone-aware."""
    producer: str = ""
    """Who emitted it: `cli`, `coordinator`, `worker:<location>:<id>`, `projector`."""
    correlation_id: str | None = None
    """The run (or request) this event belongs to, when it belongs to one."""
    causation_id: str | None = None
    """The id of the event that directly caused this one."""
