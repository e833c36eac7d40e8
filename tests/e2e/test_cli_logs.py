"""Run logs end to end: an asset logs and prints, fails once, retries; `conflux logs` shows it.

Against `conflux dev` on a real broker and the chdb archive: the worker captures each
attempt's `context.log`, stdout and stderr, the projector archives them into `run_logs`,
and `conflux logs RUN_ID` returns each attempt's lines in order, under its attempt number;
`--follow` ends when the run has ended; the attempt's events carry its line counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import dev_process
import pytest
from dev_process import conflux

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.e2e

DEFS = textwrap.dedent(
    """
    import sys
    import time

    import conflux as dg


    @dg.asset(
        partitions_def=dg.StaticPartitionsDefinition(["p1", "p2"]),
        retry_policy=dg.RetryPolicy(max_retries=1),
    )
    def chatty(context: dg.AssetExecutionContext) -> int:
        n = context.retry_number
        context.log.info("attempt %d of %s begins", n + 1, context.partition_key)
        for i in range(3):
            print(f"{context.partition_key} print {i} (try {n + 1})")
        sys.stderr.write(f"{context.partition_key} to stderr (try {n + 1})\\n")
        if n == 0:
            context.log.warning("failing on purpose")
            raise RuntimeError("first attempts fail")
        context.log.debug("done")
        return 1


    @dg.asset
    def slow(context: dg.AssetExecutionContext) -> None:
        for i in range(6):  # 9 s: longer than a follower's start on a loaded machine
            print(f"slow {i}", flush=True)
            time.sleep(1.5)


    defs = dg.Definitions(assets=[chatty, slow])
    """
)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    project = tmp_path_factory.mktemp("run-logs")
    (project / "definitions.py").write_text(DEFS)
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    with dev_process.running_dev(
        project / "definitions.py", project / ".conflux", broker, prefix="e2e-logs"
    ):
        yield project / ".conflux"


def _json(state: Path, *args: str) -> object:
    done = conflux(state, *args, "--json", timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def test_each_attempts_lines_in_order_with_their_attempt_numbers(state: Path) -> None:
    run = _json(state, "materialize", "chatty", "--partition", "p1", "--wait")
    assert isinstance(run, dict) and run["status"] == "success", run
    run_id = str(run["run_id"])
    found = _json(state, "logs", run_id)
    assert isinstance(found, dict) and found["run_id"] == run_id
    lines = [
        (x["attempt"], x["seq"], x["stream"], x["level"], x["message"]) for x in found["lines"]
    ]
    assert lines == [
        (1, 0, "log", "INFO", "attempt 1 of p1 begins"),
        (1, 1, "stdout", "", "p1 print 0 (try 1)"),
        (1, 2, "stdout", "", "p1 print 1 (try 1)"),
        (1, 3, "stdout", "", "p1 print 2 (try 1)"),
        (1, 4, "stderr", "", "p1 to stderr (try 1)"),
        (1, 5, "log", "WARNING", "failing on purpose"),
        (2, 0, "log", "INFO", "attempt 2 of p1 begins"),
        (2, 1, "stdout", "", "p1 print 0 (try 2)"),
        (2, 2, "stdout", "", "p1 print 1 (try 2)"),
        (2, 3, "stdout", "", "p1 print 2 (try 2)"),
        (2, 4, "stderr", "", "p1 to stderr (try 2)"),
        (2, 5, "log", "DEBUG", "done"),
    ]
    assert {(x["asset_key"], x["partition_key"]) for x in found["lines"]} == {("chatty", "p1")}
    assert found["dropped"] == []
    # The attempts' outcomes say how many lines they wrote.
    events = _json(state, "events", "--asset", "chatty", "--partition", "p1")
    assert isinstance(events, list)
    outcomes = [
        (e["event"]["type"], e["event"]["attempt"], e["event"]["log_lines"])
        for e in events
        if e["run_id"] == run_id and e["type"] in ("PartitionFailed", "AssetMaterialized")
    ]
    assert outcomes == [("PartitionFailed", 1, 6), ("AssetMaterialized", 2, 6)]
    # Text: a header per attempt, and `conflux events` points at the logs.
    text = conflux(state, "logs", run_id, "--partition", "p1")
    assert text.returncode == 0, text.stderr
    assert "== chatty[p1] attempt 1" in text.stdout and "== chatty[p1] attempt 2" in text.stdout
    hint = conflux(state, "events", "--asset", "chatty", "--partition", "p1")
    assert f"conflux logs {run_id}" in hint.stdout + hint.stderr


def test_filters_and_an_unknown_run(state: Path) -> None:
    run = _json(state, "materialize", "chatty", "--partition", "p2", "--wait")
    assert isinstance(run, dict) and run["status"] == "success", run
    run_id = str(run["run_id"])
    found = _json(state, "logs", run_id, "--asset", "chatty", "--partition", "p2")
    assert isinstance(found, dict) and len(found["lines"]) == 12
    none = _json(state, "logs", run_id, "--partition", "p1")
    assert isinstance(none, dict) and none["lines"] == []
    missing = conflux(state, "logs", "no-such-run")
    assert missing.returncode != 0 and "no run 'no-such-run'" in missing.stderr


def test_follow_prints_lines_as_they_come_and_ends_with_the_run(state: Path) -> None:
    run = _json(state, "materialize", "slow")
    assert isinstance(run, dict), run
    run_id = str(run["run_id"])
    started = time.monotonic()
    follow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conflux",
            "logs",
            run_id,
            "--follow",
            "--json",
            *("--state-dir", str(state)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    arrived: list[tuple[float, str]] = []
    try:
        assert follow.stdout is not None and follow.stderr is not None
        for line in follow.stdout:  # to its end: the follower exits once the run ended
            arrived.append((time.monotonic() - started, line))
        err = follow.stderr.read()
        follow.wait(timeout=60)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert follow.returncode == 0, err
    lines = [json.loads(x) for _, x in arrived]
    assert [x["message"] for x in lines] == [f"slow {i}" for i in range(6)]
    first_at, last_at = arrived[0][0], arrived[-1][0]
    assert last_at - first_at > 1.0, f"lines came at {first_at:.1f}..{last_at:.1f} s: not live"
    status = _json(state, "runs")
    assert isinstance(status, list)
    assert [r["status"] for r in status if r["run_id"] == run_id] == ["success"]
