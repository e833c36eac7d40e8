"""The components projection: who is alive (heartbeats) and what was dead-lettered."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import ComponentHeartbeat, RecordDeadLettered

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.events import AnyEvent

RECENT_DEAD_LETTERS = 5
"""How many dead letters `recent_dead_letters` keeps (the count covers them all)."""
LIVENESS_FACTOR = 3.0
"""A component is alive while its last beat is younger than this many intervals."""


@dataclass
class ComponentsProjection:
    """Fold of the heartbeats and dead-letter topics.

    Keeps the latest `ComponentHeartbeat` per instance (by time, then event id, so order
    and duplicates do not matter) and counts dead letters by event id.
    """

    heartbeats: dict[str, ComponentHeartbeat] = field(default_factory=dict)
    dead_letter_count: int = 0
    recent_dead_letters: deque[RecordDeadLettered] = field(
        default_factory=lambda: deque(maxlen=RECENT_DEAD_LETTERS)
    )
    _dead_ids: set[str] = field(default_factory=set)

    def apply(self, event: AnyEvent) -> None:
        """Fold one event; events of other types are ignored."""
        if isinstance(event, ComponentHeartbeat):
            current = self.heartbeats.get(event.instance_id)
            if current is None or (event.time, event.event_id) > (current.time, current.event_id):
                self.heartbeats[event.instance_id] = event
        elif isinstance(event, RecordDeadLettered) and event.event_id not in self._dead_ids:
            self._dead_ids.add(event.event_id)
            self.dead_letter_count += 1
            self.recent_dead_letters.append(event)

    def alive(self, now: datetime) -> list[ComponentHeartbeat]:
        """The latest beat of every instance that beat within 3x its interval of `now`."""
        return [hb for hb in self.heartbeats.values() if is_alive(hb, now)]


def is_alive(heartbeat: ComponentHeartbeat, now: datetime) -> bool:
    """Whether a beat is recent enough (3x the component's own interval) at `now`."""
    return (now - heartbeat.time).total_seconds() <= LIVENESS_FACTOR * heartbeat.interval_s
