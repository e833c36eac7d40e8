"""History for the query API, from the archive: events, a run's timeline, what asked for a run.

The read model holds current state only; what happened is the archive's. The archive is
written in batches behind the projector, so each answer first waits (briefly) until what
the projector had read when the question came is stored: a read after a write sees the
write (`materialize --wait`, then `conflux events`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic_core import from_json

from conflux.events import (
    AssetMaterialized,
    AutomationEvaluated,
    MaterializationRequested,
    PartitionFailed,
    PartitionRange,
    PartitionStarted,
    WorkItemDispatched,
    WorkItemSkipped,
    decode_event,
    may_need_upcasting,
)
from conflux.projections.api import EventQuery, EventRecord, NotFoundError
from conflux.projections.archive import find_events, run_events

if TYPE_CHECKING:
    from collections.abc import Callable

    from conflux.events import AnyEvent, ConditionResult
    from conflux.projections.api import RunPartitions
    from conflux.projections.archive import ArchivedEvent, ArchiveStore
    from conflux.projections.projector._read_model import ReadModel

ARCHIVE_WAIT_S = 3.0
"""Longest wait for the archive to store what the projector has read before answering."""

_TIMELINE_TYPES = (
    WorkItemDispatched.__name__,
    WorkItemSkipped.__name__,
    PartitionStarted.__name__,
    AssetMaterialized.__name__,
    PartitionFailed.__name__,
)
_SINGLE = frozenset(
    (
        "PartitionStarted",
        "AssetMaterialized",
        "AssetObserved",
        "PartitionFailed",
        "AssetCheckEvaluated",
        "AutomationEvaluated",
    )
)


class EventHistory:
    """Answers history questions from an `ArchiveStore`, with the read model's definitions.

    Args:
        store: the archive (shared with the projector's sink; its calls are serialized).
        model: knows each asset's partitions (whether a key range holds a key).
        settle: waits up to the given seconds until what was read so far about an asset
            (partition), or everything without one, is archived; returns whether it is.
    """

    def __init__(
        self,
        store: ArchiveStore,
        model: ReadModel,
        settle: Callable[[float, str | None, str | None], bool] = lambda *_: True,
    ) -> None:
        self.store = store
        self.model = model
        self._settle = settle

    def events(self, query: EventQuery) -> list[EventRecord]:
        """The events `query` asks for (see `EventQuery`), as the API sends them."""
        return [_record(e) for e in self._find(query)]

    def _find(self, query: EventQuery) -> list[ArchivedEvent]:
        asset = query.asset
        if query.run is None and (query.type or "").lower() != "componentheartbeat":
            self._settle(ARCHIVE_WAIT_S, asset, query.partition if asset else None)
        else:
            self._settle(ARCHIVE_WAIT_S, None, None)
        covers = None
        if asset is not None and query.partition is not None:
            model = self.model

            def covers(start: str, end: str, key: str) -> bool:
                return model.covers(asset, PartitionRange(start=start, end=end), key)

        sorted_keys = asset is not None and self.model.keys_in_string_order(asset)
        return find_events(self.store, query, covers=covers, keys_sorted=sorted_keys)

    def run_partitions(self, run_id: str, limit: int = 1000) -> RunPartitions:
        """A run's asset partitions, dispatch to outcome (the first `limit` of them).

        Raises:
            NotFoundError: neither the read model nor the archive knows the run.
        """
        from conflux.projections.projector._run_timeline import run_timeline

        self._settle(ARCHIVE_WAIT_S, None, None)
        found = run_events(self.store, run_id, _TIMELINE_TYPES)
        if not found and self.model.run_summary(run_id) is None:
            raise NotFoundError(f"no run {run_id!r}: list runs with `conflux runs`")
        return run_timeline(run_id, (_event(e) for e in found), limit=limit)

    def last_request(
        self, asset_key: str, partition_key: str | None
    ) -> MaterializationRequested | None:
        """The newest request that covered the asset partition (by key, range or asset)."""
        query = EventQuery(
            asset=asset_key, partition=partition_key, type="MaterializationRequested", limit=1
        )
        for found in self._find(query):
            event = _event(found)
            if isinstance(event, MaterializationRequested):
                return event
        return None

    def automation_result(
        self, asset_key: str, partition_key: str | None, run_id: str
    ) -> ConditionResult | None:
        """What automation evaluated when it asked for `run_id` for the asset partition."""
        query = EventQuery(
            asset=asset_key, partition=partition_key, type="AutomationEvaluated", run=run_id
        )
        for found in self._find(query):
            event = _event(found)
            if isinstance(event, AutomationEvaluated) and event.run_id == run_id:
                return event.result
        return None


def _event(found: ArchivedEvent) -> AnyEvent:
    return decode_event(found.payload)


def _record(found: ArchivedEvent) -> EventRecord:
    """The API's record of an archived event: its JSON as written (upcast if it was older)."""
    payload = found.payload
    if may_need_upcasting(payload.encode()):
        doc = decode_event(payload).model_dump(mode="json")
    else:
        doc = from_json(payload)
    keys: list[str]
    partition: object = None
    if found.type in _SINGLE:
        keys = [doc["asset_key"]]
        partition = doc.get("partition_key")
    else:
        keys = doc.get("asset_keys") or []
        if found.type == "MaterializationRequested":
            listed = doc.get("partition_keys") or []
            partition = listed[0] if len(listed) == 1 else None
        else:
            partition = doc.get("partition_key")
    run_id = doc.get("run_id")
    return EventRecord.model_construct(  # trusted: the archive holds validated events
        seq=found.seq,
        topic=found.topic,
        partition=found.partition,
        offset=found.offset,
        time=found.time,
        type=found.type,
        asset_key=",".join(keys) or None,
        partition_key=partition if isinstance(partition, str) else None,
        run_id=run_id if isinstance(run_id, str) else None,
        event=doc,
    )
