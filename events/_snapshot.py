"""The serializable snapshot of a code location's definitions.

Workers publish it (inside `DefinitionsPublished`); the coordinator and every reader
learn a location's assets, partitions and mappings from it, never by importing user
code (rule 7). `conflux.sdk` turns these models back into live partition and mapping
objects (`partitions_from_snapshot`, `mapping_from_snapshot`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class StaticPartitionsSnapshot(_Frozen):
    """A fixed list of partition keys."""

    kind: Literal["static"] = "static"
    keys: tuple[str, ...]
    """The partition keys, in the order the user gave them."""


class TimeWindowPartitionsSnapshot(_Frozen):
    """Partitions that are the windows between consecutive ticks of a cron schedule."""

    kind: Literal["time_window"] = "time_window"
    cron_schedule: str
    """Cron expression whose ticks start the windows."""
    start: str
    """Start of the first window, ISO 8601 wall-clock time in `timezone` (naive), except the
    second occurrence of a repeated (fall-back) hour, which keeps its offset so that the
    round trip is exact."""
    end: str | None = None
    """End bound (exclusive), in the same form as `start`, or None for open-ended."""
    timezone: str = "UTC"
    """IANA time zone the cron schedule and the keys are read in."""
    fmt: str
    """strftime format of the partition keys."""
    end_offset: int = 0
    """Windows past the last complete one to include (negative: fewer)."""
    exclusions: tuple[str, ...] = ()
    """Cron expressions whose ticks start no window (Dagster's `exclusions=`, its strings)."""
    excluded_instants: tuple[str, ...] = ()
    """Window starts left out (Dagster's `exclusions=`, its datetimes), ISO 8601 in UTC."""


class MultiPartitionsSnapshot(_Frozen):
    """The product of named dimensions; keys are joined with `|` in dimension-name order."""

    kind: Literal["multi"] = "multi"
    dimensions: tuple[tuple[str, PartitionsSnapshot], ...]
    """(dimension name, partitions) pairs, sorted by name."""


class DynamicPartitionsSnapshot(_Frozen):
    """Keys added and removed at run time by events; the key set is a fold."""

    kind: Literal["dynamic"] = "dynamic"
    name: str


PartitionsSnapshot = Annotated[
    StaticPartitionsSnapshot
    | TimeWindowPartitionsSnapshot
    | MultiPartitionsSnapshot
    | DynamicPartitionsSnapshot,
    Field(discriminator="kind"),
]
MultiPartitionsSnapshot.model_rebuild()


class IdentityMappingSnapshot(_Frozen):
    """Downstream partition k reads upstream partition k."""

    kind: Literal["identity"] = "identity"


class TimeWindowMappingSnapshot(_Frozen):
    """Downstream window reads the upstream windows it overlaps, shifted by offsets."""

    kind: Literal["time_window"] = "time_window"
    start_offset: int = 0
    end_offset: int = 0
    allow_nonexistent_upstream_partitions: bool = False
    """True: upstream windows that do not exist are not reported as required."""


class AllMappingSnapshot(_Frozen):
    """Every downstream partition reads every upstream partition."""

    kind: Literal["all"] = "all"


class LastMappingSnapshot(_Frozen):
    """Every downstream partition reads the last upstream partition."""

    kind: Literal["last"] = "last"


class DimensionMappingSnapshot(_Frozen):
    """How one upstream dimension of a multi-partitioned asset maps to a downstream one."""

    upstream_dimension: str
    """The upstream `MultiPartitionsDefinition`'s dimension name."""
    downstream_dimension: str
    """The downstream `MultiPartitionsDefinition`'s dimension name it corresponds to."""
    partition_mapping: PartitionMappingSnapshot
    """The mapping between the two dimensions' partitions definitions."""


class MultiMappingSnapshot(_Frozen):
    """Between two multi-partitioned assets, dimension by dimension; unmapped ones read all."""

    kind: Literal["multi"] = "multi"
    dimensions: tuple[DimensionMappingSnapshot, ...]
    """The mapped dimensions, sorted by upstream dimension name."""


class MultiToSingleDimensionMappingSnapshot(_Frozen):
    """Between a multi-partitioned and a single-dimension asset, through one dimension."""

    kind: Literal["multi_to_single_dimension"] = "multi_to_single_dimension"
    partition_dimension_name: str | None = None
    """The multi side's dimension that carries the single side's keys; None: the one
    dimension whose partitions definition equals the single side's (inferred when used)."""


class StaticMappingSnapshot(_Frozen):
    """Between two static definitions, by a table of keys."""

    kind: Literal["static"] = "static"
    downstream_keys_by_upstream_key: tuple[tuple[str, tuple[str, ...]], ...]
    """(upstream key, the downstream keys it maps to), sorted by upstream key."""


class SpecificPartitionsMappingSnapshot(_Frozen):
    """Every downstream partition reads the same named upstream partitions."""

    kind: Literal["specific_partitions"] = "specific_partitions"
    partition_keys: tuple[str, ...]
    """The upstream keys read, in the order the user gave them."""


PartitionMappingSnapshot = Annotated[
    IdentityMappingSnapshot
    | TimeWindowMappingSnapshot
    | AllMappingSnapshot
    | LastMappingSnapshot
    | MultiMappingSnapshot
    | MultiToSingleDimensionMappingSnapshot
    | StaticMappingSnapshot
    | SpecificPartitionsMappingSnapshot,
    Field(discriminator="kind"),
]
DimensionMappingSnapshot.model_rebuild()


class AssetDepSnapshot(_Frozen):
    """One upstream dependency of an asset."""

    asset_key: str
    """The upstream asset's key, `/`-joined path (e.g. `raw/events`)."""
    partition_mapping: PartitionMappingSnapshot | None = None
    """How downstream partitions map to upstream ones; None means the default (identity
    between equal partitions definitions, all partitions otherwise)."""
    loads_value: bool = True
    """False for `deps=[...]` entries: ordering and lineage only, no value is loaded."""


class RetryPolicySnapshot(_Frozen):
    """How often, and after how long, a failed work item is dispatched again."""

    max_retries: int = Field(default=1, ge=0)
    """Attempts after the first; 0 never retries a failure."""
    delay_s: float = Field(default=0.0, ge=0)
    """Seconds between a failure and the next attempt (before backoff and jitter)."""
    backoff: Literal["linear", "exponential"] | None = None
    """`linear`: delay x n before retry n; `exponential`: delay x 2**(n-1)."""
    jitter: Literal["full", "plus_minus"] | None = None
    """`full`: a fraction in [0, 1) of the delay; `plus_minus`: delay +- up to its value."""


class BackfillPolicySnapshot(_Frozen):
    """How a backfill groups an asset's partitions into work items."""

    kind: Literal["single_run", "multi_run"] = "multi_run"
    max_partitions_per_run: int | None = Field(default=1, ge=1)
    """Partitions per work item for `multi_run`; None for `single_run` (all in one)."""


AutomationConditionKind = Literal[
    # operators
    "and",
    "or",
    "not",
    "since",
    "newly_true",
    "any_deps_match",
    "all_deps_match",
    "asset_matches",
    "any_checks_match",
    "all_checks_match",
    "any_job_root_assets_match",
    "all_job_root_assets_match",
    # operands
    "missing",
    "run_in_progress",
    "backfill_in_progress",
    "execution_failed",
    "newly_updated",
    "newly_requested",
    "will_be_requested",
    "initial_evaluation",
    "in_latest_time_window",
    "cron_tick_passed",
    "code_version_changed",
    "data_version_changed",
    "check_passed",
    "check_failed",
    "executed_with_root_target",
    "executed_with_tags",
    "all_new_updates_have_run_tags",
    "any_new_update_has_run_tags",
    "custom",
    # leaves of snapshots published before Dagster's operators (read as their expansion)
    "newly_missing",
    "in_progress",
    "any_deps_missing",
    "any_deps_in_progress",
    "any_deps_updated",
    "all_deps_updated_since_cron",
]
"""The node kinds of an automation condition: Dagster's operators and operands (the SDK
builds trees of these; `AutomationCondition.eager()` is an `and` of them, as in Dagster)."""


class AutomationConditionSnapshot(_Frozen):
    """A declarative automation condition as data: a tree of Dagster's operators and operands.

    Operators (`and`, `or`, `not`, `since`, `newly_true`, `any_deps_match`, `all_deps_match`,
    `asset_matches`, `any_checks_match`, `all_checks_match`) combine operands (`missing`,
    `newly_updated`, `cron_tick_passed`, ...). The coordinator evaluates the tree; no user
    code is involved, except `custom` nodes (a user's `AutomationCondition` subclass), whose
    values the location's worker reports.
    """

    kind: AutomationConditionKind
    children: tuple[AutomationConditionSnapshot, ...] = ()
    cron_schedule: str | None = None
    """For `cron_tick_passed`: the cron expression (five fields or a nickname)."""
    cron_timezone: str = "UTC"
    label: str | None = None
    """A name for the whole subtree (e.g. `eager`), shown by `conflux why`."""
    asset_key: str | None = None
    """For `asset_matches`: the asset the child condition is evaluated on."""
    allow: tuple[str, ...] | None = None
    """For the deps operators: only these dependencies count (None: all of them)."""
    ignore: tuple[str, ...] = ()
    """For the deps operators: these dependencies do not count."""
    lookback_s: float | None = None
    """For `in_latest_time_window`: partitions ending within this many seconds of the end
    of the latest window count as latest too."""
    tag_keys: tuple[str, ...] | None = None
    """For the run-tag operands: tags the run must carry (any value)."""
    tag_values: dict[str, str] | None = None
    """For the run-tag operands: tags the run must carry with these values."""
    blocking_only: bool = False
    """For the checks operators: only blocking checks count."""
    name: str | None = None
    """For `custom`: the condition's name (its class name unless it says otherwise)."""


class AssetSnapshot(_Frozen):
    """One asset as the coordinator sees it."""

    key: str
    """The asset's key, `/`-joined path."""
    node: str
    """The function (op) that computes it; a `@multi_asset` computes several keys at once."""
    group_name: str = "default"
    description: str | None = None
    code_version: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    partitions: PartitionsSnapshot | None = None
    deps: tuple[AssetDepSnapshot, ...] = ()
    kinds: tuple[str, ...] = ()
    is_external: bool = False
    """True for assets this location only observes (`AssetSpec`); never dispatched."""
    is_observable: bool = False
    """True for an observable source asset (`@observable_source_asset`): its function
    observes a data version instead of materializing; a new data version is an update."""
    retry_policy: RetryPolicySnapshot | None = None
    """None: a failure is final (a lost worker is still retried, see the coordinator)."""
    pool: str | None = None
    """The concurrency pool the asset's work counts against (limits are the run queue's)."""
    backfill_policy: BackfillPolicySnapshot | None = None
    """None: one partition per work item."""
    automation_condition: AutomationConditionSnapshot | None = None
    """None: the asset is materialized only when something asks for it."""


class ScheduleSnapshot(_Frozen):
    """A schedule: cron ticks that request its target.

    The coordinator decides a plain schedule's ticks; a schedule with a function body is
    evaluated by the location's workers, like a sensor.
    """

    name: str
    cron_schedule: str
    execution_timezone: str = "UTC"
    asset_keys: tuple[str, ...] = ()
    """The target, resolved to asset keys (for partitioned schedules: the job's assets)."""
    has_function: bool = False
    """True when a user function decides each tick (evaluated in a worker)."""
    partitioned: bool = False
    """True when each tick targets the partition that closed at the tick
    (`build_schedule_from_partitioned_job`)."""
    default_status: Literal["running", "stopped"] = "stopped"
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    run_config: dict[str, JsonValue] | None = None
    """The config of every run it starts (its job's `define_asset_job(config=...)`)."""


class SensorSnapshot(_Frozen):
    """A sensor: user code evaluated in a worker on request, at most every interval.

    Two kinds run no user function: `freshness` (the coordinator evaluates the freshness
    checks in `check_keys`) and `automation_condition` (whether automation runs for the
    `asset_keys`, and, with `use_user_code_server`, the worker evaluates their custom
    conditions on its ticks).
    """

    name: str
    kind: Literal[
        "sensor",
        "asset_sensor",
        "multi_asset_sensor",
        "stream",
        "freshness",
        "automation_condition",
    ] = "sensor"
    minimum_interval_seconds: float = 30.0
    asset_keys: tuple[str, ...] = ()
    """The target, resolved to asset keys (empty: each run request names its assets)."""
    monitored_asset_keys: tuple[str, ...] = ()
    """Asset sensors: the assets whose materializations wake the sensor at once."""
    default_status: Literal["running", "stopped"] = "stopped"
    description: str | None = None
    timeout_s: float = 60.0
    check_keys: tuple[str, ...] = ()
    """Freshness sensors: the checks they evaluate (`asset:check`)."""
    run_tags: dict[str, str] = Field(default_factory=dict)
    """Automation condition sensors: tags of the runs automation requests for its assets."""
    use_user_code_server: bool = False
    """Automation condition sensors: custom conditions are evaluated by the worker."""
    run_config: dict[str, JsonValue] | None = None
    """The config of runs it requests without their own (its job's `config=`)."""


class FreshnessCheckSnapshot(_Frozen):
    """A last-update freshness check's parameters (`build_last_update_freshness_checks`)."""

    lower_bound_s: float = Field(ge=0)
    """How old (seconds) the last update may be, before now or the latest deadline tick."""
    deadline_cron: str | None = None
    """When updates are due (None: the deadline is the evaluation's time)."""
    timezone: str = "UTC"
    severity: Literal["ERROR", "WARN"] = "WARN"


class AssetCheckSnapshot(_Frozen):
    """An asset check: a function run by the worker after the asset materializes."""

    name: str
    asset_key: str
    blocking: bool = False
    description: str | None = None
    automation_condition: AutomationConditionSnapshot | None = None
    """When automation should run the check on its own (Dagster's
    `@asset_check(automation_condition=...)`); None: it runs with its asset only."""
    freshness: FreshnessCheckSnapshot | None = None
    """Set for a freshness check: the coordinator evaluates it (no function runs)."""


class LocationSnapshot(_Frozen):
    """Everything one code location defines, in dependency-free data."""

    location: str
    assets: tuple[AssetSnapshot, ...] = ()
    python_version: str = ""
    """The interpreter the location's workers run (e.g. `3.11.7`)."""
    executable: str = ""
    """The interpreter's path."""
    schedules: tuple[ScheduleSnapshot, ...] = ()
    sensors: tuple[SensorSnapshot, ...] = ()
    asset_checks: tuple[AssetCheckSnapshot, ...] = ()
