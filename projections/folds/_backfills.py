"""The backfills projection: each backfill's request, chunks, cancellation and end.

Folded from `BackfillRequested`, `BackfillCanceled`, `BackfillCompleted` and the chunk
requests the coordinator emits (a `MaterializationRequested` tagged `backfill_id`). Live
counts come from the chunks' runs in the runs projection, so they move as partitions
finish; the total comes from the partition space, resolved against the definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import (
    BackfillCanceled,
    BackfillCompleted,
    BackfillRequested,
    ConfluxError,
    MaterializationRequested,
    utcnow,
)
from conflux.projections.api import BackfillSummary

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.events import AnyEvent
    from conflux.projections.folds._definitions import DefinitionsProjection
    from conflux.projections.folds._runs import RunsProjection


@dataclass
class Backfill:
    """What is known of one backfill."""

    backfill_id: str
    request: BackfillRequested | None = None
    canceled: BackfillCanceled | None = None
    completed: BackfillCompleted | None = None
    chunk_runs: dict[int, str] = field(default_factory=dict)
    """Chunk index -> the chunk's run id."""


@dataclass
class BackfillsProjection:
    """Fold of backfill events: `backfills[backfill_id] -> Backfill` (idempotent)."""

    backfills: dict[str, Backfill] = field(default_factory=dict)

    def apply(self, event: AnyEvent) -> None:
        """Fold one event; others are ignored."""
        match event:
            case BackfillRequested():
                self._get(event.backfill_id).request = event
            case BackfillCanceled():
                backfill = self._get(event.backfill_id)
                backfill.canceled = backfill.canceled or event
            case BackfillCompleted():
                backfill = self._get(event.backfill_id)
                backfill.completed = backfill.completed or event
            case MaterializationRequested() if "backfill_id" in event.tags:
                chunk = int(event.tags.get("backfill_chunk", "0"))
                self._get(event.tags["backfill_id"]).chunk_runs[chunk] = event.run_id
            case _:
                pass

    def _get(self, backfill_id: str) -> Backfill:
        backfill = self.backfills.get(backfill_id)
        if backfill is None:
            backfill = self.backfills[backfill_id] = Backfill(backfill_id)
        return backfill


def summarize_backfill(
    backfill: Backfill, runs: RunsProjection, graph: DefinitionsProjection
) -> BackfillSummary:
    """The backfill's progress: counts over its chunks, the total, rate and ETA."""
    request = backfill.request
    materialized = failed = skipped = in_progress = 0
    chunks_done = 0
    first_start: datetime | None = None
    for run_id in backfill.chunk_runs.values():
        run = runs.get(run_id)
        if run is None:
            continue
        materialized += run.materialized
        failed += run.failed
        skipped += run.skipped
        in_progress += run.in_progress
        chunks_done += run.completed is not None
        if run.started_at is not None and (first_start is None or run.started_at < first_start):
            first_start = run.started_at
    total, chunk_count, reason = _space(request, graph)
    done = materialized + failed + skipped
    status = _status(backfill)
    end = backfill.completed.time if backfill.completed is not None else utcnow()
    elapsed = (end - first_start).total_seconds() if first_start is not None else 0.0
    rate = materialized / elapsed if elapsed > 0 else None
    remaining = max(0, total - done) if total is not None and status == "running" else 0
    return BackfillSummary(
        backfill_id=backfill.backfill_id,
        status=status,
        selection=request.selection if request else None,
        asset_keys=list(request.asset_keys) if request else [],
        partition_range=(
            f"{request.partition_range.start}..{request.partition_range.end}"
            if request is not None and request.partition_range is not None
            else None
        ),
        partition_keys=len(request.partition_keys or ()) if request else 0,
        only=request.only if request else "all",
        requested_by=request.requested_by or None if request else None,
        requested_at=request.time if request else None,
        completed_at=backfill.completed.time if backfill.completed else None,
        total=total,
        chunks=chunk_count,
        chunks_done=chunks_done,
        materialized=materialized,
        failed=failed,
        skipped=skipped,
        in_progress=in_progress,
        remaining=remaining,
        rate_per_s=round(rate, 1) if rate is not None else None,
        eta_s=round(remaining / rate, 1) if rate and remaining else None,
        reason=(backfill.completed.reason if backfill.completed else None) or reason,
    )


def _status(backfill: Backfill) -> str:
    if backfill.completed is not None:
        return backfill.completed.status
    if backfill.canceled is not None:
        return "canceling"
    return "running" if backfill.request is not None else "requested"


def _space(
    request: BackfillRequested | None, graph: DefinitionsProjection
) -> tuple[int | None, int | None, str | None]:
    """(asset partitions covered, chunks, why unknown) from the definitions."""
    if request is None:
        return None, None, None
    from conflux.projections.folds._backfill_space import resolve_space, space_total

    try:
        space = resolve_space(request, graph)
    except ConfluxError as exc:
        return None, None, str(exc)
    return space_total(space), space.chunk_count, None
