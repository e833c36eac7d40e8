"""What users import: assets, partitions, resources, IO managers, `Definitions`, `materialize`.

Everything here is pure Python over pydantic and croniter: importing it never loads
Kafka or ClickHouse.

Every name loads on first use, so a user's `from conflux import asset` pays only for
what it names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux._lazy import lazy_exports

if TYPE_CHECKING:
    from conflux.sdk._asset import (
        AssetsDefinition,
        asset,
        multi_asset,
    )
    from conflux.sdk._automation import (
        AutomationCondition,
    )
    from conflux.sdk._check_context import (
        AssetCheckExecutionContext,
    )
    from conflux.sdk._checks import (
        AssetCheckResult,
        AssetChecksDefinition,
        AssetCheckSeverity,
        AssetCheckSpec,
        DuplicateCheckNameError,
        UnknownCheckTargetError,
        asset_check,
    )
    from conflux.sdk._context import (
        AssetExecutionContext,
        ContextError,
    )
    from conflux.sdk._definitions import (
        Definitions,
    )
    from conflux.sdk._instigators import (
        DuplicateInstigatorNameError,
    )
    from conflux.sdk._io_manager import (
        ConfigurableIOManager,
        FilesystemIOManager,
        InMemoryIOManager,
        InputContext,
        IOManager,
        IOManagerError,
        OutputContext,
    )
    from conflux.sdk._keys import (
        AssetKey,
    )
    from conflux.sdk._loading import (
        load_definitions_from_file,
        load_definitions_from_module,
    )
    from conflux.sdk._materialize import (
        MaterializeRunResult,
        materialize,
    )
    from conflux.sdk._policies import (
        BackfillPolicy,
        Backoff,
        Jitter,
        RetryPolicy,
    )
    from conflux.sdk._resources import (
        ConfigurableResource,
    )
    from conflux.sdk._results import (
        DataVersion,
        MaterializeResult,
        Output,
    )
    from conflux.sdk._run_request import (
        DefaultScheduleStatus,
        DefaultSensorStatus,
        RunRequest,
        SensorResult,
        SkipReason,
    )
    from conflux.sdk._schedule import (
        InvalidScheduleError,
        ScheduleDefinition,
        ScheduleEvaluationContext,
        build_schedule_from_partitioned_job,
        schedule,
    )
    from conflux.sdk._selection import (
        AssetSelection,
        UnknownTargetError,
        UnresolvedAssetJobDefinition,
        define_asset_job,
    )
    from conflux.sdk._sensor import (
        InvalidSensorError,
        MultiAssetSensorEvaluationContext,
        SensorDefinition,
        SensorEvaluationContext,
        asset_sensor,
        multi_asset_sensor,
        sensor,
    )
    from conflux.sdk._snapshot import (
        build_location_snapshot,
    )
    from conflux.sdk._specs import (
        AssetDep,
        AssetIn,
        AssetOut,
        AssetSpec,
    )
    from conflux.sdk._stream_sensor import (
        StreamRecord,
        StreamSensorDefinition,
        stream_sensor,
    )
    from conflux.sdk.partitions import (
        AddDynamicPartitionsRequest,
        AllPartitionMapping,
        DailyPartitionsDefinition,
        DeleteDynamicPartitionsRequest,
        DimensionPartitionMapping,
        DynamicPartitionsDefinition,
        HourlyPartitionsDefinition,
        IdentityPartitionMapping,
        LastPartitionMapping,
        MonthlyPartitionsDefinition,
        MultiPartitionKey,
        MultiPartitionMapping,
        MultiPartitionsDefinition,
        MultiToSingleDimensionPartitionMapping,
        PartitionKeyRange,
        PartitionMapping,
        PartitionsDefinition,
        StaticPartitionsDefinition,
        TimeWindow,
        TimeWindowPartitionMapping,
        TimeWindowPartitionsDefinition,
        WeeklyPartitionsDefinition,
    )

_WHERE: dict[str, str] = {
    "AssetSelection": "conflux.sdk._selection",
    "DefaultScheduleStatus": "conflux.sdk._run_request",
    "DefaultSensorStatus": "conflux.sdk._run_request",
    "DuplicateInstigatorNameError": "conflux.sdk._instigators",
    "InvalidScheduleError": "conflux.sdk._schedule",
    "InvalidSensorError": "conflux.sdk._sensor",
    "MultiAssetSensorEvaluationContext": "conflux.sdk._sensor",
    "RunRequest": "conflux.sdk._run_request",
    "ScheduleDefinition": "conflux.sdk._schedule",
    "ScheduleEvaluationContext": "conflux.sdk._schedule",
    "SensorDefinition": "conflux.sdk._sensor",
    "SensorEvaluationContext": "conflux.sdk._sensor",
    "SensorResult": "conflux.sdk._run_request",
    "SkipReason": "conflux.sdk._run_request",
    "UnknownTargetError": "conflux.sdk._selection",
    "UnresolvedAssetJobDefinition": "conflux.sdk._selection",
    "asset_sensor": "conflux.sdk._sensor",
    "build_schedule_from_partitioned_job": "conflux.sdk._schedule",
    "define_asset_job": "conflux.sdk._selection",
    "multi_asset_sensor": "conflux.sdk._sensor",
    "schedule": "conflux.sdk._schedule",
    "sensor": "conflux.sdk._sensor",
    "StreamRecord": "conflux.sdk._stream_sensor",
    "StreamSensorDefinition": "conflux.sdk._stream_sensor",
    "stream_sensor": "conflux.sdk._stream_sensor",
    "AddDynamicPartitionsRequest": "conflux.sdk.partitions",
    "AllPartitionMapping": "conflux.sdk.partitions",
    "AssetCheckExecutionContext": "conflux.sdk._check_context",
    "AssetCheckResult": "conflux.sdk._checks",
    "AssetCheckSeverity": "conflux.sdk._checks",
    "AssetCheckSpec": "conflux.sdk._checks",
    "AssetChecksDefinition": "conflux.sdk._checks",
    "AssetDep": "conflux.sdk._specs",
    "AssetExecutionContext": "conflux.sdk._context",
    "AssetIn": "conflux.sdk._specs",
    "AssetKey": "conflux.sdk._keys",
    "AssetOut": "conflux.sdk._specs",
    "AssetSpec": "conflux.sdk._specs",
    "AssetsDefinition": "conflux.sdk._asset",
    "AutomationCondition": "conflux.sdk._automation",
    "BackfillPolicy": "conflux.sdk._policies",
    "Backoff": "conflux.sdk._policies",
    "Jitter": "conflux.sdk._policies",
    "RetryPolicy": "conflux.sdk._policies",
    "ConfigurableIOManager": "conflux.sdk._io_manager",
    "ConfigurableResource": "conflux.sdk._resources",
    "ContextError": "conflux.sdk._context",
    "DailyPartitionsDefinition": "conflux.sdk.partitions",
    "DataVersion": "conflux.sdk._results",
    "Definitions": "conflux.sdk._definitions",
    "DeleteDynamicPartitionsRequest": "conflux.sdk.partitions",
    "DuplicateCheckNameError": "conflux.sdk._checks",
    "DimensionPartitionMapping": "conflux.sdk.partitions",
    "DynamicPartitionsDefinition": "conflux.sdk.partitions",
    "FilesystemIOManager": "conflux.sdk._io_manager",
    "HourlyPartitionsDefinition": "conflux.sdk.partitions",
    "IOManager": "conflux.sdk._io_manager",
    "IOManagerError": "conflux.sdk._io_manager",
    "IdentityPartitionMapping": "conflux.sdk.partitions",
    "InMemoryIOManager": "conflux.sdk._io_manager",
    "InputContext": "conflux.sdk._io_manager",
    "LastPartitionMapping": "conflux.sdk.partitions",
    "MaterializeResult": "conflux.sdk._results",
    "MaterializeRunResult": "conflux.sdk._materialize",
    "MonthlyPartitionsDefinition": "conflux.sdk.partitions",
    "MultiPartitionKey": "conflux.sdk.partitions",
    "MultiPartitionMapping": "conflux.sdk.partitions",
    "MultiPartitionsDefinition": "conflux.sdk.partitions",
    "MultiToSingleDimensionPartitionMapping": "conflux.sdk.partitions",
    "Output": "conflux.sdk._results",
    "OutputContext": "conflux.sdk._io_manager",
    "PartitionKeyRange": "conflux.sdk.partitions",
    "PartitionMapping": "conflux.sdk.partitions",
    "PartitionsDefinition": "conflux.sdk.partitions",
    "StaticPartitionsDefinition": "conflux.sdk.partitions",
    "TimeWindow": "conflux.sdk.partitions",
    "TimeWindowPartitionMapping": "conflux.sdk.partitions",
    "TimeWindowPartitionsDefinition": "conflux.sdk.partitions",
    "UnknownCheckTargetError": "conflux.sdk._checks",
    "WeeklyPartitionsDefinition": "conflux.sdk.partitions",
    "asset": "conflux.sdk._asset",
    "asset_check": "conflux.sdk._checks",
    "build_location_snapshot": "conflux.sdk._snapshot",
    "load_definitions_from_file": "conflux.sdk._loading",
    "load_definitions_from_module": "conflux.sdk._loading",
    "materialize": "conflux.sdk._materialize",
    "multi_asset": "conflux.sdk._asset",
}
"""Public name -> the private module that defines it (loaded on first use)."""


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

__all__ = [
    # schedules and sensors
    "AssetSelection",
    "DefaultScheduleStatus",
    "DefaultSensorStatus",
    "DuplicateInstigatorNameError",
    "InvalidScheduleError",
    "InvalidSensorError",
    "MultiAssetSensorEvaluationContext",
    "RunRequest",
    "ScheduleDefinition",
    "ScheduleEvaluationContext",
    "SensorDefinition",
    "SensorEvaluationContext",
    "SensorResult",
    "SkipReason",
    "UnknownTargetError",
    "UnresolvedAssetJobDefinition",
    "asset_sensor",
    "build_schedule_from_partitioned_job",
    "define_asset_job",
    "multi_asset_sensor",
    "schedule",
    "sensor",
    "StreamRecord",
    "StreamSensorDefinition",
    "stream_sensor",
    "AddDynamicPartitionsRequest",
    # partition mappings
    "AllPartitionMapping",
    # asset checks
    "AssetCheckExecutionContext",
    "AssetCheckResult",
    "AssetCheckSeverity",
    "AssetCheckSpec",
    "AssetChecksDefinition",
    "DuplicateCheckNameError",
    "UnknownCheckTargetError",
    "asset_check",
    # assets
    "AssetDep",
    # execution
    "AssetExecutionContext",
    "AssetIn",
    "AssetKey",
    "AssetOut",
    "AssetSpec",
    "AssetsDefinition",
    "AutomationCondition",
    "BackfillPolicy",
    "Backoff",
    "Jitter",
    "RetryPolicy",
    # resources and IO
    "ConfigurableIOManager",
    "ConfigurableResource",
    "ContextError",
    # partitions
    "DailyPartitionsDefinition",
    "DataVersion",
    # definitions and locations
    "Definitions",
    "DeleteDynamicPartitionsRequest",
    "DimensionPartitionMapping",
    "DynamicPartitionsDefinition",
    "FilesystemIOManager",
    "HourlyPartitionsDefinition",
    "IOManager",
    "IOManagerError",
    "IdentityPartitionMapping",
    "InMemoryIOManager",
    "InputContext",
    "LastPartitionMapping",
    "MaterializeResult",
    "MaterializeRunResult",
    "MonthlyPartitionsDefinition",
    "MultiPartitionKey",
    "MultiPartitionMapping",
    "MultiPartitionsDefinition",
    "MultiToSingleDimensionPartitionMapping",
    "Output",
    "OutputContext",
    "PartitionKeyRange",
    "PartitionMapping",
    "PartitionsDefinition",
    "StaticPartitionsDefinition",
    "TimeWindow",
    "TimeWindowPartitionMapping",
    "TimeWindowPartitionsDefinition",
    "WeeklyPartitionsDefinition",
    "asset",
    "build_location_snapshot",
    "load_definitions_from_file",
    "load_definitions_from_module",
    "materialize",
    "multi_asset",
]
