"""Run logs' cost per line, in one process: what one captured line costs the asset.

The worker's capture (`conflux.workers._logs`) with an attempt open, no Kafka: each
figure is the best of BENCH_REPEAT (default 5) timings of BENCH_CALLS (default 100,000)
calls, in microseconds per call. `context_log` is `context.log.info("... %s ... %d", ...)`
on the logger the SDK gives an asset (the capture's short path); `logging` is the same
call on a plain registered logger (`get_dagster_logger()`'s path: a `LogRecord` and the
capture's handler); `print` and `write` go to the captured `sys.stdout`. One JSON object.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import timeit

CALLS = int(os.environ.get("BENCH_CALLS", "100000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))


def main() -> None:
    from conflux.events import PartitionStarted
    from conflux.sdk._context_log import context_logger
    from conflux.workers._logs import AttemptLog, attempt_logs, capture_output

    started = PartitionStarted(
        asset_key="chatty",
        partition_key="2000-01-01",
        run_id="r1",
        work_item_id="w1",
        worker_id="w",
        attempt=1,
    )
    context_log = context_logger("conflux.asset.chatty")
    plain = logging.getLogger("conflux.user")
    calls: dict[str, object] = {
        "context_log": lambda: context_log.info("partition %s: step %d of 100", "2000-01-01", 7),
        "logging": lambda: plain.info("partition %s: step %d of 100", "2000-01-01", 7),
        "print": lambda: print("partition 2000-01-01: printed line 7"),
        "write": lambda: sys.stdout.write("partition 2000-01-01: printed line 7\n"),
    }
    us: dict[str, float] = {}
    batches = 0

    def count(_: object) -> None:
        nonlocal batches
        batches += 1

    with capture_output():
        log = AttemptLog(started, send=count, max_lines=10**9)
        with attempt_logs(log):
            for name, call in calls.items():
                best = min(timeit.repeat(call, number=CALLS, repeat=REPEAT))  # type: ignore[arg-type]
                us[name] = round(best / CALLS * 1e6, 3)
    expected = len(calls) * CALLS * REPEAT
    assert log.kept == expected, (log.kept, expected)
    print(json.dumps({"benchmark": "log_lines", "calls": CALLS, "us_per_line": us}))


if __name__ == "__main__":
    main()
