"""Backfills: one `BackfillRequested`, walked lazily through the partition space in chunks.

A backfill never becomes one request per partition. The coordinator requests one chunk
at a time (a `MaterializationRequested` of up to `CHUNK_PARTITIONS` partitions, tagged
with the backfill id and the chunk's index), and the next chunk once the previous one
completed, so dependency order holds across chunks for every partition mapping, and the
coordinator holds one chunk's plan in memory whatever the backfill's size. The backfill's
progress is a fold of its chunks' requests and completions.

How the partition space is cut into chunks is `BackfillSpace`'s (in the projections'
folds, which count a backfill's partitions the same way).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import MaterializationRequested, PartitionRange, derived_id

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.events import (
        BackfillCanceled,
        BackfillCompleted,
        BackfillRequested,
        RunCompleted,
    )
    from conflux.projections.folds import AssetStateProjection, BackfillSpace


@dataclass
class BackfillState:
    """One backfill as folded: its request, chunks, completions and cancellation."""

    backfill_id: str
    request: BackfillRequested | None = None
    canceled: BackfillCanceled | None = None
    completed: BackfillCompleted | None = None
    chunks: dict[int, str] = field(default_factory=dict)
    """Chunk index -> the run id of the chunk's request."""
    done: dict[int, RunCompleted] = field(default_factory=dict)
    """Chunk index -> the completion of its run."""

    def note_chunk(self, request: MaterializationRequested, completed: RunCompleted | None) -> None:
        """Record a chunk's request, and its completion if known (idempotent)."""
        index = int(request.tags.get("backfill_chunk", "0"))
        self.chunks[index] = request.run_id
        if completed is not None:
            self.done[index] = completed

    @property
    def active(self) -> list[int]:
        """Chunks requested and not yet completed."""
        return [k for k in self.chunks if k not in self.done]

    @property
    def next_chunk(self) -> int:
        """The index of the next chunk to request (chunks go in order)."""
        return max(self.chunks) + 1 if self.chunks else 0

    def totals(self) -> tuple[int, int, int]:
        """(materialized, failed, skipped) asset partitions over the completed chunks."""
        done = self.done.values()
        return (
            sum(c.materialized for c in done),
            sum(c.failed for c in done),
            sum(c.skipped for c in done),
        )


def chunk_run_id(backfill_id: str, index: int) -> str:
    """The run id of a backfill's chunk (the same on every re-decision)."""
    return derived_id("backfill-chunk", backfill_id, str(index))


def chunk_request(
    backfill: BackfillState,
    space: BackfillSpace,
    index: int,
    assets: AssetStateProjection,
    now: datetime,
    epoch: int = 0,
) -> MaterializationRequested | None:
    """The request of chunk `index`, or None when the backfill's filter leaves it empty."""
    request = backfill.request
    assert request is not None
    last_chunk = index == space.chunk_count - 1
    chunk = space.chunk_keys(index)
    keys = chunk
    if request.only != "all":
        keys = [k for k in chunk if _wanted(request.only, space.primary_keys, k, assets)]
    asset_keys = list(space.primary_keys) if keys else []
    extra: list[str] = []
    if keys:
        for group_assets, group_keys in space.others_between(chunk[0], chunk[-1]):
            asset_keys.extend(group_assets)
            extra.extend(group_keys)
    if index == 0:
        asset_keys.extend(space.first)
    if last_chunk:
        asset_keys.extend(space.last)
    if not asset_keys:
        return None
    run_id = chunk_run_id(backfill.backfill_id, index)
    explicit = request.only != "all" or space.explicit is not None or bool(extra)
    return MaterializationRequested(
        event_id=derived_id("backfill-request", backfill.backfill_id, str(index)),
        time=now,
        producer="coordinator",
        epoch=epoch,
        correlation_id=backfill.backfill_id,
        causation_id=request.event_id,
        run_id=run_id,
        selection=f"backfill {backfill.backfill_id} chunk {index + 1}/{space.chunk_count}",
        asset_keys=tuple(sorted(set(asset_keys))),
        partition_keys=tuple(keys + extra) if explicit and keys else None,
        partition_range=(
            PartitionRange(start=keys[0], end=keys[-1]) if keys and not explicit else None
        ),
        requested_by=request.requested_by,
        tags={**request.tags, "backfill_id": backfill.backfill_id, "backfill_chunk": str(index)},
    )


# -- helpers ----------------------------------------------------------------------------


def _wanted(only: str, asset_keys: tuple[str, ...], key: str, assets: AssetStateProjection) -> bool:
    """Whether a filtered backfill still wants partition `key` of any of `asset_keys`."""
    for asset_key in asset_keys:
        state = assets.get(asset_key, key)
        if only == "missing" and (state is None or state.materialized is None):
            return True
        if only == "failed" and state is not None and state.status == "failed":
            return True
    return False
