"""Conflux: software-defined assets on an event log.

`from conflux import asset, Definitions, DailyPartitionsDefinition, materialize` is all a
code location needs. The parts live in subpackages: `conflux.events` (the contract),
`conflux.sdk`, `conflux.workers`, `conflux.coordinator`, `conflux.projections`.

The SDK's names load on first use, so `import conflux.events` (the coordinator, the
projector, the CLI) does not pay for the SDK, and the SDK never pays for Kafka.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux._lazy import lazy_exports

if TYPE_CHECKING:
    from conflux.events import (
        ConfluxError,
        DefinitionError,
        DependencyCycleError,
        DuplicateAssetKeyError,
        IncompatiblePartitionMappingError,
        InvalidPartitionKeyError,
        UnknownDependencyError,
        UserCodeError,
    )
    from conflux.sdk import *  # noqa: F403

__version__ = "0.1.0"

_ERRORS = (
    "ConfluxError",
    "DefinitionError",
    "DependencyCycleError",
    "DuplicateAssetKeyError",
    "IncompatiblePartitionMappingError",
    "InvalidPartitionKeyError",
    "UnknownDependencyError",
    "UserCodeError",
)


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
    # assets
    "AssetDep",
    "AssetIn",
    "AssetKey",
    "AssetOut",
    "AssetSpec",
    "AssetsDefinition",
    "asset",
    "multi_asset",
    # asset checks
    "AssetCheckExecutionContext",
    "AssetCheckResult",
    "AssetCheckSeverity",
    "AssetCheckSpec",
    "AssetChecksDefinition",
    "asset_check",
    # automation
    "AutomationCondition",
    # policies
    "BackfillPolicy",
    "Backoff",
    "Jitter",
    "RetryPolicy",
    # execution
    "AssetExecutionContext",
    "ContextError",
    "DataVersion",
    "MaterializeResult",
    "MaterializeRunResult",
    "Output",
    "materialize",
    # partitions
    "DailyPartitionsDefinition",
    "DynamicPartitionsDefinition",
    "HourlyPartitionsDefinition",
    "MonthlyPartitionsDefinition",
    "MultiPartitionKey",
    "MultiPartitionsDefinition",
    "PartitionKeyRange",
    "PartitionsDefinition",
    "StaticPartitionsDefinition",
    "TimeWindow",
    "TimeWindowPartitionsDefinition",
    "WeeklyPartitionsDefinition",
    "AddDynamicPartitionsRequest",
    "DeleteDynamicPartitionsRequest",
    # partition mappings
    "AllPartitionMapping",
    "DimensionPartitionMapping",
    "IdentityPartitionMapping",
    "LastPartitionMapping",
    "MultiPartitionMapping",
    "MultiToSingleDimensionPartitionMapping",
    "PartitionMapping",
    "TimeWindowPartitionMapping",
    # resources and IO
    "ConfigurableIOManager",
    "ConfigurableResource",
    "FilesystemIOManager",
    "IOManager",
    "IOManagerError",
    "InMemoryIOManager",
    "InputContext",
    "OutputContext",
    # definitions and locations
    "Definitions",
    "build_location_snapshot",
    "load_definitions_from_file",
    "load_definitions_from_module",
    # errors a user's code meets
    "ConfluxError",
    "DefinitionError",
    "DependencyCycleError",
    "DuplicateAssetKeyError",
    "IncompatiblePartitionMappingError",
    "InvalidPartitionKeyError",
    "UnknownDependencyError",
    "UserCodeError",
    "DuplicateCheckNameError",
    "UnknownCheckTargetError",
    # issue 19: config, resources, IO, testing, metadata, ops
    "Config",
    "PermissiveConfig",
    "RunConfig",
    "EnvVar",
    "InvalidConfigError",
    "ConfigurableResourceFactory",
    "InitResourceContext",
    "ResourceDefinition",
    "ResourceDependency",
    "ResourceParam",
    "resource",
    "ConfigurableIOManagerFactory",
    "IOManagerDefinition",
    "InputManager",
    "build_input_context",
    "build_output_context",
    "fs_io_manager",
    "input_manager",
    "io_manager",
    "mem_io_manager",
    "build_asset_context",
    "MetadataValue",
    "TableColumn",
    "TableColumnConstraints",
    "TableColumnDep",
    "TableColumnLineage",
    "TableConstraints",
    "TableRecord",
    "TableSchema",
    "definitions",
    "file_relative_path",
    "with_resources",
    "with_source_code_references",
    "RetryRequested",
    "Failure",
    "PartitionedConfig",
    "static_partitioned_config",
    "GraphDefinition",
    "GraphIn",
    "GraphOut",
    "In",
    "OpDefinition",
    "OpExecutionContext",
    "Out",
    "graph",
    "graph_asset",
    "graph_multi_asset",
    "op",
]

_WHERE = {name: "conflux.events" if name in _ERRORS else "conflux.sdk" for name in __all__}
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
