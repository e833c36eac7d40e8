"""A large backfill of one no-op asset through `conflux dev` on Apache Kafka (issue 5).

`conflux dev --workers 2` runs the whole system as processes (broker, coordinator,
projector, two workers); the benchmark requests one backfill of BENCH_PARTITIONS minutely
partitions (default 1,000,000) through the CLI and measures:

- first dispatch: from the `BackfillRequested` event's time to the first
  `WorkItemDispatched` of the backfill (both stamped on this machine);
- throughput: partitions materialized per second, end to end, over the measured window;
- the coordinator process's RSS, sampled every second, and its peak.

It stops after BENCH_SECONDS (default: until the backfill ends) and prints one JSON object.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

PARTITIONS = int(os.environ.get("BENCH_PARTITIONS", "1000000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "0")) or None
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
DEV_ARGS = os.environ.get("BENCH_DEV_ARGS", "").split()
"""More `conflux dev` options, e.g. `--brokers 3 --coordinators 2` (issue 18's cluster)."""

DEFINITIONS = """
from conflux import Definitions, MaterializeResult, TimeWindowPartitionsDefinition, asset

minutes = TimeWindowPartitionsDefinition(
    cron_schedule="* * * * *", start="2020-01-01-00:00", fmt="%Y-%m-%d-%H:%M"
)

@asset(partitions_def=minutes)
def noop() -> MaterializeResult:
    return MaterializeResult()

defs = Definitions(assets=[noop])
"""


def conflux(state: Path, *args: str) -> str:
    out = subprocess.run(
        [str(Path(sys.executable).with_name("conflux")), *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode:
        raise RuntimeError(f"conflux {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def stop_dev(dev: subprocess.Popen[bytes]) -> None:
    """Ctrl-C `conflux dev` and wait; kill it and its children if it takes over 60 s."""
    dev.send_signal(signal.SIGINT)
    try:
        dev.wait(timeout=60)
    except subprocess.TimeoutExpired:
        for child in psutil.Process(dev.pid).children(recursive=True):
            child.kill()
        dev.kill()
        dev.wait()


def coordinator_process(dev: psutil.Process) -> psutil.Process:
    for child in dev.children(recursive=True):
        if "coordinator" in child.cmdline():
            return child
    raise RuntimeError("no coordinator process under conflux dev")


def first_dispatch_ms(state: Path) -> float | None:
    """Milliseconds from the backfill's request to its first dispatch.

    The first chunk's `RunStarted` is emitted in the same decision step as its first
    dispatches, so its time is the first dispatch's.
    """
    from conflux.projections.api import ApiClient, EventQuery

    info = json.loads((state / "dev.json").read_text())
    client = ApiClient(info["api_url"])
    requested = client.events(EventQuery(type="BackfillRequested"))[0]  # the only one here
    started = [r.started_at for r in client.runs(limit=1000) if r.started_at is not None]
    if not started:
        return None
    return (min(started) - requested.time).total_seconds() * 1000


def follow(
    state: Path, backfill_id: str, coord: psutil.Process, deadline: float | None = None
) -> tuple[dict[str, object], list[tuple[float, int]], int, int]:
    """Poll `backfill status` every second until it ends (or `deadline`, monotonic).

    Returns the last status, (time, materialized) samples, the coordinator's peak RSS
    and how many status calls a busy projector left unanswered.
    """
    peak = coord.memory_info().rss
    samples: list[tuple[float, int]] = []
    status: dict[str, Any] = {}  # a JSON object of `backfill status --json`
    misses = 0
    while True:
        peak = max(peak, coord.memory_info().rss)
        try:
            status = json.loads(conflux(state, "backfill", "status", backfill_id, "--json"))
        except RuntimeError as exc:  # a busy projector: count it, ask again
            misses += 1
            if misses > 30:
                raise RuntimeError("the query API stopped answering") from exc
            continue
        samples.append((time.monotonic(), int(status["materialized"])))
        if status["status"] in ("success", "failed", "canceled"):
            break
        if deadline is not None and time.monotonic() > deadline:
            break
        time.sleep(1.0)
    return status, samples, peak, misses


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="conflux-bench-backfill-") as tmp:
        root = Path(tmp)
        (root / "defs.py").write_text(DEFINITIONS)
        state = root / ".conflux"
        log = (root / "dev.log").open("w")
        dev = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("conflux")),
                "dev",
                "-f",
                str(root / "defs.py"),
                "--state-dir",
                str(state),
                "--broker",
                "kafka",
                "--workers",
                str(WORKERS),
                *DEV_ARGS,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
        try:
            ready_by = time.monotonic() + 300
            while subprocess.run(
                [
                    str(Path(sys.executable).with_name("conflux")),
                    "status",
                    "--state-dir",
                    str(state),
                ],
                capture_output=True,
            ).returncode:
                if time.monotonic() > ready_by:
                    raise RuntimeError("conflux dev did not get ready")
                time.sleep(0.5)
            coord = coordinator_process(psutil.Process(dev.pid))
            base_rss = coord.memory_info().rss
            end = datetime(2020, 1, 1) + timedelta(minutes=PARTITIONS - 1)
            last = end.strftime("%Y-%m-%d-%H:%M")
            t0 = time.monotonic()
            out = conflux(
                state, "backfill", "noop", "--from", "2020-01-01-00:00", "--to", last, "--json"
            )
            backfill_id = json.loads(out)["backfill_id"]
            accepted_s = time.monotonic() - t0
            deadline = t0 + SECONDS if SECONDS is not None else None
            status, samples, peak, api_timeouts = follow(state, backfill_id, coord, deadline)
            peak = max(peak, base_rss)
            first_ms = first_dispatch_ms(state)
            # steady-state rate: from the first sample with work done to the last
            started = next(((t, n) for t, n in samples if n > 0), samples[-1])
            done_t, done_n = samples[-1]
            rate = (done_n - started[1]) / (done_t - started[0]) if done_t > started[0] else None
            print(
                json.dumps(
                    {
                        "benchmark": "backfill",
                        "broker": "kafka",
                        "workers": WORKERS,
                        "dev_args": DEV_ARGS,
                        "partitions_requested": PARTITIONS,
                        "backfill_status": status["status"],
                        "materialized": done_n,
                        "seconds": round(done_t - t0, 1),
                        "cli_accept_s": round(accepted_s, 2),
                        "first_dispatch_ms": round(first_ms, 1) if first_ms is not None else None,
                        "partitions_per_s": round(rate, 1) if rate else None,
                        "coordinator_rss_mb_start": round(base_rss / 2**20, 1),
                        "coordinator_rss_mb_peak": round(peak / 2**20, 1),
                        "status_api_timeouts": api_timeouts,
                        "loadavg_1m": os.getloadavg()[0],
                    }
                )
            )
        finally:
            stop_dev(dev)
            log.close()


if __name__ == "__main__":
    main()
