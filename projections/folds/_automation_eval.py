"""The automation condition evaluator: Dagster's operators read as times on the log.

One evaluation decides one root (an automated asset partition, or a check's) at `now`.
Every node yields a value and, where it has one, a time `at`:

- An operand that is an occurrence has the time of its latest occurrence:
  `newly_updated` (the latest materialization, or observation with a new data version),
  `newly_requested` (automation's latest request), `cron_tick_passed` (the latest tick),
  `initial_evaluation` (when the root's condition was first published),
  `code_version_changed`, `data_version_changed`. It is true when that time is after the
  root's reference: the latest of automation's request of the root, the root's
  materialization, and the condition's first publication ("since the previous
  evaluation", which on a log of events is "since the root was last handled").
- An operand that is a state (`missing`, `in_progress`, `execution_failed`, ...) is true or
  false now; true, its `at` is now.
- `a.since(b)`: true when `a`'s `at` is after `b`'s (or `b` never happened); ties go to the
  reset, as in Dagster when both are true on one tick.
- `x.newly_true()`: `x` is true and became true after the root's reference; when `x`
  became true is read from the log (`missing`: when the partition came to exist; a time
  operand: its time); a state whose start the log does not tell (a `~`) is never newly
  true.
- `&`: all true; `at` the earliest of the operands' (`None` if one has none). `|`: some
  true; `at` the latest. `~`: the negation, a state.
- `any_deps_match(c)` / `all_deps_match(c)`: `c` on the dependency partitions the root
  partition reads (through the partition mappings); a dependency matches if one of them
  does; any: some dependency, all: every one (none: true). `at`: the latest (any) or the
  earliest of each dependency's latest (all).
- `will_be_requested`: the partition is requested by this same decision step in a run the
  root joins (same location and partitions definition), so a chain `a -> b -> c` of eager
  assets runs in one run, as in Dagster.

`missing` of an external asset (an `AssetSpec` no location computes) is true until it is
reported; an observable source asset is missing until observed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from conflux.events import ConditionResult
from conflux.projections.folds._automation import (
    EPOCH,
    fmt_time,
    latest_tick,
    name_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from conflux.events import AutomationConditionSnapshot
    from conflux.projections.folds._asset_state import AssetStateProjection
    from conflux.projections.folds._automation import AssetPartition, AutomationFacts
    from conflux.projections.folds._definitions import DefinitionsProjection

Entity = tuple[str, str | None, str | None]
"""(asset key, partition key, check name or None): what a node is evaluated on."""

_NAMED = 3
"""How many matching dependency partitions an explanation names."""


@dataclass(frozen=True, slots=True)
class _Val:
    value: bool
    at: datetime | None
    detail: str = ""


@dataclass
class Evaluator:
    """Evaluates conditions at one instant over one consistent view of the state.

    Build one per decision step (it caches upstream partitions and cron ticks).

    Args:
        graph: the asset graph.
        assets: the latest state of every asset partition.
        facts: automation's facts (requests, runs, first publications, ...).
        run_open: whether a run is still open.
        now: the instant of the evaluation.
        step_requests: asset partition -> the run group (`group_of`) of what this decision
            step requests so far (`will_be_requested`); the caller adds to it.
        group_of: which run an asset's automatic request joins (default `run_group`: its
            location and partitions definition; the coordinator adds its automation sensor).
    """

    graph: DefinitionsProjection
    assets: AssetStateProjection
    facts: AutomationFacts
    run_open: Callable[[str], bool]
    now: datetime
    step_requests: dict[AssetPartition, str] = field(default_factory=dict)
    group_of: Callable[[str], str] | None = None
    """The run group of an asset's automatic requests (default: `run_group`)."""
    _ups: dict[tuple[str, str | None, str], list[str | None]] = field(default_factory=dict)
    _ticks: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # the root of the evaluation in progress
    _root: Entity = ("", None, None)
    _ref: datetime | None = None
    _explain: bool = False
    """Whether details are written (only for explanations: the fast path skips them)."""
    _updated: dict[AssetPartition, datetime | None] = field(default_factory=dict)

    def evaluate(
        self,
        condition: AutomationConditionSnapshot,
        asset_key: str,
        partition_key: str | None,
        check_name: str | None = None,
        *,
        explain: bool = True,
    ) -> ConditionResult:
        """The condition's value for one asset partition (or check), with every node's value.

        With `explain=False` only the root's value is computed (no children, no details):
        the fast path the coordinator takes before it explains a true result.
        """
        self._root = (asset_key, partition_key, check_name)
        self._explain = explain
        self._ref = self._reference()
        val, result = self._eval(condition, self._root, "0", explain, need_at=False)
        if result is None:
            return ConditionResult(
                condition=_title(condition), kind=condition.kind, value=val.value
            )
        return result

    # -- the tree --------------------------------------------------------------------------

    def _eval(
        self,
        node: AutomationConditionSnapshot,
        entity: Entity,
        path: str,
        explain: bool,
        *,
        need_at: bool = True,
    ) -> tuple[_Val, ConditionResult | None]:
        """Evaluate `node` on `entity`; with `explain`, also its result tree.

        With `need_at=False` (no `since` or `newly_true` above reads this node's time) and
        no explanation, `&` and `|` stop at the first operand that decides them.
        """
        if node.kind in _LEGACY_KINDS:
            return self._eval(_legacy(node), entity, path, explain, need_at=need_at)
        children: list[ConditionResult] | None = [] if explain else None
        val = self._node(node, entity, path, children, need_at=need_at)
        if not explain:
            return val, None
        return val, ConditionResult(
            condition=_title(node),
            kind=node.kind,
            value=val.value,
            detail=val.detail or None,
            children=tuple(children or ()),
        )

    def _value(self, node: AutomationConditionSnapshot, entity: Entity, path: str) -> _Val:
        return self._eval(node, entity, path, False)[0]

    def _node(
        self,
        node: AutomationConditionSnapshot,
        entity: Entity,
        path: str,
        out: list[ConditionResult] | None,
        *,
        need_at: bool = True,
    ) -> _Val:
        """Evaluate `node` on `entity`; append the children's results to `out` if given."""
        kind = node.kind
        if kind in ("and", "or", "not", "since", "newly_true"):
            lazy = not need_at and out is None and kind in ("and", "or", "not")
            vals = []
            for i, child in enumerate(node.children):
                val, result = self._eval(
                    child, entity, f"{path}.{i}", out is not None, need_at=not lazy
                )
                vals.append(val)
                if out is not None and result is not None:
                    out.append(result)
                if lazy and kind != "not" and val.value == (kind == "or"):
                    return _Val(val.value, None)  # decided, and no one reads the time
            return self._operator(node, entity, vals, path)
        if kind in ("any_deps_match", "all_deps_match"):
            return self._deps(node, entity, path, out)
        if kind in ("any_checks_match", "all_checks_match"):
            return self._checks(node, entity, path, out)
        if kind == "asset_matches":
            return self._asset_matches(node, entity, path, out)
        return self._operand(node, entity, path)

    def _operator(
        self, node: AutomationConditionSnapshot, entity: Entity, vals: list[_Val], path: str
    ) -> _Val:
        kind = node.kind
        if kind == "and":
            return _Val(all(v.value for v in vals), _earliest([v.at for v in vals]))
        if kind == "or":
            return _Val(any(v.value for v in vals), _latest([v.at for v in vals]))
        if kind == "not":
            value = not vals[0].value
            return _Val(value, self.now if value else None)
        if kind == "since":
            trigger, reset = vals
            value = trigger.at is not None and (reset.at is None or trigger.at > reset.at)
            if not self._explain:
                return _Val(value, trigger.at if value else None)
            if trigger.at is None:
                detail = "never true"
            elif reset.at is None:
                detail = f"true at {fmt_time(trigger.at)}, never reset"
            else:
                word = "after" if value else "not after"
                detail = f"true at {fmt_time(trigger.at)}, {word} reset {fmt_time(reset.at)}"
            return _Val(value, trigger.at if value else None, detail)
        # newly_true
        became = self._became(node.children[0], entity, f"{path}.0") if vals[0].value else None
        value = self._since_ref(became)
        if not self._explain:
            return _Val(value, became)
        if not vals[0].value:
            detail = "not true"
        elif became is None:
            detail = "true, since a time the log does not tell"
        else:
            detail = f"true since {fmt_time(became)}"
        return _Val(value, became, detail)

    # -- operators over other entities -----------------------------------------------------

    def _deps(
        self,
        node: AutomationConditionSnapshot,
        entity: Entity,
        path: str,
        out: list[ConditionResult] | None,
    ) -> _Val:
        asset_key, partition, _ = entity
        deps = sorted(
            d
            for d in self.graph.upstream_of(asset_key)
            if (node.allow is None or d in node.allow) and d not in node.ignore
        )
        child = node.children[0]
        per_dep: list[_Val] = []
        named: list[tuple[datetime, str, str | None]] = []
        for dep in deps:
            matching: list[tuple[datetime | None, str | None]] = []
            ats: list[datetime | None] = []
            ups = self._upstream_partitions(asset_key, partition, dep)
            for up in ups:
                val = self._value(child, (dep, up, None), f"{path}.0")
                ats.append(val.at)
                if val.value:
                    matching.append((val.at, up))
            per_dep.append(_Val(bool(matching), _latest(ats)))
            named.extend((at or EPOCH, dep, up) for at, up in matching)
            if out is not None:
                shown = matching[0][1] if matching else (ups[0] if ups else None)
                inner = self._eval(child, (dep, shown, None), f"{path}.0", True)[1]
                out.append(
                    ConditionResult(
                        condition=dep,
                        kind="asset_matches",
                        value=bool(matching),
                        detail=f"{len(matching)} of {len(ups)} partitions match",
                        children=(inner,) if inner is not None and ups else (),
                    )
                )
        hits = [d for d, v in zip(deps, per_dep, strict=True) if v.value]
        detail = self._deps_detail(node, deps, hits, named, path, out is not None)
        if node.kind == "any_deps_match":
            return _Val(bool(hits), _latest([v.at for v in per_dep]), detail)
        misses = [d for d in deps if d not in hits]
        at = _earliest([v.at for v in per_dep]) if deps else self.now
        return _Val(not misses, at if not misses else None, detail)

    def _deps_detail(
        self,
        node: AutomationConditionSnapshot,
        deps: list[str],
        hits: list[str],
        named: list[tuple[datetime, str, str | None]],
        path: str,
        explain: bool,
    ) -> str:
        """What matched, newest first (`raw materialized ...`), or which dep does not."""
        if not explain:
            return ""
        if not deps:
            return "no dependencies"
        if node.kind == "all_deps_match" and len(hits) < len(deps):
            miss = next(d for d in deps if d not in hits)
            return f"{miss} does not match"
        if not named:
            return "no dependency partition matches"
        named.sort(key=lambda n: (n[0], n[1], n[2] or ""), reverse=True)
        phrases = []
        for _, dep, up in named[:_NAMED]:
            result = self._eval(node.children[0], (dep, up, None), f"{path}.0", True)[1]
            leaf = _first_true_detail(result) if result is not None else None
            phrases.append(f"{name_of((dep, up))} {leaf}" if leaf else name_of((dep, up)))
        more = len(named) - _NAMED
        return ", ".join(phrases) + (f", and {more} more" if more > 0 else "")

    def _checks(
        self,
        node: AutomationConditionSnapshot,
        entity: Entity,
        path: str,
        out: list[ConditionResult] | None,
    ) -> _Val:
        asset_key, partition, _ = entity
        checks = [
            c
            for c in self.graph.asset_checks_of(asset_key)
            if (c.blocking or not node.blocking_only)
            and (node.allow is None or c.asset_key in node.allow)
            and c.asset_key not in node.ignore
        ]
        vals = []
        for check in checks:
            target = (asset_key, partition, check.name)
            val, result = self._eval(node.children[0], target, f"{path}.0", out is not None)
            vals.append(val)
            if out is not None and result is not None:
                out.append(result.model_copy(update={"condition": check.name}))
        if node.kind == "any_checks_match":
            return _Val(any(v.value for v in vals), _latest([v.at for v in vals]))
        value = all(v.value for v in vals)
        return _Val(
            value, (_earliest([v.at for v in vals]) if vals else self.now) if value else None
        )

    def _asset_matches(
        self,
        node: AutomationConditionSnapshot,
        entity: Entity,
        path: str,
        out: list[ConditionResult] | None,
    ) -> _Val:
        asset_key, partition, _ = entity
        other = node.asset_key or asset_key
        if other == asset_key:
            partitions: list[str | None] = [partition]
        elif other in self.graph.upstream_of(asset_key):
            partitions = self._upstream_partitions(asset_key, partition, other)
        elif asset_key in self.graph.upstream_of(other):
            partitions = self._downstream_partitions(asset_key, partition, other)
        else:
            same = self.graph.partitions_def(other) == self.graph.partitions_def(asset_key)
            partitions = [partition] if same else [None]
        vals = [self._value(node.children[0], (other, p, None), f"{path}.0") for p in partitions]
        if out is not None and partitions:
            result = self._eval(node.children[0], (other, partitions[0], None), f"{path}.0", True)
            if result[1] is not None:
                out.append(result[1])
        return _Val(any(v.value for v in vals), _latest([v.at for v in vals]))

    # -- operands --------------------------------------------------------------------------

    def _operand(self, node: AutomationConditionSnapshot, entity: Entity, path: str) -> _Val:
        kind = node.kind
        asset_key, partition, check = entity
        ap = (asset_key, partition)
        if kind == "missing":
            if check is not None:
                fact = self.facts.checks.get((asset_key, partition, check))
                return _state(self, fact is None, "never ran" if fact is None else "ran")
            at = self._updated_at(ap)
            if not self._explain:
                return _state(self, at is None, "")
            return _state(
                self,
                at is None,
                "was never materialized" if at is None else f"updated {fmt_time(at)}",
            )
        if kind == "run_in_progress":
            why = self._in_progress(ap, backfills=False)
            return _state(self, why is not None, why or "not in progress")
        if kind == "backfill_in_progress":
            why = self._in_progress(ap, backfills=True)
            return _state(self, why is not None, why or "no open backfill handles it")
        if kind == "execution_failed":
            if check is not None:
                fact = self.facts.checks.get((asset_key, partition, check))
                failed = fact is not None and fact.errored
                return _state(self, failed, "the check raised" if failed else "did not fail")
            state = self.assets.get(asset_key, partition)
            attempt = state.attempt if state is not None else None
            failed = attempt is not None and attempt.status == "failed"
            return _state(self, failed, "latest attempt failed" if failed else "did not fail")
        if kind in ("check_passed", "check_failed"):
            return self._check_result(entity, passed=kind == "check_passed")
        if kind == "will_be_requested":
            joins = self._will_be_requested(ap)
            return _state(self, joins, "is requested now" if joins else "is not requested now")
        if kind == "in_latest_time_window":
            value, detail = self._in_latest_window(ap, node.lookback_s)
            return _state(self, value, detail)
        if kind == "executed_with_root_target":
            return self._executed_with_root(entity)
        if kind == "executed_with_tags":
            return self._latest_run_tags(entity, node)
        if kind in ("all_new_updates_have_run_tags", "any_new_update_has_run_tags"):
            run = self._latest_run_tags(entity, node)
            new = self._since_ref(self._updated_at(ap))
            return _Val(run.value and new, run.at if new else None, run.detail)
        if kind == "custom":
            return self._custom(entity, path)
        at = self._occurred_at(node, entity)
        value = self._since_ref(at)
        if not self._explain:
            return _Val(value, at)
        verb = _VERBS.get(kind, kind)
        if kind == "newly_updated" and check is not None:
            verb = "ran"
        if at is None:
            return _Val(False, None, f"never {verb}")
        late = "" if value or self._ref is None else f", not since {fmt_time(self._ref)}"
        return _Val(value, at, f"{verb} {fmt_time(at)}{late}")

    def _occurred_at(self, node: AutomationConditionSnapshot, entity: Entity) -> datetime | None:
        """The latest time an occurrence operand happened on `entity`."""
        asset_key, partition, check = entity
        ap = (asset_key, partition)
        kind = node.kind
        if kind == "newly_updated":
            if check is not None:
                fact = self.facts.checks.get((asset_key, partition, check))
                return fact.time if fact is not None else None
            return self._updated_at(ap)
        if kind == "newly_requested":
            asked = self.facts.requested.get(ap)
            return asked[0] if asked is not None else None
        if kind == "cron_tick_passed":
            assert node.cron_schedule is not None
            return self._latest_tick(node.cron_schedule, node.cron_timezone)
        if kind == "initial_evaluation":
            return self._initial_at()
        if kind == "code_version_changed":
            seen = self.facts.code_changed.get(asset_key)
            return seen[1] if seen is not None else None
        if kind == "data_version_changed":
            return self.facts.data_changed.get(ap)
        return None  # a kind Conflux does not evaluate (e.g. a job's): never true

    def _since_ref(self, at: datetime | None) -> bool:
        return at is not None and (self._ref is None or at > self._ref)

    def _became(
        self, node: AutomationConditionSnapshot, entity: Entity, path: str
    ) -> datetime | None:
        """When `node`, true now on `entity`, became true (None: the log does not tell)."""
        kind = node.kind
        if kind in _LEGACY_KINDS:
            return self._became(_legacy(node), entity, path)
        asset_key, partition, _ = entity
        if kind in ("missing", "in_latest_time_window"):
            return self._born((asset_key, partition))
        if kind == "will_be_requested":
            return self.now
        if kind in ("and", "or"):
            times = []
            for i, child in enumerate(node.children):
                if kind == "or" and not self._value(child, entity, f"{path}.{i}").value:
                    continue
                times.append(self._became(child, entity, f"{path}.{i}"))
            if not times or any(t is None for t in times):
                return None
            return max(times) if kind == "and" else min(times)  # type: ignore[type-var]
        if kind in ("since", "newly_true"):
            return self._value(node, entity, path).at
        if kind in ("run_in_progress", "backfill_in_progress"):
            planned = self.facts.planned.get((asset_key, partition))
            return planned[0] if planned is not None else None
        if kind == "execution_failed":
            state = self.assets.get(asset_key, partition)
            return state.attempt.time if state is not None and state.attempt else None
        if kind in ("not", "any_deps_match", "all_deps_match", "asset_matches", "custom"):
            return None
        if kind in ("any_checks_match", "all_checks_match", "check_passed", "check_failed"):
            return self._value(node, entity, path).at
        return self._value(node, entity, path).at

    # -- facts -------------------------------------------------------------------------------

    def _reference(self) -> datetime | None:
        """The root's "previous evaluation": when it was last handled, or first defined."""
        asset_key, partition, check = self._root
        times: list[datetime] = []
        asked = self.facts.requested.get((asset_key, partition))
        if asked is not None and check is None:
            times.append(asked[0])
        updated = (
            self._updated_at((asset_key, partition))
            if check is None
            else self._check_time(self._root)
        )
        if updated is not None:
            times.append(updated)
        initial = self._initial_at()
        if initial is not None:
            times.append(initial)
        return max(times) if times else None

    def _initial_at(self) -> datetime | None:
        asset_key, _, check = self._root
        seen = self.facts.initial.get(asset_key if check is None else f"{asset_key}:{check}")
        return seen[2] if seen is not None else None

    def _check_time(self, entity: Entity) -> datetime | None:
        asset_key, partition, check = entity
        fact = self.facts.checks.get((asset_key, partition, check or ""))
        return fact.time if fact is not None else None

    def _updated_at(self, ap: AssetPartition) -> datetime | None:
        """The partition's latest update (cached for the step).

        A materialization, or (observable sources) a new data version observed.
        """
        if ap in self._updated:
            return self._updated[ap]
        found = self._updated[ap] = self._read_updated_at(ap)
        return found

    def _read_updated_at(self, ap: AssetPartition) -> datetime | None:
        state = self.assets.get(ap[0], ap[1])
        if state is not None and state.materialized is not None:
            return state.materialized.time
        asset = self.graph.assets.get(ap[0])
        if asset is not None and asset.is_observable:
            return self.facts.data_changed.get(ap)
        return None

    def _in_progress(self, ap: AssetPartition, *, backfills: bool) -> str | None:
        """Why the partition is part of an open run (or backfill chunk) not done with it."""
        state = self.assets.get(ap[0], ap[1])
        attempt = state.attempt if state is not None else None
        if not backfills and attempt is not None and attempt.status == "in_progress":
            return f"is executing in run {attempt.run_id}"
        failed = attempt.time if attempt is not None and attempt.status == "failed" else None
        ended = _latest([self._updated_at(ap), failed])
        for source in (self.facts.requested.get(ap), self.facts.planned.get(ap)):
            if source is None or not self.run_open(source[1]):
                continue
            tags = self.facts.runs.get(source[1], ((), {}))[1]
            if ("backfill_id" in tags) != backfills:
                continue
            if ended is None or ended < source[0]:  # the open run has not handled it yet
                what = "backfill chunk" if backfills else "run"
                return f"is part of {what} {source[1]}, still open"
        return None

    def _check_result(self, entity: Entity, *, passed: bool) -> _Val:
        asset_key, partition, check = entity
        if check is None:
            return _Val(False, None, "not a check")
        fact = self.facts.checks.get((asset_key, partition, check))
        state = self.assets.get(asset_key, partition)
        latest = state.materialized.event_id if state and state.materialized else None
        current = fact is not None and (
            fact.materialization_event_id is None or fact.materialization_event_id == latest
        )
        value = current and fact is not None and fact.passed == passed and not fact.errored
        word = "passed" if passed else "failed"
        detail = f"{word} {fmt_time(fact.time)}" if value and fact else f"not {word}"
        return _Val(value, fact.time if value and fact else None, detail)

    def _will_be_requested(self, ap: AssetPartition) -> bool:
        group = self.step_requests.get(ap)
        if group is None:
            return False
        root = (self._root[0], self._root[1])
        if ap == root:
            return True
        group_of = self.group_of or (lambda key: run_group(self.graph, key))
        return group == group_of(self._root[0])

    def _executed_with_root(self, entity: Entity) -> _Val:
        asset_key, _, check = entity
        if asset_key == self._root[0] and check is None:
            return _Val(False, None, "is the root")
        run_id = self._latest_run(entity)
        targets = self.facts.runs.get(run_id, ((), {}))[0] if run_id else ()
        value = self._root[0] in targets
        return _state(self, value, f"run {run_id} targeted {self._root[0]}" if value else "no")

    def _latest_run_tags(self, entity: Entity, node: AutomationConditionSnapshot) -> _Val:
        run_id = self._latest_run(entity)
        tags = self.facts.runs.get(run_id, ((), {}))[1] if run_id else None
        if tags is None:
            return _Val(False, None, "no run updated it")
        value = all(k in tags for k in node.tag_keys or ()) and all(
            tags.get(k) == v for k, v in (node.tag_values or {}).items()
        )
        return _state(self, value, f"run {run_id}" + ("" if value else " lacks the tags"))

    def _latest_run(self, entity: Entity) -> str | None:
        asset_key, partition, check = entity
        if check is not None:
            fact = self.facts.checks.get((asset_key, partition, check))
            return fact.run_id if fact is not None else None
        state = self.assets.get(asset_key, partition)
        return state.materialized.run_id if state and state.materialized else None

    def _custom(self, entity: Entity, path: str) -> _Val:
        partition = entity[1]
        root = self._root[0] if self._root[2] is None else f"{self._root[0]}:{self._root[2]}"
        reported = self.facts.custom.get((root, path))
        if reported is None:
            return _Val(False, None, "not evaluated by the location's worker yet")
        at, true_partitions = reported
        value = true_partitions is None or partition in true_partitions
        return _Val(value, self.now if value else None, f"reported {fmt_time(at)}")

    def _in_latest_window(self, ap: AssetPartition, lookback_s: float | None) -> tuple[bool, str]:
        from conflux.sdk.partitions import MultiPartitionsDefinition, TimeWindowPartitionsDefinition

        pdef = self.graph.partitions_def(ap[0])
        partition = ap[1]
        if pdef is None or partition is None:
            return True, "not time-partitioned"
        window_key = partition
        if isinstance(pdef, MultiPartitionsDefinition):
            parts = pdef.get_partition_key_from_str(partition).keys_by_dimension
            for dim in pdef.partitions_defs:
                if isinstance(dim.partitions_def, TimeWindowPartitionsDefinition):
                    pdef, window_key = dim.partitions_def, parts[dim.name]
                    break
        if not isinstance(pdef, TimeWindowPartitionsDefinition):
            return True, "not time-partitioned"
        last = pdef.get_last_partition_key(self.now)
        if lookback_s is None or last is None:
            return window_key == last, f"latest window is {last}"
        end = pdef.time_window_for_partition_key(last).end
        mine = pdef.time_window_for_partition_key(window_key).end
        value = mine <= end and mine > end - timedelta(seconds=lookback_s)
        return value, f"latest window is {last}, lookback {timedelta(seconds=lookback_s)}"

    def _born(self, ap: AssetPartition) -> datetime | None:
        """When the partition came to exist (the definition, a window's end, a key added)."""
        from conflux.sdk.partitions import (
            DynamicPartitionsDefinition,
            MultiPartitionsDefinition,
            TimeWindowPartitionsDefinition,
        )

        asset_key, partition = ap
        defined = self.facts.defined.get(asset_key)
        pdef = self.graph.partitions_def(asset_key)
        if pdef is None or partition is None:
            return defined
        parts: list[tuple[object, str]] = [(pdef, partition)]
        if isinstance(pdef, MultiPartitionsDefinition):
            by_dim = pdef.get_partition_key_from_str(partition).keys_by_dimension
            parts = [(d.partitions_def, by_dim[d.name]) for d in pdef.partitions_defs]
        times = [defined or EPOCH]
        for dim_def, key in parts:
            if isinstance(dim_def, TimeWindowPartitionsDefinition):
                window = dim_def.time_window_for_partition_key(key)
                step = window.end - window.start
                times.append(window.end - step * dim_def.end_offset)
            elif isinstance(dim_def, DynamicPartitionsDefinition) and dim_def.name:
                added = self.facts.dynamic_added.get((dim_def.name, key))
                if added is not None:
                    times.append(added)
        return max(times)

    def _upstream_partitions(
        self, asset_key: str, partition: str | None, up: str
    ) -> list[str | None]:
        cache_key = (asset_key, partition, up)
        cached = self._ups.get(cache_key)
        if cached is not None:
            return cached
        up_def = self.graph.partitions_def(up) if up in self.graph.assets else None
        if up_def is None:
            found: list[str | None] = [None]
        else:
            mapping = self.graph.mapping(asset_key, up)
            found = list(
                mapping.get_upstream_partition_keys(
                    partition, self.graph.partitions_def(asset_key), up_def, current_time=self.now
                )
            )
        self._ups[cache_key] = found
        return found

    def _downstream_partitions(
        self, asset_key: str, partition: str | None, down: str
    ) -> list[str | None]:
        down_def = self.graph.partitions_def(down)
        if down_def is None:
            return [None]
        up_def = self.graph.partitions_def(asset_key)
        if up_def is None:
            return [None]
        mapping = self.graph.mapping(down, asset_key)
        return list(
            mapping.get_downstream_partition_keys(
                partition, up_def, down_def, current_time=self.now
            )
        )

    def _latest_tick(self, cron: str, timezone: str) -> datetime:
        key = (cron, timezone)
        tick = self._ticks.get(key)
        if tick is None:
            tick = self._ticks[key] = latest_tick(cron, timezone, self.now)
        return tick


def run_group(graph: DefinitionsProjection, asset_key: str) -> str:
    """Which run an automated request of `asset_key` joins in a decision step.

    Assets of one location and one partitions definition run together (Dagster's
    `executable_in_same_run`).
    """
    asset = graph.assets.get(asset_key)
    partitions = asset.partitions.model_dump_json() if asset and asset.partitions else ""
    return f"{graph.location_of(asset_key)}|{partitions}"


def _earliest(times: list[datetime | None]) -> datetime | None:
    """The earliest time, or None if one is missing (or there is none)."""
    if not times or any(t is None for t in times):
        return None
    return min(t for t in times if t is not None)


def _latest(times: list[datetime | None]) -> datetime | None:
    """The latest of the known times, or None."""
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _state(ev: Evaluator, value: bool, detail: str) -> _Val:
    return _Val(value, ev.now if value else None, detail)


_VERBS = {
    "newly_updated": "materialized",
    "newly_requested": "requested",
    "cron_tick_passed": "ticked",
    "initial_evaluation": "published",
    "code_version_changed": "changed code version",
    "data_version_changed": "changed data version",
}
"""How an occurrence reads after a name: `raw materialized 2024-03-01 12:00:00.000Z`."""


def _first_true_detail(result: ConditionResult) -> str | None:
    """The detail of the first true operand under a true result (what matched)."""
    if not result.value:
        return None
    if not result.children:
        return result.detail
    for child in result.children:
        found = _first_true_detail(child)
        if found:
            return found
    return None


def _title(node: AutomationConditionSnapshot) -> str:
    """The node's label, else its Dagster-like name."""
    if node.label is not None:
        return node.label
    if node.kind == "cron_tick_passed":
        return f"cron_tick_passed({node.cron_schedule})"
    if node.kind == "asset_matches":
        return f"asset_matches({node.asset_key})"
    if node.kind == "custom":
        return node.name or "custom"
    return node.kind.upper() if node.kind in ("and", "or", "not", "since") else node.kind


_LEGACY_KINDS = frozenset(
    {
        "newly_missing",
        "in_progress",
        "any_deps_missing",
        "any_deps_in_progress",
        "any_deps_updated",
        "all_deps_updated_since_cron",
    }
)


def _legacy(node: AutomationConditionSnapshot) -> AutomationConditionSnapshot:
    """A leaf of a snapshot published before Dagster's operators, as its expansion."""
    from conflux.sdk import AutomationCondition

    c = AutomationCondition
    if node.kind == "newly_missing":
        built = c.newly_missing()
    elif node.kind == "in_progress":
        built = c.in_progress()
    elif node.kind == "any_deps_missing":
        built = c.any_deps_missing()
    elif node.kind == "any_deps_in_progress":
        built = c.any_deps_in_progress()
    elif node.kind == "any_deps_updated":
        built = c.any_deps_updated()
    else:
        built = c.all_deps_updated_since_cron(node.cron_schedule or "0 0 * * *", node.cron_timezone)
    return built.to_snapshot()
