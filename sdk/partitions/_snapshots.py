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
    DynamicPartitionsSnapshot,
    IdentityMappingSnapshot,
    LastMappingSnapshot,
    MultiMappingSnapshot,
    MultiPartitionsSnapshot,
    MultiToSingleDimensionMappingSnapshot,
    SpecificPartitionsMappingSnapshot,
    StaticMappingSnapshot,
    StaticPartitionsSnapshot,
    TimeWindowMappingSnapshot,
    TimeWindowPartitionsSnapshot,
)
from conflux.sdk.partitions._dynamic import DynamicPartitionsDefinition
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
from conflux.sdk.partitions._static_mappings import (
    SpecificPartitionsPartitionMapping,
    StaticPartitionMapping,
)
from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from conflux.events import PartitionMappingSnapshot, PartitionsSnapshot
    from conflux.sdk.partitions._base import PartitionsDefinition


def partitions_from_snapshot(
    snapshot: PartitionsSnapshot,
    dynamic_partitions: Mapping[str, Iterable[str]] | None = None,
) -> PartitionsDefinition:
    """The partitions definition a snapshot describes, equal to the one it was made from.

    Time-window snapshots come back as `TimeWindowPartitionsDefinition` (a daily
    definition is that class with a daily cron), which compares equal to the original.

    A dynamic snapshot (alone or as a dimension of a multi) holds only its name: with
    `dynamic_partitions` (name -> the current keys, in order; a name not in it has no
    key) it comes back bound to its keys, and answers about them; without, it comes back
    unbound, as the user wrote it.

    Example:
        >>> days = DailyPartitionsDefinition(start_date="2024-01-01")
        >>> partitions_from_snapshot(days.to_snapshot()) == days
        True
        >>> customers = DynamicPartitionsDefinition(name="customers")
        >>> partitions_from_snapshot(
        ...     customers.to_snapshot(), {"customers": ["acme"]}
        ... ).get_partition_keys()
        ['acme']
    """
    if isinstance(snapshot, DynamicPartitionsSnapshot):
        unbound = DynamicPartitionsDefinition(snapshot.name)
        if dynamic_partitions is None:
            return unbound
        return unbound.with_keys(dynamic_partitions.get(snapshot.name, ()))
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
            exclusions=[
                *snapshot.exclusions,
                *(datetime.fromisoformat(i) for i in snapshot.excluded_instants),
            ],
        )
    if isinstance(snapshot, MultiPartitionsSnapshot):
        return MultiPartitionsDefinition(
            {
                name: partitions_from_snapshot(dim, dynamic_partitions)
                for name, dim in snapshot.dimensions
            }
        )
    raise DefinitionError(f"unknown partitions kind {snapshot!r}")  # pragma: no cover


def mapping_from_snapshot(snapshot: PartitionMappingSnapshot) -> PartitionMapping:
    """The partition mapping a snapshot describes, equal to the one it was made from."""
    if isinstance(snapshot, TimeWindowMappingSnapshot):
        return TimeWindowPartitionMapping(
            snapshot.start_offset,
            snapshot.end_offset,
            snapshot.allow_nonexistent_upstream_partitions,
        )
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
    if isinstance(snapshot, StaticMappingSnapshot):
        return StaticPartitionMapping(
            {up: list(downs) for up, downs in snapshot.downstream_keys_by_upstream_key}
        )
    if isinstance(snapshot, SpecificPartitionsMappingSnapshot):
        return SpecificPartitionsPartitionMapping(snapshot.partition_keys)
    raise DefinitionError(f"unknown partition mapping kind {snapshot!r}")  # pragma: no cover
