"""The topic catalog: which topic each event goes to, and its key (rule 3).

Every event about one asset partition is keyed by `asset_key#partition_key`, so it lands
in one Kafka partition and keeps its order; run events are keyed by run id; definitions
by location. A `Topics` carries a prefix, so several systems (or tests) share a broker.
"""

from __future__ import annotations

from dataclasses import dataclass

from conflux.events._base import Event  # noqa: TC001 - isinstance/pydantic at runtime
from conflux.events._models import (
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    AutomationEvaluated,
    BackfillCanceled,
    BackfillCompleted,
    BackfillRequested,
    ComponentHeartbeat,
    DefinitionsPublished,
    DynamicPartitionsAdded,
    DynamicPartitionsDeleted,
    EpochMarked,
    InstigatorStatusChanged,
    LeadershipClaimed,
    LocationLoadFailed,
    LocationReloadRequested,
    MaterializationRequested,
    PartitionFailed,
    PartitionStarted,
    RecordDeadLettered,
    RunCompleted,
    RunHeld,
    RunStarted,
    SensorCursorSet,
    TickCompleted,
    TickRequested,
    WorkItemAbandoned,
    WorkItemDispatched,
    WorkItemSkipped,
)
from conflux.events._run_logs import LogLinesCaptured


def asset_partition_key(asset_key: str, partition_key: str | None) -> str:
    """The record key of every event about one asset partition."""
    return f"{asset_key}#{partition_key}" if partition_key is not None else asset_key


@dataclass(frozen=True)
class TopicSpec:
    """A topic's name and the number of Kafka partitions it is created with."""

    name: str
    partitions: int


@dataclass(frozen=True)
class Topics:
    """The topic names of one Conflux system."""

    prefix: str = "conflux"

    @property
    def definitions(self) -> str:
        """Location snapshots, failures, reload requests (by location); dynamic keys (by name)."""
        return f"{self.prefix}.definitions"

    @property
    def requests(self) -> str:
        """Materialization requests, keyed by run id."""
        return f"{self.prefix}.requests"

    @property
    def runs(self) -> str:
        """Run lifecycle and dispatch decisions, keyed by run id."""
        return f"{self.prefix}.runs"

    @property
    def assets(self) -> str:
        """Asset partition events (started, materialized, observed, failed, checked).

        Keyed by asset partition.
        """
        return f"{self.prefix}.assets"

    @property
    def ticks(self) -> str:
        """Schedule and sensor ticks, status and cursors; automation evaluations.

        Instigator events are keyed by the instigator's name, automation evaluations by
        asset partition.
        """
        return f"{self.prefix}.ticks"

    @property
    def heartbeats(self) -> str:
        """Liveness of coordinator, projector and workers, keyed by instance."""
        return f"{self.prefix}.heartbeats"

    @property
    def logs(self) -> str:
        """What attempts wrote (`LogLinesCaptured`), keyed like their asset events.

        Apart from every topic a fold reads: no decision waits behind a chatty asset.
        """
        return f"{self.prefix}.logs"

    @property
    def dlq(self) -> str:
        """Records that failed validation, keyed by their source topic."""
        return f"{self.prefix}.dlq"

    @property
    def leader(self) -> str:
        """Leadership claims (one partition); its consumer group picks the claimant.

        Not a core topic: coordinators create it, and nothing else reads it (the claims'
        consequences, the epoch marks, are in the topics the leader writes).
        """
        return f"{self.prefix}.leader"

    def leader_spec(self) -> TopicSpec:
        """The spec of the leader topic: one partition, so that one member owns it."""
        return TopicSpec(self.leader, 1)

    def work(self, location: str) -> str:
        """A location's work topic: the work items its workers consume."""
        return f"{self.prefix}.work.{location}"

    def tick_requests(self, location: str) -> str:
        """A location's tick-request topic: the ticks its workers evaluate.

        Apart from the work topic, so that no tick waits behind asset work.
        """
        return f"{self.prefix}.ticks.{location}"

    def tick_requests_spec(self, location: str) -> TopicSpec:
        """The spec of a location's tick-request topic."""
        return TopicSpec(self.tick_requests(location), 1)

    def core(self) -> list[TopicSpec]:
        """The topics every system has (work topics are created per location)."""
        return [
            TopicSpec(self.definitions, 1),
            TopicSpec(self.requests, 3),
            TopicSpec(self.runs, 3),
            TopicSpec(self.assets, 6),
            TopicSpec(self.ticks, 3),
            TopicSpec(self.heartbeats, 1),
            TopicSpec(self.dlq, 1),
            self.logs_spec(),
        ]

    def logs_spec(self) -> TopicSpec:
        """The spec of the logs topic.

        Workers and the projector make sure it exists: a system made before run logs has
        every other core topic.
        """
        return TopicSpec(self.logs, 6)

    def work_spec(self, location: str) -> TopicSpec:
        """The spec of a location's work topic."""
        return TopicSpec(self.work(location), 6)

    def route(self, event: Event) -> tuple[str, str]:
        """The (topic, key) an event is produced to.

        `WorkItemDispatched` routes to the runs topic (the decision); the dispatcher also
        writes it to `work(location)` for delivery. Likewise `TickRequested` routes to the
        ticks topic and is delivered on `tick_requests(location)`.
        """
        match event:
            case DefinitionsPublished() | LocationLoadFailed() | LocationReloadRequested():
                return self.definitions, event.location
            case MaterializationRequested():
                return self.requests, event.run_id
            case (
                RunStarted()
                | WorkItemDispatched()
                | WorkItemSkipped()
                | RunHeld()
                | RunCompleted()
                | WorkItemAbandoned()
            ):
                return self.runs, event.run_id
            case BackfillRequested() | BackfillCanceled():
                return self.requests, event.backfill_id
            case BackfillCompleted():
                return self.runs, event.backfill_id
            case (
                PartitionStarted()
                | AssetMaterialized()
                | AssetObserved()
                | PartitionFailed()
                | AssetCheckEvaluated()
            ):
                return self.assets, asset_partition_key(event.asset_key, event.partition_key)
            case InstigatorStatusChanged() | TickRequested() | TickCompleted():
                return self.ticks, event.name
            case SensorCursorSet():
                return self.ticks, event.name
            case AutomationEvaluated():
                return self.ticks, asset_partition_key(event.asset_key, event.partition_key)
            case ComponentHeartbeat():
                return self.heartbeats, event.instance_id
            case RecordDeadLettered():
                return self.dlq, event.source_topic
            case DynamicPartitionsAdded() | DynamicPartitionsDeleted():
                return self.definitions, event.partitions_def_name
            case EpochMarked():
                from conflux.events._epochs import mark_key

                return event.topic, mark_key(event.partition, event.partitions)
            case LeadershipClaimed():
                return self.leader, "leader"
            case LogLinesCaptured():
                return self.logs, asset_partition_key(event.asset_key, event.partition_key)
        raise TypeError(f"no topic for event type {type(event).__name__}")
