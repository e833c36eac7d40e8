"""Partitions and partition mappings, with Dagster's names and defaults (pure code, no I/O)."""

from __future__ import annotations

from conflux.sdk.partitions._base import PartitionsDefinition
from conflux.sdk.partitions._calendar import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from conflux.sdk.partitions._cron_ticks import Schedule, schedule_for
from conflux.sdk.partitions._dynamic import (
    AddDynamicPartitionsRequest,
    DeleteDynamicPartitionsRequest,
    DynamicPartitionsDefinition,
    DynamicPartitionsStore,
)
from conflux.sdk.partitions._mappings import (
    AllPartitionMapping,
    IdentityPartitionMapping,
    LastPartitionMapping,
    PartitionMapping,
    TimeWindowPartitionMapping,
    default_partition_mapping,
)
from conflux.sdk.partitions._multi import (
    MultiPartitionKey,
    MultiPartitionsDefinition,
    PartitionDimensionDefinition,
)
from conflux.sdk.partitions._multi_mappings import (
    DimensionPartitionMapping,
    MultiPartitionMapping,
    MultiToSingleDimensionPartitionMapping,
)
from conflux.sdk.partitions._range import PartitionKeyRange, keys_in_key_range
from conflux.sdk.partitions._snapshots import mapping_from_snapshot, partitions_from_snapshot
from conflux.sdk.partitions._static import StaticPartitionsDefinition
from conflux.sdk.partitions._time_window import TimeWindow, TimeWindowPartitionsDefinition

__all__ = [
    # definitions
    "PartitionsDefinition",
    "StaticPartitionsDefinition",
    "TimeWindow",
    "TimeWindowPartitionsDefinition",
    "HourlyPartitionsDefinition",
    "DailyPartitionsDefinition",
    "WeeklyPartitionsDefinition",
    "MonthlyPartitionsDefinition",
    "MultiPartitionsDefinition",
    "MultiPartitionKey",
    "PartitionDimensionDefinition",
    "DynamicPartitionsDefinition",
    "DynamicPartitionsStore",
    "AddDynamicPartitionsRequest",
    "DeleteDynamicPartitionsRequest",
    "PartitionKeyRange",
    "keys_in_key_range",
    # mappings
    "PartitionMapping",
    "IdentityPartitionMapping",
    "TimeWindowPartitionMapping",
    "AllPartitionMapping",
    "LastPartitionMapping",
    "MultiPartitionMapping",
    "DimensionPartitionMapping",
    "MultiToSingleDimensionPartitionMapping",
    "default_partition_mapping",
    # snapshots (for the coordinator and readers, which never import user code)
    "partitions_from_snapshot",
    "mapping_from_snapshot",
    # cron arithmetic (schedules and automation, evaluated by the coordinator)
    "Schedule",
    "schedule_for",
]
