"""The chaos suite, short: parts of `conflux dev` killed mid-backfill, and nothing lost.

Runs `bench/bench_chaos.py` as `bench/run chaos` does, reduced: a few hundred partitions
of the two-asset chain, and four faults (kill -9 a worker, kill -9 the active coordinator,
the paused coordinator that wakes after a standby took over, kill -9 the projector). The
counts come from the log, read from offset 0 through the coordinator's epoch fence (see
`bench/_faultkit.py`), not from the read model.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from conflux.events.brokers import kafka_available

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _left_behind(folder: Path) -> list[psutil.Process]:
    """Live processes whose command line names `folder` (what the suite started there)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if any(str(folder) in arg for arg in proc.info["cmdline"] or []):
            found.append(proc)
    return found


@pytest.mark.timeout(420)
def test_nothing_is_lost_or_counted_twice_when_parts_die(tmp_path: Path) -> None:
    ok, why = kafka_available()
    if not ok:
        pytest.skip(f"Apache Kafka cannot run here: {why}")
    env = {
        **os.environ,
        "BENCH_ROOT": str(tmp_path / "chaos"),
        "BENCH_SEED": "18",
        "BENCH_PARTITIONS": "300",
        "BENCH_FAULTS": "worker,coordinator,zombie,projector",
        "BENCH_GAP_S": "0.5,2",
        "BENCH_RECOVERY_TIMEOUT_S": "60",
        "BENCH_WORK_AHEAD_S": "8",
        "BENCH_BROKERS": "1",  # three JVMs on a 2-core CI cost minutes: `bench/run chaos` has them
    }
    suite = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "bench_chaos.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        out, err = suite.communicate(timeout=400)
    finally:
        if suite.poll() is None:
            os.killpg(suite.pid, signal.SIGKILL)
            suite.wait()
        left = _left_behind(tmp_path)
        for proc in left:
            proc.kill()
    assert not left, f"processes left behind: {[p.info['cmdline'] for p in left]}"
    assert out.strip(), f"the suite printed no result: {err[-3000:]}"
    result: dict[str, Any] = json.loads(out)
    assert "error" not in result, f"{result['error']}\n{err[-3000:]}"
    assert [f["fault"] for f in result["faults"]] == [
        "worker",
        "coordinator",
        "zombie",
        "projector",
    ]
    assert result["partitions_expected"] >= 600  # 300 partitions of each of the two assets
    assert result["lost"] == 0, result["lost_examples"]
    assert result["double_counted"] == 0, result["double_counted_examples"]
    assert result["executed_fenced_deliveries"] == 0
    (zombie,) = result["zombie_decisions_after_waking"].values()
    assert zombie["counted"] == 0, zombie
    assert result["replay_equals_live"] is True, result["replay"]
    assert result["live_equals_log"] is True, result["live_materialized"]
    assert result["survivors"] == []
    for fault in result["faults"]:
        assert fault["work_continues_s"] is not None, fault
        assert fault["status_ready_s"] is not None, fault
    assert suite.returncode == 0, err[-3000:]
