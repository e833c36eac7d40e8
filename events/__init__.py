"""The event contract: models, envelope, topics, serialization, Kafka clients, brokers.

Kafka clients (`EventProducer`, `EventConsumer`, `kafka_config`) and the local brokers
(`conflux.events.brokers`) import confluent-kafka lazily: importing the models costs
pydantic only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conflux.events._base import Event, derived_id, new_id, utcnow
from conflux.events._errors import (
    ApiUnavailableError,
    BrokerStartError,
    BrokerUnavailableError,
    ConfluxError,
    DefinitionError,
    DependencyCycleError,
    DuplicateAssetKeyError,
    EventValidationError,
    IncompatiblePartitionMappingError,
    InfrastructureError,
    InvalidPartitionKeyError,
    LocationLoadError,
    SelectionError,
    StateDirError,
    UnknownDependencyError,
    UserCodeError,
)
from conflux.events._models import (
    EVENT_TYPES,
    AnyEvent,
    AssetMaterialized,
    ComponentHeartbeat,
    DefinitionsPublished,
    LocationLoadFailed,
    MaterializationRequested,
    PartitionFailed,
    PartitionRange,
    PartitionStarted,
    RecordDeadLettered,
    RunCompleted,
    RunStarted,
    UpstreamRef,
    WorkItemDispatched,
    WorkItemSkipped,
)
from conflux.events._serde import decode_event, encode_event, register_upcaster
from conflux.events._snapshot import (
    AllMappingSnapshot,
    AssetDepSnapshot,
    AssetSnapshot,
    DynamicPartitionsSnapshot,
    IdentityMappingSnapshot,
    LastMappingSnapshot,
    LocationSnapshot,
    MultiPartitionsSnapshot,
    PartitionMappingSnapshot,
    PartitionsSnapshot,
    StaticPartitionsSnapshot,
    TimeWindowMappingSnapshot,
    TimeWindowPartitionsSnapshot,
)
from conflux.events._topics import Topics, TopicSpec, asset_partition_key

if TYPE_CHECKING:
    from conflux.events._kafka import (
        ConsumedEvent,
        EventConsumer,
        EventProducer,
        ensure_topics,
        kafka_config,
        wait_for_broker,
    )

_LAZY = {
    "ConsumedEvent": "conflux.events._kafka",
    "EventConsumer": "conflux.events._kafka",
    "EventProducer": "conflux.events._kafka",
    "ensure_topics": "conflux.events._kafka",
    "kafka_config": "conflux.events._kafka",
    "wait_for_broker": "conflux.events._kafka",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    # envelope and ids
    "Event",
    "derived_id",
    "new_id",
    "utcnow",
    # events
    "EVENT_TYPES",
    "AnyEvent",
    "AssetMaterialized",
    "ComponentHeartbeat",
    "DefinitionsPublished",
    "LocationLoadFailed",
    "MaterializationRequested",
    "PartitionFailed",
    "PartitionRange",
    "PartitionStarted",
    "RecordDeadLettered",
    "RunCompleted",
    "RunStarted",
    "UpstreamRef",
    "WorkItemDispatched",
    "WorkItemSkipped",
    # snapshots
    "AllMappingSnapshot",
    "AssetDepSnapshot",
    "AssetSnapshot",
    "DynamicPartitionsSnapshot",
    "IdentityMappingSnapshot",
    "LastMappingSnapshot",
    "LocationSnapshot",
    "MultiPartitionsSnapshot",
    "PartitionMappingSnapshot",
    "PartitionsSnapshot",
    "StaticPartitionsSnapshot",
    "TimeWindowMappingSnapshot",
    "TimeWindowPartitionsSnapshot",
    # serialization and topics
    "TopicSpec",
    "Topics",
    "asset_partition_key",
    "decode_event",
    "encode_event",
    "register_upcaster",
    # kafka (lazy)
    "ConsumedEvent",
    "EventConsumer",
    "EventProducer",
    "ensure_topics",
    "kafka_config",
    "wait_for_broker",
    # errors
    "ApiUnavailableError",
    "BrokerStartError",
    "BrokerUnavailableError",
    "ConfluxError",
    "DefinitionError",
    "DependencyCycleError",
    "DuplicateAssetKeyError",
    "EventValidationError",
    "IncompatiblePartitionMappingError",
    "InfrastructureError",
    "InvalidPartitionKeyError",
    "LocationLoadError",
    "SelectionError",
    "StateDirError",
    "UnknownDependencyError",
    "UserCodeError",
]
