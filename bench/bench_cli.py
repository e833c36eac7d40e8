"""The CLI as a user runs it: whole `conflux` processes against a running `conflux dev`.

`conflux dev` (Apache Kafka when Java is there, else Tansu; `BENCH_BROKER` forces one)
runs the three-asset no-op chain of `cli_chain_defs.py`. Once `status` is ready and one
warm-up run has materialized the chain, each command below runs BENCH_RUNS times
(default 20), interleaved, each a fresh process started from the console script in a
user's environment (bytecode cached, see `user_environment`), timed from spawn to exit
on the wall clock:

- `conflux materialize a,b,c --wait` (a request, the coordinator and a worker at work,
  and the wait for the run's end);
- `conflux status` (one query API round trip);
- `conflux --help` (start-up and the command list only).

Prints one JSON object: per command, p50, p90 and max of the wall time and the p50 of the
process's CPU time (user + system) in milliseconds; `run_p50_ms`, the p50 of the runs' own
durations (request to completion, see `last_run_ms`); and the machine's load before and
after. The machine is shared: a busy neighbour shows in the wall times, much less in
the CPU times.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_backfill import stop_dev

RUNS = int(os.environ.get("BENCH_RUNS", "20"))
BROKER = os.environ.get("BENCH_BROKER", "kafka")
DEFINITIONS = Path(__file__).with_name("cli_chain_defs.py")
CONFLUX = str(Path(sys.executable).with_name("conflux"))


def user_environment(root: Path) -> dict[str, str]:
    """The environment a user's `conflux` runs in: Python caches the modules' bytecode.

    With `PYTHONDONTWRITEBYTECODE` set (as in some sandboxes), every process compiles
    Conflux's own modules again, which a user who installed it never pays; the cache goes
    to a folder of the benchmark's (`PYTHONPYCACHEPREFIX`), not into the source tree.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    return env


def timed(args: list[str], cwd: Path) -> tuple[float, float]:
    """Run one `conflux` process: its wall time and its CPU time (user + system), in ms.

    Raises:
        RuntimeError: the command exited non-zero.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [CONFLUX, *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=user_environment(cwd),
    )
    _, status, usage = os.wait4(proc.pid, 0)  # the child's own rusage, reaped here
    elapsed = (time.perf_counter() - t0) * 1000
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode:
        raise RuntimeError(f"conflux {' '.join(args)} exited {proc.returncode}: {stderr}")
    return elapsed, (usage.ru_utime + usage.ru_stime) * 1000


def last_run_ms(root: Path) -> float:
    """The newest run's own duration: its request's time (stamped by the CLI before it
    sends it) to its completion (the coordinator's); the rest of the command's wall time
    is the CLI's (start-up, checks, the wait's polling, exit)."""
    from conflux.projections.api import ApiClient

    info = json.loads((root / ".conflux" / "dev.json").read_text())
    (run,) = ApiClient(info["api_url"]).runs(limit=1)
    assert run.requested_at is not None and run.completed_at is not None, run
    return (run.completed_at - run.requested_at).total_seconds() * 1000


def figures(samples: list[float], cpu: list[float]) -> dict[str, float]:
    """p50, p90 and max of the wall times, and the p50 of the CPU times."""
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(p90, 1),
        "max_ms": round(ordered[-1], 1),
        "cpu_p50_ms": round(statistics.median(cpu), 1),
    }


def main() -> None:
    commands = {
        "materialize a,b,c --wait": ["materialize", "a,b,c", "--wait"],
        "status": ["status"],
        "--help": ["--help"],
    }
    with tempfile.TemporaryDirectory(prefix="conflux-bench-cli-") as tmp:
        root = Path(tmp)
        log = (root / "dev.log").open("w")
        env = user_environment(root)
        dev = subprocess.Popen(
            [CONFLUX, "dev", "-f", str(DEFINITIONS), "--broker", BROKER],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            env=env,
        )
        try:
            deadline = time.monotonic() + 120
            while subprocess.run(
                [CONFLUX, "status"], cwd=root, capture_output=True, env=env
            ).returncode:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"conflux dev did not get ready (see {root / 'dev.log'})")
                time.sleep(0.5)
            for args in commands.values():  # warm-up: the bytecode cache, the first run
                timed(args, root)
            load_before = os.getloadavg()[0]
            samples: dict[str, list[float]] = {name: [] for name in commands}
            cpu: dict[str, list[float]] = {name: [] for name in commands}
            runs: list[float] = []
            for _ in range(RUNS):
                for name, args in commands.items():
                    wall, used = timed(args, root)
                    samples[name].append(wall)
                    cpu[name].append(used)
                runs.append(last_run_ms(root))
            print(
                json.dumps(
                    {
                        "benchmark": "cli",
                        "broker": BROKER,
                        "runs": RUNS,
                        **{name: figures(s, cpu[name]) for name, s in samples.items()},
                        "run_p50_ms": round(statistics.median(runs), 1),
                        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                    }
                )
            )
        finally:
            stop_dev(dev)
            log.close()


if __name__ == "__main__":
    main()
