"""The CLI as a user runs it: `conflux dev`, then the other commands against it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING, Any

import dev_process
import psutil
import pytest
from dev_process import conflux

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.e2e

DEFS = textwrap.dedent(
    """
    from conflux import (AssetExecutionContext, AssetSpec, Definitions,
                         DailyPartitionsDefinition, MaterializeResult, asset)

    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")

    @asset(partitions_def=days, group_name="chain")
    def numbers(context: AssetExecutionContext) -> list[int]:
        day = int(context.partition_key[-2:])
        return list(range(day))

    @asset(partitions_def=days, group_name="chain")
    def total(numbers: list[int]) -> int:
        if len(numbers) == 13:
            raise ValueError("unlucky day")
        return sum(numbers)

    defs = Definitions(assets=[numbers, total, AssetSpec("vendor_feed", partitions_def=days)])
    """
)


@pytest.fixture(scope="module")
def running_dev(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    project = tmp_path_factory.mktemp("project")
    (project / "definitions.py").write_text(DEFS)
    state = project / ".conflux"
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    with dev_process.running_dev(project / "definitions.py", state, broker) as (dev, lines):
        assert lines[0].startswith("conflux dev: broker "), lines
        yield state, dev


def test_materialize_a_partitioned_chain_and_read_it_back(
    running_dev: tuple[Path, subprocess.Popen[str]],
) -> None:
    state, _ = running_dev
    done = conflux(
        state,
        "materialize",
        "numbers*",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-04",
        "--wait",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["status"] == "success"
    assert run["materialized"] == 6

    assets = {a["key"]: a for a in json.loads(conflux(state, "assets", "--json").stdout)}
    assert assets["numbers"]["partitions"]["materialized"] == 3
    assert assets["numbers"]["partitions"]["total"] == 31
    assert assets["total"]["partitions"]["materialized"] == 3
    assert assets["total"]["last_materialization"]["partition_key"] in {
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    }

    history = json.loads(
        conflux(state, "events", "--asset", "total", "--partition", "2024-01-03", "--json").stdout
    )
    types = [e["type"] for e in history]
    assert (
        types.index("WorkItemDispatched")
        < types.index("PartitionStarted")
        < types.index("AssetMaterialized")
    )
    materialized = next(e for e in history if e["type"] == "AssetMaterialized")
    upstream = materialized["event"]["upstream"]
    assert [(u["asset_key"], u["partition_key"]) for u in upstream] == [("numbers", "2024-01-03")]
    assert upstream[0]["data_version"]

    runs = json.loads(conflux(state, "runs", "--json").stdout)
    assert runs[0]["run_id"] == run["run_id"]

    ranges = json.loads(conflux(state, "assets", "numbers", "--partitions", "--json").stdout)
    assert [(r["first"], r["last"], r["status"]) for r in ranges["ranges"]] == [
        ("2024-01-01", "2024-01-01", "missing"),
        ("2024-01-02", "2024-01-04", "materialized"),
        ("2024-01-05", "2024-01-31", "missing"),
    ]
    table = conflux(state, "assets", "numbers", "--partitions").stdout
    assert "2024-01-02  2024-01-04  materialized" in table, table


def test_lineage_comes_from_the_archive(
    running_dev: tuple[Path, subprocess.Popen[str]],
) -> None:
    state, _ = running_dev
    done = conflux(state, "materialize", "numbers*", "--partition", "2024-01-07", "--wait")
    assert done.returncode == 0, done.stderr
    up = conflux(state, "lineage", "total", "--partition", "2024-01-07", "--json")
    assert up.returncode == 0, up.stderr
    answer = json.loads(up.stdout)
    assert (answer["root"]["asset_key"], answer["direction"]) == ("total", "upstream")
    [link] = answer["links"]
    assert (link["upstream_asset"], link["upstream_partition"]) == ("numbers", "2024-01-07")
    down = conflux(state, "lineage", "numbers", "--partition", "2024-01-07", "--downstream")
    assert down.returncode == 0, down.stderr
    lines = down.stdout.splitlines()
    assert lines[0].startswith("numbers[2024-01-07]  version ")
    assert lines[1].strip().startswith("-> total[2024-01-07]  version ")
    assert link["downstream_event_id"][:12] in lines[1]
    bad = conflux(state, "lineage", "total")  # partitioned: needs --partition
    assert bad.returncode == 1 and "--partition" in bad.stderr, bad.stderr
    never = conflux(state, "lineage", "total", "--partition", "2024-01-30")
    assert never.returncode == 1 and "no archived materialization" in never.stderr


def test_failure_skips_nothing_upstream_and_fails_the_run(
    running_dev: tuple[Path, subprocess.Popen[str]],
) -> None:
    state, _ = running_dev
    done = conflux(
        state, "materialize", "numbers,total", "--partition", "2024-01-13", "--wait", "--json"
    )
    assert done.returncode == 1
    run = json.loads(done.stdout)
    assert (run["status"], run["materialized"], run["failed"]) == ("failed", 1, 1)
    history = json.loads(
        conflux(state, "events", "--asset", "total", "--partition", "2024-01-13", "--json").stdout
    )
    failed = next(e for e in history if e["type"] == "PartitionFailed")
    assert failed["event"]["error_type"] == "ValueError"
    assert "unlucky day" in failed["event"]["traceback"]


def test_report_an_external_materialization(
    running_dev: tuple[Path, subprocess.Popen[str]],
) -> None:
    state, _ = running_dev
    done = conflux(
        state,
        "report",
        "vendor_feed",
        "--partition",
        "2024-01-05",
        "--data-version",
        "v42",
        "--metadata",
        "rows=10",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data_version"] == "v42"
    deadline = time.monotonic() + 10
    while True:
        assets = {a["key"]: a for a in json.loads(conflux(state, "assets", "--json").stdout)}
        last = assets["vendor_feed"]["last_materialization"]
        if last is not None or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert last is not None and (last["data_version"], last["source"]) == ("v42", "reported")


def test_replay_rebuilds_every_projection_equal_to_the_live_one(
    running_dev: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    state, _ = running_dev
    done = conflux(state, "replay", "all", "--into", str(tmp_path / "archive"), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    reports = {r["projection"]: r for r in json.loads(done.stdout)}
    assert set(reports) == {"coordinator", "read-model", "archive"}
    assert reports["coordinator"]["matches_live"] is True, reports["coordinator"]
    assert reports["read-model"]["matches_live"] is True, reports["read-model"]
    assert all(r["events"] > 0 for r in reports.values())
    human = conflux(state, "replay", "read-model")
    assert human.returncode == 0 and "same as the live system" in human.stdout, human
    assert "100%" in human.stderr  # the progress bar's last state
    partial = conflux(state, "replay", "coordinator", "--from-time", "2999-01-01", "--json")
    assert json.loads(partial.stdout)[0]["events"] == 0
    needs_into = conflux(state, "replay", "archive")
    assert needs_into.returncode == 1 and "--into" in needs_into.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["materialize", "no_such_asset"], 1, "no_such_asset"),
        (["materialize", "numbers", "--partition", "2023-12-31"], 1, "2023-12-31"),
        (["materialize", "numbers", "--from", "2024-01-01"], 1, "--to"),
        (["report", "numbers", "--partition", "not-a-day"], 1, "not-a-day"),
        (["events", "--asset", "no_such_asset"], 1, "no_such_asset"),
        (["events", "--asset", "numbers", "--partition", "not-a-day"], 1, "not-a-day"),
        (["runs", "--limit", "zero"], 2, "zero"),
        (["materialize"], 2, "SELECTION"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    running_dev: tuple[Path, subprocess.Popen[str]], args: list[str], code: int, needle: str
) -> None:
    state, _ = running_dev
    result = conflux(state, *args)
    assert result.returncode == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]


def test_events_of_a_valid_key_with_no_history_are_empty_not_an_error(
    running_dev: tuple[Path, subprocess.Popen[str]],
) -> None:
    state, _ = running_dev
    result = conflux(state, "events", "--asset", "numbers", "--partition", "2024-01-30")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_commands_without_a_running_system_fail_clearly(tmp_path: Path) -> None:
    result = conflux(tmp_path / "nothing", "assets")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "conflux dev" in result.stderr
    status = conflux(tmp_path / "nothing", "status", "--json")
    assert status.returncode == 1
    assert json.loads(status.stdout)["ready"] is False


def test_unreachable_broker_and_api_fail_within_ten_seconds(tmp_path: Path) -> None:
    env = {**os.environ, "CONFLUX_BOOTSTRAP": "127.0.0.1:1", "CONFLUX_API": "http://127.0.0.1:1"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "conflux", "materialize", "numbers", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "127.0.0.1:1" in result.stderr


def test_a_malformed_record_is_dead_lettered_and_nothing_stops(
    running_dev: tuple[Path, subprocess.Popen[str]],
) -> None:
    from confluent_kafka import Producer

    state, _ = running_dev
    info = json.loads((state / "dev.json").read_text())
    producer = Producer({"bootstrap.servers": info["bootstrap"]})
    producer.produce(f"{info['topic_prefix']}.requests", key=b"x", value=b"{not json")
    assert producer.flush(10) == 0
    deadline = time.monotonic() + 20
    dead: list[dict[str, Any]] = []
    while not dead and time.monotonic() < deadline:
        listed = conflux(state, "events", "--type", "RecordDeadLettered", "--json")
        dead = json.loads(listed.stdout)
        time.sleep(0.2)
    assert dead, "the malformed record did not reach the dead-letter topic"
    event = dead[-1]["event"]
    assert event["value"] == "{not json" and "not JSON" in event["reason"]
    # the coordinator went on: a new request still runs
    done = conflux(state, "materialize", "numbers", "--partition", "2024-01-20", "--wait", "--json")
    assert done.returncode == 0, done.stderr


def test_ctrl_c_stops_every_process(running_dev: tuple[Path, subprocess.Popen[str]]) -> None:
    state, dev = running_dev
    children = psutil.Process(dev.pid).children(recursive=True)
    assert len(children) >= 4  # broker, projector, coordinator, worker
    dev.send_signal(signal.SIGINT)
    assert dev.wait(timeout=60) == 0
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []
    assert not (state / "dev.json").exists()
