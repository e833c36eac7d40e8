"""Which deliveries a worker takes: not a fenced leader's, and each event once.

Work items and tick requests reach workers on delivery topics (`work.<location>`,
`ticks.<location>`) that a new leader marks with its epoch before it writes there
(`EpochMarked`). A delivery from an older epoch that follows a newer mark in its
partition comes from a coordinator that lost leadership (a paused one, woken up): the
folds ignore its decision, so the worker does not execute it either. A new leader also
delivers again what was dispatched and not started (a copy with the same event id), so a
delivery already taken is taken once.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

from conflux.events import EpochFence

if TYPE_CHECKING:
    from conflux.events import ConsumedEvent

log = logging.getLogger("conflux.worker")

REMEMBERED = 100_000
"""Delivery ids remembered (a redelivery follows its original within a leader's takeover:
far fewer items than this are in flight)."""


class Deliveries:
    """Admits each delivery once, unless a newer leader fenced it off (one per consumer)."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self.fence = EpochFence()
        self.remembered = remembered
        self.fenced = 0
        """Deliveries refused because a newer leader had marked their partition."""
        self.repeated = 0
        """Deliveries refused because one with the same id was taken before."""
        self._taken: OrderedDict[str, None] = OrderedDict()

    def take(self, record: ConsumedEvent) -> bool:
        """Whether to act on `record` (marks and other events: False, nothing to do)."""
        event = record.event
        if not self.fence.admit(event, record.topic, record.partition):
            self.fenced += 1
            log.warning(
                "ignoring %s %s of epoch %s: a newer leader marked %s[%d] with epoch %d",
                event.type,
                event.event_id,
                getattr(event, "epoch", "?"),
                record.topic,
                record.partition,
                self.fence.line(record.topic, record.partition),
            )
            return False
        if event.type == "EpochMarked":
            return False
        if event.event_id in self._taken:
            self.repeated += 1
            return False
        self._taken[event.event_id] = None
        if len(self._taken) > self.remembered:
            self._taken.popitem(last=False)
        return True
