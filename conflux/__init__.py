"""Conflux: software-defined assets on an event log.

`from conflux import asset, Definitions, DailyPartitionsDefinition, materialize` is all a
code location needs. The parts live in subpackages: `conflux.events` (the contract),
`conflux.sdk`, `conflux.workers`, `conflux.coordinator`, `conflux.projections`.

The public names are the SDK's, the errors a user's code meets, and `materialize` (the
in-process runner, which drives the coordinator's own planning and so sits above every
part: `conflux/_materialize.py`). They are listed once, in the block below (see
`conflux._lazy`), and load on first use, so `import conflux.events` (the coordinator,
the projector, the CLI) does not pay for the SDK, and the SDK never pays for Kafka.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux._lazy import lazy_package

if TYPE_CHECKING:
    from conflux._materialize import (
        MaterializeRunResult as MaterializeRunResult,
        materialize as materialize,
    )
    from conflux.events import (
        ConfluxError as ConfluxError,
        DagsterError as DagsterError,
        DagsterInvalidDefinitionError as DagsterInvalidDefinitionError,
        DagsterInvalidInvocationError as DagsterInvalidInvocationError,
        DagsterInvariantViolationError as DagsterInvariantViolationError,
        DagsterUnknownPartitionError as DagsterUnknownPartitionError,
        DefinitionError as DefinitionError,
        DependencyCycleError as DependencyCycleError,
        DuplicateAssetKeyError as DuplicateAssetKeyError,
        IncompatiblePartitionMappingError as IncompatiblePartitionMappingError,
        InvalidPartitionKeyError as InvalidPartitionKeyError,
        UnknownDependencyError as UnknownDependencyError,
        UserCodeError as UserCodeError,
    )
    from conflux.sdk import *  # noqa: F403

__version__ = "0.1.0"

__getattr__, __dir__ = lazy_package(__name__)
