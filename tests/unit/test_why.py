"""`conflux why`: the read side explains runs and automation from the same folds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from projection_builders import archived
from test_automation import EAGER, Harness, _chain

from conflux.cli._why import render
from conflux.events import MaterializationRequested, SelectionError
from conflux.projections.projector import ReadModel
from conflux.projections.projector._why import explain
from conflux.sdk import Definitions, StaticPartitionsDefinition, asset

if TYPE_CHECKING:
    from conflux.projections.api import WhyReport


def _model(h: Harness) -> ReadModel:
    model = ReadModel()
    model.apply_all(h.log)
    return model


def _why(h: Harness, asset_key: str, partition_key: str | None) -> WhyReport:
    """`explain` with the history of `h.log` archived (what asked for the last run)."""
    with archived(list(h.log)) as a:
        return explain(a.model, asset_key, partition_key, a.history)


def test_an_automatic_run_is_explained_by_its_condition() -> None:
    h = Harness(_chain())
    h.report("raw")
    h.settle()
    report = _why(h, "clean", None)
    assert report.materialization is not None
    cause = report.last_run
    assert cause is not None and cause.trigger == "automation" and cause.status == "success"
    assert cause.evaluation is not None and cause.evaluation.condition == "eager"
    assert "any_deps_updated: raw materialized" in cause.explanation
    assert report.automation_condition == "eager"
    # Now: clean is up to date, so eager would not request it; the tree says which part.
    now = report.evaluation_now
    assert now is not None and not now.value
    text = "\n".join(render(report))
    assert "because automation: eager was true" in text
    assert "would not request it" in text
    assert "✗ any_deps_updated" in text


def test_a_manual_run_and_an_unautomated_asset() -> None:
    h = Harness(_chain())
    h.feed(
        MaterializationRequested(
            time=h.tick(),
            run_id="r-manual",
            selection="raw",
            asset_keys=("raw",),
            requested_by="alice",
        )
    )
    h.settle()
    report = _why(h, "raw", None)
    assert report.last_run is not None
    assert report.last_run.trigger == "manual"
    assert report.last_run.explanation == "requested by alice (selection 'raw')"
    assert report.automation_condition is None and report.evaluation_now is None


def test_why_not_yet_names_the_missing_upstream() -> None:
    colors = StaticPartitionsDefinition(["red", "blue"])

    @asset(partitions_def=colors)
    def paint() -> int:
        return 1

    @asset(partitions_def=colors, automation_condition=EAGER)
    def wall(paint: int) -> int:
        return paint

    h = Harness(Definitions(assets=[paint, wall]))
    h.settle()
    report = explain(_model(h), "wall", "red")
    assert report.last_run is None
    now = report.evaluation_now
    assert now is not None and not now.value
    lines = render(report)
    assert any("✓ any_deps_missing  paint[red] was never materialized" in ln for ln in lines)


def test_unknown_asset_is_a_selection_error() -> None:
    h = Harness(_chain())
    with pytest.raises(SelectionError, match="did you mean clean"):
        explain(_model(h), "clen", None)


def test_the_explanation_names_every_updated_upstream_newest_first() -> None:
    @asset
    def rates() -> int:
        return 1

    @asset
    def orders() -> int:
        return 2

    @asset
    def fees() -> int:
        return 3

    @asset
    def refunds() -> int:
        return 4

    @asset(automation_condition=EAGER)
    def revenue(rates: int, orders: int, fees: int, refunds: int) -> int:
        return rates + orders + fees + refunds

    h = Harness(Definitions(assets=[rates, orders, fees, refunds, revenue]))
    for key in ("rates", "orders", "fees", "refunds"):
        h.report(key)
    h.settle()
    cause = _why(h, "revenue", None).last_run
    assert cause is not None and cause.trigger == "automation"
    # All four are new to revenue: the newest three are named, newest first.
    assert cause.explanation.endswith(", and 1 more)")
    assert "refunds materialized" in cause.explanation
    assert "rates materialized" not in cause.explanation  # the oldest of the four
    h.report("rates")
    h.report("orders")
    h.settle()
    cause = _why(h, "revenue", None).last_run
    assert cause is not None and cause.trigger == "automation"
    # Only what updated since revenue's last run counts, and both of those are named.
    assert "fees" not in cause.explanation
    assert cause.explanation.index("orders") < cause.explanation.index("rates")
