"""The public surface changes on purpose only, and `import conflux` stays light."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import conflux
import conflux.sdk

if TYPE_CHECKING:
    from types import ModuleType


def exported(package: ModuleType) -> list[str]:
    """`package.__all__`, which its lazy `__getattr__` answers (so type checkers cannot)."""
    names: list[str] = package.__all__
    return names


def test_root_exports_the_sdk_and_the_user_errors() -> None:
    assert set(exported(conflux)) == set(exported(conflux.sdk)) | {
        "ConfluxError",
        "DefinitionError",
        "DependencyCycleError",
        "DuplicateAssetKeyError",
        "IncompatiblePartitionMappingError",
        "InvalidPartitionKeyError",
        "UnknownDependencyError",
        "UserCodeError",
        # Dagster's names for the same error families (aliases)
        "DagsterError",
        "DagsterInvalidDefinitionError",
        "DagsterInvalidInvocationError",
        "DagsterInvariantViolationError",
        "DagsterUnknownPartitionError",
        # the in-process runner, above the SDK (it drives the coordinator's planning)
        "MaterializeRunResult",
        "materialize",
    }
    for name in exported(conflux):
        assert getattr(conflux, name) is not None


def test_sdk_surface_snapshot() -> None:
    assert sorted(exported(conflux.sdk)) == sorted(
        [
            "AddDynamicPartitionsRequest",
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
            "AllPartitionMapping",
            "AssetCheckExecutionContext",
            "AssetCheckResult",
            "AssetCheckSeverity",
            "AssetCheckSpec",
            "AssetChecksDefinition",
            "AssetDep",
            "AssetExecutionContext",
            "AssetIn",
            "AssetKey",
            "AssetOut",
            "AssetSpec",
            "AssetsDefinition",
            "AutomationCondition",
            "BackfillPolicy",
            "Backoff",
            "ConfigurableIOManager",
            "ConfigurableResource",
            "ContextError",
            "DailyPartitionsDefinition",
            "DataVersion",
            "Definitions",
            "DeleteDynamicPartitionsRequest",
            "DimensionPartitionMapping",
            "DuplicateCheckNameError",
            "DynamicPartitionsDefinition",
            "FilesystemIOManager",
            "HourlyPartitionsDefinition",
            "IOManager",
            "IOManagerError",
            "IdentityPartitionMapping",
            "InMemoryIOManager",
            "InputContext",
            "Jitter",
            "LastPartitionMapping",
            "MaterializeResult",
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
            "RetryPolicy",
            "StaticPartitionsDefinition",
            "TimeWindow",
            "TimeWindowPartitionMapping",
            "TimeWindowPartitionsDefinition",
            "PartitionsSubset",
            "SpecificPartitionsPartitionMapping",
            "StaticPartitionMapping",
            "UpstreamPartitionsResult",
            "PartitionedConfig",
            "partitioned_config",
            "static_partitioned_config",
            "hourly_partitioned_config",
            "daily_partitioned_config",
            "weekly_partitioned_config",
            "monthly_partitioned_config",
            "serialize_value",
            "deserialize_value",
            "IOManagerDefinition",
            "UnknownCheckTargetError",
            "WeeklyPartitionsDefinition",
            "asset",
            "asset_check",
            "build_location_snapshot",
            "load_definitions_from_file",
            "load_definitions_from_module",
            "multi_asset",
            # issue 19: automation, checks, freshness, sensors, source assets
            "AssetCheckKey",
            "AssetMaterialization",
            "AssetObservation",
            "AutomationConditionSensorDefinition",
            "AutomationContext",
            "AutomationResult",
            "EventLogEntry",
            "LazyDefinitions",
            "ObserveResult",
            "SourceAsset",
            "build_last_update_freshness_checks",
            "build_sensor_for_freshness_checks",
            "definitions",
            "file_relative_path",
            "multi_asset_check",
            "observable_source_asset",
            "build_schedule_context",
            "build_sensor_context",
            "build_metadata_bounds_checks",
        ]
    )


def test_user_code_import_loads_neither_kafka_nor_clickhouse() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); "
        "from conflux import asset, Definitions, DailyPartitionsDefinition; "
        "print(time.perf_counter() - t); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('confluent_kafka', 'chdb', 'clickhouse_connect', 'faust', 'click')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[1] == "[]"
    # The budget is 0.3 s on this machine (bench/ measures it); 1 s here only catches regressions
    # that would load a heavy dependency, without making the suite flaky on a busy CI.
    assert float(out[0]) < 1.0
