"""Declarative automation, the pure part: the facts it folds, and cron and window helpers.

Shared by the coordinator (which evaluates conditions when events touch an asset
partition, and requests the partitions whose condition is true) and by the query API
(which evaluates the same condition on demand to answer `conflux why`, including why
nothing was requested). Evaluation (`_automation_eval.Evaluator`) reads folded state only
and runs no user code.

Dagster evaluates conditions on ticks and keeps a cursor per node; Conflux evaluates on
events and reads every "newly" and "since" from times on the log, which this fold keeps:
when automation last requested each partition and in which run, which assets and tags
each run targeted, when each condition (and partitions definition) was first published,
when each asset's code version last changed, when each partition's data version last
changed, the latest check results, dynamic keys' addition times, and what the location's
workers report for custom conditions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conflux.events import (
    AnyEvent,
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    AutomationEvaluated,
    DefinitionsPublished,
    DynamicPartitionsAdded,
    MaterializationRequested,
    TickCompleted,
)

if TYPE_CHECKING:
    from conflux.events import AutomationConditionSnapshot, PartitionsSnapshot
    from conflux.projections.folds._definitions import DefinitionsProjection
    from conflux.sdk.partitions import PartitionsDefinition

AssetPartition = tuple[str, str | None]


@dataclass
class CheckFact:
    """The latest result of one check on one partition."""

    time: datetime
    passed: bool
    errored: bool
    """The check function raised (Dagster: the check's execution failed)."""
    materialization_event_id: str | None
    run_id: str | None


@dataclass
class AutomationFacts:
    """What automation remembers beyond the asset state, folded from the log.

    Every map keeps the latest value by event time, so the fold is idempotent and does not
    depend on the order of events across topics.

    Attributes:
        requested: asset partition -> (time, run id) of automation's latest request.
        planned: asset partition that a condition reads -> (time, run id) of the latest
            request of any run that names it (by key, or an unpartitioned asset): such a
            partition is in progress while that run is open and has not yet materialized or
            failed it (Dagster: "part of an in-progress run"). Requests of a partition range are
            not indexed here.
        runs: run id -> (asset keys, tags) of its request (what `executed_with_root_target`
            and the run-tag conditions read), for runs of assets that conditions read.
        initial: automated asset -> (condition, partitions, time): when the asset's current
            condition and partitions definition were first published
            (`initial_evaluation`, and the reference of every "newly" before any request).
        defined: asset -> when a snapshot first defined it (unpartitioned partitions and
            static keys come into existence then).
        code_changed: asset -> (code version, time it replaced another one or None).
        data_changed: asset partition -> time its data version last changed (assets that
            automated conditions read, only when a condition reads data versions).
        data_versions: asset partition -> its latest data version (same assets).
        checks: (asset, partition, check name) -> the latest result.
        dynamic_added: (dynamic partitions name, key) -> when the key was first added.
        custom: (asset, or `asset:check`, node path) -> (report time, the partitions the
            node is true for, None for all): what the location's workers report for
            custom conditions (Dagster evaluates those in the user code server too).
        automated: asset key -> its condition (from the latest snapshots).
        read_by: asset key -> the automated assets whose conditions read it (itself, its
            dependents, and `asset_matches` targets).
    """

    requested: dict[AssetPartition, tuple[datetime, str]] = field(default_factory=dict)
    planned: dict[AssetPartition, tuple[datetime, str]] = field(default_factory=dict)
    runs: dict[str, tuple[tuple[str, ...], dict[str, str]]] = field(default_factory=dict)
    initial: dict[str, tuple[AutomationConditionSnapshot, PartitionsSnapshot | None, datetime]] = (
        field(default_factory=dict)
    )
    defined: dict[str, datetime] = field(default_factory=dict)
    code_changed: dict[str, tuple[str | None, datetime | None]] = field(default_factory=dict)
    data_changed: dict[AssetPartition, datetime] = field(default_factory=dict)
    data_versions: dict[AssetPartition, tuple[datetime, str]] = field(default_factory=dict)
    checks: dict[tuple[str, str | None, str], CheckFact] = field(default_factory=dict)
    dynamic_added: dict[tuple[str, str], datetime] = field(default_factory=dict)
    custom: dict[tuple[str, str], tuple[datetime, frozenset[str | None] | None]] = field(
        default_factory=dict
    )
    automated: dict[str, AutomationConditionSnapshot] = field(default_factory=dict)
    read_by: dict[str, set[str]] = field(default_factory=dict)
    data_watch: set[str] = field(default_factory=set)
    """Assets whose data versions are kept (read by a `data_version_changed`)."""

    def apply(self, event: AnyEvent) -> None:
        """Fold one event (idempotent and order-independent: the latest time wins)."""
        if isinstance(event, AutomationEvaluated):
            key = (event.asset_key, event.partition_key)
            previous = self.requested.get(key)
            if previous is None or (event.time, event.run_id) > previous:
                self.requested[key] = (event.time, event.run_id)
        elif isinstance(event, AssetMaterialized):
            if event.asset_key in self.data_watch:
                self._data_version(event.asset_key, event.partition_key, event)
        elif isinstance(event, MaterializationRequested):
            if event.run_id not in self.runs and any(k in self.read_by for k in event.asset_keys):
                self.runs[event.run_id] = (event.asset_keys, event.tags)
            for key in self.planned_by(event):
                previous = self.planned.get(key)
                if previous is None or (event.time, event.run_id) > previous:
                    self.planned[key] = (event.time, event.run_id)
        elif isinstance(event, AssetCheckEvaluated):
            check_key = (event.asset_key, event.partition_key, event.check_name)
            seen = self.checks.get(check_key)
            if seen is None or event.time >= seen.time:
                self.checks[check_key] = CheckFact(
                    time=event.time,
                    passed=event.passed,
                    errored=event.error_type is not None,
                    materialization_event_id=event.materialization_event_id,
                    run_id=event.run_id,
                )
        elif isinstance(event, DefinitionsPublished):
            self._published(event)
        elif isinstance(event, DynamicPartitionsAdded):
            for added in event.partition_keys:
                dyn = (event.partitions_def_name, added)
                first = self.dynamic_added.get(dyn)
                if first is None or event.time < first:
                    self.dynamic_added[dyn] = event.time
        elif isinstance(event, TickCompleted):
            for report in event.condition_results:
                node = (report.root_key, report.node_path)
                reported = self.custom.get(node)
                if reported is None or event.time >= reported[0]:
                    true = report.true_partitions
                    self.custom[node] = (event.time, frozenset(true) if true is not None else None)
        elif isinstance(event, AssetObserved) and event.asset_key in self.data_watch:
            self._data_version(event.asset_key, event.partition_key, event)

    def _data_version(
        self, asset_key: str, partition: str | None, event: AssetMaterialized | AssetObserved
    ) -> None:
        version = event.data_version
        if version is None:
            return
        key = (asset_key, partition)
        seen = self.data_versions.get(key)
        if seen is not None and event.time < seen[0]:
            return
        if seen is None or seen[1] != version:
            self.data_changed[key] = event.time
        self.data_versions[key] = (event.time, version)

    def _published(self, event: DefinitionsPublished) -> None:
        for asset in event.snapshot.assets:
            first = self.defined.get(asset.key)
            if first is None or event.time < first:
                self.defined[asset.key] = event.time
            version = self.code_changed.get(asset.key, (asset.code_version, None))[0]
            if asset.key not in self.code_changed:
                self.code_changed[asset.key] = (asset.code_version, None)
            elif version != asset.code_version:
                self.code_changed[asset.key] = (asset.code_version, event.time)
            if asset.automation_condition is None:
                continue
            self._initial(asset.key, asset.automation_condition, asset.partitions, event.time)
        for check in event.snapshot.asset_checks:
            condition = check.automation_condition
            if condition is None:
                continue
            self._initial(f"{check.asset_key}:{check.name}", condition, None, event.time)

    def _initial(
        self,
        key: str,
        condition: AutomationConditionSnapshot,
        partitions: PartitionsSnapshot | None,
        at: datetime,
    ) -> None:
        """The first publication of the latest (condition, partitions) of `key`."""
        seen = self.initial.get(key)
        same = seen is not None and seen[:2] == (condition, partitions)
        if seen is None or (same and at < seen[2]) or (not same and at > seen[2]):
            self.initial[key] = (condition, partitions, at)

    def planned_by(self, request: MaterializationRequested) -> list[AssetPartition]:
        """The partitions a request names of assets that conditions read (see `planned`)."""
        if request.partition_range is not None:
            return []
        keys: tuple[str | None, ...] = request.partition_keys or (None,)
        return [(a, k) for a in request.asset_keys if a in self.read_by for k in keys]

    def refresh(self, graph: DefinitionsProjection) -> None:
        """Re-read which assets have a condition (call after the graph changed)."""
        self.automated = {
            key: asset.automation_condition
            for key, asset in graph.assets.items()
            if asset.automation_condition is not None and not asset.is_external
        }
        read_by: dict[str, set[str]] = {}
        # an observable source's updates are its new data versions: keep them
        data_watch: set[str] = {k for k, a in graph.assets.items() if a.is_observable}
        for key, condition in self.automated.items():
            reads = {key, *graph.upstream_of(key), *matched_assets(condition)}
            for other in reads:
                read_by.setdefault(other, set()).add(key)
            if uses(condition, "data_version_changed"):
                data_watch |= reads
        self.read_by = read_by
        self.data_watch = data_watch


def matched_assets(condition: AutomationConditionSnapshot) -> set[str]:
    """The assets a condition's `asset_matches` nodes name."""
    found = {condition.asset_key} if condition.asset_key is not None else set()
    for child in condition.children:
        found |= matched_assets(child)
    return found


def uses(condition: AutomationConditionSnapshot, kind: str) -> bool:
    """True when some node of the condition is of `kind`."""
    return condition.kind == kind or any(uses(c, kind) for c in condition.children)


def latest_tick(cron: str, timezone: str, now: datetime) -> datetime:
    """The latest tick of `cron` (read in `timezone`) at or before `now`, in UTC.

    The ticks are the schedules' (`cron_schedule`): one reading of cron and daylight
    saving for schedules and automation.
    """
    from conflux.projections.folds._instigators import cron_schedule

    ticks = cron_schedule(cron, timezone)
    return ticks.tick(ticks.ordinal(now))


def cron_leaves(condition: AutomationConditionSnapshot) -> set[tuple[str, str]]:
    """The (cron, time zone) pairs a condition's cron nodes tick on."""
    found: set[tuple[str, str]] = set()
    if condition.cron_schedule is not None:
        found.add((condition.cron_schedule, condition.cron_timezone))
    for child in condition.children:
        found |= cron_leaves(child)
    return found


def window_schedule(pdef: PartitionsDefinition | None) -> tuple[str, str] | None:
    """(cron, time zone) on whose ticks a time-partitioned asset gains a new latest window."""
    from conflux.sdk.partitions import MultiPartitionsDefinition, TimeWindowPartitionsDefinition

    if isinstance(pdef, MultiPartitionsDefinition):
        for dim in pdef.partitions_defs:
            if isinstance(dim.partitions_def, TimeWindowPartitionsDefinition):
                pdef = dim.partitions_def
                break
    if isinstance(pdef, TimeWindowPartitionsDefinition):
        return pdef.cron_schedule, pdef.timezone
    return None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fmt_time(at: datetime) -> str:
    """A time as the explanations print it (UTC, milliseconds)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def name_of(ap: AssetPartition) -> str:
    """`asset[partition]`, or `asset` when unpartitioned."""
    return ap[0] if ap[1] is None else f"{ap[0]}[{ap[1]}]"
