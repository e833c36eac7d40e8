"""Rebuild live partitions definitions and mappings from their snapshots.

The coordinator and the projector never import user code (rule 7): they learn
partitions only from snapshot events, and these functions turn that data back into
objects equal to the ones the user declared, with the same keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from conflux.events import (
    AllMappingSnapshot,
    DefinitionError,
    IdentityMappingSnapshot,
    LastMappingSnapshot,
    MultiPartitionsSnapshot,
    StaticPartitionsSnapshot,
    TimeWindowMappingSnapshot,
    TimeWindowPartitionsSnapshot,
)
from conflux.events._snapshot import MultiMappingSnapshot, MultiToSingleDimensionMappingSnapshot
from conflux.sdk.partitions._mappings import (
    AllPartitionMapping,
    IdentityPartitionMapping,
    LastPartitionMapping,
    PartitionMapping,
    TimeWindowPartitionMapping,
)
from conflux.sdk.partitions._multi import MultiPartitionsDefinition
from conflux.sdk.partitions._multi_mappings import (
    DimensionPartitionMapping,
    MultiPartitionMapping,
    MultiToSingleDimensionPartitionMapping,
)
from conflux.sdk.partitions._static import StaticPartitionsDefinition
from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition

if TYPE_CHECKING:
    from conflux.events import PartitionMappingSnapshot, PartitionsSnapshot
    from conflux.sdk.partitions._base import PartitionsDefinition


def partitions_from_snapshot(snapshot: PartitionsSnapshot) -> PartitionsDefinition:
    """The partitions definition a snapshot describes, equal to the one it was made from.

    Time-window snapshots come back as `TimeWindowPartitionsDefinition` (a daily
    definition is that class with a daily cron), which compares equal to the original.

    Example:
        >>> days = DailyPartitionsDefinition(start_date="2024-01-01")
        >>> partitions_from_snapshot(days.to_snapshot()) == days
        True

    Raises:
        DefinitionError: the snapshot is dynamic, which this version cannot rebuild yet.
    """
    if isinstance(snapshot, StaticPartitionsSnapshot):
        return StaticPartitionsDefinition(snapshot.keys)
    if isinstance(snapshot, TimeWindowPartitionsSnapshot):
        return TimeWindowPartitionsDefinition(
            start=datetime.fromisoformat(snapshot.start),
            fmt=snapshot.fmt,
            end=datetime.fromisoformat(snapshot.end) if snapshot.end is not None else None,
            timezone=snapshot.timezone,
            end_offset=snapshot.end_offset,
            cron_schedule=snapshot.cron_schedule,
        )
    if isinstance(snapshot, MultiPartitionsSnapshot):
        return MultiPartitionsDefinition(
            {name: partitions_from_snapshot(dim) for name, dim in snapshot.dimensions}
        )
    raise DefinitionError("dynamic partitions arrive with issue 5")


def mapping_from_snapshot(snapshot: PartitionMappingSnapshot) -> PartitionMapping:
    """The partition mapping a snapshot describes, equal to the one it was made from."""
    if isinstance(snapshot, TimeWindowMappingSnapshot):
        return TimeWindowPartitionMapping(snapshot.start_offset, snapshot.end_offset)
    if isinstance(snapshot, AllMappingSnapshot):
        return AllPartitionMapping()
    if isinstance(snapshot, LastMappingSnapshot):
        return LastPartitionMapping()
    if isinstance(snapshot, IdentityMappingSnapshot):
        return IdentityPartitionMapping()
    if isinstance(snapshot, MultiMappingSnapshot):
        return MultiPartitionMapping(
            {
                dim.upstream_dimension: DimensionPartitionMapping(
                    dim.downstream_dimension, mapping_from_snapshot(dim.partition_mapping)
                )
                for dim in snapshot.dimensions
            }
        )
    if isinstance(snapshot, MultiToSingleDimensionMappingSnapshot):
        return MultiToSingleDimensionPartitionMapping(snapshot.partition_dimension_name)
    raise DefinitionError(f"unknown partition mapping kind {snapshot!r}")  # pragma: no cover
