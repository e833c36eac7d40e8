"""A worker started on its own (`conflux worker`) obeys `conflux locations reload NAME`.

`conflux dev` restarts the workers it supervises; one started by hand (another machine,
in a real deployment) stops gracefully and starts again in place, with the code as it is
now. The project file records the pid of every process that imports it: the standalone
worker's pid shows up a second time after the reload.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import dev_process
import pytest
from dev_process import conflux, wait_for

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e

PROJECT = textwrap.dedent(
    """
    import os
    from pathlib import Path

    from conflux import Definitions, asset

    with open(Path(__file__).with_name("imports.txt"), "a") as _log:
        _log.write(f"{os.getpid()}\\n")

    @asset
    def hello() -> int:
        return 1

    defs = Definitions(assets=[hello])
    """
)


def _imports(project: Path) -> list[int]:
    path = project / "imports.txt"
    return [int(line) for line in path.read_text().split()] if path.is_file() else []


def test_a_standalone_worker_restarts_in_place_on_reload(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "hello.py").write_text(PROJECT)
    state = project / ".conflux"
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    with dev_process.running_dev(project / "hello.py", state, broker, prefix="e2e-reload"):
        (name,) = [loc for loc in _location_names(state)]
        logs = (tmp_path / "worker.log").open("w")
        command = ["worker", "--location", name, "-f", "hello.py", "--state-dir", str(state)]
        worker = subprocess.Popen(
            [sys.executable, "-m", "conflux", *command],
            cwd=project,
            stdout=logs,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(lambda: worker.pid in _imports(project), timeout=60)
            done = conflux(state, "locations", "reload", name, "--wait")
            assert done.returncode == 0, done.stderr
            wait_for(lambda: _imports(project).count(worker.pid) == 2, timeout=60)
            assert worker.poll() is None  # the same process, started again in place
            done = conflux(state, "materialize", "hello", "--wait")
            assert done.returncode == 0, done.stderr
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
            logs.close()
    text = (tmp_path / "worker.log").read_text()
    assert "reload requested" in text, text[-2000:]


def _location_names(state: Path) -> list[str]:
    import json

    done = conflux(state, "locations", "list", "--json")
    assert done.returncode == 0, done.stderr
    return [loc["name"] for loc in json.loads(done.stdout)]
