"""The one error tree of Conflux.

::

    ConfluxError
    ├── DefinitionError                 the user's definitions are wrong; the message says the fix
    │   ├── DependencyCycleError
    │   ├── UnknownDependencyError
    │   ├── DuplicateAssetKeyError
    │   ├── ConflictingDependencyError  (also InvariantViolationError)
    │   ├── IncompatiblePartitionMappingError
    │   └── InvalidPartitionKeyError    (also InvalidInvocationError, ValueError)
    ├── InvalidInvocationError          a function was called with arguments it cannot take
    ├── InvariantViolationError         definitions or a call broke a rule Conflux relies on
    ├── SelectionError                  a selection names assets that do not exist (also ValueError)
    ├── LocationLoadError               a code location could not be imported or loaded
    ├── InfrastructureError             something outside the user's code is not there or broken
    │   ├── BrokerUnavailableError      (also TimeoutError)
    │   ├── BrokerStartError
    │   ├── ApiUnavailableError         (also ConnectionError)
    │   └── StateDirError               (also FileNotFoundError)
    ├── EventValidationError            a record on a topic is not a valid event (also ValueError)
    └── UserCodeError                   wraps what an asset function raised

Dagster's names for the same families are aliases, so a ported `except` or
`pytest.raises` keeps working: `DagsterError` is `ConfluxError`,
`DagsterInvalidDefinitionError` is `DefinitionError`, `DagsterInvalidInvocationError` is
`InvalidInvocationError`, `DagsterInvariantViolationError` is `InvariantViolationError`,
`DagsterUnknownPartitionError` is `InvalidPartitionKeyError`.
"""

from __future__ import annotations


class ConfluxError(Exception):
    """Root of every error Conflux raises on purpose."""


class DefinitionError(ConfluxError):
    """The user's definitions are wrong; nothing was emitted.

    Attributes:
        asset_key: the asset the problem was found on, when there is one.
    """

    def __init__(self, message: str, *, asset_key: str | None = None) -> None:
        super().__init__(message)
        self.asset_key = asset_key


class DependencyCycleError(DefinitionError):
    """Assets depend on each other in a cycle."""


class UnknownDependencyError(DefinitionError):
    """An asset depends on a key that no asset in the location (or workspace) defines."""


class DuplicateAssetKeyError(DefinitionError):
    """Two assets (or outputs) share one key."""


class IncompatiblePartitionMappingError(DefinitionError):
    """A partition mapping cannot map between the two partitions definitions it joins."""


class InvalidInvocationError(ConfluxError):
    """A function was called with arguments it cannot take (Dagster's name: see the aliases)."""


class InvariantViolationError(ConfluxError):
    """Definitions or a call broke a rule Conflux relies on (Dagster's name: see the aliases)."""


class ConflictingDependencyError(DefinitionError, InvariantViolationError):
    """One asset names an upstream twice with different partition mappings.

    Both a definition error and Dagster's `DagsterInvariantViolationError`, which Dagster
    raises for the same mistake.
    """


class InvalidPartitionKeyError(DefinitionError, InvalidInvocationError, ValueError):
    """A partition key is not in the partitions definition."""


class SelectionError(ConfluxError, ValueError):
    """An asset selection names no asset, or an asset that does not exist."""


class LocationLoadError(ConfluxError):
    """A code location could not be loaded.

    Attributes:
        location: the location's name.
    """

    def __init__(self, message: str, *, location: str) -> None:
        super().__init__(message)
        self.location = location


class InfrastructureError(ConfluxError):
    """Something outside the user's code is missing or broken (broker, API, state folder)."""


class BrokerUnavailableError(InfrastructureError, TimeoutError):
    """The Kafka-protocol broker did not answer in time.

    Attributes:
        bootstrap: the bootstrap servers that were tried.
    """

    def __init__(self, message: str, *, bootstrap: str) -> None:
        super().__init__(message)
        self.bootstrap = bootstrap


class BrokerStartError(InfrastructureError):
    """A local broker (Apache Kafka or Tansu) could not be started."""


class ApiUnavailableError(InfrastructureError, ConnectionError):
    """The query API (served by the projector) did not answer."""


class StateDirError(InfrastructureError, FileNotFoundError):
    """The state folder does not describe a running system."""


class EventValidationError(ConfluxError, ValueError):
    """A record is not a valid Conflux event; it belongs on the dead-letter topic.

    Attributes:
        reason: why validation failed, one line.
    """

    def __init__(self, reason: str) -> None:
        # One line whatever the record held (a type name with a newline in it, say):
        # control characters are shown escaped.
        reason = reason.translate(_ESCAPED_CONTROLS)
        super().__init__(reason)
        self.reason = reason


_ESCAPED_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(32), 127]}


class UserCodeError(ConfluxError):
    """Wraps an exception raised by user code (an asset function, a resource).

    Attributes:
        error_type: the qualified name of the original exception's type.
        user_traceback: the formatted traceback of the original exception.
    """

    def __init__(self, message: str, *, error_type: str, user_traceback: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.user_traceback = user_traceback


DagsterError = ConfluxError
"""Dagster's name for the root of its errors."""
DagsterInvalidDefinitionError = DefinitionError
"""Dagster's name: the user's definitions are wrong."""
DagsterInvalidInvocationError = InvalidInvocationError
"""Dagster's name: a function was called with arguments it cannot take."""
DagsterInvariantViolationError = InvariantViolationError
"""Dagster's name: a rule the system relies on was broken."""
DagsterUnknownPartitionError = InvalidPartitionKeyError
"""Dagster's name: a partition key that the partitions definition does not have."""
