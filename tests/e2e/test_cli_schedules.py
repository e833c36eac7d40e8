"""Schedules and sensors through the CLI, against a running `conflux dev`.

`conflux schedules|sensors list`, `start`, `stop` and `sensors cursor`: a started sensor
requests its run key once and its ticks show in the list; a cursor set by a person is
what the sensor's next tick gets; an unknown name is one line on stderr with the close
match. The definitions: tests/e2e/instigators_defs.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dev_process
import pytest
from dev_process import conflux, wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

DEFS = Path(__file__).with_name("instigators_defs.py")


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    project = tmp_path_factory.mktemp("instigators")
    shutil.copy(DEFS, project / "definitions.py")
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    state = project / ".conflux"
    with dev_process.running_dev(project / "definitions.py", state, broker, prefix="e2e-inst"):
        yield state


def listed(state: Path, kind: str) -> dict[str, dict[str, Any]]:
    done = conflux(state, kind, "list", "--json")
    assert done.returncode == 0, done.stderr
    return {s["name"]: s for s in json.loads(done.stdout)}


def test_list_shows_what_is_defined_stopped_by_default(state: Path) -> None:
    schedules = listed(state, "schedules")
    assert schedules["every_minute"]["status"] == "stopped"
    assert schedules["every_minute"]["cron_schedule"] == "* * * * *"
    assert schedules["every_minute"]["execution_timezone"] == "Europe/Berlin"
    sensors = listed(state, "sensors")
    assert sensors["inbox"]["status"] == "stopped" and sensors["inbox"]["asset_keys"] == ["report"]
    table = conflux(state, "sensors", "list")
    assert table.returncode == 0 and "inbox" in table.stdout and "every 1 s" in table.stdout


def test_a_started_sensor_runs_its_run_key_once_and_a_set_cursor_reaches_it(state: Path) -> None:
    started = conflux(state, "sensors", "start", "inbox")
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("started sensor inbox")

    def sensor_runs() -> list[dict[str, object]]:
        runs = json.loads(conflux(state, "runs", "--json").stdout)
        return [r for r in runs if r["trigger"] == "sensor"]

    wait_for(lambda: [r for r in sensor_runs() if r["status"] == "success"], timeout=60)
    wait_for(lambda: int(listed(state, "sensors")["inbox"]["cursor"] or 0) >= 3, timeout=30)
    assert len(sensor_runs()) == 1  # the same run key on every tick: one run
    inbox = listed(state, "sensors")["inbox"]
    assert inbox["last_tick"]["status"] == "success"

    stopped = conflux(state, "sensors", "stop", "inbox", "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["status"] == "stopped"
    assert conflux(state, "sensors", "cursor", "inbox", "--set", "100").returncode == 0
    shown = conflux(state, "sensors", "cursor", "inbox", "--json")
    assert json.loads(shown.stdout) == {"name": "inbox", "cursor": "100"}
    assert conflux(state, "sensors", "start", "inbox").returncode == 0
    wait_for(lambda: int(listed(state, "sensors")["inbox"]["cursor"] or 0) > 100, timeout=30)
    assert conflux(state, "sensors", "stop", "inbox").returncode == 0
    assert conflux(state, "sensors", "cursor", "inbox", "--delete").returncode == 0
    assert conflux(state, "sensors", "cursor", "inbox").stdout.strip() == "(no cursor)"


def test_schedules_start_and_stop_are_events(state: Path) -> None:
    started = conflux(state, "schedules", "start", "every_minute", "--json")
    assert started.returncode == 0, started.stderr
    shown = listed(state, "schedules")["every_minute"]
    assert shown["status"] == "running" and shown["next_tick"] is not None
    assert conflux(state, "schedules", "stop", "every_minute").returncode == 0
    assert listed(state, "schedules")["every_minute"]["status"] == "stopped"
    events = json.loads(
        conflux(state, "events", "--type", "InstigatorStatusChanged", "--json").stdout
    )
    assert [e["event"]["status"] for e in events if e["event"]["name"] == "every_minute"] == [
        "running",
        "stopped",
    ]


def test_unknown_names_and_bad_arguments_fail_in_one_line(state: Path) -> None:
    unknown = conflux(state, "sensors", "start", "inbx")
    assert unknown.returncode == 1
    assert unknown.stderr.count("\n") == 1 and "did you mean inbox" in unknown.stderr
    wrong_type = conflux(state, "schedules", "stop", "inbox")
    assert wrong_type.returncode == 1 and "no schedule named 'inbox'" in wrong_type.stderr
    both = conflux(state, "sensors", "cursor", "inbox", "--set", "x", "--delete")
    assert both.returncode == 2
