"""Schedules and sensors as the coordinator sees them: a fold of their ticks.

The decisions request the next ticks and turn tick results into runs.

(Skeleton: filled in by the schedules-and-sensors work.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.coordinator._state import CoordinatorState
    from conflux.events import (
        AnyEvent,
        AssetMaterialized,
        MaterializationRequested,
        TickCompleted,
        TickRequested,
    )


@dataclass
class InstigatorState:
    """Every schedule's and sensor's status, last tick and cursor, folded from the log."""

    def apply(self, event: AnyEvent) -> None:
        """Fold an instigator event (status change, cursor, tick request or result)."""

    def note_materialized(self, event: AssetMaterialized) -> None:
        """An asset materialized: wake the asset sensors that monitor it."""

    def next_due(self) -> datetime | None:
        """When the next schedule or sensor tick falls due (None: nothing is running)."""
        return None


def decide_instigators(
    state: CoordinatorState, now: datetime
) -> list[TickRequested | TickCompleted | MaterializationRequested]:
    """The ticks due by `now`, and the runs that completed ticks ask for."""
    return []
