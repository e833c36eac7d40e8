"""A backfill of a no-op asset with and without a `BackfillPolicy` (issue 5), on Apache Kafka.

For each variant, `conflux dev --workers 2` runs the whole system as processes (broker,
coordinator, projector, two workers) and the benchmark requests one backfill of
BENCH_PARTITIONS minutely partitions (default 100,000) of a no-op asset
(`MaterializeResult()`, no IO manager) through the CLI, then polls `conflux backfill
status` every second until it ends. Variants: `none` (one work item per partition) and
`multi_run` (`BackfillPolicy.multi_run(max_partitions_per_run=BENCH_MAX_PER_RUN)`, 1,000 by
default: one call per 1,000 partitions, each partition still reported by its own
`AssetMaterialized`). The asset counts its calls in a file.

Prints one JSON object: per variant, partitions per second from the request to the
backfill's end, the steady rate between the first and last status sample, the calls made,
and the coordinator's peak RSS. `BENCH_VARIANTS=multi_run` runs one variant only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil
from bench_backfill import conflux, coordinator_process, follow, stop_dev

PARTITIONS = int(os.environ.get("BENCH_PARTITIONS", "100000"))
MAX_PER_RUN = int(os.environ.get("BENCH_MAX_PER_RUN", "1000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
VARIANTS = os.environ.get("BENCH_VARIANTS", "none,multi_run").split(",")

DEFINITIONS = """
import os
from conflux import (BackfillPolicy, Definitions, MaterializeResult,
                     TimeWindowPartitionsDefinition, asset)

minutes = TimeWindowPartitionsDefinition(
    cron_schedule="* * * * *", start="2020-01-01-00:00", fmt="%Y-%m-%d-%H:%M"
)
CALLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calls")

@asset(partitions_def=minutes, backfill_policy={policy})
def noop() -> MaterializeResult:
    fd = os.open(CALLS, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, b".")
    os.close(fd)
    return MaterializeResult()

defs = Definitions(assets=[noop])
"""

POLICIES = {
    "none": "None",
    "multi_run": f"BackfillPolicy.multi_run(max_partitions_per_run={MAX_PER_RUN})",
}


def cli() -> str:
    return str(Path(sys.executable).with_name("conflux"))


def measure(variant: str) -> dict[str, object]:
    """One backfill of PARTITIONS partitions on a fresh `conflux dev`."""
    with tempfile.TemporaryDirectory(prefix="conflux-bench-backfill-policy-") as tmp:
        root = Path(tmp)
        (root / "defs.py").write_text(DEFINITIONS.replace("{policy}", POLICIES[variant]))
        state = root / ".conflux"
        log = (root / "dev.log").open("w")
        args = ["dev", "-f", str(root / "defs.py"), "--state-dir", str(state)]
        dev = subprocess.Popen(
            [cli(), *args, "--broker", "kafka", "--workers", str(WORKERS)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
        try:
            deadline = time.monotonic() + 180
            status_cmd = [cli(), "status", "--state-dir", str(state)]
            while subprocess.run(status_cmd, capture_output=True).returncode:
                if time.monotonic() > deadline:
                    raise RuntimeError("conflux dev did not get ready")
                time.sleep(0.5)
            coord = coordinator_process(psutil.Process(dev.pid))
            peak = coord.memory_info().rss
            end = datetime(2020, 1, 1) + timedelta(minutes=PARTITIONS - 1)
            t0 = time.monotonic()
            out = conflux(
                state,
                "backfill",
                "noop",
                "--from",
                "2020-01-01-00:00",
                "--to",
                end.strftime("%Y-%m-%d-%H:%M"),
                "--json",
            )
            backfill_id = json.loads(out)["backfill_id"]
            status, samples, followed_peak, misses = follow(state, backfill_id, coord)
            peak = max(peak, followed_peak)
            done_t, done_n = samples[-1]
            first = next(((t, n) for t, n in samples if n > 0), samples[-1])
            steady = (done_n - first[1]) / (done_t - first[0]) if done_t > first[0] else None
            calls_file = root / "calls"
            return {
                "variant": variant,
                "backfill_status": status["status"],
                "materialized": done_n,
                "seconds": round(done_t - t0, 1),
                "partitions_per_s": round(done_n / (done_t - t0), 1),
                "steady_partitions_per_s": round(steady, 1) if steady else None,
                "calls": calls_file.stat().st_size if calls_file.exists() else 0,
                "coordinator_rss_mb_peak": round(peak / 2**20, 1),
                "status_api_misses": misses,
                "loadavg_1m": os.getloadavg()[0],
            }
        finally:
            stop_dev(dev)
            log.close()


def main() -> None:
    results = [measure(v) for v in VARIANTS]
    print(
        json.dumps(
            {
                "benchmark": "backfill_policy",
                "broker": "kafka",
                "workers": WORKERS,
                "partitions_requested": PARTITIONS,
                "max_partitions_per_run": MAX_PER_RUN,
                "variants": results,
            }
        )
    )


if __name__ == "__main__":
    main()
