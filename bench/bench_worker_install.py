"""What a code location's environment must install to run a worker: `pip install conflux`.

Creates a fresh virtualenv, measures its site-packages, installs this repository without
extras (the SDK and the worker: pydantic, confluent-kafka, croniter, click, pyyaml), and
measures again; the difference is what the install adds. Needs the package index (or
pip's cache). The issue's target: <= 60 MB. Prints one JSON object.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        (site,) = venv.glob("lib/python*/site-packages")
        before = _size_mb(site)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", str(REPO)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        after = _size_mb(site)
        check = "import conflux.workers, conflux.sdk, sys; "
        check += "assert 'chdb' not in sys.modules and 'clickhouse_connect' not in sys.modules"
        # Outside the repository, whose `conflux/` folder would shadow the install.
        subprocess.run([str(venv / "bin" / "python"), "-c", check], check=True, cwd=tmp)
        installed = subprocess.run(
            [str(venv / "bin" / "pip"), "list", "--format", "json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    added = round(after - before, 1)
    return {
        "benchmark": "worker_environment_install",
        "fresh_venv_mb": round(before, 1),
        "added_mb": added,
        "packages": sorted(p["name"] for p in json.loads(installed)),
        "target_mb": 60,
        "met": added <= 60,
    }


def main() -> None:
    print(json.dumps(run()), flush=True)


if __name__ == "__main__":
    main()
