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
    # assets
    "AssetDep",
    "AssetIn",
    "AssetKey",
    "AssetOut",
    "AssetSpec",
    "AssetsDefinition",
    "asset",
    "multi_asset",
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
    "HourlyPartitionsDefinition",
    "MonthlyPartitionsDefinition",
    "PartitionsDefinition",
    "StaticPartitionsDefinition",
    "TimeWindow",
    "TimeWindowPartitionsDefinition",
    "WeeklyPartitionsDefinition",
    # partition mappings
    "AllPartitionMapping",
    "IdentityPartitionMapping",
    "LastPartitionMapping",
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
]
