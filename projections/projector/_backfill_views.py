"""Backfills as `conflux backfill list|status` shows them: progress summed over their chunks.

Read under the read model's lock from the backfills, runs and definitions folds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conflux.projections.api import BackfillSummary, NotFoundError
from conflux.projections.folds import summarize_backfill

if TYPE_CHECKING:
    from conflux.projections.projector._read_model import ReadModel


def backfill_summaries(model: ReadModel) -> list[BackfillSummary]:
    """Every backfill, newest request first."""
    with model.lock:
        found = sorted(
            model.backfills.backfills.values(),
            key=lambda b: b.request.time if b.request else datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )
        return [summarize_backfill(b, model.runs, model.definitions) for b in found]


def backfill_summary(model: ReadModel, backfill_id: str) -> BackfillSummary:
    """One backfill.

    Raises:
        NotFoundError: no event of it was seen.
    """
    with model.lock:
        backfill = model.backfills.backfills.get(backfill_id)
        if backfill is None:
            raise NotFoundError(
                f"no backfill {backfill_id!r}: list backfills with `conflux backfill list`"
            )
        return summarize_backfill(backfill, model.runs, model.definitions)
