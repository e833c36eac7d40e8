"""Schedules and sensors as `conflux schedules|sensors list` shows them.

Joins the instigator facts (a fold shared with the coordinator) with the definitions,
under the read model's lock, so each answer is as fresh as the log the projector read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from conflux.projections.api import InstigatorSummary, NotFoundError, TickSummary
from conflux.projections.folds import defined_instigators, effective_status, next_tick

if TYPE_CHECKING:
    from conflux.events import TickCompleted
    from conflux.projections.folds import DefinitionsProjection, InstigatorFacts
    from conflux.projections.projector._read_model import ReadModel


def instigator_summaries(
    definitions: DefinitionsProjection, facts: InstigatorFacts, now: datetime
) -> list[InstigatorSummary]:
    """Every defined schedule and sensor, sorted by type then name."""
    from conflux.events import ScheduleSnapshot

    out: list[InstigatorSummary] = []
    for name, (location, snap) in defined_instigators(definitions).items():
        rec = facts.records.get(name)
        status = effective_status(rec, snap.default_status)
        nxt: datetime | None = None
        common: dict[str, object] = {}
        if isinstance(snap, ScheduleSnapshot):
            kind = (
                "function_schedule"
                if snap.has_function
                else "partitioned_schedule"
                if snap.partitioned
                else "schedule"
            )
            if status == "running":
                anchor = max(
                    t
                    for t in (
                        rec.last_tick_time if rec else None,
                        rec.status_time if rec else None,
                        now,
                    )
                    if t is not None
                )
                nxt = next_tick(snap, anchor)
            common = {
                "cron_schedule": snap.cron_schedule,
                "execution_timezone": snap.execution_timezone,
            }
        else:
            kind = snap.kind
            if status == "running" and snap.kind == "sensor":
                last = rec.last_request_time if rec else None
                interval = timedelta(seconds=snap.minimum_interval_seconds)
                nxt = max(now, last + interval) if last is not None else now
            common = {
                "minimum_interval_seconds": snap.minimum_interval_seconds,
                "monitored_asset_keys": list(snap.monitored_asset_keys),
            }
        out.append(
            InstigatorSummary(
                name=name,
                instigator_type="schedule" if isinstance(snap, ScheduleSnapshot) else "sensor",
                location=location,
                status=status,
                default_status=snap.default_status,
                kind=kind,
                asset_keys=list(snap.asset_keys),
                cursor=rec.cursor if rec else None,
                last_tick=_tick(rec.last_completed if rec else None),
                last_error=_tick(rec.last_failure if rec else None),
                next_tick=nxt,
                ticks=dict(rec.counts) if rec else {},
                in_flight=len(rec.outstanding) if rec else 0,
                **common,
            )
        )
    return sorted(out, key=lambda s: (s.instigator_type, s.name))


def read_instigators(
    model: ReadModel, instigator_type: str | None = None, name: str | None = None
) -> list[InstigatorSummary]:
    """The query API's answer: every schedule and/or sensor, or the one named `name`.

    Raises:
        NotFoundError: no schedule or sensor (of that type) is named `name`; the message
            names close matches and how to list them.
    """
    import difflib

    with model.lock:
        found = instigator_summaries(model.definitions, model.instigators, datetime.now(UTC))
    if instigator_type:
        found = [s for s in found if s.instigator_type == instigator_type]
    if name is None:
        return found
    match = [s for s in found if s.name == name]
    if not match:
        what = instigator_type or "schedule or sensor"
        close = difflib.get_close_matches(name, [s.name for s in found], n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        listing = f"conflux {instigator_type}s list" if instigator_type else "conflux sensors list"
        raise NotFoundError(f"no {what} named {name!r}: {hint}list them with `{listing}`")
    return match


def _tick(event: TickCompleted | None) -> TickSummary | None:
    if event is None:
        return None
    error = f"{event.error_type}: {event.message}" if event.status == "failure" else None
    return TickSummary(
        tick_id=event.tick_id,
        tick_time=event.tick_time,
        completed_at=event.time,
        status=event.status,
        run_requests=len(event.run_requests),
        skip_reason=event.skip_reason,
        error=error,
    )
