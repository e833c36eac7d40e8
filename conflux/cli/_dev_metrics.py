"""Where `conflux dev`'s parts serve their metrics: ports chosen by `dev`, kept in the state.

`dev` gives the coordinator and each worker a free port (`--metrics-port`), and writes
every part's `/metrics` URL to `<state-dir>/metrics.json` (the projector's is on its query
API), so that `conflux status --json` lists them and a local Prometheus can scrape them.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

METRICS_FILE = "metrics.json"


def metrics_available() -> bool:
    """Whether this environment can serve metrics (prometheus_client is installed)."""
    import importlib.util

    return importlib.util.find_spec("prometheus_client") is not None


def free_port() -> int:
    """A port free on 127.0.0.1 now (the part binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_metrics_file(state_dir: Path, urls: dict[str, str]) -> None:
    """Record part name -> `/metrics` URL in the state folder (replaced atomically)."""
    path = state_dir / METRICS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(urls, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def read_metrics_file(state_dir: str | Path) -> dict[str, str] | None:
    """The URLs that a running `dev` recorded (None: no `dev` wrote any here)."""
    try:
        data = json.loads((Path(state_dir) / METRICS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


def metrics_args(urls: dict[str, str], name: str, enabled: bool) -> list[str]:
    """`--metrics-port N` for part `name` on a free port, noted in `urls` (or nothing)."""
    if not enabled:
        return []
    port = free_port()
    urls[name] = f"http://127.0.0.1:{port}/metrics"
    return ["--metrics-port", str(port)]
