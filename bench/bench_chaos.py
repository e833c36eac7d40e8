"""Chaos (issue 18): every part of a running system killed or paused, and nothing lost.

On `conflux dev --brokers 3 --coordinators 2 --workers 2` (Apache Kafka; while `dev` lacks
those flags, one broker and a standby `conflux coordinator` started by hand, which the
JSON's `notes` say), a backfill of BENCH_PARTITIONS (default 10,000) minutely partitions
of a two-asset chain (`down` reads `up`; each partition sleeps BENCH_PARTITION_MS,
default 3 ms), while the bench, one at a time, each at a random moment (seeded: the seed
is printed in the JSON, BENCH_SEED repeats a run):

1. kill -9 a worker;
2. kill -9 the active coordinator;
3. SIGSTOP the active coordinator until a standby leads, a little longer, then SIGCONT
   (the zombie: none of the decisions it makes after waking may count);
4. kill -9 one Kafka broker (`dev` starts it again);
5. kill -9 the projector;
6. kill -9 the whole `dev` process tree, then start `conflux dev` again on the same folder.

Before each fault, another backfill (of the next partitions) is requested when less than
~30 s of work remains, so that every fault meets work still to dispatch. After each
fault, as JSON: seconds until work goes on and until `status` is ready again,
and the log counted so far; at the end, counted from the log (offset 0, a plain consumer,
through the coordinator's epoch fence): partitions lost (must be 0), counted twice (must
be 0), executions repeated (at-least-once may repeat), the zombie's decisions counted
(must be 0), whether `conflux replay` from zero equals the live system, and the processes
left behind (must be none). Progress on stderr, one JSON object on stdout.

Environment: BENCH_PARTITIONS, BENCH_PARTITION_MS, BENCH_FAULTS (comma-separated, of
worker, coordinator, zombie, broker, projector, dev), BENCH_SEED, BENCH_GAP_S (default
`1,8`), BENCH_RECOVERY_TIMEOUT_S (default 90), BENCH_WORK_AHEAD_S (default 30: the work
kept queued before a fault, in seconds at the current rate), BENCH_ROOT.
"""

from __future__ import annotations

import json
import os
import random
import sys

from _faultsuite import FAULTS, Config, run_suite


def main() -> None:
    seed = int(os.environ.get("BENCH_SEED") or random.SystemRandom().randrange(1 << 31))
    lo, hi = (float(x) for x in os.environ.get("BENCH_GAP_S", "1,8").split(","))
    config = Config(
        name="chaos",
        workers=2,
        chain=True,
        partitions=int(os.environ.get("BENCH_PARTITIONS", "10000")),
        partition_ms=float(os.environ.get("BENCH_PARTITION_MS", "3")),
        faults=tuple(os.environ.get("BENCH_FAULTS", ",".join(FAULTS)).split(",")),
        seed=seed,
        gap_s=(lo, hi),
        recovery_timeout_s=float(os.environ.get("BENCH_RECOVERY_TIMEOUT_S", "90")),
        brokers=int(os.environ.get("BENCH_BROKERS", "3")),
        coordinators=2,
        work_ahead_s=float(os.environ.get("BENCH_WORK_AHEAD_S", "30")),
        root=os.environ.get("BENCH_ROOT") or None,
    )
    result = run_suite(config)
    print(json.dumps(result), flush=True)
    if "error" in result or result["survivors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
