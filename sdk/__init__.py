"""What users import: assets, partitions, resources, IO managers, `Definitions`, `materialize`.

Everything here is pure Python over pydantic and croniter: importing it never loads
Kafka or ClickHouse.
"""

from __future__ import annotations

from conflux.sdk._asset import AssetsDefinition, asset, multi_asset
from conflux.sdk._context import AssetExecutionContext, ContextError
from conflux.sdk._definitions import Definitions
from conflux.sdk._io_manager import (
    ConfigurableIOManager,
    FilesystemIOManager,
    InMemoryIOManager,
    InputContext,
    IOManager,
    IOManagerError,
    OutputContext,
)
from conflux.sdk._keys import AssetKey
from conflux.sdk._loading import load_definitions_from_file, load_definitions_from_module
from conflux.sdk._materialize import MaterializeRunResult, materialize
from conflux.sdk._resources import ConfigurableResource
from conflux.sdk._results import DataVersion, MaterializeResult, Output
from conflux.sdk._snapshot import build_location_snapshot
from conflux.sdk._specs import AssetDep, AssetIn, AssetOut, AssetSpec
from conflux.sdk.partitions import (
    AllPartitionMapping,
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    LastPartitionMapping,
    MonthlyPartitionsDefinition,
    PartitionMapping,
    PartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindow,
    TimeWindowPartitionMapping,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)

__all__ = [
    # partition mappings
    "AllPartitionMapping",
    # assets
    "AssetDep",
    # execution
    "AssetExecutionContext",
    "AssetIn",
    "AssetKey",
    "AssetOut",
    "AssetSpec",
    "AssetsDefinition",
    # resources and IO
    "ConfigurableIOManager",
    "ConfigurableResource",
    "ContextError",
    # partitions
    "DailyPartitionsDefinition",
    "DataVersion",
    # definitions and locations
    "Definitions",
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
    "Output",
    "OutputContext",
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
