"""The coordinator's fold for `conflux replay`: its state rebuilt from the log, no decisions.

The reading (offsets, progress, the paused GC) is the projections' `replay`; what it
folds into is the coordinator's own state, so a replay from zero can be compared with the
live coordinator (rule 4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux.coordinator._state import CoordinatorState
from conflux.events import FENCED_TYPES

if TYPE_CHECKING:
    from collections.abc import Callable

    from conflux.events import ConsumedEvent


def coordinator_fold() -> tuple[CoordinatorState, Callable[[list[ConsumedEvent]], None]]:
    """A fresh coordinator state and the fold that feeds it."""
    state = CoordinatorState()

    def fold(records: list[ConsumedEvent]) -> None:
        apply, admit = state.apply, state.fence.admit
        for record in records:  # through the epoch fence, as the live coordinator folds
            event = record.event
            if event.type not in FENCED_TYPES or admit(event, record.topic, record.partition):
                apply(event)

    return state, fold
