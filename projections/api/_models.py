"""The query API's response models: what the server sends and `ApiClient` returns.

Plain pydantic v2 models (validated at the HTTP boundary only), so that the CLI prints
them with `--json` as they are, and a client of any language reads the same fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from conflux.events import PartitionsSnapshot

RunStatus = Literal["queued", "started", "success", "failed", "canceled"]
"""A run's status: requested, accepted (planned and dispatching), or ended."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PartitionCounts(_Model):
    """How many of an asset's partitions are in each state."""

    total: int
    """Partitions that exist now (1 for an unpartitioned asset)."""
    materialized: int
    """Partitions whose latest word is a materialization."""
    failed: int
    """Partitions whose latest attempt failed."""
    in_progress: int
    """Partitions a worker is executing now."""


class LastMaterialization(_Model):
    """The newest materialization of any partition of an asset."""

    partition_key: str | None
    data_version: str
    time: datetime
    run_id: str | None
    source: Literal["executed", "reported"]
    event_id: str


class CheckResultSummary(_Model):
    """One evaluation of an asset check (the newest, in a `CheckSummary`)."""

    partition_key: str | None
    passed: bool
    severity: Literal["ERROR", "WARN"]
    time: datetime
    run_id: str | None
    event_id: str
    materialization_event_id: str | None
    metadata: dict[str, JsonValue]
    error_type: str | None
    """Set when the check function itself raised."""
    message: str | None


class CheckSummary(_Model):
    """One check of an asset: its latest result, and per partition how many pass or fail."""

    name: str
    blocking: bool
    description: str | None
    defined: bool
    """False for a check known only from its results (no longer defined)."""
    status: Literal["passed", "failed", "warning", "not_evaluated"]
    """The newest result: passed, failed (severity ERROR), failed as a warning, or none."""
    passed: int
    """Partitions (1 for an unpartitioned asset) whose newest result passed."""
    failed: int
    """Partitions whose newest result failed (either severity)."""
    last_result: CheckResultSummary | None


class AssetSummary(_Model):
    """One asset: where it is defined, and its partitions' state."""

    key: str
    location: str | None
    """The code location that defines it (None: only known from events)."""
    group_name: str | None
    description: str | None
    defined: bool
    """False for assets known only from events (e.g. reported, never defined)."""
    partitioned: bool
    is_external: bool = False
    """True for assets a location only observes (report them, never materialize)."""
    partitions: PartitionCounts
    last_materialization: LastMaterialization | None
    partitions_snapshot: PartitionsSnapshot | None
    """The asset's partitions definition as its location published it."""
    checks: list[CheckSummary] = []
    """The asset's checks (defined, or seen in results), by name."""
    deps: list[str] = []
    """The keys of the assets it depends on, as its location defined them."""
    automation_condition: str | None = None
    """Its automation condition as an expression (None: not automated)."""


class RunSummary(_Model):
    """One run: what it covers and how far it got."""

    run_id: str
    status: RunStatus
    selection: str | None
    """The selection as the requester wrote it (None: the request was not seen)."""
    asset_keys: list[str]
    partition_count: int
    """(asset, partition) pairs planned; 0 until the coordinator starts the run."""
    materialized: int
    failed: int
    skipped: int
    in_progress: int
    requested_by: str | None
    trigger: str | None
    requested_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    reason: str | None
    """Why the run failed before any work (e.g. an unknown asset)."""
    held: str | None = None
    """Why its work waits: a location it needs is down (cleared once work is dispatched
    there again)."""


BackfillStatus = Literal["requested", "running", "canceling", "success", "failed", "canceled"]
BACKFILL_ENDED: tuple[BackfillStatus, ...] = ("success", "failed", "canceled")
"""The statuses a backfill does not leave."""


class BackfillSummary(_Model):
    """One backfill: what it covers and how far it got, with its rate and ETA."""

    backfill_id: str
    status: BackfillStatus
    selection: str | None
    asset_keys: list[str]
    partition_range: str | None
    """`START..END` when a range was requested."""
    partition_keys: int
    """How many explicit keys were requested (0: a range)."""
    only: Literal["all", "missing", "failed"]
    requested_by: str | None
    requested_at: datetime | None
    completed_at: datetime | None
    total: int | None
    """Asset partitions the backfill covers before its filter (None: not resolvable)."""
    chunks: int | None
    chunks_done: int
    materialized: int
    failed: int
    skipped: int
    in_progress: int
    remaining: int
    """Asset partitions not yet done (an upper bound with `only`); 0 once it ended."""
    rate_per_s: float | None
    """Partitions materialized per second since the first chunk started."""
    eta_s: float | None
    reason: str | None


class EventRecord(_Model):
    """One event of the log, with its position and the fields readers filter on."""

    seq: int
    """The projector's sequence number: increasing; pass it as `after` to follow."""
    topic: str
    partition: int
    offset: int
    time: datetime
    type: str
    asset_key: str | None
    """The asset the event is about (`,`-joined when it is about several)."""
    partition_key: str | None
    run_id: str | None
    event: dict[str, JsonValue]
    """The event itself, as JSON."""


class ComponentStatus(_Model):
    """The latest heartbeat of one instance of a part (coordinator, projector, worker)."""

    component: str
    instance_id: str
    location: str | None
    ready: bool
    alive: bool
    """A beat arrived within 3x the component's own interval."""
    last_seen: datetime
    age_s: float
    pid: int | None = None
    """Its process id (None: a part from before it was reported)."""
    role: Literal["active", "standby"] | None = None
    """Coordinators: `active` decides, `standby` waits to take over (None: a coordinator
    from before leadership, which decides alone)."""
    epoch: int | None = None
    """Coordinators: the leadership epoch it decides under, or (standby) the latest seen."""


class BrokerStatus(_Model):
    """One broker of the Kafka cluster, from the cluster's metadata."""

    id: int
    host: str
    port: int
    state: Literal["online", "offline"]
    """`offline`: partitions still name it as a replica, but the cluster lists it no more."""
    controller: bool


class LocationStatus(_Model):
    """One code location: loaded, failed (with why), or not heard from yet."""

    name: str
    status: Literal["loaded", "failed", "waiting"]
    error: str | None
    assets: int
    workers_alive: int


class DeadLetterSummary(_Model):
    """A record that failed validation, and why."""

    source_topic: str
    source_partition: int
    source_offset: int
    reason: str
    time: datetime


class StatusReport(_Model):
    """Whether the system is ready, and each part's state; `conflux status` prints it."""

    ready: bool
    not_ready: list[str]
    """Human-readable reasons, one per part that is not ready (empty when ready)."""
    caught_up: bool
    """The projector has read every topic to its end at least once."""
    coordinator: ComponentStatus | None
    """The active coordinator (the newest epoch's, if a paused one still beats as active)."""
    coordinators: list[ComponentStatus] = []
    """Every coordinator heard from: the active one and the standbys."""
    brokers: list[BrokerStatus] = []
    """Every broker of the cluster, from its metadata (empty: the broker did not answer)."""
    locations: list[LocationStatus]
    components: list[ComponentStatus]
    dead_letters: int
    recent_dead_letters: list[DeadLetterSummary]
    events: int
    """Events the projector has applied."""


class LineageRoot(_Model):
    """The materialization a lineage answer starts from."""

    asset_key: str
    partition_key: str | None
    data_version: str
    event_id: str
    time: datetime
    run_id: str | None
    source: str


class LineageLink(_Model):
    """`downstream_*` read `upstream_*` when it materialized at `time`, `depth` hops out.

    An upstream that was never materialized when it was read has no data version and no
    event id.
    """

    depth: int
    downstream_asset: str
    downstream_partition: str | None
    downstream_data_version: str
    downstream_event_id: str
    upstream_asset: str
    upstream_partition: str | None
    upstream_data_version: str | None
    upstream_event_id: str | None
    time: datetime


class LineageAnswer(_Model):
    """What one materialization read, transitively (upstream), or what was built from it."""

    root: LineageRoot
    direction: Literal["upstream", "downstream"]
    depth: int
    links: list[LineageLink]


RangeStatus = Literal["materialized", "failed", "in_progress", "missing"]
"""A partition's state in a range summary (`missing`: never materialized)."""


class PartitionRange(_Model):
    """Consecutive partitions (in the definition's order) that share one status."""

    first: str
    last: str
    status: RangeStatus
    count: int


class PartitionDimension(_Model):
    """One dimension of a multi-partitioned asset, in key order."""

    name: str
    count: int


class PartitionRanges(_Model):
    """An asset's whole partition space as ranges: a million partitions in a few lines."""

    asset_key: str
    total: int
    counts: dict[str, int]
    """Partitions per status."""
    ranges: list[PartitionRange]
    dimensions: list[PartitionDimension] = []
    """A multi-partitioned asset's dimensions (empty for one dimension). Keys are listed
    row-major, the first dimension varying slowest: partition `i` is at row
    `i // dimensions[-1].count`, column `i % dimensions[-1].count` of a grid."""


class DynamicPartitionsSummary(_Model):
    """One dynamic partitions definition (by name): how many keys, and who uses it."""

    name: str
    count: int
    """Current keys (added and not removed since)."""
    assets: list[str]
    """Keys of the defined assets partitioned by it (also as a dimension), sorted."""


class DynamicPartitionsKeys(DynamicPartitionsSummary):
    """One dynamic partitions definition with its current keys, in order of addition."""

    partition_keys: list[str]


RunPartitionStatus = Literal["queued", "in_progress", "materialized", "failed", "skipped"]


class RunPartition(_Model):
    """One asset partition of a run: when it was dispatched, ran and ended, and how."""

    asset_key: str
    partition_key: str | None
    status: RunPartitionStatus
    attempt: int
    dispatched_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    worker_id: str | None
    error_type: str | None = None
    message: str | None = None
    traceback: str | None = None


class RunPartitions(_Model):
    """A run's timeline: its partitions in dispatch order (the first `limit`)."""

    run_id: str
    total: int
    """Asset partitions the run's events mention (`partitions` may hold fewer)."""
    partitions: list[RunPartition]
