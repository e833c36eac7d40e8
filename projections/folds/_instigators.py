"""Schedules and sensors as facts: status, cursor, ticks; shared by coordinator and readers.

`InstigatorFacts` folds the instigator events of the ticks topic (`InstigatorStatusChanged`,
`SensorCursorSet`, `TickRequested`, `TickCompleted`). Every event of one instigator is
keyed by its name, so they arrive in log order; the fold is idempotent (a tick id is
folded once, a duplicate status change or cursor changes nothing). The first
`TickCompleted` of a tick wins (a worker's late answer after the coordinator recorded the
tick as lost changes nothing). `instigator_summaries` joins the facts with the
definitions for `conflux schedules list` / `conflux sensors list`.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from conflux.events import (
    InstigatorStatusChanged,
    SensorCursorSet,
    TickCompleted,
    TickRequested,
    expand_cron,
)

if TYPE_CHECKING:
    from conflux.events import AnyEvent, ScheduleSnapshot, SensorSnapshot
    from conflux.projections.folds._definitions import DefinitionsProjection
    from conflux.sdk.partitions import Schedule

RECENT_TICKS = 64
"""Tick ids remembered per instigator to drop duplicates (redeliveries are adjacent)."""

Status = Literal["running", "stopped"]
Accepted = InstigatorStatusChanged | SensorCursorSet | TickRequested | TickCompleted


@dataclass
class InstigatorRecord:
    """What the log says about one schedule or sensor (by name)."""

    name: str
    status: Status | None = None
    """The last status set by a person; None: the definition's default applies."""
    status_time: datetime | None = None
    status_event: str | None = None
    cursor: str | None = None
    last_tick_time: datetime | None = None
    """The latest tick time requested or completed (a schedule's position)."""
    last_request_time: datetime | None = None
    """When the latest tick was requested (a sensor's interval counts from it)."""
    last_completed: TickCompleted | None = None
    last_failure: TickCompleted | None = None
    outstanding: dict[str, TickRequested] = field(default_factory=dict)
    """Requested ticks with no completion yet, by tick id."""
    seen_upto: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Asset sensors: per monitored asset, the newest materialization sent in a request."""
    counts: dict[str, int] = field(default_factory=dict)
    """Completed ticks by status."""
    _recent: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_TICKS))
    _recent_set: set[str] = field(default_factory=set)

    def _remember(self, tick_id: str) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(tick_id)
        self._recent_set.add(tick_id)

    def done(self, tick_id: str) -> bool:
        """Tell whether the tick was completed recently (its events are duplicates now)."""
        return tick_id in self._recent_set


@dataclass
class InstigatorFacts:
    """Fold of the instigator events: name -> `InstigatorRecord`."""

    records: dict[str, InstigatorRecord] = field(default_factory=dict)
    _cursor_events: set[str] = field(default_factory=set)

    def record(self, name: str) -> InstigatorRecord:
        """The record of `name` (created empty)."""
        found = self.records.get(name)
        if found is None:
            found = self.records[name] = InstigatorRecord(name)
        return found

    def apply(self, event: AnyEvent) -> Accepted | None:
        """Fold one event; return it if it changed something (None: ignored or duplicate)."""
        if isinstance(event, TickCompleted):
            return self._completed(event)
        if isinstance(event, TickRequested):
            rec = self.record(event.name)
            if event.tick_id in rec.outstanding or rec.done(event.tick_id):
                return None
            rec.outstanding[event.tick_id] = event
            rec.last_request_time = _later(rec.last_request_time, event.time)
            rec.last_tick_time = _later(rec.last_tick_time, event.tick_time)
            for ev in event.asset_events:
                from conflux.sdk.runtime import position_of

                pos = position_of(ev)
                if pos > rec.seen_upto.get(ev.asset_key, ("", "")):
                    rec.seen_upto[ev.asset_key] = pos
            return event
        if isinstance(event, InstigatorStatusChanged):
            rec = self.record(event.name)
            stamp = (event.time, event.event_id)
            if rec.status_time is not None and stamp <= (rec.status_time, rec.status_event or ""):
                return None
            rec.status, rec.status_time, rec.status_event = event.status, event.time, event.event_id
            return event
        if isinstance(event, SensorCursorSet):
            if event.event_id in self._cursor_events:
                return None
            self._cursor_events.add(event.event_id)
            self.record(event.name).cursor = event.cursor
            return event
        return None

    def _completed(self, event: TickCompleted) -> TickCompleted | None:
        rec = self.record(event.name)
        if rec.done(event.tick_id):
            return None
        rec._remember(event.tick_id)
        request = rec.outstanding.pop(event.tick_id, None)
        rec.last_tick_time = _later(rec.last_tick_time, event.tick_time)
        rec.last_completed = event
        rec.counts[event.status] = rec.counts.get(event.status, 0) + 1
        if event.status == "failure":
            rec.last_failure = event
        elif event.instigator_type == "sensor" and (
            request is None or event.cursor != request.cursor
        ):
            # The worker echoes the request's cursor when the function left it alone: only
            # a change counts, so a cursor set by a person meanwhile is kept.
            rec.cursor = event.cursor
        return event


def _later(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


# -- cron ticks -------------------------------------------------------------------------

_SCHEDULES: dict[tuple[str, str], Schedule] = {}
_SCHEDULES_LOCK = threading.Lock()


def cron_schedule(cron: str, timezone: str) -> Schedule:
    """The ticks of `cron` read in `timezone`, with Dagster's daylight-saving rules (cached).

    A nickname (`@daily`) ticks as the five-field expression it stands for.
    """
    cron = expand_cron(cron)
    key = (cron, timezone)
    with _SCHEDULES_LOCK:
        found = _SCHEDULES.get(key)
        if found is None:
            from conflux.sdk.partitions import schedule_for

            now = datetime.now(UTC)
            years = range(now.year - 2, now.year + 20)
            found = _SCHEDULES[key] = schedule_for(cron, ZoneInfo(timezone), now, years)
        return found


def ticks_between(
    snapshot: ScheduleSnapshot, after: datetime, until: datetime, limit: int
) -> list[datetime]:
    """The schedule's ticks in `(after, until]`, UTC, the latest `limit` of them."""
    cron = cron_schedule(snapshot.cron_schedule, snapshot.execution_timezone)
    first = cron.ordinal(after) + 1
    last = cron.ordinal(until)
    first = max(first, last - limit + 1)
    return [cron.tick(n) for n in range(first, last + 1)]


def next_tick(snapshot: ScheduleSnapshot, after: datetime) -> datetime:
    """The schedule's first tick strictly after `after`, UTC."""
    return next_cron_tick(snapshot.cron_schedule, snapshot.execution_timezone, after)


def next_cron_tick(cron: str, timezone: str, after: datetime) -> datetime:
    """The first tick of `cron` (read in `timezone`) strictly after `after`, in UTC."""
    ticks = cron_schedule(cron, timezone)
    return ticks.tick(ticks.ordinal(after) + 1)


def effective_status(record: InstigatorRecord | None, default: Status) -> Status:
    """The status a person set last, else the definition's default."""
    return record.status if record is not None and record.status is not None else default


def defined_instigators(
    definitions: DefinitionsProjection,
) -> dict[str, tuple[str, ScheduleSnapshot | SensorSnapshot]]:
    """Every schedule and sensor of the loaded locations: name -> (location, snapshot).

    Locations are taken in name order; a name defined by two locations is the first's.
    """
    found: dict[str, tuple[str, ScheduleSnapshot | SensorSnapshot]] = {}
    for location in sorted(definitions.locations):
        snapshot = definitions.locations[location].snapshot
        if snapshot is None:
            continue
        items: list[ScheduleSnapshot | SensorSnapshot] = [*snapshot.schedules, *snapshot.sensors]
        for item in items:
            found.setdefault(item.name, (location, item))
    return found
