"""The automation example, as a user runs it: `conflux dev -f examples/automation/...`.

One project with a running sensor, a partitioned schedule, an eager asset behind a
blocking check: the sensor's runs happen on their own, a materialized day is followed by
its eager downstream, `conflux why` names the condition that asked for it, and the check
results show in `conflux assets`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dev_process
import psutil
import pytest
from dev_process import conflux, wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).parents[2] / "examples" / "automation" / "definitions.py"


IMPORTED_BY = "imported_by.txt"
"""Each process that imports the project's code appends its pid here (rule 7's proof)."""

SPY = f"""

import os as _os
from pathlib import Path as _Path

with open(_Path(__file__).with_name({IMPORTED_BY!r}), "a") as _spy:
    _spy.write(f"{{_os.getpid()}}\\n")
"""


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    project = tmp_path_factory.mktemp("automation-example")
    (project / "definitions.py").write_text(EXAMPLE.read_text() + SPY)
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    state = project / ".conflux"
    with dev_process.running_dev(project / "definitions.py", state, broker, prefix="e2e-auto") as (
        dev,
        _,
    ):
        yield state, dev.pid


@pytest.fixture
def state(system: tuple[Path, int]) -> Path:
    return system[0]


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
    # The sensor refreshes exchange_rate every 10 s, and each refresh reruns the eager
    # priced_orders: the sensor is stopped here so that the run this test reads is the
    # one raw_orders asked for, not a later one of the exchange rate's.
    assert conflux(state, "sensors", "stop", "price_feed").returncode == 0
    try:
        _automatic_downstream_is_explained(state)
    finally:
        assert conflux(state, "sensors", "start", "price_feed").returncode == 0


def _automatic_downstream_is_explained(state: Path) -> None:
    def sensor_runs_ended() -> bool:
        runs = _json(state, "runs")
        return not [r for r in runs if r["status"] in ("queued", "started")]

    wait_for(sensor_runs_ended, timeout=60)
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
    assert f"raw_orders[{yesterday}] materialized" in report["last_run"]["explanation"]
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


def test_user_code_runs_only_in_the_worker(system: tuple[Path, int]) -> None:
    state, dev_pid = system
    wait_for(lambda: (state.parent / IMPORTED_BY).is_file(), timeout=30)
    importers = {int(line) for line in (state.parent / IMPORTED_BY).read_text().split()}
    parts: dict[str, set[int]] = {}
    for child in psutil.Process(dev_pid).children(recursive=True):
        command = child.cmdline()
        if "conflux" in command and len(command) > command.index("conflux") + 1:
            parts.setdefault(command[command.index("conflux") + 1], set()).add(child.pid)
    assert parts.keys() >= {"coordinator", "projector", "worker"}, parts
    assert importers & parts["worker"], (importers, parts)
    assert not importers & (parts["coordinator"] | parts["projector"] | {dev_pid})
