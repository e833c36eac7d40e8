"""The run queue: how much work may be in flight, and who gets the room first.

Limits count work items dispatched and not yet finished: a global limit, one per code
location and one per pool (`@asset(pool="warehouse")`). When room is short, manual runs
go first (oldest request first), then backfill chunks share what is left in turn, one
item each, so two concurrent backfills progress at the same pace.
"""

from __future__ import annotations

from collections.abc import Mapping  # noqa: TC003 - a dataclass field type
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.coordinator._state import queue_keys

if TYPE_CHECKING:
    from collections import Counter

    from conflux.coordinator._planner import WorkItem

DEFAULT_MAX_CONCURRENT = 256
"""Work items in flight at once by default: enough to keep a few workers busy at a
thousand no-op partitions per second, few enough that a cancel takes effect at once."""


@dataclass(frozen=True)
class QueueLimits:
    """Concurrency limits of the run queue (None or absent: no limit).

    Attributes:
        max_concurrent: work items in flight across the whole system.
        locations: location name -> items in flight in that location.
        pools: pool name -> items in flight on that pool.
    """

    max_concurrent: int | None = DEFAULT_MAX_CONCURRENT
    locations: Mapping[str, int] = field(default_factory=dict)
    pools: Mapping[str, int] = field(default_factory=dict)

    def limit(self, key: str) -> int | None:
        """The limit of one `queue_keys` counter."""
        if key == "*":
            return self.max_concurrent
        kind, _, name = key.partition(":")
        return (self.locations if kind == "location" else self.pools).get(name)

    def has_room(self, inflight: Counter[str], item: WorkItem) -> bool:
        """Whether one more `item` fits under every limit it counts against."""
        for key in queue_keys(item):
            limit = self.limit(key)
            if limit is not None and inflight[key] >= limit:
                return False
        return True

    def full(self, inflight: Counter[str]) -> bool:
        """Whether the global limit is reached (nothing at all may be dispatched)."""
        return self.max_concurrent is not None and inflight["*"] >= self.max_concurrent


def parse_limits(pairs: tuple[str, ...], what: str) -> dict[str, int]:
    """Parse `NAME=N` command-line pairs into limits.

    Raises:
        ValueError: a pair is not `NAME=N` with N >= 1 (the message names it and the fix).
    """
    out: dict[str, int] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name or not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"bad {what} limit {pair!r}: write NAME=N with N >= 1")
        out[name] = int(raw)
    return out
