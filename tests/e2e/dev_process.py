"""Starting and stopping `conflux dev` from tests: every process is stopped, also on failure."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path


def conflux(state: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one CLI command against the system in `state`."""
    return subprocess.run(
        [sys.executable, "-m", "conflux", *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def running_dev(
    definitions: Path, state: Path, broker: str, *, prefix: str = "e2e"
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`conflux dev -f definitions`, ready; yields it and the lines it printed so far.

    On exit: Ctrl-C, and whatever is left of it and its children is killed.
    """
    with running_dev_args(
        ["-f", str(definitions)], state, broker, prefix=prefix, cwd=definitions.parent
    ) as started:
        yield started


@contextlib.contextmanager
def running_dev_args(
    args: Sequence[str], state: Path, broker: str, *, prefix: str, cwd: Path
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`conflux dev ARGS` (e.g. `-w workspace.yaml`) in `cwd`, as `running_dev` runs it."""
    env = {**os.environ, "CONFLUX_TOPIC_PREFIX": prefix}
    command = ["dev", *args, "--state-dir", str(state), "--port", "0", "--broker", broker]
    dev = subprocess.Popen(
        [sys.executable, "-m", "conflux", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )
    children: list[psutil.Process] = []
    lines: list[str] = []
    try:
        assert dev.stdout is not None
        while True:  # up to the line that says it is ready
            line = dev.stdout.readline()
            assert line, f"dev exited before it was ready: {''.join(lines)}"
            lines.append(line)
            if line.startswith("ready in "):
                break
        children = psutil.Process(dev.pid).children(recursive=True)
        yield dev, lines
    finally:
        children = children or _descendants(dev.pid)
        stop(dev)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                    child.kill()


def stop(dev: subprocess.Popen[str], timeout: float = 60) -> int:
    """Ctrl-C `dev` and wait; kill its process group if it does not stop in time."""
    if dev.poll() is None:
        dev.send_signal(signal.SIGINT)
        try:
            dev.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()
    return dev.returncode


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def wait_for(check: Callable[[], object], timeout: float = 15.0) -> None:
    """Poll `check()` until it returns truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"still {value!r} after {timeout} s"
            return
        time.sleep(0.2)
