"""What user code pays to import Conflux: `from conflux import asset, Definitions, ...`.

Each trial is a fresh interpreter (bytecode cached, as a user's is) that imports what a
definitions file imports and reports its own wall and CPU time for the import, and the
heavy packages it loaded (there must be none: Kafka, ClickHouse and the CLI load lazily).
The target (issue 15 and the style guide): <= 0.3 s; `import dagster` is measured the same
way for comparison when it is installed. Prints one JSON object.
"""

from __future__ import annotations

import json
import subprocess
import sys

TRIALS = 15
HEAVY = ("confluent_kafka", "chdb", "clickhouse_connect", "faust", "click")
PROBE = (
    "import sys, time; w = time.perf_counter(); c = time.process_time(); {stmt}; "
    "print(time.perf_counter() - w, time.process_time() - c); "
    "print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))))"
)


def _trial(stmt: str) -> tuple[float, float, str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(stmt=stmt, heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    wall, cpu = (float(x) for x in out[0].split())
    return wall, cpu, out[1]


def _measure(stmt: str) -> dict[str, object]:
    _trial(stmt)  # warm the bytecode cache and the page cache
    runs = [_trial(stmt) for _ in range(TRIALS)]
    walls = sorted(r[0] for r in runs)
    cpus = sorted(r[1] for r in runs)
    return {
        "wall_s_min": round(walls[0], 3),
        "wall_s_p50": round(walls[len(walls) // 2], 3),
        "cpu_s_p50": round(cpus[len(cpus) // 2], 3),
        "heavy_modules": sorted({m for r in runs for m in r[2].split(",") if m}),
    }


def main() -> None:
    """Print the import figures as one JSON object."""
    figures: dict[str, object] = {
        "benchmark": "import",
        "trials": TRIALS,
        "conflux": _measure("from conflux import asset, Definitions, DailyPartitionsDefinition"),
        "target_s": 0.3,
    }
    try:
        import importlib.util

        if importlib.util.find_spec("dagster") is not None:
            figures["dagster"] = _measure("import dagster")
    except ImportError:
        pass
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
