"""Run logs' cost: a backfill whose partitions each log 100 lines against one that logs none.

`conflux dev --workers 2` on Apache Kafka runs one location with two assets on the same
BENCH_PARTITIONS (default 1,000) daily partitions: `quiet` returns at once, `chatty`
writes BENCH_LINES (default 100) lines first (60% `context.log.info`, 40% `print`). The
benchmark backfills each in turn, BENCH_ROUNDS times (default 3, alternating, so that drift
of the machine falls on both), and reports each backfill's throughput: partitions over the
time from its `BackfillRequested` to its `BackfillCompleted` (both stamped on this
machine). BENCH_MAX_LOG_LINES=0 keeps no line (the worker captures and counts only), which
splits the worker's share of the cost from the archive's; BENCH_CAPTURE=0 captures nothing
(the lines go to the workers' log files, as before run logs). Then it checks that the archive
holds every line of the last `chatty` backfill (`/runs/<id>/logs`). One JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench_backfill import stop_dev

PARTITIONS = int(os.environ.get("BENCH_PARTITIONS", "1000"))
LINES = int(os.environ.get("BENCH_LINES", "100"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CAPTURE = os.environ.get("BENCH_CAPTURE", "1") != "0"
"""0: the workers capture nothing (`--no-capture-logs`): what logging cost before run logs."""
MAX_LOG_LINES = os.environ.get("BENCH_MAX_LOG_LINES")
"""Passed to the workers (`--max-log-lines`): 0 keeps no line (capture and count only)."""

DEFINITIONS = f"""
from conflux import AssetExecutionContext, DailyPartitionsDefinition, Definitions, asset

days = DailyPartitionsDefinition(start_date="2000-01-01")


@asset(partitions_def=days)
def quiet() -> None:
    return None


@asset(partitions_def=days)
def chatty(context: AssetExecutionContext) -> None:
    key = context.partition_key
    for i in range({LINES}):
        if i % 5 < 3:
            context.log.info("partition %s: step %d of {LINES}", key, i)
        else:
            print(f"partition {{key}}: printed line {{i}}")


defs = Definitions(assets=[quiet, chatty])
"""


def backfill(state: Path, client: object, asset: str) -> tuple[float, str]:
    """Backfill `asset` over every partition; (seconds requested -> completed, backfill id)."""
    from conflux.projections.api import ApiClient, EventQuery

    assert isinstance(client, ApiClient)
    last = (date(2000, 1, 1) + timedelta(days=PARTITIONS - 1)).isoformat()
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("conflux")),
            "backfill",
            asset,
            "--from",
            "2000-01-01",
            "--to",
            last,
            "--json",
            "--state-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    backfill_id = json.loads(out.stdout)["backfill_id"]
    while client.backfill(backfill_id).status not in ("success", "failed", "canceled"):
        time.sleep(0.1)
    done = client.backfill(backfill_id)
    if done.status != "success":
        raise RuntimeError(f"backfill of {asset} ended {done.status}")
    requested = [
        e.time
        for e in client.events(EventQuery(type="BackfillRequested"))
        if e.event.get("backfill_id") == backfill_id
    ]
    completed = [
        e.time
        for e in client.events(EventQuery(type="BackfillCompleted"))
        if e.event.get("backfill_id") == backfill_id
    ]
    return (completed[0] - requested[0]).total_seconds(), backfill_id


def main() -> None:
    from conflux.projections.api import ApiClient

    with tempfile.TemporaryDirectory(prefix="conflux-bench-logs-") as tmp:
        root = Path(tmp)
        (root / "defs.py").write_text(DEFINITIONS)
        state = root / ".conflux"
        log = (root / "dev.log").open("w")
        conflux = str(Path(sys.executable).with_name("conflux"))
        dev = subprocess.Popen(
            [
                conflux,
                "dev",
                "-f",
                str(root / "defs.py"),
                "--state-dir",
                str(state),
                "--broker",
                "kafka",
                "--workers",
                str(WORKERS),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            env={
                **os.environ,
                "CONFLUX_MAX_LOG_LINES": MAX_LOG_LINES or "10000",
                "CONFLUX_CAPTURE_LOGS": "1" if CAPTURE else "0",
            },
        )
        try:
            ready_by = time.monotonic() + 120
            while subprocess.run(
                [conflux, "status", "--state-dir", str(state)], capture_output=True
            ).returncode:
                if time.monotonic() > ready_by:
                    raise RuntimeError("conflux dev did not get ready")
                time.sleep(0.5)
            client = ApiClient(json.loads((state / "dev.json").read_text())["api_url"], 60.0)
            backfill(state, client, "quiet")  # warm up: imports, first assignment, chdb
            seconds: dict[str, list[float]] = {"quiet": [], "chatty": []}
            for _ in range(ROUNDS):
                for asset in ("quiet", "chatty"):
                    took, _ = backfill(state, client, asset)
                    seconds[asset].append(took)
            runs = [
                r.run_id
                for r in client.runs(limit=1000)
                if "chatty" in r.asset_keys and r.status == "success"
            ]
            t0 = time.monotonic()
            archived = client.run_logs(runs[0])  # the latest chatty run (newest first)
            read_s = time.monotonic() - t0
            rate = {a: PARTITIONS / statistics.median(s) for a, s in seconds.items()}
            print(
                json.dumps(
                    {
                        "benchmark": "logs",
                        "broker": "kafka",
                        "workers": WORKERS,
                        "partitions": PARTITIONS,
                        "lines_per_partition": LINES,
                        "capture": CAPTURE,
                        "max_log_lines": int(MAX_LOG_LINES or "10000"),
                        "rounds": ROUNDS,
                        "quiet_s": [round(s, 2) for s in seconds["quiet"]],
                        "chatty_s": [round(s, 2) for s in seconds["chatty"]],
                        "quiet_partitions_per_s": round(rate["quiet"], 1),
                        "chatty_partitions_per_s": round(rate["chatty"], 1),
                        "chatty_vs_quiet": round(rate["chatty"] / rate["quiet"], 3),
                        "lines_archived_last_chatty_run": len(archived.lines),
                        "lines_expected": PARTITIONS * LINES,
                        "logs_read_s": round(read_s, 2),
                        "loadavg_1m": os.getloadavg()[0],
                    }
                )
            )
        finally:
            stop_dev(dev)
            log.close()


if __name__ == "__main__":
    main()
