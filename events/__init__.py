"""The event contract: models, envelope, topics, serialization, Kafka clients, brokers.

Kafka clients (`EventProducer`, `EventConsumer`, `kafka_config`) and the local brokers
(`conflux.events.brokers`) import confluent-kafka lazily: importing the models costs
pydantic only.

Every name loads on first use (`__getattr__`), so `from conflux.events import
DefinitionError` costs neither pydantic models nor Kafka.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux._lazy import lazy_package

if TYPE_CHECKING:
    from conflux.events._admin import (
        BrokerInfo as BrokerInfo,
        await_topics as await_topics,
        describe_brokers as describe_brokers,
        ensure_topics as ensure_topics,
        kafka_config as kafka_config,
        partition_counts as partition_counts,
        wait_for_broker as wait_for_broker,
    )
    from conflux.events._base import (
        Event as Event,
        derived_id as derived_id,
        new_id as new_id,
        utcnow as utcnow,
    )
    from conflux.events._consumer import (
        ConsumedEvent as ConsumedEvent,
        EventConsumer as EventConsumer,
    )
    from conflux.events._cron import (
        CRON_NICKNAMES as CRON_NICKNAMES,
        expand_cron as expand_cron,
    )
    from conflux.events._epochs import (
        DECIDER as DECIDER,
        DECISION_TYPES as DECISION_TYPES,
        FENCED_TYPES as FENCED_TYPES,
        EpochFence as EpochFence,
        decision_epoch as decision_epoch,
        mark_id as mark_id,
        mark_key as mark_key,
        murmur2 as murmur2,
        partition_for as partition_for,
    )
    from conflux.events._errors import (
        ApiUnavailableError as ApiUnavailableError,
        BrokerStartError as BrokerStartError,
        BrokerUnavailableError as BrokerUnavailableError,
        ConflictingDependencyError as ConflictingDependencyError,
        ConfluxError as ConfluxError,
        DagsterError as DagsterError,
        DagsterInvalidDefinitionError as DagsterInvalidDefinitionError,
        DagsterInvalidInvocationError as DagsterInvalidInvocationError,
        DagsterInvariantViolationError as DagsterInvariantViolationError,
        DagsterUnknownPartitionError as DagsterUnknownPartitionError,
        DefinitionError as DefinitionError,
        DependencyCycleError as DependencyCycleError,
        DuplicateAssetKeyError as DuplicateAssetKeyError,
        EventValidationError as EventValidationError,
        IncompatiblePartitionMappingError as IncompatiblePartitionMappingError,
        InfrastructureError as InfrastructureError,
        InvalidInvocationError as InvalidInvocationError,
        InvalidPartitionKeyError as InvalidPartitionKeyError,
        InvariantViolationError as InvariantViolationError,
        LocationLoadError as LocationLoadError,
        SelectionError as SelectionError,
        StateDirError as StateDirError,
        UnknownDependencyError as UnknownDependencyError,
        UserCodeError as UserCodeError,
    )
    from conflux.events._logging import (
        JsonFormatter as JsonFormatter,
        log_context as log_context,
    )
    from conflux.events._metrics import (
        DURATION_BUCKETS as DURATION_BUCKETS,
        LATENCY_BUCKETS as LATENCY_BUCKETS,
        METRICS_CONTENT_TYPE as METRICS_CONTENT_TYPE,
        FoldSeries as FoldSeries,
        MetricsServer as MetricsServer,
        MetricsUnavailableError as MetricsUnavailableError,
        new_registry as new_registry,
        render_metrics as render_metrics,
    )
    from conflux.events._models import (
        EVENT_TYPES as EVENT_TYPES,
        AnyEvent as AnyEvent,
        AssetCheckEvaluated as AssetCheckEvaluated,
        AssetMaterialized as AssetMaterialized,
        AssetObserved as AssetObserved,
        AutomationEvaluated as AutomationEvaluated,
        BackfillCanceled as BackfillCanceled,
        BackfillCompleted as BackfillCompleted,
        BackfillRequested as BackfillRequested,
        ComponentHeartbeat as ComponentHeartbeat,
        ConditionResult as ConditionResult,
        CustomConditionResult as CustomConditionResult,
        DefinitionsPublished as DefinitionsPublished,
        DynamicPartitionsAdded as DynamicPartitionsAdded,
        DynamicPartitionsChange as DynamicPartitionsChange,
        DynamicPartitionsDeleted as DynamicPartitionsDeleted,
        EpochMarked as EpochMarked,
        InstigatorStatusChanged as InstigatorStatusChanged,
        LeadershipClaimed as LeadershipClaimed,
        LocationLoadFailed as LocationLoadFailed,
        LocationReloadRequested as LocationReloadRequested,
        MaterializationRequested as MaterializationRequested,
        PartitionFailed as PartitionFailed,
        PartitionRange as PartitionRange,
        PartitionStarted as PartitionStarted,
        RecordDeadLettered as RecordDeadLettered,
        RunCompleted as RunCompleted,
        RunHeld as RunHeld,
        RunRequestSpec as RunRequestSpec,
        RunStarted as RunStarted,
        SensorAssetEvent as SensorAssetEvent,
        SensorCursorSet as SensorCursorSet,
        TickCompleted as TickCompleted,
        TickRequested as TickRequested,
        UpstreamRef as UpstreamRef,
        WorkItemAbandoned as WorkItemAbandoned,
        WorkItemDispatched as WorkItemDispatched,
        WorkItemSkipped as WorkItemSkipped,
    )
    from conflux.events._partition_keys import (
        MAX_PARTITION_KEY_LENGTH as MAX_PARTITION_KEY_LENGTH,
        abbreviate_key as abbreviate_key,
        check_dynamic_partition_key as check_dynamic_partition_key,
        check_dynamic_partitions_name as check_dynamic_partitions_name,
        dynamic_partition_key_problem as dynamic_partition_key_problem,
        dynamic_partitions_name_problem as dynamic_partitions_name_problem,
        partition_key_length_problem as partition_key_length_problem,
    )
    from conflux.events._producer import (
        EventProducer as EventProducer,
    )
    from conflux.events._run_logs import (
        LogLinesCaptured as LogLinesCaptured,
        LogStream as LogStream,
    )
    from conflux.events._serde import (
        UPCASTERS as UPCASTERS,
        decode_event as decode_event,
        encode_event as encode_event,
        may_need_upcasting as may_need_upcasting,
        register_upcaster as register_upcaster,
        upcast as upcast,
    )
    from conflux.events._snapshot import (
        AllMappingSnapshot as AllMappingSnapshot,
        AssetCheckSnapshot as AssetCheckSnapshot,
        AssetDepSnapshot as AssetDepSnapshot,
        AssetSnapshot as AssetSnapshot,
        AutomationConditionKind as AutomationConditionKind,
        AutomationConditionSnapshot as AutomationConditionSnapshot,
        BackfillPolicySnapshot as BackfillPolicySnapshot,
        DimensionMappingSnapshot as DimensionMappingSnapshot,
        DynamicPartitionsSnapshot as DynamicPartitionsSnapshot,
        FreshnessCheckSnapshot as FreshnessCheckSnapshot,
        IdentityMappingSnapshot as IdentityMappingSnapshot,
        LastMappingSnapshot as LastMappingSnapshot,
        LocationSnapshot as LocationSnapshot,
        MultiMappingSnapshot as MultiMappingSnapshot,
        MultiPartitionsSnapshot as MultiPartitionsSnapshot,
        MultiToSingleDimensionMappingSnapshot as MultiToSingleDimensionMappingSnapshot,
        PartitionMappingSnapshot as PartitionMappingSnapshot,
        PartitionsSnapshot as PartitionsSnapshot,
        RetryPolicySnapshot as RetryPolicySnapshot,
        ScheduleSnapshot as ScheduleSnapshot,
        SensorSnapshot as SensorSnapshot,
        SpecificPartitionsMappingSnapshot as SpecificPartitionsMappingSnapshot,
        StaticMappingSnapshot as StaticMappingSnapshot,
        StaticPartitionsSnapshot as StaticPartitionsSnapshot,
        TimeWindowMappingSnapshot as TimeWindowMappingSnapshot,
        TimeWindowPartitionsSnapshot as TimeWindowPartitionsSnapshot,
    )
    from conflux.events._topics import (
        Topics as Topics,
        TopicSpec as TopicSpec,
        asset_partition_key as asset_partition_key,
    )

__getattr__, __dir__ = lazy_package(__name__)
