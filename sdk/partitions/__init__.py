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
from conflux.sdk.partitions._partitioned_config import (
    PartitionedConfig,
    daily_partitioned_config,
    hourly_partitioned_config,
    monthly_partitioned_config,
    partitioned_config,
    static_partitioned_config,
    weekly_partitioned_config,
)
from conflux.sdk.partitions._range import PartitionKeyRange, keys_in_key_range
from conflux.sdk.partitions._serdes import deserialize_value, serialize_value
from conflux.sdk.partitions._snapshots import mapping_from_snapshot, partitions_from_snapshot
from conflux.sdk.partitions._static import StaticPartitionsDefinition
from conflux.sdk.partitions._static_mappings import (
    SpecificPartitionsPartitionMapping,
    StaticPartitionMapping,
)
from conflux.sdk.partitions._subset import (
    DefaultPartitionsSubset,
    PartitionsSubset,
    TimeWindowPartitionsSubset,
    UnreadableSubsetError,
)
from conflux.sdk.partitions._time_api import ScheduleType
from conflux.sdk.partitions._time_window import TimeWindow, TimeWindowPartitionsDefinition
from conflux.sdk.partitions._upstream import UpstreamPartitionsResult

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
    "ScheduleType",
    # subsets
    "PartitionsSubset",
    "DefaultPartitionsSubset",
    "TimeWindowPartitionsSubset",
    "UnreadableSubsetError",
    # mappings
    "PartitionMapping",
    "IdentityPartitionMapping",
    "TimeWindowPartitionMapping",
    "AllPartitionMapping",
    "LastPartitionMapping",
    "MultiPartitionMapping",
    "DimensionPartitionMapping",
    "MultiToSingleDimensionPartitionMapping",
    "StaticPartitionMapping",
    "SpecificPartitionsPartitionMapping",
    "UpstreamPartitionsResult",
    "default_partition_mapping",
    # partitioned run config
    "PartitionedConfig",
    "partitioned_config",
    "static_partitioned_config",
    "hourly_partitioned_config",
    "daily_partitioned_config",
    "weekly_partitioned_config",
    "monthly_partitioned_config",
    # serialization (JSON)
    "serialize_value",
    "deserialize_value",
    # snapshots (for the coordinator and readers, which never import user code)
    "partitions_from_snapshot",
    "mapping_from_snapshot",
    # cron arithmetic (schedules and automation, evaluated by the coordinator)
    "Schedule",
    "schedule_for",
]
