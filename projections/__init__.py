"""Projections: folds of the log shared by the coordinator and every reader.

Each projection's `apply(event)` is idempotent and order-tolerant within what the topic
catalog guarantees; state is always rebuildable by replaying the log (rule 4). The
projector (`Projector`) keeps them in a `ReadModel` and serves it on the query API, which
`ApiClient` reads. `Projector` and `QueryApi` load lazily (they pull in the HTTP server
and, when run, the Kafka client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conflux.projections._api_models import (
    AssetSummary,
    BackfillSummary,
    ComponentStatus,
    DeadLetterSummary,
    DynamicPartitionsKeys,
    DynamicPartitionsSummary,
    EventRecord,
    LastMaterialization,
    LocationStatus,
    NotFoundError,
    PartitionCounts,
    RunStatus,
    RunSummary,
    StatusReport,
)
from conflux.projections._asset_state import (
    AssetStateProjection,
    LastAttempt,
    MaterializationRef,
    PartitionState,
    PartitionStatus,
)
from conflux.projections._client import ApiClient
from conflux.projections._components import ComponentsProjection
from conflux.projections._definitions import DefinitionsProjection, LocationState
from conflux.projections._event_log import EventLog, LoggedEvent
from conflux.projections._read_model import ReadModel
from conflux.projections._runs import RunsProjection, RunState
from conflux.projections._selection import resolve_selection

if TYPE_CHECKING:
    from conflux.projections._api import QueryApi
    from conflux.projections._projector import Projector

_LAZY = {
    "Projector": "conflux.projections._projector",
    "QueryApi": "conflux.projections._api",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    # folds
    "AssetStateProjection",
    "ComponentsProjection",
    "DefinitionsProjection",
    "EventLog",
    "RunsProjection",
    # state records
    "LastAttempt",
    "LocationState",
    "LoggedEvent",
    "MaterializationRef",
    "PartitionState",
    "PartitionStatus",
    "RunState",
    # read model, selection, projector and query API
    "Projector",
    "QueryApi",
    "ReadModel",
    "resolve_selection",
    # query API client and its models
    "ApiClient",
    "AssetSummary",
    "BackfillSummary",
    "ComponentStatus",
    "DeadLetterSummary",
    "DynamicPartitionsKeys",
    "DynamicPartitionsSummary",
    "EventRecord",
    "LastMaterialization",
    "LocationStatus",
    "NotFoundError",
    "PartitionCounts",
    "RunStatus",
    "RunSummary",
    "StatusReport",
]
