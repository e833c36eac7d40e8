"""Every Conflux event, and the discriminated union `AnyEvent` that parses them all."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from conflux.events._base import Event
from conflux.events._partition_keys import (
    dynamic_partition_key_problem,
    dynamic_partitions_name_problem,
)
from conflux.events._run_logs import LogLinesCaptured
from conflux.events._snapshot import LocationSnapshot


class UpstreamRef(BaseModel):
    """One upstream asset partition as read by a materialization: the lineage edge."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    asset_key: str
    partition_key: str | None = None
    data_version: str | None = None
    """The upstream's data version at read time; None if it was never materialized."""
    event_id: str | None = None
    """The id of the upstream's `AssetMaterialized` event that was read."""


class PartitionRange(BaseModel):
    """An inclusive range of partition keys, expanded by the coordinator."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    start: str
    end: str


# -- code locations -------------------------------------------------------------------


class DefinitionsPublished(Event):
    """A location's workers loaded its code and publish what it defines."""

    type: Literal["DefinitionsPublished"] = "DefinitionsPublished"
    location: str
    snapshot_id: str
    """Hash of the snapshot: equal snapshots have equal ids."""
    snapshot: LocationSnapshot


class LocationLoadFailed(Event):
    """A location's code could not be loaded; the location is down, others go on."""

    type: Literal["LocationLoadFailed"] = "LocationLoadFailed"
    location: str
    error_type: str
    message: str
    traceback: str = ""


class LocationReloadRequested(Event):
    """Somebody asked for a location's workers to load its code again.

    `conflux dev` restarts the location's worker processes when it sees this; in a real
    deployment the event is the audit record, and the location's process manager does the
    restart. The restarted workers publish a new `DefinitionsPublished` (or
    `LocationLoadFailed`), which is what changes the system's definitions.
    """

    type: Literal["LocationReloadRequested"] = "LocationReloadRequested"
    location: str
    requested_by: str = ""


# -- requests and runs ----------------------------------------------------------------


class MaterializationRequested(Event):
    """Somebody asked for assets (and partitions) to be materialized; a run follows."""

    type: Literal["MaterializationRequested"] = "MaterializationRequested"
    epoch: int | None = None
    """The leadership epoch of the coordinator that decided it; None when a person or a
    worker made it (a coordinator's without one is of epoch 0, before leadership)."""
    run_id: str
    selection: str
    """The selection as the requester wrote it (for audit)."""
    asset_keys: tuple[str, ...]
    """The selection resolved to asset keys."""
    partition_keys: tuple[str, ...] | None = None
    """Explicit partition keys; None with no range means unpartitioned or every asset's
    only partition."""
    partition_range: PartitionRange | None = None
    """An inclusive range of keys, instead of explicit keys."""
    requested_by: str = ""
    """The user or system that asked (e.g. `$USER` for the CLI)."""
    tags: dict[str, str] = Field(default_factory=dict)
    run_config: dict[str, JsonValue] | None = None
    """The run's config in Dagster's shape (`{"ops": {asset: {"config": {...}}},
    "resources": {...}}`); the coordinator copies it onto each work item unread (it
    imports no user code) and the worker builds each asset's `Config` from its part.
    Optional and absent from older records, so no schema version change."""


class RunStarted(Event):
    """The coordinator accepted a request and planned its work."""

    type: Literal["RunStarted"] = "RunStarted"
    epoch: int = 0
    """The leadership epoch of the coordinator that decided it (0: before leadership)."""
    run_id: str
    asset_keys: tuple[str, ...]
    partition_count: int
    """Number of (asset, partition) pairs the run covers."""
    trigger: str = "manual"


class WorkItemDispatched(Event):
    """The coordinator handed one node x partition (or x range) to a location's workers.

    The same event (same id) is written to the run's topic (the decision, for folds) and
    to the location's work topic (the delivery, for workers).
    """

    type: Literal["WorkItemDispatched"] = "WorkItemDispatched"
    epoch: int = 0
    """The leadership epoch of the coordinator that decided it (0: before leadership)."""
    work_item_id: str
    """Deterministic: (run, node, partition); the attempt is separate."""
    run_id: str
    location: str
    node: str
    asset_keys: tuple[str, ...]
    partition_key: str | None = None
    """The partition; None for unpartitioned nodes and for ranged items."""
    attempt: int = 1
    upstream: tuple[UpstreamRef, ...] = ()
    """The upstream asset partitions to read, with their data versions at dispatch (for a
    ranged item: what any partition of the range reads, each once)."""
    partition_range: PartitionRange | None = None
    """A ranged item (an asset with a `BackfillPolicy`): the first and last key of the
    consecutive partitions it covers, in the definition's key order; executed in one call."""
    partition_count: int = 1
    """How many partitions the item covers (1 unless ranged)."""
    partition_keys: tuple[str, ...] | None = None
    """A ranged item's keys, listed only when the worker cannot expand the range itself
    (dynamic partitions, whose keys live in the log); None otherwise."""
    run_config: dict[str, JsonValue] | None = None
    """The run's config, as requested (see `MaterializationRequested.run_config`)."""
    tags: dict[str, str] = Field(default_factory=dict)
    """The run's tags, as requested: what `context.run.tags` shows where the item runs."""
    upstream_spans: tuple[tuple[int, ...], ...] = ()
    """A ranged item's lineage: per partition of the range, in order, the half-open index
    spans `lo, hi, lo, hi, ...` of `upstream` that partition reads (empty when not ranged,
    or when it reads nothing)."""


class WorkItemSkipped(Event):
    """A planned work item will not run, because an upstream failed in the same run."""

    type: Literal["WorkItemSkipped"] = "WorkItemSkipped"
    epoch: int = 0
    """The leadership epoch of the coordinator that decided it (0: before leadership)."""
    work_item_id: str
    run_id: str
    asset_keys: tuple[str, ...]
    partition_key: str | None = None
    reason: str
    partition_range: PartitionRange | None = None
    """For a ranged item: the range it covers (see `WorkItemDispatched`)."""
    partition_count: int = 1
    """How many partitions the item covers."""


class RunHeld(Event):
    """A run's ready work waits, because its code location is down.

    The coordinator emits one per run, location and outage (its `causation_id` is the
    location's `LocationLoadFailed`), and dispatches the work once the location loads
    again: the request is neither lost nor silently stuck.
    """

    type: Literal["RunHeld"] = "RunHeld"
    epoch: int = 0
    """The leadership epoch of the coordinator that decided it (0: before leadership)."""
    run_id: str
    location: str
    reason: str
    """For people: which location, why it is down, and what happens next."""


class RunCompleted(Event):
    """A run ended: every work item materialized, failed or was skipped."""

    type: Literal["RunCompleted"] = "RunCompleted"
    epoch: int = 0
    """The leadership epoch of the coordinator that decided it (0: before leadership)."""
    run_id: str
    status: Literal["success", "failed", "canceled"]
    materialized: int = 0
    failed: int = 0
    skipped: int = 0
    reason: str | None = None
    """Why the run failed, when it failed before any work (e.g. an unknown asset)."""


class WorkItemAbandoned(Event):
    """The coordinator gave up on one attempt of a work item: its worker went silent.

    The attempt is fenced: an outcome it reports later does not count for the run. The
    item is dispatched again (a new attempt) unless its attempts are used up.
    """

    type: Literal["WorkItemAbandoned"] = "WorkItemAbandoned"
    epoch: int = 0
    """The leadership epoch of the coordinator that decided it (0: before leadership)."""
    work_item_id: str
    run_id: str
    asset_keys: tuple[str, ...]
    partition_key: str | None = None
    attempt: int
    worker_id: str | None = None
    reason: str
    partition_range: PartitionRange | None = None
    """For a ranged item: the range it covers (see `WorkItemDispatched`)."""
    partition_count: int = 1
    """How many partitions the item covers."""


# -- backfills --------------------------------------------------------------------------


class BackfillRequested(Event):
    """Somebody asked for a range (or a list) of partitions of a selection, filled lazily.

    One event for the whole backfill: the coordinator walks the partition space with a
    cursor and requests one chunk at a time (a `MaterializationRequested` per chunk, tagged
    with the backfill id), so a million partitions never become a million requests.
    """

    type: Literal["BackfillRequested"] = "BackfillRequested"
    backfill_id: str
    selection: str
    asset_keys: tuple[str, ...]
    partition_keys: tuple[str, ...] | None = None
    partition_range: PartitionRange | None = None
    only: Literal["all", "missing", "failed"] = "all"
    """`missing`: skip partitions already materialized; `failed`: only those whose latest
    attempt failed. Read when each chunk is requested."""
    requested_by: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class BackfillCanceled(Event):
    """Stop requesting the backfill's partitions; what is running finishes."""

    type: Literal["BackfillCanceled"] = "BackfillCanceled"
    backfill_id: str
    requested_by: str = ""


class BackfillCompleted(Event):
    """A backfill ended: every chunk completed, or it was canceled and drained."""

    type: Literal["BackfillCompleted"] = "BackfillCompleted"
    epoch: int = 0
    """The leadership epoch of the coordinator that decided it (0: before leadership)."""
    backfill_id: str
    status: Literal["success", "failed", "canceled"]
    chunks: int = 0
    materialized: int = 0
    failed: int = 0
    skipped: int = 0
    reason: str | None = None


# -- asset partitions -----------------------------------------------------------------


class _AttemptEvent(Event):
    """What a worker reports about its attempt at one work item, for one asset partition.

    `AssetMaterialized` carries the same fields, optionally: a reported materialization
    (`conflux report`) belongs to no attempt.
    """

    asset_key: str
    partition_key: str | None = None
    run_id: str
    work_item_id: str
    worker_id: str
    attempt: int = 1


class PartitionStarted(_AttemptEvent):
    """A worker began executing an asset partition."""

    type: Literal["PartitionStarted"] = "PartitionStarted"


class AssetMaterialized(Event):
    """An asset partition now holds new data: executed by a worker, or reported."""

    type: Literal["AssetMaterialized"] = "AssetMaterialized"
    asset_key: str
    partition_key: str | None = None
    data_version: str
    code_version: str | None = None
    source: Literal["executed", "reported"] = "executed"
    upstream: tuple[UpstreamRef, ...] = ()
    """What it read (the lineage): upstream asset partitions and their data versions."""
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    run_id: str | None = None
    work_item_id: str | None = None
    worker_id: str | None = None
    attempt: int | None = None
    duration_ms: float | None = None
    log_lines: int | None = None
    """Lines the attempt wrote and the archive keeps (`conflux logs RUN_ID`); None: none
    were captured (a report, `materialize()`, or an event from before run logs)."""
    log_dropped: int | None = None
    """Lines the attempt wrote past the worker's cap: counted, not kept."""


class AssetObserved(Event):
    """An asset partition was observed: its data version (and metadata) seen, not produced.

    Dagster's `AssetObservation`: an observable source asset's function, a sensor's
    `SensorResult(asset_events=[AssetObservation(...)])` or a report records what is there
    without materializing it. Nothing is planned from it and it does not make the
    partition materialized; a new data version counts as an update of an observable
    source for automation (`newly_updated`, `data_version_changed`). Keyed like a
    materialization of the same asset partition.
    """

    type: Literal["AssetObserved"] = "AssetObserved"
    asset_key: str
    partition_key: str | None = None
    data_version: str | None = None
    """The observed data version (None: the observation carries none)."""
    description: str | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    source: Literal["executed", "reported", "sensor"] = "reported"
    """`executed`: an observable source's function in a work item; `sensor`: a sensor
    tick's asset events; `reported`: from outside (the CLI or an API)."""
    run_id: str | None = None
    work_item_id: str | None = None
    """The work item that ran the observation function (it completes that item)."""
    worker_id: str | None = None
    attempt: int | None = None
    tick_id: str | None = None
    """The sensor tick that reported it, if any."""


class PartitionFailed(_AttemptEvent):
    """An asset partition's execution raised; the work item failed."""

    type: Literal["PartitionFailed"] = "PartitionFailed"
    error_type: str
    message: str
    traceback: str = ""
    retry_requested: int | None = None
    """The asset raised `RetryRequested(max_retries=N)`: retried up to N times even without
    a retry policy (None: it did not)."""
    retry_after_s: float | None = None
    """With `retry_requested`: seconds to wait before the next attempt."""
    log_lines: int | None = None
    """Lines the attempt wrote and the archive keeps (`conflux logs RUN_ID`); None: none
    were captured (`materialize()`, or an event from before run logs)."""
    log_dropped: int | None = None
    """Lines the attempt wrote past the worker's cap: counted, not kept."""


# -- liveness and dead letters --------------------------------------------------------


class ComponentHeartbeat(Event):
    """A part of the system is alive (and says whether it is ready)."""

    type: Literal["ComponentHeartbeat"] = "ComponentHeartbeat"
    component: Literal["coordinator", "projector", "worker"]
    instance_id: str
    location: str | None = None
    ready: bool = True
    work_item_id: str | None = None
    """For workers: the work item being executed, if any."""
    interval_s: float = 2.0
    """How often this component beats; readers call it gone after a few missed beats."""
    pid: int | None = None
    """The process id on its host (None: a beat from before it was reported)."""
    role: Literal["active", "standby"] | None = None
    """Coordinators: `active` decides, `standby` folds the log and waits to take over
    (None: a coordinator from before leadership, which always decides)."""
    epoch: int | None = None
    """Coordinators: the leadership epoch it decides under (active), or the latest one it
    has seen (standby)."""
    metrics_port: int | None = None
    """The port where it serves `/metrics` on its host (None: it serves none, or a beat
    from before metrics)."""


class RecordDeadLettered(Event):
    """A record failed validation; it is kept here, with the reason, instead of lost."""

    type: Literal["RecordDeadLettered"] = "RecordDeadLettered"
    source_topic: str
    source_partition: int
    source_offset: int
    key: str | None = None
    value: str
    """The record's value as UTF-8 (base64 if `value_base64`); only its first
    `DEAD_LETTER_VALUE_BYTES` bytes when `value_size` is set."""
    value_base64: bool = False
    reason: str
    value_size: int | None = None
    """The value's full size in bytes, when it was too large to keep whole: a dead letter
    must fit on the dead-letter topic whatever the record that caused it."""


# -- dynamic partitions ---------------------------------------------------------------


def _dynamic_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    for key in keys:
        # Not the length bound: it holds for new keys only (see `_partition_keys`).
        problem = dynamic_partition_key_problem(key, new=False)
        if problem is not None:
            raise ValueError(problem)  # pydantic reports it: the record is dead-lettered
    return keys


def _dynamic_name(name: str) -> str:
    problem = dynamic_partitions_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


class DynamicPartitionsAdded(Event):
    """Keys were added to a `DynamicPartitionsDefinition` (by name).

    Folded by the definitions projection: a key takes its place at the end of the key
    order the first time it is added (again after a removal); adding a key that is there
    changes nothing. Routed to the definitions topic, keyed by the name.
    """

    type: Literal["DynamicPartitionsAdded"] = "DynamicPartitionsAdded"
    partitions_def_name: Annotated[str, AfterValidator(_dynamic_name)]
    partition_keys: Annotated[tuple[str, ...], Field(min_length=1), AfterValidator(_dynamic_keys)]
    """The keys, in the order to add them (non-empty, no `|` or `,`, no surrounding spaces)."""
    requested_by: str = ""
    """The user or system that asked (e.g. `$USER` for the CLI)."""


class DynamicPartitionsDeleted(Event):
    """Keys were removed from a `DynamicPartitionsDefinition` (by name).

    Removing a key that is not there changes nothing. The history of a removed key
    (its materializations, runs and lineage) stays in the log and the archive; views of
    the current partition space no longer list it.
    """

    type: Literal["DynamicPartitionsDeleted"] = "DynamicPartitionsDeleted"
    partitions_def_name: Annotated[str, AfterValidator(_dynamic_name)]
    partition_keys: Annotated[tuple[str, ...], Field(min_length=1), AfterValidator(_dynamic_keys)]
    requested_by: str = ""


# -- schedules and sensors (instigators) ------------------------------------------------


class RunRequestSpec(BaseModel):
    """One run that a schedule or sensor tick asks for (Dagster's `RunRequest`).

    The coordinator turns it into a `MaterializationRequested` whose run id is derived from
    the instigator and `run_key` (or the tick and its index when there is no run key), so a
    run key that was requested once is never requested again, across restarts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    run_key: str | None = None
    asset_keys: tuple[str, ...] | None = None
    """The assets to materialize; None means the instigator's target."""
    partition_key: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    run_config: dict[str, JsonValue] | None = None
    """The run's config (`RunRequest(run_config=...)`, else the job's `config=`)."""


class InstigatorStatusChanged(Event):
    """A schedule or sensor was started or stopped (by a person, through the CLI)."""

    type: Literal["InstigatorStatusChanged"] = "InstigatorStatusChanged"
    instigator_type: Literal["schedule", "sensor"]
    name: str
    status: Literal["running", "stopped"]
    requested_by: str = ""


class SensorCursorSet(Event):
    """A sensor's cursor was set (or cleared, with None) by a person."""

    type: Literal["SensorCursorSet"] = "SensorCursorSet"
    name: str
    cursor: str | None = None
    requested_by: str = ""


class TickRequested(Event):
    """The coordinator asks a location's workers to evaluate one tick of user code.

    Sensors (and schedules with a function body) run inside their location's worker,
    never in the coordinator (rule 7). The same event is written to the ticks topic (the
    decision) and to the location's tick-request topic (the delivery).
    """

    type: Literal["TickRequested"] = "TickRequested"
    epoch: int = 0
    """The leadership epoch of the coordinator that decided it (0: before leadership)."""
    instigator_type: Literal["schedule", "sensor"]
    name: str
    location: str
    tick_id: str
    """Derived from the instigator and `tick_time`: one tick, one id."""
    tick_time: AwareDatetime
    """The scheduled time of a schedule tick; the request time of a sensor tick."""
    cursor: str | None = None
    """The sensor's cursor as of the request (what the user function receives)."""
    timeout_s: float = 60.0
    """An evaluation that runs longer is recorded as a failed tick."""
    asset_events: tuple[AssetMaterialized, ...] = ()
    """Asset sensors: the monitored assets' materializations after the cursor (bounded)."""
    last_completion_time: AwareDatetime | None = None
    """When the instigator's previous tick completed (the sensor context shows it)."""


class SensorAssetEvent(BaseModel):
    """An asset event a sensor reported (`SensorResult(asset_events=[...])`).

    The coordinator records it as an `AssetMaterialized` (`source="reported"`) or an
    `AssetObserved` when it folds the tick.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["materialization", "observation"]
    asset_key: str
    partition_key: str | None = None
    data_version: str | None = None
    """None: a materialization gets a fresh data version; an observation carries none."""
    description: str | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


class DynamicPartitionsChange(BaseModel):
    """Keys a sensor adds to or deletes from a dynamic partitions definition."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Literal["add", "delete"]
    partitions_def_name: str
    partition_keys: tuple[str, ...]


class CustomConditionResult(BaseModel):
    """A custom automation condition's value, as a location's worker evaluated it.

    Custom conditions (a user's `AutomationCondition` subclass) are user code, so the
    coordinator never runs them (rule 7): the location's worker evaluates them on the
    ticks of its automation condition sensor and reports the values here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    root_key: str
    """The asset whose condition holds the node (`asset:check` for a check's)."""
    node_path: str
    """The node's place in that condition's tree (`0.2.1`: root, third child, second)."""
    true_partitions: tuple[str, ...] | None = None
    """The partitions it is true for; None: every partition (or true, unpartitioned);
    empty: none (or false)."""


class TickCompleted(Event):
    """One tick of a schedule or sensor ended: what it asked for, skipped, or the error."""

    type: Literal["TickCompleted"] = "TickCompleted"
    epoch: int | None = None
    """The leadership epoch of the coordinator that decided it; None when a person or a
    worker made it (a coordinator's without one is of epoch 0, before leadership)."""
    instigator_type: Literal["schedule", "sensor"]
    name: str
    location: str
    tick_id: str
    tick_time: AwareDatetime
    status: Literal["success", "skipped", "failure"]
    run_requests: tuple[RunRequestSpec, ...] = ()
    cursor: str | None = None
    """The cursor after the tick (sensors; equal to the request's when unchanged)."""
    skip_reason: str | None = None
    error_type: str | None = None
    message: str | None = None
    traceback: str = ""
    worker_id: str | None = None
    """The worker that evaluated it (None: decided by the coordinator alone)."""
    duration_ms: float | None = None
    asset_events: tuple[SensorAssetEvent, ...] = ()
    """Sensors: the asset events to record (the coordinator emits them, then the runs)."""
    dynamic_partitions_requests: tuple[DynamicPartitionsChange, ...] = ()
    """Sensors: dynamic partition keys to add or delete (emitted before the runs)."""
    condition_results: tuple[CustomConditionResult, ...] = ()
    """Automation condition sensors: the custom conditions' values (see
    `CustomConditionResult`)."""


# -- automation ------------------------------------------------------------------------


class ConditionResult(BaseModel):
    """One node of an automation condition's tree, evaluated for one asset partition."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    condition: str
    """The node's label, e.g. `missing`, `any_deps_updated`, `AND`, `NOT`, `eager`."""
    kind: str | None = None
    """The node's kind (`and`, `since`, `any_deps_match`, `missing`, ...); None in
    evaluations recorded before conditions had Dagster's operators."""
    value: bool
    detail: str | None = None
    """What made it true or false, for people (e.g. which upstream was updated)."""
    children: tuple[ConditionResult, ...] = ()


class AutomationEvaluated(Event):
    """An asset partition's automation condition came out true and work was requested.

    It is why the run exists: `conflux why ASSET --partition K` shows it.
    """

    type: Literal["AutomationEvaluated"] = "AutomationEvaluated"
    epoch: int = 0
    """The leadership epoch of the coordinator that decided it (0: before leadership)."""
    asset_key: str
    partition_key: str | None = None
    run_id: str
    """The run requested for it (one run per asset per evaluation step)."""
    result: ConditionResult
    trigger_event_ids: tuple[str, ...] = ()
    """The events that caused the evaluation (e.g. the upstream materializations)."""


# -- asset checks ------------------------------------------------------------------------


class AssetCheckEvaluated(Event):
    """An asset check ran against an asset partition: passed or not, with metadata.

    Emitted by the worker right after the materialization it checks, in the same work
    item; a failed blocking check skips the asset's dependents in the run.
    """

    type: Literal["AssetCheckEvaluated"] = "AssetCheckEvaluated"
    asset_key: str
    partition_key: str | None = None
    check_name: str
    passed: bool
    severity: Literal["ERROR", "WARN"] = "ERROR"
    blocking: bool = False
    description: str | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    error_type: str | None = None
    """Set when the check function itself raised (the check then counts as failed)."""
    message: str | None = None
    run_id: str | None = None
    work_item_id: str | None = None
    worker_id: str | None = None
    attempt: int | None = None
    materialization_event_id: str | None = None
    """The `AssetMaterialized` event the check looked at."""


# -- leadership (several coordinators, one decides) -----------------------------------


class LeadershipClaimed(Event):
    """A coordinator became the leader group's owner and claims the right to decide.

    Written to the leader topic (one partition), whose order decides between claims: a
    claim's epoch is `max(proposed_epoch, the epoch of the claim before it + 1)`, so two
    claims never share an epoch and a later claim always has the higher one. The claimant
    then marks its epoch in every partition it writes (`EpochMarked`) before deciding.
    """

    type: Literal["LeadershipClaimed"] = "LeadershipClaimed"
    instance_id: str
    """The claiming coordinator's instance id (as in its heartbeats)."""
    pid: int | None = None
    """Its process id, for people."""
    proposed_epoch: int
    """One more than the highest epoch the claimant has seen, in claims and in marks (so a
    leader topic that was emptied, as a Tansu restart does, cannot lower the epoch)."""


class EpochMarked(Event):
    """A new leader's epoch begins in this partition; older epochs' decisions after it lapse.

    The leader writes one to each partition of each topic it writes decisions (or work
    deliveries) to, before deciding. Every fold keeps, per partition, the highest epoch
    marked so far and ignores a decision of a lower epoch that follows it (Kafka keeps a
    partition's order, so every fold and every replay draw the same line). Keyed so that
    it lands in `partition` of `topic` with any client's default partitioner.
    """

    type: Literal["EpochMarked"] = "EpochMarked"
    epoch: int
    instance_id: str
    """The leader that marked it."""
    topic: str
    """The topic it marks (the one it is written to)."""
    partition: int
    """The partition it marks (the one it is written to)."""
    partitions: int
    """How many partitions the topic had when it was marked (what the key was chosen for)."""


AnyEvent = Annotated[
    DefinitionsPublished
    | LocationLoadFailed
    | LocationReloadRequested
    | MaterializationRequested
    | RunStarted
    | WorkItemDispatched
    | WorkItemSkipped
    | RunHeld
    | RunCompleted
    | WorkItemAbandoned
    | BackfillRequested
    | BackfillCanceled
    | BackfillCompleted
    | PartitionStarted
    | AssetMaterialized
    | AssetObserved
    | PartitionFailed
    | ComponentHeartbeat
    | RecordDeadLettered
    | DynamicPartitionsAdded
    | DynamicPartitionsDeleted
    | InstigatorStatusChanged
    | SensorCursorSet
    | TickRequested
    | TickCompleted
    | AutomationEvaluated
    | AssetCheckEvaluated
    | LeadershipClaimed
    | EpochMarked
    | LogLinesCaptured,
    Field(discriminator="type"),
]
"""Any Conflux event; parse with `decode_event`."""

EVENT_TYPES: dict[str, type[Event]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        DefinitionsPublished,
        LocationLoadFailed,
        LocationReloadRequested,
        MaterializationRequested,
        RunStarted,
        WorkItemDispatched,
        WorkItemSkipped,
        RunHeld,
        RunCompleted,
        WorkItemAbandoned,
        BackfillRequested,
        BackfillCanceled,
        BackfillCompleted,
        PartitionStarted,
        AssetMaterialized,
        AssetObserved,
        PartitionFailed,
        ComponentHeartbeat,
        RecordDeadLettered,
        DynamicPartitionsAdded,
        DynamicPartitionsDeleted,
        InstigatorStatusChanged,
        SensorCursorSet,
        TickRequested,
        TickCompleted,
        AutomationEvaluated,
        AssetCheckEvaluated,
        LeadershipClaimed,
        EpochMarked,
        LogLinesCaptured,
    )
}
"""Event type name -> model class."""
