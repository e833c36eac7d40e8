"""The event log read model: every event once, numbered, indexed by asset partition.

`conflux events --asset A --partition K` reads this index: it covers the asset events
and the run decisions about that partition (request, dispatch, skip), so one query shows
a partition's whole story; `--asset A` alone also lists the runs started on A.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import (
    AssetMaterialized,
    ComponentHeartbeat,
    MaterializationRequested,
    PartitionFailed,
    PartitionStarted,
    RunStarted,
    WorkItemDispatched,
    WorkItemSkipped,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from conflux.events import AnyEvent, PartitionRange


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One applied event with its sequence number and where it was read from."""

    seq: int
    event: AnyEvent
    topic: str
    partition: int
    offset: int
    asset_keys: tuple[str, ...]
    partition_key: str | None


def _about(event: AnyEvent) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """The asset keys and partition keys an event is indexed under."""
    match event:
        case PartitionStarted() | AssetMaterialized() | PartitionFailed():
            return (event.asset_key,), (event.partition_key,)
        case WorkItemDispatched() | WorkItemSkipped():
            return event.asset_keys, (event.partition_key,)
        case MaterializationRequested():
            return event.asset_keys, event.partition_keys or ()
        case RunStarted():
            return event.asset_keys, ()
    return (), ()


@dataclass
class EventLog:
    """Every event, numbered from 1 in the order applied; idempotent by event id.

    Heartbeats are numbered and kept like any event, but listed only when asked for by
    type, so that `conflux events` shows what happened rather than who is alive.
    """

    records: list[LoggedEvent] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _by_asset: dict[str, list[int]] = field(default_factory=dict)
    _by_partition: dict[tuple[str, str | None], list[int]] = field(default_factory=dict)
    _ranges: dict[str, list[int]] = field(default_factory=dict)
    """Asset -> requests of a partition range (matched against a key at query time)."""

    def __len__(self) -> int:
        return len(self.records)

    def apply(
        self, event: AnyEvent, *, topic: str = "", partition: int = -1, offset: int = -1
    ) -> LoggedEvent | None:
        """Append an event; returns its record, or None if its id was seen before."""
        if event.event_id in self._seen:
            return None
        self._seen.add(event.event_id)
        keys, partition_keys = _about(event)
        index = len(self.records)
        record = LoggedEvent(
            index + 1,
            event,
            topic,
            partition,
            offset,
            keys,
            partition_keys[0] if len(partition_keys) == 1 else None,
        )
        self.records.append(record)
        for key in keys:
            self._by_asset.setdefault(key, []).append(index)
            for pk in partition_keys:
                self._by_partition.setdefault((key, pk), []).append(index)
            if isinstance(event, MaterializationRequested) and event.partition_range is not None:
                self._ranges.setdefault(key, []).append(index)
        return record

    def query(
        self,
        *,
        asset: str | None = None,
        partition: str | None = None,
        type: str | None = None,
        since: datetime | None = None,
        after: int | None = None,
        limit: int | None = None,
        covers: Callable[[str, PartitionRange, str], bool] | None = None,
    ) -> list[LoggedEvent]:
        """Matching events, oldest first; with `limit`, the latest `limit` of them.

        Without `after`, events are ordered by their time (then seq); with `after`, by seq,
        so a follower that passes the highest seq it has seen misses nothing.

        Args:
            asset: only events about this asset (asset events, dispatches, requests).
            partition: with `asset`, only events about this partition of it.
            type: event type name, case-insensitive (heartbeats only when asked for).
            since: only events whose time is at or after this.
            after: only events with a sequence number above this (to follow the log).
            limit: keep the newest `limit` matches.
            covers: whether a request's partition range covers a key of an asset; without
                it, range requests match no single partition.
        """
        if asset is None:
            indices: list[int] | range = range(len(self.records))
        elif partition is None:
            indices = self._by_asset.get(asset, [])
        else:
            indices = list(self._by_partition.get((asset, partition), []))
            if covers is not None:
                for i in self._ranges.get(asset, []):
                    event = self.records[i].event
                    assert isinstance(event, MaterializationRequested)
                    if event.partition_range is not None and covers(
                        asset, event.partition_range, partition
                    ):
                        indices.append(i)
                indices.sort()
        if after is not None:
            # indices are sorted and seq = index + 1: skip what the caller has seen
            start = bisect_right(indices, after - 1)
            indices = indices[start:]
        wanted = type.lower() if type else None
        out: list[LoggedEvent] = []
        for i in indices:
            record = self.records[i]
            name = record.event.type.lower()
            if wanted is not None and name != wanted:
                continue
            if wanted is None and isinstance(record.event, ComponentHeartbeat):
                continue
            if since is not None and record.event.time < since:
                continue
            out.append(record)
        if after is None:
            # A listing reads like history. The topics are read concurrently, so the order
            # applied (seq) interleaves them arbitrarily during a replay; event time does
            # not. Following (`after`) keeps seq order, so that no event is skipped.
            out.sort(key=lambda r: (r.event.time, r.seq))
        if limit is not None:
            out = out[-limit:] if limit > 0 else []
        return out
