"""What users import: assets, partitions, resources, IO managers, schedules, `Definitions`.

Everything here is pure Python over pydantic and croniter: importing it never loads
Kafka or ClickHouse.

Every name loads on first use, so a user's `from conflux import asset` pays only for
what it names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux._lazy import lazy_package

if TYPE_CHECKING:
    from conflux.sdk._asset import (
        AssetsDefinition as AssetsDefinition,
        asset as asset,
        multi_asset as multi_asset,
    )
    from conflux.sdk._asset_events import (
        AssetMaterialization as AssetMaterialization,
        AssetObservation as AssetObservation,
        EventLogEntry as EventLogEntry,
        ObserveResult as ObserveResult,
        SourceAsset as SourceAsset,
        observable_source_asset as observable_source_asset,
    )
    from conflux.sdk._automation import (
        AutomationCondition as AutomationCondition,
    )
    from conflux.sdk._automation_context import (
        AutomationContext as AutomationContext,
        AutomationResult as AutomationResult,
    )
    from conflux.sdk._automation_sensor import (
        AutomationConditionSensorDefinition as AutomationConditionSensorDefinition,
    )
    from conflux.sdk._check_context import (
        AssetCheckExecutionContext as AssetCheckExecutionContext,
    )
    from conflux.sdk._checks import (
        AssetCheckKey as AssetCheckKey,
        AssetCheckResult as AssetCheckResult,
        AssetChecksDefinition as AssetChecksDefinition,
        AssetCheckSeverity as AssetCheckSeverity,
        AssetCheckSpec as AssetCheckSpec,
        DuplicateCheckNameError as DuplicateCheckNameError,
        UnknownCheckTargetError as UnknownCheckTargetError,
        asset_check as asset_check,
        multi_asset_check as multi_asset_check,
    )
    from conflux.sdk._context import (
        AssetExecutionContext as AssetExecutionContext,
        ContextError as ContextError,
    )
    from conflux.sdk._definitions import (
        Definitions as Definitions,
    )
    from conflux.sdk._freshness import (
        build_last_update_freshness_checks as build_last_update_freshness_checks,
        build_sensor_for_freshness_checks as build_sensor_for_freshness_checks,
    )
    from conflux.sdk._instigators import (
        DuplicateInstigatorNameError as DuplicateInstigatorNameError,
    )
    from conflux.sdk._io_manager import (
        ConfigurableIOManager as ConfigurableIOManager,
        FilesystemIOManager as FilesystemIOManager,
        InMemoryIOManager as InMemoryIOManager,
        InputContext as InputContext,
        IOManager as IOManager,
        IOManagerError as IOManagerError,
        OutputContext as OutputContext,
    )
    from conflux.sdk._io_manager_definition import (
        IOManagerDefinition as IOManagerDefinition,
    )
    from conflux.sdk._keys import (
        AssetKey as AssetKey,
    )
    from conflux.sdk._lazy_definitions import (
        LazyDefinitions as LazyDefinitions,
        definitions as definitions,
    )
    from conflux.sdk._loading import (
        file_relative_path as file_relative_path,
        load_definitions_from_file as load_definitions_from_file,
        load_definitions_from_module as load_definitions_from_module,
    )
    from conflux.sdk._metadata_checks import (
        build_metadata_bounds_checks as build_metadata_bounds_checks,
    )
    from conflux.sdk._policies import (
        BackfillPolicy as BackfillPolicy,
        Backoff as Backoff,
        Jitter as Jitter,
        RetryPolicy as RetryPolicy,
    )
    from conflux.sdk._resources import (
        ConfigurableResource as ConfigurableResource,
    )
    from conflux.sdk._results import (
        DataVersion as DataVersion,
        MaterializeResult as MaterializeResult,
        Output as Output,
    )
    from conflux.sdk._run_request import (
        DefaultScheduleStatus as DefaultScheduleStatus,
        DefaultSensorStatus as DefaultSensorStatus,
        RunRequest as RunRequest,
        SensorResult as SensorResult,
        SkipReason as SkipReason,
    )
    from conflux.sdk._schedule import (
        InvalidScheduleError as InvalidScheduleError,
        ScheduleDefinition as ScheduleDefinition,
        ScheduleEvaluationContext as ScheduleEvaluationContext,
        build_schedule_context as build_schedule_context,
        build_schedule_from_partitioned_job as build_schedule_from_partitioned_job,
        schedule as schedule,
    )
    from conflux.sdk._selection import (
        AssetSelection as AssetSelection,
        UnknownTargetError as UnknownTargetError,
        UnresolvedAssetJobDefinition as UnresolvedAssetJobDefinition,
        define_asset_job as define_asset_job,
    )
    from conflux.sdk._sensor import (
        InvalidSensorError as InvalidSensorError,
        MultiAssetSensorEvaluationContext as MultiAssetSensorEvaluationContext,
        SensorDefinition as SensorDefinition,
        SensorEvaluationContext as SensorEvaluationContext,
        asset_sensor as asset_sensor,
        build_sensor_context as build_sensor_context,
        multi_asset_sensor as multi_asset_sensor,
        sensor as sensor,
    )
    from conflux.sdk._snapshot import (
        build_location_snapshot as build_location_snapshot,
    )
    from conflux.sdk._specs import (
        AssetDep as AssetDep,
        AssetIn as AssetIn,
        AssetOut as AssetOut,
        AssetSpec as AssetSpec,
    )
    from conflux.sdk._stream_sensor import (
        StreamRecord as StreamRecord,
        StreamSensorDefinition as StreamSensorDefinition,
        stream_sensor as stream_sensor,
    )
    from conflux.sdk.partitions import (
        AddDynamicPartitionsRequest as AddDynamicPartitionsRequest,
        AllPartitionMapping as AllPartitionMapping,
        DailyPartitionsDefinition as DailyPartitionsDefinition,
        DeleteDynamicPartitionsRequest as DeleteDynamicPartitionsRequest,
        DimensionPartitionMapping as DimensionPartitionMapping,
        DynamicPartitionsDefinition as DynamicPartitionsDefinition,
        HourlyPartitionsDefinition as HourlyPartitionsDefinition,
        IdentityPartitionMapping as IdentityPartitionMapping,
        LastPartitionMapping as LastPartitionMapping,
        MonthlyPartitionsDefinition as MonthlyPartitionsDefinition,
        MultiPartitionKey as MultiPartitionKey,
        MultiPartitionMapping as MultiPartitionMapping,
        MultiPartitionsDefinition as MultiPartitionsDefinition,
        MultiToSingleDimensionPartitionMapping as MultiToSingleDimensionPartitionMapping,
        PartitionedConfig as PartitionedConfig,
        PartitionKeyRange as PartitionKeyRange,
        PartitionMapping as PartitionMapping,
        PartitionsDefinition as PartitionsDefinition,
        PartitionsSubset as PartitionsSubset,
        SpecificPartitionsPartitionMapping as SpecificPartitionsPartitionMapping,
        StaticPartitionMapping as StaticPartitionMapping,
        StaticPartitionsDefinition as StaticPartitionsDefinition,
        TimeWindow as TimeWindow,
        TimeWindowPartitionMapping as TimeWindowPartitionMapping,
        TimeWindowPartitionsDefinition as TimeWindowPartitionsDefinition,
        UpstreamPartitionsResult as UpstreamPartitionsResult,
        WeeklyPartitionsDefinition as WeeklyPartitionsDefinition,
        daily_partitioned_config as daily_partitioned_config,
        deserialize_value as deserialize_value,
        hourly_partitioned_config as hourly_partitioned_config,
        monthly_partitioned_config as monthly_partitioned_config,
        partitioned_config as partitioned_config,
        serialize_value as serialize_value,
        static_partitioned_config as static_partitioned_config,
        weekly_partitioned_config as weekly_partitioned_config,
    )

__getattr__, __dir__ = lazy_package(__name__)
