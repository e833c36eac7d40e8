"""The automation example, as a user runs it: `conflux dev -f examples/automation/...`.

One project with a running sensor, a partitioned schedule, an eager asset behind a
blocking check: the sensor's runs happen on their own, a materialized day is followed by
its eager downstream, `conflux why` names the condition that asked for it, and the check
results show in `conflux assets`.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dev_process
import pytest
from dev_process import conflux, wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).parents[2] / "examples" / "automation" / "definitions.py"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    project = tmp_path_factory.mktemp("automation-example")
    shutil.copy(EXAMPLE, project / "definitions.py")
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    state = project / ".conflux"
    with dev_process.running_dev(project / "definitions.py", state, broker, prefix="e2e-auto"):
        yield state


def _json(state: Path, *args: str) -> Any:
    done = conflux(state, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_sensor_runs_on_its_own(state: Path) -> None:
    sensors = {s["name"]: s for s in _json(state, "sensors", "list")}
    assert sensors["price_feed"]["status"] == "running"
    schedules = {s["name"]: s for s in _json(state, "schedules", "list")}
    assert schedules["orders_job_schedule"]["status"] == "running"

    def sensor_successes() -> list[dict[str, Any]]:
        runs = _json(state, "runs")
        return [r for r in runs if r["trigger"] == "sensor" and r["status"] == "success"]

    wait_for(sensor_successes, timeout=60)


def test_a_new_day_is_followed_by_its_eager_downstream_and_why_says_so(state: Path) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    done = conflux(state, "materialize", "raw_orders", "--partition", yesterday, "--wait")
    assert done.returncode == 0, done.stderr

    def priced() -> dict[str, Any] | None:
        report = _json(state, "why", "priced_orders", "--partition", yesterday)
        run = report["last_run"]
        ok = report["materialization"] and run and run["status"] == "success"
        return report if ok else None

    wait_for(priced, timeout=60)
    report = _json(state, "why", "priced_orders", "--partition", yesterday)
    assert report["last_run"]["trigger"] == "automation"
    assert report["last_run"]["evaluation"]["condition"] == "eager"
    assert "raw_orders" in report["last_run"]["explanation"]
    text = conflux(state, "why", "priced_orders", "--partition", yesterday)
    assert text.returncode == 0 and "because automation: eager was true" in text.stdout

    assets = {a["key"]: a for a in _json(state, "assets")}
    checks = {c["name"]: c for c in assets["raw_orders"]["checks"]}
    assert checks["amounts_are_positive"]["status"] == "passed"
    assert checks["amounts_are_positive"]["blocking"] is True


def test_why_refuses_an_unknown_asset_in_one_line(state: Path) -> None:
    done = conflux(state, "why", "priced_order")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "did you mean priced_orders" in done.stderr
