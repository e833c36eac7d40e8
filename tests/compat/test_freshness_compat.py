"""Freshness checks pass and fail when Dagster's do, with Dagster's bounds (Dagster 1.13).

The asset is materialized at one time and the check evaluated at another, with and without
a deadline cron; both libraries must agree on `passed`, the lower bound and `fresh_until`.
"""

from __future__ import annotations

import logging
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytest.importorskip("dagster", reason="dagster is not installed (pip install -e '.[compat]')")

import conflux
from conflux.coordinator import CoordinatorState, decide
from conflux.events import AssetCheckEvaluated, AssetMaterialized, DefinitionsPublished
from conflux.sdk.runtime import build_location_snapshot

T0 = datetime(2024, 3, 1, 8, 20, tzinfo=UTC)
KEYS = (
    "dagster/freshness_lower_bound_timestamp",
    "dagster/fresh_until_timestamp",
    "dagster/last_updated_timestamp",
)

CASES = [
    # (lower bound, deadline cron, timezone, evaluated this long after the update)
    (timedelta(hours=1), None, "UTC", timedelta(minutes=30)),
    (timedelta(hours=1), None, "UTC", timedelta(minutes=61)),
    (timedelta(minutes=45), "0 9 * * *", "UTC", timedelta(minutes=30)),
    (timedelta(minutes=45), "0 9 * * *", "UTC", timedelta(minutes=50)),
    (timedelta(hours=2), "@daily", "America/New_York", timedelta(hours=20)),
    (timedelta(hours=2), "0 * * * *", "Europe/Berlin", timedelta(minutes=10)),
]


def _dagster(lower: timedelta, cron: str | None, tz: str, after: timedelta) -> dict[str, Any]:
    import dagster as dg
    from dagster._core.test_utils import freeze_time

    warnings.filterwarnings("ignore")
    logging.getLogger("dagster").setLevel(logging.CRITICAL)

    @dg.asset
    def one() -> None: ...

    checks = dg.build_last_update_freshness_checks(
        assets=[one], lower_bound_delta=lower, deadline_cron=cron, timezone=tz
    )
    instance = dg.DagsterInstance.ephemeral()
    with freeze_time(T0):
        dg.materialize([one], instance=instance)
    with freeze_time(T0 + after):
        result = dg.materialize(
            [one, *checks], instance=instance, selection=dg.AssetSelection.all_asset_checks()
        )
    [evaluation] = result.get_asset_check_evaluations()
    meta = {k: v.value for k, v in evaluation.metadata.items() if k in KEYS}
    return {"passed": evaluation.passed, **meta}


def _conflux(lower: timedelta, cron: str | None, tz: str, after: timedelta) -> dict[str, Any]:
    @conflux.asset
    def one() -> None: ...

    checks = conflux.build_last_update_freshness_checks(
        assets=[one], lower_bound_delta=lower, deadline_cron=cron, timezone=tz
    )
    defs = conflux.Definitions(assets=[one], asset_checks=list(checks))
    state = CoordinatorState()
    state.apply(
        DefinitionsPublished(
            time=T0 - timedelta(days=1),
            location="loc",
            snapshot_id="s",
            snapshot=build_location_snapshot(defs, "loc"),
        )
    )
    decide(state, T0 - timedelta(days=1))
    state.apply(AssetMaterialized(time=T0, asset_key="one", data_version="v"))
    state.freshness.updates.clear()  # evaluate it later, as Dagster's run of the checks does
    from conflux.coordinator._freshness import evaluate

    evaluation: AssetCheckEvaluated = evaluate(
        state, ("one", "freshness_check"), T0 + after, cause="c"
    )
    meta = {k: v for k, v in evaluation.metadata.items() if k in KEYS}
    return {"passed": evaluation.passed, **meta}


@pytest.mark.parametrize(("lower", "cron", "tz", "after"), CASES)
def test_freshness_results_match_dagster(
    lower: timedelta, cron: str | None, tz: str, after: timedelta
) -> None:
    assert _conflux(lower, cron, tz, after) == _dagster(lower, cron, tz, after)
