# mypy: disallow-untyped-decorators=False
# (each scenario is written once against `lib`, Conflux or Dagster, chosen at run time)
"""Declarative automation decides as Dagster 1.13 does, on small graphs, step by step.

Each scenario runs on Dagster (`evaluate_automation_conditions`, tick by tick, its requests
materialized as its daemon's runs would be) and on Conflux (the coordinator's event-driven
decisions), and the partitions automation requested after each step must be equal.

Conflux evaluates on every event and compares event times; Dagster evaluates on ticks,
and when two events that a `since` compares land between the same two ticks (a request's
run ends and an upstream updates), the reset wins whatever their order. So the scenarios
let a tick pass after each step that requests something (an empty `Step()`), where
Dagster's answer does not depend on its tick interval.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from types import ModuleType

pytest.importorskip("dagster", reason="dagster is not installed (pip install -e '.[compat]')")

from automation_scenarios import Step, run_conflux, run_dagster

HOUR = timedelta(hours=1)


def _chain(lib: ModuleType) -> list[Any]:
    @lib.asset
    def a() -> None: ...

    @lib.asset(deps=[a], automation_condition=lib.AutomationCondition.eager())
    def b() -> None: ...

    @lib.asset(deps=[b], automation_condition=lib.AutomationCondition.eager())
    def c() -> None: ...

    return [a, b, c]


def _external(lib: ModuleType) -> list[Any]:
    @lib.asset
    def a() -> None: ...

    @lib.asset(deps=["vendor", a], automation_condition=lib.AutomationCondition.eager())
    def b() -> None: ...

    return [lib.AssetSpec("vendor"), a, b]


def _on_missing(lib: ModuleType) -> list[Any]:
    @lib.asset
    def a() -> None: ...

    @lib.asset(deps=[a], automation_condition=lib.AutomationCondition.on_missing())
    def b() -> None: ...

    return [a, b]


def _all_parents(lib: ModuleType) -> list[Any]:
    c = lib.AutomationCondition
    handled = c.asset_matches("d", c.newly_requested() | c.newly_updated())
    condition = c.all_deps_match(c.newly_updated().since(handled))

    @lib.asset
    def x() -> None: ...

    @lib.asset
    def y() -> None: ...

    @lib.asset(deps=[x, y], automation_condition=condition)
    def d() -> None: ...

    return [x, y, d]


def _any_dep_ignoring(lib: ModuleType) -> list[Any]:
    c = lib.AutomationCondition

    @lib.asset
    def x() -> None: ...

    @lib.asset(group_name="noisy")
    def y() -> None: ...

    @lib.asset(
        deps=[x, y],
        automation_condition=c.eager().ignore(lib.AssetSelection.groups("noisy")),
    )
    def d() -> None: ...

    return [x, y, d]


def _daily(lib: ModuleType) -> list[Any]:
    daily = lib.DailyPartitionsDefinition(start_date="2024-02-01")

    @lib.asset(partitions_def=daily)
    def up() -> None: ...

    @lib.asset(
        partitions_def=daily, deps=[up], automation_condition=lib.AutomationCondition.eager()
    )
    def down() -> None: ...

    @lib.asset(partitions_def=daily, automation_condition=lib.AutomationCondition.eager())
    def root() -> None: ...

    return [up, down, root]


def _on_cron(lib: ModuleType) -> list[Any]:
    @lib.asset
    def raw() -> None: ...

    @lib.asset(deps=[raw], automation_condition=lib.AutomationCondition.on_cron("@hourly"))
    def summary() -> None: ...

    return [raw, summary]


def _code_version_changed(lib: ModuleType) -> list[Any]:
    c = lib.AutomationCondition

    @lib.asset
    def a() -> None: ...

    @lib.asset(
        deps=[a],
        automation_condition=(c.any_deps_updated() | c.missing().newly_true()).since(
            c.newly_requested()
        )
        & ~c.in_progress(),
    )
    def b() -> None: ...

    return [a, b]


SCENARIOS: dict[str, tuple[Any, list[Step]]] = {
    "eager chain: a missing root requests nothing; an update runs the chain once": (
        _chain,
        [Step(), Step(), Step(materialize=("a",)), Step(), Step(materialize=("a",)), Step()],
    ),
    "eager: an unreported external dependency is missing": (
        _external,
        [Step(), Step(materialize=("a",)), Step(materialize=("vendor",)), Step()],
    ),
    "on_missing: missing when applied is not newly missing": (
        _on_missing,
        [Step(), Step(materialize=("a",)), Step()],
    ),
    "all deps updated since the asset was handled": (
        _all_parents,
        [
            Step(),
            Step(materialize=("x",)),
            Step(materialize=("y",)),
            Step(),
            Step(materialize=("y",)),
            Step(materialize=("x",)),
        ],
    ),
    "eager ignoring a group's dependencies": (
        _any_dep_ignoring,
        [Step(), Step(materialize=("x",)), Step(materialize=("y",)), Step(materialize=("x",))],
    ),
    "daily partitions: a new day is newly missing; its upstream unblocks it": (
        _daily,
        [
            Step(),
            Step(advance=13 * HOUR),
            Step(materialize=("up",), partition="2024-03-01"),
            Step(),
        ],
    ),
    "on_cron: once per tick, after the upstream updated since the tick": (
        _on_cron,
        [
            Step(),
            Step(materialize=("raw",)),
            Step(advance=HOUR),
            Step(materialize=("raw",)),
            Step(materialize=("raw",)),
            Step(advance=HOUR),
            Step(materialize=("raw",)),
        ],
    ),
    "a custom composition of operands and since": (
        _code_version_changed,
        [Step(), Step(), Step(materialize=("a",)), Step(), Step(materialize=("a",)), Step()],
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_conflux_requests_what_dagster_requests(name: str) -> None:
    build, steps = SCENARIOS[name]
    theirs = run_dagster(build, steps)
    ours = run_conflux(build, steps)
    assert ours == theirs
