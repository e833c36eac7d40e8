"""Conflux: software-defined assets on an event log.

`from conflux import asset, Definitions, DailyPartitionsDefinition, materialize` is all a
code location needs. The parts live in subpackages: `conflux.events` (the contract),
`conflux.sdk`, `conflux.workers`, `conflux.coordinator`, `conflux.projections`.
"""

from __future__ import annotations

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
from conflux.sdk import *  # noqa: F403 - the SDK's __all__ is the user surface
from conflux.sdk import __all__ as _sdk_all

__version__ = "0.1.0"

__all__ = [
    *_sdk_all,
    # errors a user's code meets
    "ConfluxError",
    "DefinitionError",
    "DependencyCycleError",
    "DuplicateAssetKeyError",
    "IncompatiblePartitionMappingError",
    "InvalidPartitionKeyError",
    "UnknownDependencyError",
    "UserCodeError",
]
