"""The event contract: models, envelope, topics, serialization, Kafka clients, brokers.

Kafka clients (`EventProducer`, `EventConsumer`, `kafka_config`) and the local brokers
(`conflux.events.brokers`) import confluent-kafka lazily: importing the models costs
pydantic only.

Every name loads on first use (`__getattr__`), so `from conflux.events import
DefinitionError` costs neither pydantic models nor Kafka.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux._lazy import lazy_exports

if TYPE_CHECKING:
    from conflux.events._base import (
        Event,
        derived_id,
        new_id,
        utcnow,
    )
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
    from conflux.events._kafka import (
        ConsumedEvent,
        EventConsumer,
        EventProducer,
        ensure_topics,
        kafka_config,
        wait_for_broker,
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
    from conflux.events._serde import (
        decode_event,
        encode_event,
        register_upcaster,
    )
    from conflux.events._snapshot import (
        AllMappingSnapshot,
        DimensionMappingSnapshot,
        AssetDepSnapshot,
        AssetSnapshot,
        DynamicPartitionsSnapshot,
        IdentityMappingSnapshot,
        LastMappingSnapshot,
        MultiMappingSnapshot,
        MultiToSingleDimensionMappingSnapshot,
        LocationSnapshot,
        MultiPartitionsSnapshot,
        PartitionMappingSnapshot,
        PartitionsSnapshot,
        StaticPartitionsSnapshot,
        TimeWindowMappingSnapshot,
        TimeWindowPartitionsSnapshot,
    )
    from conflux.events._topics import (
        Topics,
        TopicSpec,
        asset_partition_key,
    )

_WHERE: dict[str, str] = {
    "AllMappingSnapshot": "conflux.events._snapshot",
    "DimensionMappingSnapshot": "conflux.events._snapshot",
    "AnyEvent": "conflux.events._models",
    "ApiUnavailableError": "conflux.events._errors",
    "AssetDepSnapshot": "conflux.events._snapshot",
    "AssetMaterialized": "conflux.events._models",
    "AssetSnapshot": "conflux.events._snapshot",
    "BrokerStartError": "conflux.events._errors",
    "BrokerUnavailableError": "conflux.events._errors",
    "ComponentHeartbeat": "conflux.events._models",
    "ConfluxError": "conflux.events._errors",
    "ConsumedEvent": "conflux.events._kafka",
    "DefinitionError": "conflux.events._errors",
    "DefinitionsPublished": "conflux.events._models",
    "DependencyCycleError": "conflux.events._errors",
    "DuplicateAssetKeyError": "conflux.events._errors",
    "DynamicPartitionsSnapshot": "conflux.events._snapshot",
    "EVENT_TYPES": "conflux.events._models",
    "Event": "conflux.events._base",
    "EventConsumer": "conflux.events._kafka",
    "EventProducer": "conflux.events._kafka",
    "EventValidationError": "conflux.events._errors",
    "IdentityMappingSnapshot": "conflux.events._snapshot",
    "IncompatiblePartitionMappingError": "conflux.events._errors",
    "InfrastructureError": "conflux.events._errors",
    "InvalidPartitionKeyError": "conflux.events._errors",
    "LastMappingSnapshot": "conflux.events._snapshot",
    "MultiMappingSnapshot": "conflux.events._snapshot",
    "MultiToSingleDimensionMappingSnapshot": "conflux.events._snapshot",
    "LocationLoadError": "conflux.events._errors",
    "LocationLoadFailed": "conflux.events._models",
    "LocationSnapshot": "conflux.events._snapshot",
    "MaterializationRequested": "conflux.events._models",
    "MultiPartitionsSnapshot": "conflux.events._snapshot",
    "PartitionFailed": "conflux.events._models",
    "PartitionMappingSnapshot": "conflux.events._snapshot",
    "PartitionRange": "conflux.events._models",
    "PartitionStarted": "conflux.events._models",
    "PartitionsSnapshot": "conflux.events._snapshot",
    "RecordDeadLettered": "conflux.events._models",
    "RunCompleted": "conflux.events._models",
    "RunStarted": "conflux.events._models",
    "SelectionError": "conflux.events._errors",
    "StateDirError": "conflux.events._errors",
    "StaticPartitionsSnapshot": "conflux.events._snapshot",
    "TimeWindowMappingSnapshot": "conflux.events._snapshot",
    "TimeWindowPartitionsSnapshot": "conflux.events._snapshot",
    "TopicSpec": "conflux.events._topics",
    "Topics": "conflux.events._topics",
    "UnknownDependencyError": "conflux.events._errors",
    "UpstreamRef": "conflux.events._models",
    "UserCodeError": "conflux.events._errors",
    "WorkItemDispatched": "conflux.events._models",
    "WorkItemSkipped": "conflux.events._models",
    "asset_partition_key": "conflux.events._topics",
    "decode_event": "conflux.events._serde",
    "derived_id": "conflux.events._base",
    "encode_event": "conflux.events._serde",
    "ensure_topics": "conflux.events._kafka",
    "kafka_config": "conflux.events._kafka",
    "new_id": "conflux.events._base",
    "register_upcaster": "conflux.events._serde",
    "utcnow": "conflux.events._base",
    "wait_for_broker": "conflux.events._kafka",
}
"""Public name -> the private module that defines it (loaded on first use)."""


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

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
    "DimensionMappingSnapshot",
    "AssetDepSnapshot",
    "AssetSnapshot",
    "DynamicPartitionsSnapshot",
    "IdentityMappingSnapshot",
    "LastMappingSnapshot",
    "MultiMappingSnapshot",
    "MultiToSingleDimensionMappingSnapshot",
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
