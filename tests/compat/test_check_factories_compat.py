# mypy: disallow-untyped-decorators=False
# (each scenario is written once against `lib`, Conflux or Dagster, chosen at run time)
"""Check factories and multi-asset checks answer as Dagster's do (Dagster 1.13)."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import pytest

pytest.importorskip("dagster", reason="dagster is not installed (pip install -e '.[compat]')")

import conflux

BOUNDS = [
    {"min_value": 10},
    {"max_value": 12},
    {"max_value": 12, "exclusive_max": True},
    {"min_value": 12, "exclusive_min": True},
    {"min_value": 1, "max_value": 5},
]


def _run(lib: Any, bounds: dict[str, Any], rows: object) -> list[tuple[str, str, bool, str]]:
    warnings.filterwarnings("ignore")
    logging.getLogger("dagster").setLevel(logging.CRITICAL)

    @lib.asset
    def counted() -> Any:
        return lib.MaterializeResult(metadata={"rows": rows})

    checks = lib.build_metadata_bounds_checks(assets=[counted], metadata_key="rows", **bounds)
    result = lib.materialize([counted, *checks])
    return [
        (e.check_name, str(getattr(e.severity, "value", e.severity)), e.passed, e.description)
        for e in result.get_asset_check_evaluations()
    ]


@pytest.mark.parametrize("bounds", BOUNDS)
@pytest.mark.parametrize("rows", [12, 3, "many"])
def test_metadata_bounds_checks_match_dagster(bounds: dict[str, Any], rows: object) -> None:
    import dagster as dg

    assert _run(conflux, bounds, rows) == _run(dg, bounds, rows)


def test_a_multi_asset_check_records_what_dagster_records() -> None:
    import dagster as dg

    def evaluations(lib: Any) -> list[tuple[str, str, bool, str]]:
        @lib.asset
        def one() -> int:
            return 1

        @lib.asset
        def two() -> int:
            return 2

        @lib.multi_asset_check(
            specs=[lib.AssetCheckSpec("a", asset="one"), lib.AssetCheckSpec("b", asset="two")]
        )
        def both(context):  # type: ignore[no-untyped-def]
            yield lib.AssetCheckResult(passed=True, asset_key="one")
            yield lib.AssetCheckResult(
                passed=False, asset_key="two", severity=lib.AssetCheckSeverity.WARN
            )

        result = lib.materialize([one, two, both])
        return sorted(
            (
                e.asset_key if isinstance(e.asset_key, str) else e.asset_key.to_user_string(),
                e.check_name,
                e.passed,
                str(getattr(e.severity, "value", e.severity)),
            )
            for e in result.get_asset_check_evaluations()
        )

    assert evaluations(conflux) == evaluations(dg)
