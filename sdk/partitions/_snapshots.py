"""Rebuild live partitions definitions and mappings from their snapshots.

The coordinator and the projector learn partitions only from snapshot events (rule 7);
these functions turn that data back into the same objects the user declared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux.events import (
    AllMappingSnapshot,
    DefinitionError,
    IdentityMappingSnapshot,
    LastMappingSnapshot,
    PartitionMappingSnapshot,
    PartitionsSnapshot,
    StaticPartitionsSnapshot,
    TimeWindowMappingSnapshot,
    TimeWindowPartitionsSnapshot,
)
from conflux.sdk.partitions._mappings import (
    AllPartitionMapping,
    IdentityPartitionMapping,
    LastPartitionMapping,
    PartitionMapping,
    TimeWindowPartitionMapping,
)
from conflux.sdk.partitions._static import StaticPartitionsDefinition
from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition

if TYPE_CHECKING:
    from conflux.sdk.partitions._base import PartitionsDefinition


def partitions_from_snapshot(snapshot: PartitionsSnapshot) -> PartitionsDefinition:
    """The partitions definition a snapshot describes (equal to the one it was made from).

    Raises:
        DefinitionError: the snapshot is of a kind this version cannot rebuild.
    """
    if isinstance(snapshot, StaticPartitionsSnapshot):
        return StaticPartitionsDefinition(snapshot.keys)
    if isinstance(snapshot, TimeWindowPartitionsSnapshot):
        from datetime import datetime

        return TimeWindowPartitionsDefinition(
            start=datetime.fromisoformat(snapshot.start),
            fmt=snapshot.fmt,
            end=datetime.fromisoformat(snapshot.end) if snapshot.end else None,
            timezone=snapshot.timezone,
            end_offset=snapshot.end_offset,
            cron_schedule=snapshot.cron_schedule,
        )
    raise DefinitionError(
        f"{snapshot.kind} partitions (multi-dimensional or dynamic) arrive with a later version"
    )


def mapping_from_snapshot(snapshot: PartitionMappingSnapshot) -> PartitionMapping:
    """The partition mapping a snapshot describes."""
    if isinstance(snapshot, TimeWindowMappingSnapshot):
        return TimeWindowPartitionMapping(snapshot.start_offset, snapshot.end_offset)
    if isinstance(snapshot, AllMappingSnapshot):
        return AllPartitionMapping()
    if isinstance(snapshot, LastMappingSnapshot):
        return LastPartitionMapping()
    assert isinstance(snapshot, IdentityMappingSnapshot)
    return IdentityPartitionMapping()
