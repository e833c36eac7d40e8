"""The event log read model: every event once, numbered, indexed by asset partition.

`conflux events --asset A --partition K` reads this index: it covers the asset events
and the run decisions about that partition (request, dispatch, skip), so one query shows
a partition's whole story; `--asset A` alone also lists the runs started on A.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, overload

from conflux.events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    AutomationEvaluated,
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

    from conflux.events import AnyEvent, PartitionRange
    from conflux.projections.api import EventQuery


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
        case (
            PartitionStarted()
            | AssetMaterialized()
            | AssetObserved()
            | PartitionFailed()
            | AutomationEvaluated()
        ):
            return (event.asset_key,), (event.partition_key,)
        case AssetCheckEvaluated():
            return (event.asset_key,), (event.partition_key,)
        case WorkItemDispatched() | WorkItemSkipped():
            if event.partition_range is not None:
                return event.asset_keys, ()  # a ranged item: matched by its range
            return event.asset_keys, (event.partition_key,)
        case MaterializationRequested():
            return event.asset_keys, event.partition_keys or ()
        case RunStarted():
            return event.asset_keys, ()
    return (), ()


HEARTBEATS_KEPT = 1000
"""Heartbeats are numbered like every event, but only the latest this many are kept:
parts beat every few seconds, and the log is in memory."""


@dataclass
class EventLog:
    """Every event, numbered from 1 in the order applied; idempotent by event id.

    Heartbeats are numbered like any event but kept apart, the latest `HEARTBEATS_KEPT`
    of them, and listed only when asked for by type, so that `conflux events` shows what
    happened rather than who is alive, and a long session does not fill memory.
    """

    records: list[LoggedEvent] = field(default_factory=list)
    """Every event but heartbeats, in seq order."""
    heartbeats: deque[LoggedEvent] = field(default_factory=lambda: deque(maxlen=HEARTBEATS_KEPT))
    count: int = 0
    """Events applied (the last seq given)."""
    _seen: set[str] = field(default_factory=set)
    _by_asset: dict[str, list[int]] = field(default_factory=dict)
    _by_partition: dict[tuple[str, str | None], list[int]] = field(default_factory=dict)
    _ranges: dict[str, list[int]] = field(default_factory=dict)
    """Asset -> requests of a partition range and ranged work items (matched against a key
    at query time)."""
    _by_run: dict[str, list[int]] = field(default_factory=dict)
    """Run id -> every event that carries it (request, plan, dispatches, outcomes)."""

    def __len__(self) -> int:
        return self.count

    def of_run(self, run_id: str) -> list[LoggedEvent]:
        """Every event that carries `run_id`, in the order applied."""
        return [self.records[i] for i in self._by_run.get(run_id, [])]

    def apply(
        self, event: AnyEvent, *, topic: str = "", partition: int = -1, offset: int = -1
    ) -> LoggedEvent | None:
        """Append an event; returns its record, or None if its id was seen before."""
        if event.event_id in self._seen:
            return None
        self._seen.add(event.event_id)
        self.count += 1
        keys, partition_keys = _about(event)
        record = LoggedEvent(
            self.count,
            event,
            topic,
            partition,
            offset,
            keys,
            partition_keys[0] if len(partition_keys) == 1 else None,
        )
        if isinstance(event, ComponentHeartbeat):
            self.heartbeats.append(record)
            return record
        index = len(self.records)
        self.records.append(record)
        run_id = getattr(event, "run_id", None)
        if isinstance(run_id, str):
            self._by_run.setdefault(run_id, []).append(index)
        for key in keys:
            self._by_asset.setdefault(key, []).append(index)
            for pk in partition_keys:
                self._by_partition.setdefault((key, pk), []).append(index)
            if (
                isinstance(event, MaterializationRequested | WorkItemDispatched | WorkItemSkipped)
                and event.partition_range is not None
            ):
                self._ranges.setdefault(key, []).append(index)
        return record

    def _indices(
        self,
        asset: str | None,
        partition: str | None,
        covers: Callable[[str, PartitionRange, str], bool] | None,
    ) -> Sequence[int]:
        if asset is None:
            return range(len(self.records))
        if partition is None:
            return self._by_asset.get(asset, [])
        indices = list(self._by_partition.get((asset, partition), []))
        if covers is not None:
            for i in self._ranges.get(asset, []):
                event = self.records[i].event
                assert isinstance(
                    event, MaterializationRequested | WorkItemDispatched | WorkItemSkipped
                )
                span = event.partition_range
                if span is not None and covers(asset, span, partition):
                    indices.append(i)
            indices.sort()
        return indices

    def query(
        self,
        query: EventQuery,
        *,
        covers: Callable[[str, PartitionRange, str], bool] | None = None,
    ) -> list[LoggedEvent]:
        """The events `query` matches, oldest first; with `limit`, the latest `limit` of them.

        Without `after`, events are ordered by their time (then seq); with `after`, by seq,
        so a follower that passes the highest seq it has seen misses nothing. A string
        field matches as written: `partition=""` matches no event (no key is empty).

        Args:
            query: the filter (see `EventQuery`).
            covers: whether a request's partition range covers a key of an asset; without
                it, range requests match no single partition.
        """
        asset, partition, run = query.asset, query.partition, query.run
        wanted = query.type.lower() if query.type is not None else None
        candidates: Sequence[LoggedEvent]
        if wanted == "componentheartbeat":
            candidates = [r for r in self.heartbeats if asset is None or asset in r.asset_keys]
        elif run is not None:
            by_run = self._by_run.get(run, [])
            if asset is not None:
                by_run = [i for i in by_run if asset in self.records[i].asset_keys]
            if partition is not None:
                by_run = [i for i in by_run if self.records[i].partition_key == partition]
            candidates = _View(self.records, by_run)
        else:
            candidates = _View(self.records, self._indices(asset, partition, covers))
        start = 0
        if query.after is not None:  # candidates are in seq order: skip what the caller has seen
            start = bisect_right(candidates, query.after, key=lambda r: r.seq)
        rows = list(candidates[start:])  # one pass in comprehensions, not item by item
        if partition is not None and asset is None and run is None:
            rows = [r for r in rows if r.partition_key == partition]  # a key of any asset
        if wanted is not None:
            rows = [r for r in rows if r.event.type.lower() == wanted]
        if query.since is not None:
            since = query.since
            rows = [r for r in rows if r.event.time >= since]
        limit = query.limit
        if query.after is None:
            # A listing reads like history. The topics are read concurrently, so the order
            # applied (seq) interleaves them arbitrarily during a replay; event time does
            # not. Following (`after`) keeps seq order, so that no event is skipped.
            if limit is not None and 0 < limit < len(rows):  # the newest few: no full sort
                return sorted(heapq.nlargest(limit, rows, key=_by_time), key=_by_time)
            rows.sort(key=_by_time)
        if limit is not None:
            rows = rows[-limit:] if limit > 0 else []
        return rows


def _by_time(record: LoggedEvent) -> tuple[float, int]:
    # A float, not the datetime: decoded times carry pydantic's tzinfo, whose utcoffset
    # is a call per comparison; ordering 60,000 events by datetime took ~0.5 s.
    return record.event.time.timestamp(), record.seq


class _View(Sequence[LoggedEvent]):
    """The records at some indices, as a sequence (no copy)."""

    def __init__(self, records: list[LoggedEvent], indices: Sequence[int]) -> None:
        self._records = records
        self._indices = indices

    def __len__(self) -> int:
        return len(self._indices)

    @overload
    def __getitem__(self, i: int) -> LoggedEvent: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[LoggedEvent]: ...
    def __getitem__(self, i: int | slice) -> LoggedEvent | Sequence[LoggedEvent]:
        if isinstance(i, slice):
            return [self._records[j] for j in self._indices[i]]
        return self._records[self._indices[i]]
