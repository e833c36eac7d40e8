"""`AutomationCondition`: when an asset partition should be materialized, as data.

A condition is a tree of Dagster's operands (`missing()`, `newly_updated()`,
`cron_tick_passed(...)`, ...) combined by its operators (`&`, `|`, `~`, `.since()`,
`.newly_true()`, `any_deps_match()`, `all_deps_match()`, ...), with Dagster's names and
Dagster's compositions: `eager()`, `on_cron()` and `on_missing()` are the same trees as in
Dagster 1.13, so `.without()`, `.replace()`, `.allow()` and `.ignore()` edit them alike.

The tree is data: the snapshot carries it to the coordinator, which evaluates it whenever
an event touches the asset partition (an upstream materialized, a run ended, a cron tick
passed), never on a periodic sweep, and never by running user code. A user's own
subclass (`class IsHoliday(AutomationCondition): def evaluate(self, context): ...`) is the
exception: its node is evaluated by the location's worker, like a sensor, and the
coordinator reads the value the worker reports (docs/porting-from-dagster.md).

Dagster evaluates conditions on ticks and remembers each node's previous value; Conflux
evaluates on events and reads the same facts as times on the log (`projections/_automation`
says how each operator reads them): `x.since(y)` is true when `x` last happened after `y`
last happened, and "newly" means since the partition was last handled (requested by
automation, materialized, or since the condition was defined).
"""

from __future__ import annotations

from dataclasses import dataclass, replace as _replace
from typing import TYPE_CHECKING, Literal

from conflux.events import DefinitionError
from conflux.sdk._cron_checks import check_cron, check_timezone

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence, Set
    from datetime import timedelta

    from conflux.events import AutomationConditionKind as ConditionKind, AutomationConditionSnapshot
    from conflux.sdk._automation_context import AutomationContext, AutomationResult
    from conflux.sdk._keys import AssetKey
    from conflux.sdk._selection import AssetSelection

    SelectionResolver = Callable[[AssetSelection], tuple[str, ...]]


class InvalidAutomationConditionError(DefinitionError):
    """An automation condition cannot be built (e.g. a bad cron expression or time zone)."""


def _check_cron(cron_schedule: str, cron_timezone: str) -> None:
    """Refuse a cron expression or time zone that the coordinator could not tick on."""
    what = "automation condition"
    check_cron(cron_schedule, what, InvalidAutomationConditionError)
    check_timezone(cron_timezone, what, InvalidAutomationConditionError)


class AutomationCondition:
    """When an asset partition should be materialized (Dagster's `AutomationCondition`).

    Build one from the factory methods and combine them with `&`, `|`, `~` and `.since()`;
    attach it with `@asset(automation_condition=...)` (or to a check). Equal conditions
    compare equal. Subclass it and implement `evaluate` for a condition of your own.

    Example:
        >>> @asset(deps=[orders], automation_condition=AutomationCondition.eager())
        ... def revenue() -> None: ...
        >>> nightly = AutomationCondition.on_cron("@daily")
        >>> important = AutomationCondition.any_deps_match(
        ...     AutomationCondition.missing()
        ... ).allow(AssetSelection.groups("important"))
    """

    # -- what every condition is -------------------------------------------------------

    @property
    def children(self) -> Sequence[AutomationCondition]:
        """The conditions this one is made of."""
        return ()

    @property
    def name(self) -> str:
        """The condition's formal name (Dagster's: `missing`, `AND`, `SINCE`, ...)."""
        return type(self).__name__

    @property
    def description(self) -> str:
        """When the condition is true, for people."""
        return ""

    def get_label(self) -> str | None:
        """The condition's label (e.g. `eager`), or None."""
        return None

    def evaluate(self, context: AutomationContext) -> AutomationResult:
        """A custom condition's value for the context's candidate partitions.

        Built-in conditions are evaluated by the coordinator; a subclass implements this,
        and the location's worker calls it (see the module docstring).
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement evaluate(self, context) -> AutomationResult"
        )

    @property
    def is_custom(self) -> bool:
        """True for a user's subclass (evaluated by the location's worker)."""
        return not isinstance(self, BuiltinAutomationCondition)

    # -- operators ---------------------------------------------------------------------

    def __and__(self, other: AutomationCondition) -> BuiltinAutomationCondition:
        return BuiltinAutomationCondition("and", _flatten("and", self, other))

    def __or__(self, other: AutomationCondition) -> BuiltinAutomationCondition:
        return BuiltinAutomationCondition("or", _flatten("or", self, other))

    def __invert__(self) -> BuiltinAutomationCondition:
        return BuiltinAutomationCondition("not", (self,))

    def since(self, reset_condition: AutomationCondition) -> BuiltinAutomationCondition:
        """True if this condition became true after `reset_condition` last did."""
        return BuiltinAutomationCondition("since", (self, reset_condition))

    def newly_true(self) -> BuiltinAutomationCondition:
        """True when this condition has just become true (see the module docstring)."""
        return BuiltinAutomationCondition("newly_true", (self,))

    def since_last_handled(self) -> BuiltinAutomationCondition:
        """True if this became true since the partition was last requested or updated.

        `self.since((newly_requested() | newly_updated() | initial_evaluation())
        .with_label("handled"))`, as in Dagster.
        """
        c = AutomationCondition
        return self.since(
            (c.newly_requested() | c.newly_updated() | c.initial_evaluation()).with_label("handled")
        )

    def replace(
        self, old: AutomationCondition | str, new: AutomationCondition
    ) -> AutomationCondition:
        """This condition with every `old` (a condition, or a name or label) replaced by `new`."""
        return new if _matches(self, old) else self

    def with_label(self, label: str | None) -> AutomationCondition:
        """The same condition, named `label` (built-in conditions; a custom one is itself)."""
        return self

    def allow(self, selection: AssetSelection) -> AutomationCondition:
        """Only dependencies in `selection` count, in every deps operator within."""
        return self

    def ignore(self, selection: AssetSelection) -> AutomationCondition:
        """Dependencies in `selection` do not count, in every deps operator within."""
        return self

    def without(self, condition: AutomationCondition) -> AutomationCondition:
        """(For an `and`) the same condition without the operand equal to `condition`."""
        raise InvalidAutomationConditionError(
            f"without(): {self.name} is not an AND of conditions: call it on one (e.g. eager())"
        )

    # -- operands ----------------------------------------------------------------------

    @staticmethod
    def missing() -> BuiltinAutomationCondition:
        """The partition was never materialized."""
        return BuiltinAutomationCondition("missing")

    @staticmethod
    def run_in_progress() -> BuiltinAutomationCondition:
        """The partition is part of an open run that has not handled it yet."""
        return BuiltinAutomationCondition("run_in_progress")

    @staticmethod
    def backfill_in_progress() -> BuiltinAutomationCondition:
        """The partition is part of an open backfill that has not handled it yet."""
        return BuiltinAutomationCondition("backfill_in_progress")

    @staticmethod
    def execution_failed() -> BuiltinAutomationCondition:
        """The partition's latest execution failed."""
        return BuiltinAutomationCondition("execution_failed")

    @staticmethod
    def in_progress() -> BuiltinAutomationCondition:
        """`run_in_progress() | backfill_in_progress()`, labeled `in_progress`."""
        c = AutomationCondition
        return (c.run_in_progress() | c.backfill_in_progress()).with_label("in_progress")

    @staticmethod
    def check_passed() -> BuiltinAutomationCondition:
        """(For a check) it ran against the asset's latest materialization and passed."""
        return BuiltinAutomationCondition("check_passed")

    @staticmethod
    def check_failed() -> BuiltinAutomationCondition:
        """(For a check) it ran against the asset's latest materialization and failed."""
        return BuiltinAutomationCondition("check_failed")

    @staticmethod
    def initial_evaluation() -> BuiltinAutomationCondition:
        """True on the first evaluation after the condition (or the partitions) changed."""
        return BuiltinAutomationCondition("initial_evaluation")

    @staticmethod
    def in_latest_time_window(
        lookback_delta: timedelta | None = None,
    ) -> BuiltinAutomationCondition:
        """The partition is the latest time window (always true when not time-partitioned).

        Args:
            lookback_delta: also the windows that end within this delta of the end of the
                latest one (48 hours on a daily asset: the latest two).
        """
        return BuiltinAutomationCondition("in_latest_time_window", lookback=lookback_delta)

    @staticmethod
    def will_be_requested() -> BuiltinAutomationCondition:
        """The partition is requested in this same evaluation (and can run in one run)."""
        return BuiltinAutomationCondition("will_be_requested")

    @staticmethod
    def newly_updated() -> BuiltinAutomationCondition:
        """The partition was materialized (or observed with a new data version) since."""
        return BuiltinAutomationCondition("newly_updated")

    @staticmethod
    def newly_requested() -> BuiltinAutomationCondition:
        """Automation requested the partition (its `at`: the request's time)."""
        return BuiltinAutomationCondition("newly_requested")

    @staticmethod
    def executed_with_root_target() -> BuiltinAutomationCondition:
        """The run that last updated it also targeted the asset being evaluated."""
        return BuiltinAutomationCondition("executed_with_root_target")

    @staticmethod
    def executed_with_tags(
        *, tag_keys: Set[str] | None = None, tag_values: Mapping[str, str] | None = None
    ) -> BuiltinAutomationCondition:
        """The run that last updated it carried these tags (keys, or keys with values)."""
        return BuiltinAutomationCondition(
            "executed_with_tags", tag_keys=_tag_keys(tag_keys), tag_values=_tag_values(tag_values)
        )

    @staticmethod
    def all_new_updates_have_run_tags(
        *, tag_keys: Set[str] | None = None, tag_values: Mapping[str, str] | None = None
    ) -> BuiltinAutomationCondition:
        """Every update since it was last handled came from runs with these tags."""
        return BuiltinAutomationCondition(
            "all_new_updates_have_run_tags",
            tag_keys=_tag_keys(tag_keys),
            tag_values=_tag_values(tag_values),
        )

    @staticmethod
    def any_new_update_has_run_tags(
        *, tag_keys: Set[str] | None = None, tag_values: Mapping[str, str] | None = None
    ) -> BuiltinAutomationCondition:
        """Some update since it was last handled came from a run with these tags."""
        return BuiltinAutomationCondition(
            "any_new_update_has_run_tags",
            tag_keys=_tag_keys(tag_keys),
            tag_values=_tag_values(tag_values),
        )

    @staticmethod
    def code_version_changed() -> BuiltinAutomationCondition:
        """The asset's code version changed (its `at`: when the new version was published)."""
        return BuiltinAutomationCondition("code_version_changed")

    @staticmethod
    def data_version_changed() -> BuiltinAutomationCondition:
        """The partition's data version changed with its latest update."""
        return BuiltinAutomationCondition("data_version_changed")

    @staticmethod
    def cron_tick_passed(
        cron_schedule: str, cron_timezone: str = "UTC"
    ) -> BuiltinAutomationCondition:
        """A tick of `cron_schedule` passed (its `at`: the latest tick)."""
        _check_cron(cron_schedule, cron_timezone)
        return BuiltinAutomationCondition(
            "cron_tick_passed", cron_schedule=cron_schedule, cron_timezone=cron_timezone
        )

    # -- operators over other assets and checks ------------------------------------------

    @staticmethod
    def asset_matches(
        key: AssetKey | str | Sequence[str], condition: AutomationCondition
    ) -> BuiltinAutomationCondition:
        """`condition` evaluated on asset `key` (its partitions mapped to this one's)."""
        return BuiltinAutomationCondition("asset_matches", (condition,), asset_key=_key(key))

    @staticmethod
    def any_deps_match(condition: AutomationCondition) -> BuiltinAutomationCondition:
        """True if some dependency has a partition (of those this one reads) matching."""
        return BuiltinAutomationCondition("any_deps_match", (condition,))

    @staticmethod
    def all_deps_match(condition: AutomationCondition) -> BuiltinAutomationCondition:
        """True if every dependency has a partition (of those this one reads) matching."""
        return BuiltinAutomationCondition("all_deps_match", (condition,))

    @staticmethod
    def any_checks_match(
        condition: AutomationCondition, blocking_only: bool = False
    ) -> BuiltinAutomationCondition:
        """True if some check of the asset matches `condition`."""
        return BuiltinAutomationCondition(
            "any_checks_match", (condition,), blocking_only=blocking_only
        )

    @staticmethod
    def all_checks_match(
        condition: AutomationCondition, blocking_only: bool = False
    ) -> BuiltinAutomationCondition:
        """True if every check of the asset matches `condition` (and it has one)."""
        return BuiltinAutomationCondition(
            "all_checks_match", (condition,), blocking_only=blocking_only
        )

    @staticmethod
    def any_job_root_assets_match(condition: AutomationCondition) -> BuiltinAutomationCondition:
        """(Dagster preview, for jobs) Some root asset of the job matches; not evaluated."""
        label = condition.get_label() or condition.name
        return BuiltinAutomationCondition("any_job_root_assets_match", (condition,)).with_label(
            f"any_job_root_assets_match({label})"
        )

    @staticmethod
    def all_job_root_assets_match(condition: AutomationCondition) -> BuiltinAutomationCondition:
        """(Dagster preview, for jobs) Every root asset of the job matches; not evaluated."""
        label = condition.get_label() or condition.name
        return BuiltinAutomationCondition("all_job_root_assets_match", (condition,)).with_label(
            f"all_job_root_assets_match({label})"
        )

    # -- Dagster's compositions ---------------------------------------------------------

    @staticmethod
    def newly_missing() -> BuiltinAutomationCondition:
        """`missing().newly_true()`, labeled `newly_missing`."""
        return AutomationCondition.missing().newly_true().with_label("newly_missing")

    @staticmethod
    def any_deps_updated() -> BuiltinAutomationCondition:
        """Some dependency updated (not by a run that also targeted this asset) or will be."""
        c = AutomationCondition
        return c.any_deps_match(
            (c.newly_updated() & ~c.executed_with_root_target()).with_label(
                "newly_updated_without_root"
            )
            | c.will_be_requested()
        ).with_label("any_deps_updated")

    @staticmethod
    def any_deps_missing() -> BuiltinAutomationCondition:
        """Some dependency partition is missing and will not be requested now."""
        c = AutomationCondition
        return c.any_deps_match(c.missing() & ~c.will_be_requested()).with_label("any_deps_missing")

    @staticmethod
    def any_deps_in_progress() -> BuiltinAutomationCondition:
        """Some dependency partition is in progress."""
        c = AutomationCondition
        return c.any_deps_match(c.in_progress()).with_label("any_deps_in_progress")

    @staticmethod
    def all_deps_blocking_checks_passed() -> BuiltinAutomationCondition:
        """Every dependency's blocking checks passed (or will be requested now)."""
        c = AutomationCondition
        return c.all_deps_match(
            c.all_checks_match(
                c.check_passed() | c.will_be_requested(), blocking_only=True
            ).with_label("all_blocking_checks_passed")
        ).with_label("all_deps_blocking_checks_passed")

    @staticmethod
    def all_deps_updated_since_cron(
        cron_schedule: str, cron_timezone: str = "UTC"
    ) -> BuiltinAutomationCondition:
        """Every dependency updated since the latest tick of the cron (or will be now)."""
        c = AutomationCondition
        return c.all_deps_match(
            c.newly_updated().since(c.cron_tick_passed(cron_schedule, cron_timezone))
            | c.will_be_requested()
        ).with_label(f"all_deps_updated_since_cron({cron_schedule}, {cron_timezone})")

    @staticmethod
    def eager() -> BuiltinAutomationCondition:
        """Materialize when a dependency updates, or when a partition newly goes missing.

        Not while a dependency is missing or in progress, nor while in progress itself; for
        time partitions, only the latest window. A partition that was already missing when
        the condition was first applied is not requested (as in Dagster).
        """
        c = AutomationCondition
        return (
            c.in_latest_time_window()
            & (c.newly_missing() | c.any_deps_updated()).since_last_handled()
            & ~c.any_deps_missing()
            & ~c.any_deps_in_progress()
            & ~c.in_progress()
        ).with_label("eager")

    @staticmethod
    def on_cron(cron_schedule: str, cron_timezone: str = "UTC") -> BuiltinAutomationCondition:
        """Materialize once per cron tick, after every dependency updated since that tick.

        For time partitions, only the latest window.
        """
        c = AutomationCondition
        return (
            c.in_latest_time_window()
            & c.cron_tick_passed(cron_schedule, cron_timezone).since_last_handled()
            & c.all_deps_updated_since_cron(cron_schedule, cron_timezone)
        ).with_label(f"on_cron({cron_schedule}, {cron_timezone})")

    @staticmethod
    def on_missing() -> BuiltinAutomationCondition:
        """Materialize partitions added after the condition was applied, once deps exist.

        For time partitions, only the latest window.
        """
        c = AutomationCondition
        return (
            c.in_latest_time_window()
            & c.missing().newly_true().since_last_handled().with_label("missing_since_last_handled")
            & ~c.any_deps_missing()
        ).with_label("on_missing")

    @staticmethod
    def all(*conditions: AutomationCondition) -> BuiltinAutomationCondition:
        """True when every condition is (Conflux's shorthand for `a & b & ...`)."""
        return BuiltinAutomationCondition("and", tuple(conditions))

    @staticmethod
    def any(*conditions: AutomationCondition) -> BuiltinAutomationCondition:
        """True when some condition is (Conflux's shorthand for `a | b | ...`)."""
        return BuiltinAutomationCondition("or", tuple(conditions))

    # -- data --------------------------------------------------------------------------

    def to_snapshot(self, resolve: SelectionResolver | None = None) -> AutomationConditionSnapshot:
        """The data-only form the coordinator evaluates.

        Args:
            resolve: turns the `AssetSelection` of `.allow()` / `.ignore()` into asset keys
                (the location's `Definitions` does it when it builds its snapshot).
        """
        from conflux.events import AutomationConditionSnapshot

        return AutomationConditionSnapshot(
            kind="custom", name=self.name, label=self.get_label() or None
        )

    def __str__(self) -> str:
        return describe(self.to_snapshot())


@dataclass(frozen=True, eq=True)
class BuiltinAutomationCondition(AutomationCondition):
    """A condition Dagster provides, as data (the coordinator evaluates it)."""

    kind: ConditionKind
    operands: tuple[AutomationCondition, ...] = ()
    label: str | None = None
    cron_schedule: str | None = None
    cron_timezone: str = "UTC"
    asset_key: str | None = None
    allow_selection: AssetSelection | None = None
    ignore_selection: AssetSelection | None = None
    lookback: timedelta | None = None
    tag_keys: frozenset[str] | None = None
    tag_values: tuple[tuple[str, str], ...] | None = None
    blocking_only: bool = False

    @property
    def children(self) -> Sequence[AutomationCondition]:
        """The operands (Dagster's `children`)."""
        return self.operands

    @property
    def name(self) -> str:
        """Dagster's name of the node (`AND`, `SINCE`, `missing`, `cron_tick_passed(...)`)."""
        return _name(self)

    def get_label(self) -> str | None:
        """The label given with `with_label`, or None."""
        return self.label

    def with_label(self, label: str | None) -> BuiltinAutomationCondition:
        """The same condition, named `label` in explanations (`conflux why`)."""
        return _replace(self, label=label)

    def replace(
        self, old: AutomationCondition | str, new: AutomationCondition
    ) -> AutomationCondition:
        """This condition with every `old` (a condition, or a name or label) replaced by `new`."""
        if _matches(self, old):
            return new
        if not self.operands:
            return self
        return _replace(self, operands=tuple(o.replace(old, new) for o in self.operands))

    def without(self, condition: AutomationCondition) -> BuiltinAutomationCondition:
        """(For an `and`) the same condition without the operand equal to `condition`.

        Raises:
            InvalidAutomationConditionError: not an `and`, no such operand, or fewer than
                two operands would remain.
        """
        if self.kind != "and" or condition not in self.operands:
            raise InvalidAutomationConditionError(
                f"without({condition.get_label() or condition.name}): not an operand of "
                f"{self.get_label() or self.name}; pass one of its operands"
            )
        operands = tuple(o for o in self.operands if o != condition)
        if len(operands) < 2:
            raise InvalidAutomationConditionError(
                "Cannot have fewer than 2 operands in an AND condition: build the condition "
                "you want from its parts instead"
            )
        return _replace(self, operands=operands)

    def allow(self, selection: AssetSelection) -> BuiltinAutomationCondition:
        """Only dependencies (or checks) in `selection` count, in every deps operator within."""
        return self._filter(selection, allow=True)

    def ignore(self, selection: AssetSelection) -> BuiltinAutomationCondition:
        """Dependencies (or checks) in `selection` do not count, in every deps operator within."""
        return self._filter(selection, allow=False)

    def _filter(self, selection: AssetSelection, *, allow: bool) -> BuiltinAutomationCondition:
        if self.kind in _DEPS_OR_CHECKS:
            current = self.allow_selection if allow else self.ignore_selection
            merged = selection if current is None else selection | current
            if allow:
                return _replace(self, allow_selection=merged)
            return _replace(self, ignore_selection=merged)
        if self.kind in ("and", "or", "not", "since"):
            return _replace(
                self,
                operands=tuple(
                    o._filter(selection, allow=allow)
                    if isinstance(o, BuiltinAutomationCondition)
                    and (o.kind in _DEPS_OR_CHECKS or o.kind in ("and", "or", "not", "since"))
                    else o
                    for o in self.operands
                ),
            )
        return self

    def to_snapshot(self, resolve: SelectionResolver | None = None) -> AutomationConditionSnapshot:
        """The data-only form the coordinator evaluates (see `AutomationCondition`)."""
        from conflux.events import AutomationConditionSnapshot

        if (self.kind in _DEPS_OR_CHECKS or self.kind == "asset_matches") and _has_custom(self):
            raise InvalidAutomationConditionError(
                f"{self.get_label() or self.name}: a custom condition inside an operator over "
                "other assets or checks is not supported (the worker evaluates custom "
                "conditions for the asset they are attached to): use it at the top of the "
                "asset's own condition"
            )

        def keys(selection: AssetSelection | None) -> tuple[str, ...] | None:
            if selection is None:
                return None
            if resolve is None:
                raise InvalidAutomationConditionError(
                    f"{self.name}: .allow()/.ignore() selections resolve against the "
                    "location's Definitions; attach the condition to an asset in Definitions"
                )
            return resolve(selection)

        return AutomationConditionSnapshot(
            kind=self.kind,
            children=tuple(child.to_snapshot(resolve) for child in self.operands),
            cron_schedule=self.cron_schedule,
            cron_timezone=self.cron_timezone,
            label=self.label,
            asset_key=self.asset_key,
            allow=keys(self.allow_selection),
            ignore=keys(self.ignore_selection) or (),
            lookback_s=self.lookback.total_seconds() if self.lookback is not None else None,
            tag_keys=tuple(sorted(self.tag_keys)) if self.tag_keys is not None else None,
            tag_values=dict(self.tag_values) if self.tag_values is not None else None,
            blocking_only=self.blocking_only,
        )

    def __str__(self) -> str:
        return describe(self.to_snapshot(lambda selection: ("…",)))


_DEPS_OR_CHECKS = ("any_deps_match", "all_deps_match", "any_checks_match", "all_checks_match")

_OPERATOR_NAMES = {
    "and": "AND",
    "or": "OR",
    "not": "NOT",
    "since": "SINCE",
    "newly_true": "NEWLY_TRUE",
    "any_deps_match": "ANY_DEPS_MATCH",
    "all_deps_match": "ALL_DEPS_MATCH",
    "any_checks_match": "ANY_CHECKS_MATCH",
    "all_checks_match": "ALL_CHECKS_MATCH",
}


def _name(c: BuiltinAutomationCondition) -> str:
    """Dagster's `name` of a built-in node (what `replace("...")` matches besides labels)."""
    if c.kind == "asset_matches":
        return c.asset_key or ""
    if c.kind == "cron_tick_passed":
        return f"cron_tick_passed(cron_schedule={c.cron_schedule}, cron_timezone={c.cron_timezone})"
    if c.kind == "in_latest_time_window" and c.lookback is not None:
        return f"in_latest_time_window(lookback_timedelta={c.lookback})"
    if c.kind in _DEPS_OR_CHECKS:
        props = ["blocking_only=True"] if c.blocking_only else []
        if c.allow_selection is not None:
            props.append(f"allow_selection={c.allow_selection}")
        if c.ignore_selection is not None:
            props.append(f"ignore_selection={c.ignore_selection}")
        base = _OPERATOR_NAMES[c.kind]
        return base + (f"({','.join(props)})" if props else "")
    if c.kind in (
        "executed_with_tags",
        "all_new_updates_have_run_tags",
        "any_new_update_has_run_tags",
    ):
        props = []
        if c.tag_keys is not None:
            props.append("tag_keys={" + ",".join(sorted(c.tag_keys)) + "}")
        if c.tag_values is not None:
            props.append("tag_values={" + ",".join(f"{k}:{v}" for k, v in c.tag_values) + "}")
        return c.kind + (f"({', '.join(props)})" if props else "")
    return _OPERATOR_NAMES.get(c.kind, c.kind)


def _has_custom(condition: AutomationCondition) -> bool:
    return condition.is_custom or any(_has_custom(c) for c in condition.children)


def _matches(condition: AutomationCondition, old: AutomationCondition | str) -> bool:
    if isinstance(old, str):
        return old in (condition.name, condition.get_label())
    return condition == old


def _tag_keys(keys: Set[str] | None) -> frozenset[str] | None:
    return frozenset(keys) if keys is not None else None


def _tag_values(values: Mapping[str, str] | None) -> tuple[tuple[str, str], ...] | None:
    return tuple(sorted(values.items())) if values is not None else None


def _key(key: object) -> str:
    from conflux.sdk._keys import AssetKey

    if isinstance(key, AssetKey):
        return key.to_user_string()
    if isinstance(key, str):
        return AssetKey.from_user_string(key).to_user_string()
    if isinstance(key, list | tuple):
        return AssetKey([str(part) for part in key]).to_user_string()
    raise InvalidAutomationConditionError(
        f"asset_matches({key!r}): pass an AssetKey, a key string or a list of path parts"
    )


def describe(snapshot: AutomationConditionSnapshot) -> str:
    """A condition as one readable expression, e.g. `(missing & ~any_deps_in_progress)`."""
    if snapshot.label is not None:
        return snapshot.label
    kind = snapshot.kind
    if kind in ("and", "or"):
        glue = " & " if kind == "and" else " | "
        return "(" + glue.join(describe(c) for c in snapshot.children) + ")"
    if kind == "not":
        return "~" + describe(snapshot.children[0])
    if kind == "since":
        return f"{describe(snapshot.children[0])}.since({describe(snapshot.children[1])})"
    if kind == "newly_true":
        return f"{describe(snapshot.children[0])}.newly_true()"
    if kind in _DEPS_OR_CHECKS or kind == "asset_matches":
        inner = describe(snapshot.children[0])
        first = f"{snapshot.asset_key}, " if kind == "asset_matches" else ""
        return f"{kind}({first}{inner})"
    if kind == "custom":
        return snapshot.name or "custom"
    if snapshot.cron_schedule is not None:
        return f"{kind}({snapshot.cron_schedule!r}, {snapshot.cron_timezone!r})"
    return kind


def _flatten(
    kind: Literal["and", "or"], *conditions: AutomationCondition
) -> tuple[AutomationCondition, ...]:
    """Operands of a new `and`/`or`: unlabeled nodes of the same kind are merged (Dagster)."""
    out: list[AutomationCondition] = []
    for condition in conditions:
        if (
            isinstance(condition, BuiltinAutomationCondition)
            and condition.kind == kind
            and condition.label is None
        ):
            out.extend(condition.operands)
        else:
            out.append(condition)
    return tuple(out)


def coerce_condition(value: object, where: str) -> AutomationCondition | None:
    """Check an `automation_condition=` argument (None or an `AutomationCondition`)."""
    if value is None or isinstance(value, AutomationCondition):
        return value
    raise InvalidAutomationConditionError(
        f"{where}: automation_condition={value!r} is not an AutomationCondition: use e.g. "
        "AutomationCondition.eager()"
    )
