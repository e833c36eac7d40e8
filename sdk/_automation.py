"""`AutomationCondition`: when an asset partition should be materialized, as data.

A condition is a tree of basic conditions combined with `&`, `|` and `~`, with Dagster's
names. It is pure data: the snapshot carries it to the coordinator, which evaluates it
whenever an event touches the asset partition (an upstream materialized, a run ended, a
cron tick passed), never on a periodic sweep, and never by running user code.

What each basic condition means for one asset partition P (the coordinator's rules):

- `missing()`: P was never materialized.
- `newly_missing()`: P is missing and automation never requested it yet (so a missing
  partition whose run failed is not requested again and again).
- `in_progress()`: P is executing, or is part of a run that is still open and has not
  materialized or failed it yet (requested by automation, a person or a schedule).
- `any_deps_missing()`: an upstream partition P reads was never materialized (external
  assets, observed elsewhere, never count as missing).
- `any_deps_in_progress()`: an upstream partition P reads is in progress.
- `any_deps_updated()`: an upstream partition P reads materialized after P's latest
  materialization and after automation last requested P ("since last handled").
- `code_version_changed()`: P's latest materialization ran another code version than the
  asset's current one, and automation has not requested P since.
- `cron_tick_passed(cron)`: a tick of the cron schedule passed since automation last
  requested P (or since the asset was first defined).
- `all_deps_updated_since_cron(cron)`: every upstream partition P reads materialized after
  the latest tick of the cron schedule.
- `in_latest_time_window()`: P is the latest partition of a time-partitioned asset (or of
  its time dimension); always true for other assets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from conflux.events import DefinitionError
from conflux.sdk._cron_checks import check_cron, check_timezone

if TYPE_CHECKING:
    from conflux.events import AutomationConditionKind as ConditionKind, AutomationConditionSnapshot


class InvalidAutomationConditionError(DefinitionError):
    """An automation condition cannot be built (e.g. a bad cron expression or time zone)."""


def _check_cron(cron_schedule: str, cron_timezone: str) -> None:
    """Refuse a cron expression or time zone that the coordinator could not tick on."""
    what = "automation condition"
    check_cron(cron_schedule, what, InvalidAutomationConditionError)
    check_timezone(cron_timezone, what, InvalidAutomationConditionError)


@dataclass(frozen=True)
class AutomationCondition:
    """When an asset partition should be materialized (Dagster's `AutomationCondition`).

    Build one from the factory methods and combine them with `&`, `|` and `~`; attach it
    with `@asset(automation_condition=...)`. Equal conditions compare equal.

    Example:
        >>> @asset(deps=[orders], automation_condition=AutomationCondition.eager())
        ... def revenue() -> None: ...
        >>> nightly = AutomationCondition.on_cron("0 2 * * *") & ~AutomationCondition.in_progress()
    """

    kind: ConditionKind
    children: tuple[AutomationCondition, ...] = ()
    cron_schedule: str | None = None
    cron_timezone: str = "UTC"
    label: str | None = None

    # -- combinators -------------------------------------------------------------------

    def __and__(self, other: AutomationCondition) -> AutomationCondition:
        return AutomationCondition("and", _flatten("and", self, other))

    def __or__(self, other: AutomationCondition) -> AutomationCondition:
        return AutomationCondition("or", _flatten("or", self, other))

    def __invert__(self) -> AutomationCondition:
        return AutomationCondition("not", (self,))

    def with_label(self, label: str | None) -> AutomationCondition:
        """The same condition, named `label` in explanations (`conflux why`)."""
        return AutomationCondition(
            self.kind, self.children, self.cron_schedule, self.cron_timezone, label
        )

    @staticmethod
    def all(*conditions: AutomationCondition) -> AutomationCondition:
        """True when every condition is."""
        return AutomationCondition("and", tuple(conditions))

    @staticmethod
    def any(*conditions: AutomationCondition) -> AutomationCondition:
        """True when some condition is."""
        return AutomationCondition("or", tuple(conditions))

    # -- basic conditions --------------------------------------------------------------

    @staticmethod
    def missing() -> AutomationCondition:
        """The partition was never materialized."""
        return AutomationCondition("missing")

    @staticmethod
    def newly_missing() -> AutomationCondition:
        """The partition is missing and automation never requested it."""
        return AutomationCondition("newly_missing")

    @staticmethod
    def in_progress() -> AutomationCondition:
        """The partition is executing, or is part of an open run that has not handled it."""
        return AutomationCondition("in_progress")

    @staticmethod
    def any_deps_missing() -> AutomationCondition:
        """Some upstream partition it reads was never materialized."""
        return AutomationCondition("any_deps_missing")

    @staticmethod
    def any_deps_in_progress() -> AutomationCondition:
        """Some upstream partition it reads is in progress."""
        return AutomationCondition("any_deps_in_progress")

    @staticmethod
    def any_deps_updated() -> AutomationCondition:
        """Some upstream partition it reads materialized since it was last handled."""
        return AutomationCondition("any_deps_updated")

    @staticmethod
    def code_version_changed() -> AutomationCondition:
        """Its latest materialization ran another code version than the current one."""
        return AutomationCondition("code_version_changed")

    @staticmethod
    def in_latest_time_window() -> AutomationCondition:
        """It is the latest time window (always true when not time-partitioned)."""
        return AutomationCondition("in_latest_time_window")

    @staticmethod
    def cron_tick_passed(cron_schedule: str, cron_timezone: str = "UTC") -> AutomationCondition:
        """A tick of `cron_schedule` passed since the partition was last requested."""
        _check_cron(cron_schedule, cron_timezone)
        return AutomationCondition(
            "cron_tick_passed", cron_schedule=cron_schedule, cron_timezone=cron_timezone
        )

    @staticmethod
    def all_deps_updated_since_cron(
        cron_schedule: str, cron_timezone: str = "UTC"
    ) -> AutomationCondition:
        """Every upstream partition it reads materialized after the latest cron tick."""
        _check_cron(cron_schedule, cron_timezone)
        return AutomationCondition(
            "all_deps_updated_since_cron", cron_schedule=cron_schedule, cron_timezone=cron_timezone
        )

    # -- the usual policies ------------------------------------------------------------

    @staticmethod
    def eager() -> AutomationCondition:
        """Materialize as soon as it is missing or an upstream updated, once deps are there.

        `in_latest_time_window & (newly_missing | any_deps_updated | code_version_changed)
        & ~any_deps_missing & ~any_deps_in_progress & ~in_progress`.
        """
        c = AutomationCondition
        return c.all(
            c.in_latest_time_window(),
            c.newly_missing() | c.any_deps_updated() | c.code_version_changed(),
            ~c.any_deps_missing(),
            ~c.any_deps_in_progress(),
            ~c.in_progress(),
        ).with_label("eager")

    @staticmethod
    def on_missing() -> AutomationCondition:
        """Materialize a missing partition once, when all its upstream partitions exist.

        `in_latest_time_window & newly_missing & ~any_deps_missing & ~any_deps_in_progress
        & ~in_progress`.
        """
        c = AutomationCondition
        return c.all(
            c.in_latest_time_window(),
            c.newly_missing(),
            ~c.any_deps_missing(),
            ~c.any_deps_in_progress(),
            ~c.in_progress(),
        ).with_label("on_missing")

    @staticmethod
    def on_cron(cron_schedule: str, cron_timezone: str = "UTC") -> AutomationCondition:
        """Materialize once per cron tick, after every upstream updated since that tick.

        `in_latest_time_window & cron_tick_passed & all_deps_updated_since_cron &
        ~in_progress`.
        """
        c = AutomationCondition
        return c.all(
            c.in_latest_time_window(),
            c.cron_tick_passed(cron_schedule, cron_timezone),
            c.all_deps_updated_since_cron(cron_schedule, cron_timezone),
            ~c.in_progress(),
        ).with_label("on_cron")

    # -- data --------------------------------------------------------------------------

    def to_snapshot(self) -> AutomationConditionSnapshot:
        """The data-only form the coordinator evaluates."""
        from conflux.events import AutomationConditionSnapshot

        return AutomationConditionSnapshot(
            kind=self.kind,
            children=tuple(child.to_snapshot() for child in self.children),
            cron_schedule=self.cron_schedule,
            cron_timezone=self.cron_timezone,
            label=self.label,
        )

    def __str__(self) -> str:
        return describe(self.to_snapshot())


def describe(snapshot: AutomationConditionSnapshot) -> str:
    """A condition as one readable expression, e.g. `missing & ~any_deps_in_progress`."""
    if snapshot.label is not None:
        return snapshot.label
    if snapshot.kind in ("and", "or"):
        glue = " & " if snapshot.kind == "and" else " | "
        return "(" + glue.join(describe(c) for c in snapshot.children) + ")"
    if snapshot.kind == "not":
        return "~" + describe(snapshot.children[0])
    if snapshot.cron_schedule is not None:
        return f"{snapshot.kind}({snapshot.cron_schedule!r}, {snapshot.cron_timezone!r})"
    return snapshot.kind


def _flatten(
    kind: Literal["and", "or"], *conditions: AutomationCondition
) -> tuple[AutomationCondition, ...]:
    """Children of a new `and`/`or`: unlabeled nodes of the same kind are merged."""
    out: list[AutomationCondition] = []
    for condition in conditions:
        if condition.kind == kind and condition.label is None:
            out.extend(condition.children)
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
