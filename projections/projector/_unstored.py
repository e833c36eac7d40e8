"""What the projector has read but the archive has not stored yet, by what it is about.

A history read waits for the archive to store what the projector had read when the
question came (a read after a write sees the write), but only for what can change its
answer: the story of `orders[2024-01-03]` waits for the unstored events about that
partition (or about a range or all of the asset), not for a backfill's other partitions
being archived meanwhile. Heartbeats are never waited for (history lists them only when
asked). The consume thread notes each record it hands to the archive and forgets those
stored; readers on other threads ask for the number to wait for (dict reads: no lock).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from conflux.events import (
    ComponentHeartbeat,
    MaterializationRequested,
    RunStarted,
    WorkItemAbandoned,
    WorkItemDispatched,
    WorkItemSkipped,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conflux.events import AnyEvent, ConsumedEvent

_Key = tuple[str, str | None]
ANY: _Key = ("", None)
"""Everything (a question about no asset, or a run)."""
_RANGE = "\0range"
"""The partition key under which a request or work item of a range (or of every key) is
noted: it may hold any key of its asset."""


class Unstored:
    """The last unstored record's sequence number, per asset partition it is about."""

    def __init__(self) -> None:
        self._last: dict[_Key, int] = {}
        self._order: deque[tuple[int, _Key]] = deque()

    def note(self, first_seq: int, records: Sequence[ConsumedEvent]) -> None:
        """Remember records handed to the archive, numbered from `first_seq` (consume thread)."""
        last, order = self._last, self._order
        for i, record in enumerate(records):
            event = record.event
            if isinstance(event, ComponentHeartbeat):
                continue
            seq = first_seq + i
            for key in (ANY, *_about(event)):
                last[key] = seq
                order.append((seq, key))

    def forget(self, stored_seq: int) -> None:
        """Drop what the archive has stored, up to `stored_seq` (consume thread)."""
        last, order = self._last, self._order
        while order and order[0][0] <= stored_seq:
            seq, key = order.popleft()
            if last.get(key) == seq:
                del last[key]

    def target(self, asset: str | None = None, partition: str | None = None) -> int:
        """The sequence number a reader of this asset (partition) waits for; 0: none."""
        get = self._last.get
        if asset is None:
            return get(ANY, 0)
        if partition is None:
            return get((asset, None), 0)
        return max(get((asset, partition), 0), get((asset, _RANGE), 0))


def _about(event: AnyEvent) -> list[_Key]:
    """The asset partitions an event is about, and its assets as a whole.

    As the archive's `partition_events` has them, with ranges under `_RANGE`.
    """
    match event:
        case WorkItemDispatched() | WorkItemSkipped() | WorkItemAbandoned():
            key = event.partition_key if event.partition_range is None else _RANGE
            return [k for a in event.asset_keys for k in ((a, key), (a, None))]
        case MaterializationRequested():
            listed = event.partition_keys or (_RANGE,)
            return [k for a in event.asset_keys for k in (*((a, p) for p in listed), (a, None))]
        case RunStarted():
            return [(a, None) for a in event.asset_keys]
    asset = getattr(event, "asset_key", None)
    if isinstance(asset, str):
        return [(asset, getattr(event, "partition_key", None)), (asset, None)]
    return []
