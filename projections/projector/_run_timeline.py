"""A run's timeline: each of its asset partitions, from dispatch to outcome.

Read from the archived events that carry the run's id (found through the archive's index
of run ids), so it costs what the run holds, not what the log holds. The run page of the
web UI draws it; the failures' error and traceback come from `PartitionFailed` as the
worker sent them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from conflux.events import (
    AssetMaterialized,
    PartitionFailed,
    PartitionStarted,
    WorkItemDispatched,
    WorkItemSkipped,
)
from conflux.projections.api import RunPartition, RunPartitions

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from conflux.events import AnyEvent
    from conflux.projections.api import RunPartitionStatus


@dataclass
class _Row:
    asset_key: str
    partition_key: str | None
    status: RunPartitionStatus = "queued"
    attempt: int = 1
    dispatched_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    worker_id: str | None = None
    failure: PartitionFailed | None = None

    def newer(self, attempt: int) -> bool:
        """Start over for a later attempt (True); an earlier attempt's news is stale."""
        if attempt <= self.attempt:
            return False
        self.attempt, self.status, self.failure = attempt, "queued", None
        self.dispatched_at = self.started_at = self.ended_at = None
        return True


def run_timeline(run_id: str, events: Iterable[AnyEvent], *, limit: int) -> RunPartitions:
    """Fold a run's events into one row per asset partition, in dispatch order.

    A later attempt replaces an earlier one's outcome (its row keeps the latest attempt);
    an event of an older attempt that arrives late changes nothing.
    """
    rows: dict[tuple[str, str | None], _Row] = {}
    ranged: dict[tuple[str, int], datetime] = {}
    """(work item, attempt) -> dispatch time of a ranged item (its rows come with its
    partitions' starts: the dispatch names the range, not the keys)."""

    def row(key: str, partition: str | None) -> _Row:
        found = rows.get((key, partition))
        if found is None:
            found = rows[(key, partition)] = _Row(key, partition)
        return found

    for event in events:
        match event:
            case WorkItemDispatched() if event.partition_range is not None:
                ranged[(event.work_item_id, event.attempt)] = event.time
            case WorkItemDispatched():
                for key in event.asset_keys:
                    r = row(key, event.partition_key)
                    if r.newer(event.attempt) or r.dispatched_at is None:
                        r.dispatched_at = event.time
            case WorkItemSkipped():
                rng = event.partition_range
                where = f"{rng.start}..{rng.end}" if rng is not None else event.partition_key
                for key in event.asset_keys:
                    r = row(key, where)
                    r.status, r.ended_at = "skipped", event.time
            case PartitionStarted():
                r = row(event.asset_key, event.partition_key)
                if r.newer(event.attempt) or event.attempt == r.attempt:
                    r.started_at, r.worker_id = event.time, event.worker_id
                    r.dispatched_at = r.dispatched_at or ranged.get(
                        (event.work_item_id, event.attempt)
                    )
                    if r.status == "queued":
                        r.status = "in_progress"
            case AssetMaterialized():
                r = row(event.asset_key, event.partition_key)
                attempt = r.attempt if event.attempt is None else event.attempt
                if r.newer(attempt) or attempt == r.attempt:
                    r.status, r.ended_at, r.failure = "materialized", event.time, None
                    r.worker_id = event.worker_id or r.worker_id
            case PartitionFailed():
                r = row(event.asset_key, event.partition_key)
                if r.newer(event.attempt) or event.attempt == r.attempt:
                    r.status, r.ended_at = "failed", event.time
                    r.worker_id, r.failure = event.worker_id, event
    shown = list(rows.values())[: max(0, limit)]
    return RunPartitions(
        run_id=run_id,
        total=len(rows),
        partitions=[
            RunPartition(
                asset_key=r.asset_key,
                partition_key=r.partition_key,
                status=r.status,
                attempt=r.attempt,
                dispatched_at=r.dispatched_at,
                started_at=r.started_at,
                ended_at=r.ended_at,
                worker_id=r.worker_id,
                error_type=r.failure.error_type if r.failure else None,
                message=r.failure.message if r.failure else None,
                traceback=(r.failure.traceback or None) if r.failure else None,
            )
            for r in shown
        ],
    )
