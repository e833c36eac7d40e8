"""The read side at scale (issue 17): projector memory, history reads, and a restart.

`conflux dev --broker kafka --workers 2` runs the whole system as processes (Apache Kafka,
coordinator, projector with its chdb archive, two workers); the benchmark requests one
backfill of BENCH_PARTITIONS (default 1,100,000) hourly partitions of a no-op asset
through the CLI and measures, while it runs:

- the projector's RSS every 10 s, and at 100k, 250k, 500k and 1M materialized (the first
  sample at or past each);
- `conflux events --asset noop --partition K` (K a materialized key): the command's wall
  time, and the query API's answer alone (`ApiClient.events`), every 5 s;
- a 1,000-event history page (`/events?asset=noop&limit=1000`, what the CLI and UI ask
  for an asset's history), every 30 s and 10 times at the end;
- the backfill's throughput (partitions materialized per second, end to end);

then stops `dev` with Ctrl-C and starts it again on the same state folder: time to ready
(`conflux status` exits 0), the projector's own start to caught up (its log), its RSS
after, and the history reads again. BENCH_RESTART=0 skips the restart. Prints one JSON
object. Runs against whatever `conflux` sits next to the Python running it, so the same
script measures an older checkout (its venv's python) for a before/after comparison.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil

PARTITIONS = int(os.environ.get("BENCH_PARTITIONS", "1100000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
RESTART = os.environ.get("BENCH_RESTART", "1") != "0"
MILESTONES = (100_000, 250_000, 500_000, 1_000_000)
START = datetime(1900, 1, 1)
CONFLUX = str(Path(sys.executable).with_name("conflux"))

DEFINITIONS = """
from conflux import Definitions, HourlyPartitionsDefinition, MaterializeResult, asset

hours = HourlyPartitionsDefinition(start_date="1900-01-01-00:00")

@asset(partitions_def=hours)
def noop() -> MaterializeResult:
    return MaterializeResult()

defs = Definitions(assets=[noop])
"""


def key(n: int) -> str:
    return (START + timedelta(hours=n)).strftime("%Y-%m-%d-%H:%M")


def conflux(state: Path, *args: str, timeout: float = 120) -> str:
    out = subprocess.run(
        [CONFLUX, *args, "--state-dir", str(state)], capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"conflux {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def start_dev(root: Path, state: Path, log_name: str) -> tuple[subprocess.Popen[bytes], float]:
    """Start `conflux dev`; return it once `conflux status` exits 0, and the seconds taken."""
    log = (root / log_name).open("w")
    started = time.monotonic()
    dev = subprocess.Popen(
        [CONFLUX, "dev", "-f", str(root / "defs.py"), "--state-dir", str(state),
         "--broker", "kafka", "--workers", str(WORKERS)],
        stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )  # fmt: skip
    deadline = started + 900
    while subprocess.run(
        [CONFLUX, "status", "--state-dir", str(state)], capture_output=True
    ).returncode:
        if time.monotonic() > deadline or dev.poll() is not None:
            raise RuntimeError(f"conflux dev did not get ready (see {root / log_name})")
        time.sleep(0.25)
    return dev, time.monotonic() - started


def stop_dev(dev: subprocess.Popen[bytes]) -> float:
    """Ctrl-C `conflux dev`; return the seconds it took to stop (kill after 120 s)."""
    started = time.monotonic()
    dev.send_signal(2)
    try:
        dev.wait(timeout=120)
    except subprocess.TimeoutExpired:
        for child in psutil.Process(dev.pid).children(recursive=True):
            child.kill()
        dev.kill()
        dev.wait()
    return time.monotonic() - started


def part(dev: subprocess.Popen[bytes], name: str) -> psutil.Process:
    for child in psutil.Process(dev.pid).children(recursive=True):
        cmd = child.cmdline()
        if "conflux" in " ".join(cmd) and name in cmd:
            return child
    raise RuntimeError(f"no {name} process under conflux dev")


def mb(process: psutil.Process) -> float:
    return round(process.memory_info().rss / 2**20, 1)


def engine_mb(probes: Probes) -> float | None:
    """The embedded ClickHouse's own count of its memory in the projector (None: no SQL)."""
    try:
        answer = probes.client.sql(
            "SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'"
        )
    except Exception:  # code before `conflux sql`, or a busy API: no figure this time
        return None
    return round(int(str(answer.rows[0][0])) / 2**20, 1)


def pct(samples: list[float], p: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)


class Probes:
    """History reads while the backfill runs, on threads of their own."""

    def __init__(self, state: Path) -> None:
        from conflux.projections.api import ApiClient

        self.state = state
        info = json.loads((state / "dev.json").read_text())
        self.client = ApiClient(info["api_url"], timeout=30.0)
        self.done = 0
        """Partitions materialized, as the main thread last read it."""
        self.cli_ms: list[float] = []
        self.api_ms: list[float] = []
        self.page_ms: list[float] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self._rng = random.Random(17)

    def partition_story(self) -> None:
        from conflux.projections.api import EventQuery

        k = key(self._rng.randrange(max(1, self.done - 5000)))
        t = time.monotonic()
        found = self.client.events(EventQuery(asset="noop", partition=k))
        self.api_ms.append((time.monotonic() - t) * 1000)
        t = time.monotonic()
        conflux(self.state, "events", "--asset", "noop", "--partition", k, "--json")
        self.cli_ms.append((time.monotonic() - t) * 1000)
        if self.done > 10_000 and not found:
            self.errors.append(f"no history for noop[{k}]")

    def history_page(self) -> None:
        from conflux.projections.api import EventQuery

        t = time.monotonic()
        page = self.client.events(EventQuery(asset="noop", limit=1000))
        self.page_ms.append((time.monotonic() - t) * 1000)
        if self.done > 1000 and len(page) < 1000:
            self.errors.append(f"a history page of {len(page)} events")

    def run(self) -> None:
        next_page = time.monotonic() + 30
        while not self.stop.wait(5.0):
            try:
                if self.done:
                    self.partition_story()
                if time.monotonic() >= next_page:
                    next_page = time.monotonic() + 30
                    self.history_page()
            except Exception as exc:  # count it: the figure says how often reads failed
                self.errors.append(f"{type(exc).__name__}: {exc}"[:200])


def caught_up_s(log: Path, since: float) -> float | None:
    """From the projector's first log line written after `since` (epoch) to "caught up"."""
    first = caught = None
    for line in log.read_text().splitlines():
        try:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        except ValueError:
            continue
        if stamp < since:
            continue
        first = first if first is not None else stamp
        if "caught up" in line:
            caught = stamp
            break
    return round(caught - first, 2) if first is not None and caught is not None else None


def restart_log_lines(log: Path, since: float) -> list[str]:
    keep = ("resumed from", "rebuilt", "caught up", "checkpoint")
    out = []
    for line in log.read_text().splitlines():
        try:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        except ValueError:
            continue
        if stamp >= since and any(k in line for k in keep):
            out.append(line[24:][:160])
    return out[:6]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="conflux-bench-read-side-") as tmp:
        root = Path(tmp)
        (root / "defs.py").write_text(DEFINITIONS)
        state = root / ".conflux"
        dev, first_ready_s = start_dev(root, state, "dev.log")
        result: dict[str, object] = {
            "benchmark": "read_side",
            "broker": "kafka",
            "workers": WORKERS,
            "partitions_requested": PARTITIONS,
            "first_start_to_ready_s": round(first_ready_s, 1),
        }
        try:
            projector = part(dev, "projector")
            coordinator = part(dev, "coordinator")
            base = mb(projector)
            result["projector_rss_mb_idle"] = base
            probes = Probes(state)
            sampler = threading.Thread(target=probes.run, daemon=True)
            t0 = time.monotonic()
            out = conflux(state, "backfill", "noop", "--from", key(0), "--to",
                          key(PARTITIONS - 1), "--json")  # fmt: skip
            backfill_id = json.loads(out)["backfill_id"]
            sampler.start()
            rss: list[list[float | None]] = []
            at_milestones: dict[str, float] = {}
            counts: list[tuple[float, int]] = []
            next_sample = time.monotonic()
            status: dict[str, object] = {}
            misses = 0
            while True:
                try:
                    status = json.loads(conflux(state, "backfill", "status", backfill_id,
                                                "--json"))  # fmt: skip
                except RuntimeError:
                    misses += 1
                    if misses > 60:
                        raise
                    continue
                done = int(status["materialized"])  # type: ignore[call-overload]
                probes.done = done
                counts.append((time.monotonic(), done))
                for m in MILESTONES:
                    if done >= m and str(m) not in at_milestones and m <= PARTITIONS:
                        at_milestones[str(m)] = mb(projector)
                if time.monotonic() >= next_sample:
                    next_sample += 10
                    rss.append([round(time.monotonic() - t0), done, mb(projector),
                                mb(coordinator), engine_mb(probes)])  # fmt: skip
                if status["status"] in ("success", "failed", "canceled"):
                    break
                time.sleep(1.0)
            probes.stop.set()
            sampler.join()
            end_t, end_n = counts[-1]
            first = next(((t, n) for t, n in counts if n > 0), counts[-1])
            for _ in range(10):
                probes.history_page()
            try:
                events_total = json.loads(conflux(state, "sql", "SELECT count() AS n FROM events",
                                                  "--format", "json"))[0]["n"]  # fmt: skip
            except RuntimeError:  # code before `conflux sql`
                events_total = None
            result.update(
                {
                    "backfill_status": status["status"],
                    "materialized": end_n,
                    "events_in_log": events_total,
                    "seconds": round(end_t - t0, 1),
                    "partitions_per_s": round(end_n / (end_t - t0), 1),
                    "partitions_per_s_steady": round((end_n - first[1]) / (end_t - first[0]), 1)
                    if end_t > first[0]
                    else None,
                    "status_misses": misses,
                    "projector_rss_mb_at": at_milestones,
                    "projector_rss_mb_end": mb(projector),
                    "projector_rss_mb_peak": max(
                        (r[2] for r in rss if r[2] is not None), default=None
                    ),
                    "coordinator_rss_mb_end": mb(coordinator),
                    "events_partition_cli_ms_p50": pct(probes.cli_ms, 0.5),
                    "events_partition_cli_ms_p99": pct(probes.cli_ms, 0.99),
                    "events_partition_api_ms_p50": pct(probes.api_ms, 0.5),
                    "events_partition_api_ms_p99": pct(probes.api_ms, 0.99),
                    "events_partition_samples": len(probes.api_ms),
                    "history_page_1000_ms_p50": pct(probes.page_ms, 0.5),
                    "history_page_1000_ms_max": round(max(probes.page_ms), 1)
                    if probes.page_ms
                    else None,
                    "read_errors": probes.errors[:5],
                    "read_error_count": len(probes.errors),
                    "rss_samples_t_s_materialized_projector_coordinator_engine_mb": rss,
                }
            )
            if RESTART:
                result["stop_s"] = round(stop_dev(dev), 1)
                since = time.time()
                dev, ready_s = start_dev(root, state, "dev2.log")
                log = state / "logs" / "projector.log"
                result["restart_to_ready_s"] = round(ready_s, 2)
                result["restart_projector_start_to_caught_up_s"] = caught_up_s(log, since)
                result["restart_projector_log"] = restart_log_lines(log, since)
                time.sleep(10)
                projector = part(dev, "projector")
                result["restart_projector_rss_mb"] = mb(projector)
                after = Probes(state)
                after.done = end_n
                for _ in range(10):
                    after.partition_story()
                    after.history_page()
                result["restart_events_partition_api_ms_p50"] = pct(after.api_ms, 0.5)
                result["restart_history_page_1000_ms_p50"] = pct(after.page_ms, 0.5)
                result["restart_read_errors"] = after.errors[:3]
        finally:
            stop_dev(dev)
        result["loadavg_1m"] = round(os.getloadavg()[0], 1)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
