"""Partitions and partition mappings, with Dagster's names and defaults (pure code, no I/O)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux._lazy import lazy_package

if TYPE_CHECKING:  # the public names, each loaded on first use (see conflux._lazy)
    from conflux.sdk.partitions._base import (
        PartitionsDefinition as PartitionsDefinition,
    )
    from conflux.sdk.partitions._calendar import (
        DailyPartitionsDefinition as DailyPartitionsDefinition,
        HourlyPartitionsDefinition as HourlyPartitionsDefinition,
        MonthlyPartitionsDefinition as MonthlyPartitionsDefinition,
        WeeklyPartitionsDefinition as WeeklyPartitionsDefinition,
    )
    from conflux.sdk.partitions._cron_ticks import (
        Schedule as Schedule,
        schedule_for as schedule_for,
    )
    from conflux.sdk.partitions._dynamic import (
        AddDynamicPartitionsRequest as AddDynamicPartitionsRequest,
        DeleteDynamicPartitionsRequest as DeleteDynamicPartitionsRequest,
        DynamicPartitionsDefinition as DynamicPartitionsDefinition,
        DynamicPartitionsStore as DynamicPartitionsStore,
    )
    from conflux.sdk.partitions._mappings import (
        AllPartitionMapping as AllPartitionMapping,
        IdentityPartitionMapping as IdentityPartitionMapping,
        LastPartitionMapping as LastPartitionMapping,
        PartitionMapping as PartitionMapping,
        TimeWindowPartitionMapping as TimeWindowPartitionMapping,
        default_partition_mapping as default_partition_mapping,
    )
    from conflux.sdk.partitions._multi import (
        MultiPartitionKey as MultiPartitionKey,
        MultiPartitionsDefinition as MultiPartitionsDefinition,
        PartitionDimensionDefinition as PartitionDimensionDefinition,
    )
    from conflux.sdk.partitions._multi_mappings import (
        DimensionPartitionMapping as DimensionPartitionMapping,
        MultiPartitionMapping as MultiPartitionMapping,
        MultiToSingleDimensionPartitionMapping as MultiToSingleDimensionPartitionMapping,
    )
    from conflux.sdk.partitions._partitioned_config import (
        PartitionedConfig as PartitionedConfig,
        daily_partitioned_config as daily_partitioned_config,
        hourly_partitioned_config as hourly_partitioned_config,
        monthly_partitioned_config as monthly_partitioned_config,
        partitioned_config as partitioned_config,
        static_partitioned_config as static_partitioned_config,
        weekly_partitioned_config as weekly_partitioned_config,
    )
    from conflux.sdk.partitions._range import (
        PartitionKeyRange as PartitionKeyRange,
        keys_in_key_range as keys_in_key_range,
    )
    from conflux.sdk.partitions._serdes import (
        deserialize_value as deserialize_value,
        serialize_value as serialize_value,
    )
    from conflux.sdk.partitions._snapshots import (
        mapping_from_snapshot as mapping_from_snapshot,
        partitions_from_snapshot as partitions_from_snapshot,
    )
    from conflux.sdk.partitions._static import (
        StaticPartitionsDefinition as StaticPartitionsDefinition,
    )
    from conflux.sdk.partitions._static_mappings import (
        SpecificPartitionsPartitionMapping as SpecificPartitionsPartitionMapping,
        StaticPartitionMapping as StaticPartitionMapping,
    )
    from conflux.sdk.partitions._subset import (
        DefaultPartitionsSubset as DefaultPartitionsSubset,
        PartitionsSubset as PartitionsSubset,
        TimeWindowPartitionsSubset as TimeWindowPartitionsSubset,
        UnreadableSubsetError as UnreadableSubsetError,
    )
    from conflux.sdk.partitions._time_api import (
        ScheduleType as ScheduleType,
    )
    from conflux.sdk.partitions._time_window import (
        TimeWindow as TimeWindow,
        TimeWindowPartitionsDefinition as TimeWindowPartitionsDefinition,
    )
    from conflux.sdk.partitions._upstream import (
        UpstreamPartitionsResult as UpstreamPartitionsResult,
    )


__getattr__, __dir__ = lazy_package(__name__)
