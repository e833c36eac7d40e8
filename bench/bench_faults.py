"""Faults (issue 16): kill each part of `conflux dev --workers 2` during a backfill.

On `conflux dev --workers 2` (Apache Kafka), a backfill of BENCH_PARTITIONS (default
6,000) minutely partitions of a no-op asset (each sleeps BENCH_PARTITION_MS, default 2
ms), while the bench kills -9, in turn: a worker, the coordinator, the projector, the
broker, and `dev` itself (then starts `dev` again on the same state folder). For each
fault, as JSON: seconds until work goes on (an execution of work dispatched after the
fault), until `status` is ready again (and counts no killed process as alive), and the
log counted so far; at the end the whole log counted from offset 0 (lost, counted twice,
executed again: see `_faultkit.count_log`), and whether `conflux replay` from zero equals
the live system. Progress on stderr, one JSON object on stdout.

Before each fault, another backfill (of the next partitions) is requested when less than
~30 s of work remains, so that every fault meets work still to dispatch.

Environment: BENCH_PARTITIONS, BENCH_PARTITION_MS, BENCH_FAULTS (comma-separated, of
worker, coordinator, zombie, broker, projector, dev), BENCH_SEED (default: random, printed),
BENCH_GAP_S (e.g. `2,6`: the random wait before each fault), BENCH_RECOVERY_TIMEOUT_S
(default 90), BENCH_WORK_AHEAD_S (default 30: the work kept queued before a
fault, in seconds at the current rate), BENCH_ROOT (a folder to run in instead of a temporary one).
"""

from __future__ import annotations

import json
import os
import random
import sys

from _faultsuite import Config, run_suite


def main() -> None:
    seed = int(os.environ.get("BENCH_SEED") or random.SystemRandom().randrange(1 << 31))
    lo, hi = (float(x) for x in os.environ.get("BENCH_GAP_S", "2,4").split(","))
    config = Config(
        name="faults",
        workers=2,
        chain=False,
        partitions=int(os.environ.get("BENCH_PARTITIONS", "6000")),
        partition_ms=float(os.environ.get("BENCH_PARTITION_MS", "2")),
        faults=tuple(
            os.environ.get("BENCH_FAULTS", "worker,coordinator,projector,broker,dev").split(",")
        ),
        seed=seed,
        gap_s=(lo, hi),
        recovery_timeout_s=float(os.environ.get("BENCH_RECOVERY_TIMEOUT_S", "90")),
        brokers=1,
        coordinators=1,
        work_ahead_s=float(os.environ.get("BENCH_WORK_AHEAD_S", "30")),
        root=os.environ.get("BENCH_ROOT") or None,
    )
    result = run_suite(config)
    print(json.dumps(result), flush=True)
    if "error" in result or result["survivors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
