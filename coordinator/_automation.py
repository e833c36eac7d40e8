"""Declarative automation: evaluate asset partitions' conditions when events touch them.

(Skeleton: filled in by the automation work.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.coordinator._state import CoordinatorState
    from conflux.events import AnyEvent, AutomationEvaluated, MaterializationRequested


@dataclass
class AutomationState:
    """What automation needs between steps: the asset partitions to evaluate next."""

    def apply(self, event: AnyEvent) -> None:
        """Fold an event that can change an automation condition's value."""


def decide_automation(
    state: CoordinatorState, now: datetime
) -> list[AutomationEvaluated | MaterializationRequested]:
    """Evaluate the touched asset partitions; request the ones whose condition is true."""
    return []
