"""Declarative automation, the pure part: the facts it folds and the condition evaluator.

Shared by the coordinator (which evaluates conditions when events touch an asset
partition, and requests the partitions whose condition is true) and by the query API
(which evaluates the same condition on demand to answer `conflux why`, including why
nothing was requested). Evaluation reads folded state only and runs no user code.

The basic conditions are defined in `conflux.sdk._automation` (module docstring); this
module implements them over:

- the asset graph (`DefinitionsProjection`) and the asset-state projection (latest
  materialization and attempt of every partition);
- `AutomationFacts`: when automation last requested each partition and in which run,
  the code version of automated assets' latest materializations, and when each automated
  asset was first defined;
- `run_open(run_id)`: whether a run is still open (the caller's runs fold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conflux.events import (
    AnyEvent,
    AssetMaterialized,
    AutomationEvaluated,
    ConditionResult,
    DefinitionsPublished,
    MaterializationRequested,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from conflux.events import AutomationConditionSnapshot
    from conflux.projections.folds._asset_state import AssetStateProjection
    from conflux.projections.folds._definitions import DefinitionsProjection
    from conflux.sdk.partitions import PartitionsDefinition

AssetPartition = tuple[str, str | None]


@dataclass
class AutomationFacts:
    """What automation remembers beyond the asset state, folded from the log.

    Attributes:
        requested: asset partition -> (time, run id) of automation's latest request.
        code_versions: automated asset partition -> code version of its latest
            materialization (only assets that have a condition, to stay small).
        first_seen: automated asset -> the time it was first defined with a condition.
        automated: asset key -> its condition (from the latest snapshots).
        planned: automated asset partition -> (time, run id) of the latest request of
            any run that names it (by key, or an unpartitioned asset): such a partition
            is `in_progress` while that run is open and has not yet materialized or
            failed it (Dagster: "part of an in-progress run"). Requests of a partition
            range are not indexed here (eager looks at the latest window only).
    """

    requested: dict[AssetPartition, tuple[datetime, str]] = field(default_factory=dict)
    planned: dict[AssetPartition, tuple[datetime, str]] = field(default_factory=dict)
    code_versions: dict[AssetPartition, tuple[datetime, str | None]] = field(default_factory=dict)
    first_seen: dict[str, datetime] = field(default_factory=dict)
    automated: dict[str, AutomationConditionSnapshot] = field(default_factory=dict)

    def apply(self, event: AnyEvent) -> None:
        """Fold one event (idempotent and order-independent: the latest time wins)."""
        if isinstance(event, AutomationEvaluated):
            key = (event.asset_key, event.partition_key)
            previous = self.requested.get(key)
            if previous is None or (event.time, event.run_id) > previous:
                self.requested[key] = (event.time, event.run_id)
        elif isinstance(event, AssetMaterialized):
            if event.asset_key in self.automated:
                key = (event.asset_key, event.partition_key)
                seen = self.code_versions.get(key)
                if seen is None or event.time >= seen[0]:
                    self.code_versions[key] = (event.time, event.code_version)
        elif isinstance(event, MaterializationRequested):
            for key in self.planned_by(event):
                previous = self.planned.get(key)
                if previous is None or (event.time, event.run_id) > previous:
                    self.planned[key] = (event.time, event.run_id)
        elif isinstance(event, DefinitionsPublished):
            for asset in event.snapshot.assets:
                if asset.automation_condition is None:
                    continue
                first = self.first_seen.get(asset.key)
                if first is None or event.time < first:
                    self.first_seen[asset.key] = event.time

    def planned_by(self, request: MaterializationRequested) -> list[AssetPartition]:
        """The automated asset partitions a request names (see `planned`)."""
        if request.partition_range is not None:
            return []
        keys: tuple[str | None, ...] = request.partition_keys or (None,)
        return [(a, k) for a in request.asset_keys if a in self.automated for k in keys]

    def refresh(self, graph: DefinitionsProjection) -> None:
        """Re-read which assets have a condition (call after the graph changed)."""
        self.automated = {
            key: asset.automation_condition
            for key, asset in graph.assets.items()
            if asset.automation_condition is not None and not asset.is_external
        }


@dataclass
class Evaluator:
    """Evaluates conditions at one instant over one consistent view of the state.

    Build one per decision step (it caches upstream partitions and cron ticks).
    """

    graph: DefinitionsProjection
    assets: AssetStateProjection
    facts: AutomationFacts
    run_open: Callable[[str], bool]
    now: datetime
    _ups: dict[AssetPartition, list[AssetPartition]] = field(default_factory=dict)
    _ticks: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def evaluate(
        self, condition: AutomationConditionSnapshot, asset_key: str, partition_key: str | None
    ) -> ConditionResult:
        """The condition's value for one asset partition, with every node's value."""
        kind = condition.kind
        if kind in ("and", "or"):
            children = tuple(self.evaluate(c, asset_key, partition_key) for c in condition.children)
            values = [c.value for c in children]
            value = all(values) if kind == "and" else any(values)
            return ConditionResult(
                condition=condition.label or kind.upper(), value=value, children=children
            )
        if kind == "not":
            child = self.evaluate(condition.children[0], asset_key, partition_key)
            return ConditionResult(
                condition=condition.label or "NOT", value=not child.value, children=(child,)
            )
        value, detail = self._leaf(condition, asset_key, partition_key)
        name = kind if condition.cron_schedule is None else f"{kind}({condition.cron_schedule})"
        return ConditionResult(condition=condition.label or name, value=value, detail=detail)

    # -- leaves ----------------------------------------------------------------------------

    def _leaf(
        self, condition: AutomationConditionSnapshot, asset_key: str, partition: str | None
    ) -> tuple[bool, str]:
        kind = condition.kind
        me = (asset_key, partition)
        if kind == "missing":
            at = self._materialized_at(me)
            return at is None, "never materialized" if at is None else f"materialized {_t(at)}"
        if kind == "newly_missing":
            at = self._materialized_at(me)
            asked = self.facts.requested.get(me)
            if at is not None:
                return False, f"materialized {_t(at)}"
            if asked is not None:
                return False, f"missing, but already requested {_t(asked[0])} (run {asked[1]})"
            return True, "never materialized nor requested"
        if kind == "in_progress":
            why = self._in_progress(me)
            return why is not None, why or "not in progress"
        if kind in ("any_deps_missing", "any_deps_in_progress", "any_deps_updated"):
            return self._any_dep(kind, me)
        if kind == "code_version_changed":
            return self._code_version_changed(me)
        if kind == "in_latest_time_window":
            return self._in_latest_window(me)
        assert condition.cron_schedule is not None
        tick = self._latest_tick(condition.cron_schedule, condition.cron_timezone)
        if kind == "cron_tick_passed":
            since = self._handled_at(me, with_materialization=False)
            if since is None:
                since = self.facts.first_seen.get(asset_key)
            passed = since is None or tick > since
            return passed, f"latest tick {_t(tick)}" + (
                "" if since is None else f", last handled {_t(since)}"
            )
        # all_deps_updated_since_cron
        stale = [up for up in self._upstream(me) if (self._materialized_at(up) or _EPOCH) <= tick]
        if stale:
            return False, f"{_name(stale[0])} not updated since the tick {_t(tick)}"
        return True, f"every upstream updated since the tick {_t(tick)}"

    def _any_dep(self, kind: str, me: AssetPartition) -> tuple[bool, str]:
        ups = self._upstream(me)
        if kind == "any_deps_missing":
            for up in ups:
                if self._materialized_at(up) is None and not self._external(up[0]):
                    return True, f"{_name(up)} was never materialized"
            return False, "every upstream partition exists"
        if kind == "any_deps_in_progress":
            for up in ups:
                why = self._in_progress(up)
                if why is not None:
                    return True, f"{_name(up)}: {why}"
            return False, "no upstream partition in progress"
        handled = self._handled_at(me, with_materialization=True)
        fresh: list[tuple[datetime, AssetPartition]] = []
        for up in ups:
            at = self._materialized_at(up)
            if at is not None and (handled is None or at > handled):
                fresh.append((at, up))
        if not fresh:
            return False, "no upstream partition updated since" + (
                f" {_t(handled)}" if handled is not None else " (none materialized)"
            )
        fresh.sort(key=lambda item: item[0], reverse=True)
        named = ", ".join(f"{_name(up)} materialized {_t(at)}" for at, up in fresh[:_NAMED])
        more = len(fresh) - _NAMED
        return True, named + (f", and {more} more" if more > 0 else "")

    def _code_version_changed(self, me: AssetPartition) -> tuple[bool, str]:
        asset = self.graph.assets.get(me[0])
        current = asset.code_version if asset is not None else None
        seen = self.facts.code_versions.get(me)
        if current is None or seen is None:
            return False, "no code version to compare"
        if seen[1] == current:
            return False, f"code version {current} is the one materialized"
        asked = self.facts.requested.get(me)
        if asked is not None and asked[0] > seen[0]:
            return False, f"code version changed, already requested {_t(asked[0])}"
        return True, f"materialized with code version {seen[1]}, now {current}"

    def _in_latest_window(self, me: AssetPartition) -> tuple[bool, str]:
        from conflux.sdk.partitions import MultiPartitionsDefinition, TimeWindowPartitionsDefinition

        pdef = self.graph.partitions_def(me[0])
        partition = me[1]
        if pdef is None or partition is None:
            return True, "not time-partitioned"
        if isinstance(pdef, TimeWindowPartitionsDefinition):
            last = pdef.get_last_partition_key(self.now)
            return partition == last, f"latest window is {last}"
        if isinstance(pdef, MultiPartitionsDefinition):
            parts = pdef.get_partition_key_from_str(partition).keys_by_dimension
            for dim in pdef.partitions_defs:
                if isinstance(dim.partitions_def, TimeWindowPartitionsDefinition):
                    last = dim.partitions_def.get_last_partition_key(self.now)
                    return parts[dim.name] == last, f"latest {dim.name} window is {last}"
        return True, "not time-partitioned"

    # -- facts -----------------------------------------------------------------------------

    def _materialized_at(self, ap: AssetPartition) -> datetime | None:
        state = self.assets.get(ap[0], ap[1])
        return state.materialized.time if state is not None and state.materialized else None

    def _handled_at(self, me: AssetPartition, *, with_materialization: bool) -> datetime | None:
        """The latest of automation's request and (optionally) the materialization."""
        asked = self.facts.requested.get(me)
        times = [asked[0]] if asked is not None else []
        if with_materialization:
            at = self._materialized_at(me)
            if at is not None:
                times.append(at)
        return max(times) if times else None

    def _in_progress(self, ap: AssetPartition) -> str | None:
        state = self.assets.get(ap[0], ap[1])
        attempt = state.attempt if state is not None else None
        if attempt is not None and attempt.status == "in_progress":
            return f"executing in run {attempt.run_id}"
        asked = self.facts.requested.get(ap)
        if asked is not None and self.run_open(asked[1]):
            return f"requested {_t(asked[0])} in run {asked[1]}, still open"
        planned = self.facts.planned.get(ap)
        if planned is not None and self.run_open(planned[1]):
            ended = [t for t in (self._materialized_at(ap), attempt and attempt.time) if t]
            if not ended or max(ended) < planned[0]:  # the open run has not handled it yet
                return f"part of run {planned[1]}, still open"
        return None

    def _external(self, asset_key: str) -> bool:
        asset = self.graph.assets.get(asset_key)
        return asset is None or asset.is_external

    def _upstream(self, me: AssetPartition) -> list[AssetPartition]:
        cached = self._ups.get(me)
        if cached is not None:
            return cached
        ups: list[AssetPartition] = []
        asset_key, partition = me
        for up_key in self.graph.upstream_of(asset_key):
            up_def = self.graph.partitions_def(up_key) if up_key in self.graph.assets else None
            if up_def is None:
                ups.append((up_key, None))
                continue
            mapping = self.graph.mapping(asset_key, up_key)
            keys = mapping.get_upstream_partition_keys(
                partition, self.graph.partitions_def(asset_key), up_def, current_time=self.now
            )
            ups.extend((up_key, k) for k in keys)
        self._ups[me] = ups
        return ups

    def _latest_tick(self, cron: str, timezone: str) -> datetime:
        key = (cron, timezone)
        tick = self._ticks.get(key)
        if tick is None:
            tick = self._ticks[key] = latest_tick(cron, timezone, self.now)
        return tick


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAMED = 3
"""How many updated upstream partitions an explanation names, newest first."""


def latest_tick(cron: str, timezone: str, now: datetime) -> datetime:
    """The latest tick of `cron` (read in `timezone`) at or before `now`, in UTC.

    The ticks are the schedules' (`cron_schedule`): one reading of cron and daylight
    saving for schedules and automation.
    """
    from conflux.projections.folds._instigators import cron_schedule

    ticks = cron_schedule(cron, timezone)
    return ticks.tick(ticks.ordinal(now))


def cron_leaves(condition: AutomationConditionSnapshot) -> set[tuple[str, str]]:
    """The (cron, time zone) pairs a condition's cron leaves tick on."""
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


def _t(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def _name(ap: AssetPartition) -> str:
    return ap[0] if ap[1] is None else f"{ap[0]}[{ap[1]}]"
