"""The asset-state projection: the latest known state of every asset partition.

Folded from `PartitionStarted`, `AssetMaterialized` and `PartitionFailed`. The fold is
order-independent for one partition: the latest event by (time, event id) wins, so a
duplicate or a late re-delivery never moves a partition back in time.

The state is stored by column, one `AssetPartitions` per asset (see
`_partition_table.py`): about 110 bytes per partition at a million partitions instead
of ~550 for a `PartitionState` object each (issue 5). Callers still read
`PartitionState` / `MaterializationRef` / `LastAttempt` values, built on demand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conflux.events import AnyEvent, AssetMaterialized, PartitionFailed, PartitionStarted
from conflux.projections.folds._partition_state import (
    LastAttempt,
    MaterializationRef,
    PartitionState,
    PartitionStatus,
)
from conflux.projections.folds._partition_table import AssetPartitions

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AssetPartitions",
    "AssetStateProjection",
    "LastAttempt",
    "MaterializationRef",
    "PartitionState",
    "PartitionStatus",
    "latest_materialization",
    "status_counts",
]


class AssetStateProjection:
    """Fold of the assets topic: `partitions[asset_key][partition_key] -> PartitionState`.

    Unpartitioned assets use the partition key None. `apply` is idempotent.

    What callers may rely on: `get`, and `partitions`, a read-only
    `Mapping[str, AssetPartitions]` whose values are read-only
    `Mapping[str | None, PartitionState]` (plus fast helpers: `status`, `statuses`,
    `status_counts`, `latest`). Values are snapshots built per lookup; the projection
    changes only through `apply`. Two projections are equal when they hold the same
    partition states, whatever order the events came in.
    """

    __slots__ = ("_assets",)

    def __init__(self) -> None:
        self._assets: dict[str, AssetPartitions] = {}

    @property
    def partitions(self) -> Mapping[str, AssetPartitions]:
        """Asset key -> its partitions (only assets some event mentioned)."""
        return self._assets

    def get(self, asset_key: str, partition_key: str | None) -> PartitionState | None:
        """The state of one asset partition, or None if nothing is known about it."""
        table = self._assets.get(asset_key)
        return None if table is None else table.state(partition_key)

    def apply(self, event: AnyEvent) -> None:
        """Fold one event; events of other types are ignored."""
        if isinstance(event, AssetMaterialized):
            table = self._assets.get(event.asset_key)
            if table is None:
                table = self._table(event.asset_key)
            table.materialize(event)
        elif isinstance(event, PartitionStarted | PartitionFailed):
            self._table(event.asset_key).attempt(event)

    def _table(self, asset_key: str) -> AssetPartitions:
        table = self._assets.get(asset_key)
        if table is None:
            table = self._assets[asset_key] = AssetPartitions()
        return table

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AssetStateProjection):
            return NotImplemented
        return self._assets == other._assets

    def __repr__(self) -> str:
        count = sum(len(t) for t in self._assets.values())
        return f"AssetStateProjection({count} partitions of {len(self._assets)} assets)"

    # Checkpoints pickle this fold: each asset is a few buffers (see AssetPartitions),
    # so a million partitions dump and load as bytes, with no object per partition.
    def __getstate__(self) -> dict[str, Any]:
        return {"assets": self._assets}

    def __setstate__(self, saved: dict[str, Any]) -> None:
        self._assets = saved["assets"]


def status_counts(states: Mapping[str | None, PartitionState]) -> dict[PartitionStatus, int]:
    """How many of `states` have each status.

    For an `AssetPartitions` this reads its columns (no object per partition).
    """
    if isinstance(states, AssetPartitions):
        return states.status_counts()
    counts: dict[PartitionStatus, int] = {}
    for state in states.values():
        status = state.status
        if status is not None:
            counts[status] = counts.get(status, 0) + 1
    return counts


def latest_materialization(
    states: Mapping[str | None, PartitionState],
) -> tuple[str | None, MaterializationRef] | None:
    """The newest materialization among `states` by (time, event id), with its key."""
    if isinstance(states, AssetPartitions):
        return states.latest()
    latest: tuple[str | None, MaterializationRef] | None = None
    for key, state in states.items():
        m = state.materialized
        if m is not None and (
            latest is None or (m.time, m.event_id) > (latest[1].time, latest[1].event_id)
        ):
            latest = (key, m)
    return latest
