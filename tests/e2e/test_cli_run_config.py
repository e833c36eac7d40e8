"""Run config through a running system: `conflux materialize --config-json`, a schedule
with a job's `config=`, and graph assets of ops, against `conflux dev` on real Kafka.

The config travels in the request event, the coordinator copies it onto the work item
unread, and the location's worker builds each asset's `Config` from it: the asset's
materialization says what it received; a config that does not fit fails the asset with
the reason, not the system.
"""

from __future__ import annotations

import json
import os
import textwrap
from typing import TYPE_CHECKING

import dev_process
import pytest
from dev_process import conflux, wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.e2e

DEFS = textwrap.dedent(
    """
    import conflux as dg


    class Greeting(dg.Config):
        name: str
        phrase: str = "hello"


    @dg.asset
    def greeting(config: Greeting) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"text": f"{config.phrase} {config.name}"})


    @dg.op
    def shout(text: str) -> str:
        return text.upper()


    @dg.op
    def source(config: Greeting) -> str:
        return f"{config.phrase} {config.name}"


    @dg.graph_asset
    def shouted() -> str:
        return shout(source())


    job = dg.define_asset_job(
        "greet_job", [greeting], config=dg.RunConfig({"greeting": Greeting(name="cron")})
    )
    every_minute = dg.ScheduleDefinition(
        cron_schedule="* * * * *", job=job, default_status=dg.DefaultScheduleStatus.RUNNING
    )

    defs = dg.Definitions(assets=[greeting, shouted], schedules=[every_minute], jobs=[job])
    """
)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    project = tmp_path_factory.mktemp("run-config")
    (project / "definitions.py").write_text(DEFS)
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    with dev_process.running_dev(
        project / "definitions.py", project / ".conflux", broker, prefix="e2e-config"
    ):
        yield project / ".conflux"


def _json(state: Path, *args: str) -> object:
    done = conflux(state, *args, "--json", timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def _events(
    state: Path, asset: str, kind: str, run_id: str | None = None
) -> list[dict[str, object]]:
    found = _json(state, "events", "--asset", asset, "--type", kind)
    assert isinstance(found, list)
    events = [r["event"] for r in found]
    return [e for e in events if run_id in (None, e.get("run_id"))]


def test_config_json_configures_the_asset_in_the_worker(state: Path) -> None:
    config = {"ops": {"greeting": {"config": {"name": "Ada", "phrase": "hi"}}}}
    run = _json(state, "materialize", "greeting", "--config-json", json.dumps(config), "--wait")
    assert isinstance(run, dict) and run["status"] == "success", run
    [made] = _events(state, "greeting", "AssetMaterialized", str(run["run_id"]))
    assert made["metadata"] == {"text": "hi Ada"}
    requests = _json(state, "events", "--type", "MaterializationRequested")
    assert isinstance(requests, list)
    [asked] = [r["event"] for r in requests if r["event"]["run_id"] == run["run_id"]]
    assert asked["run_config"] == config


def test_a_config_that_does_not_fit_fails_the_asset_with_the_reason(state: Path) -> None:
    bad = {"ops": {"greeting": {"config": {"nom": "x"}}}}
    run = _json(state, "materialize", "greeting", "--config-json", json.dumps(bad), "--wait")
    assert isinstance(run, dict) and run["status"] == "failed", run
    [failed] = _events(state, "greeting", "PartitionFailed", str(run["run_id"]))
    assert "name: Field required" in str(failed["message"])
    assert "nom" in str(failed["message"])
    status = conflux(state, "status")
    assert status.returncode == 0, status.stdout + status.stderr  # the system goes on


def test_ops_of_a_graph_asset_read_their_config(state: Path) -> None:
    config = {"ops": {"shouted": {"ops": {"source": {"config": {"name": "bo"}}}}}}
    run = _json(state, "materialize", "shouted", "--config-json", json.dumps(config), "--wait")
    assert isinstance(run, dict) and run["status"] == "success", run
    [stored] = state.rglob("shouted/__all__")  # the default IO manager's file (JSON, tagged)
    # one work item ran both ops, in order; the file's header names the asset it holds
    assert stored.read_bytes() == b'#conflux ["shouted", null]\nsHELLO BO'


def test_a_schedule_runs_its_job_with_the_jobs_config(state: Path) -> None:
    def scheduled() -> list[dict[str, object]]:
        made = _events(state, "greeting", "AssetMaterialized")
        return [m for m in made if m["metadata"] == {"text": "hello cron"}]

    wait_for(scheduled, timeout=150)  # the next minute's tick
