"""`conflux dev`'s supervisor on small real processes, and how `status` judges what it says."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import psutil
import pytest

from conflux.cli._status import judge, read_parts
from conflux.cli._supervise import (
    BACKOFF_MAX_S,
    Supervisor,
    _Backoff,
    describe_exit,
    record_pid,
    stop_leftovers,
)
from conflux.events.brokers._base import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Supervisor]:
    (tmp_path / "logs").mkdir()
    made = Supervisor(tmp_path, dict(os.environ))
    try:
        yield made
    finally:
        made.stop(timeout=5)


def _run(parts: Supervisor, name: str, code: str) -> None:
    parts.commands[name] = [sys.executable, "-c", code]
    parts.logs[name] = open(parts.state_dir / "logs" / f"{name}.log", "ab")  # noqa: SIM115
    parts._spawn(name)


def test_a_part_that_keeps_dying_is_restarted_with_a_growing_delay_and_never_given_up(
    parts: Supervisor,
) -> None:
    _run(parts, "flaky", "import sys; print('disk full', file=sys.stderr); sys.exit(3)")
    said: list[str] = []
    deadline = time.monotonic() + 20
    while parts.backoff["flaky"].restarts < 4 and time.monotonic() < deadline:
        said += parts.check()
        time.sleep(0.05)
    assert parts.backoff["flaky"].restarts == 4  # more than the old limit of 3
    deaths = [line for line in said if line.startswith("flaky exited with code 3")]
    assert len(deaths) == 4
    assert "    disk full" in said
    waits = [line for line in said if "restarting it in" in line]
    assert [w.split("restarting it in ")[1].split(" s")[0] for w in waits] == ["0.5", "1", "2", "4"]
    down = json.loads((parts.state_dir / "parts.json").read_text())["down"]
    assert down == {"flaky": "exited with code 3; its log ends with: disk full"}


def test_a_part_gets_sigterm_at_its_default_even_when_dev_ignores_it(parts: Supervisor) -> None:
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited across exec
    try:
        code = "import signal, sys; sys.stdout.write(signal.getsignal(signal.SIGTERM).name)"
        _run(parts, "plain", code)
    finally:
        signal.signal(signal.SIGTERM, previous)
    parts.procs["plain"].wait(timeout=30)
    parts.logs["plain"].flush()
    assert (parts.state_dir / "logs" / "plain.log").read_text() == "SIG_DFL"


def test_the_backoff_resets_after_a_healthy_period_and_stops_at_its_cap() -> None:
    state = _Backoff()
    assert [state.died(uptime=1.0) for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert state.delay == BACKOFF_MAX_S
    assert state.died(uptime=61.0) == 0.5


def test_a_killed_process_is_named_by_its_signal() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(1) == "exited with code 1"


def test_a_new_dev_stops_what_an_old_one_left_and_spares_a_reused_pid(tmp_path: Path) -> None:
    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record_pid(tmp_path, "projector", left.pid)
        (tmp_path / "pids" / "worker.json").write_text(
            json.dumps({"pid": os.getpid(), "started": 1.0})  # ours, by pid only: spared
        )
        assert stop_leftovers(tmp_path, grace=5) == [f"projector (pid {left.pid})"]
        assert left.wait(timeout=5) is not None
        assert psutil.pid_exists(os.getpid())
        assert not list((tmp_path / "pids").iterdir())
    finally:
        left.kill()
        left.wait()


def test_a_port_in_time_wait_is_free_to_a_restarted_broker_and_a_listening_one_is_not() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    assert free_port(port) != port  # a live broker's port is taken
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end waits in TIME_WAIT
    client.close()
    server.close()
    assert free_port(port) == port  # as the JVM binds (SO_REUSEADDR): the broker keeps it


def _report(**extra: object) -> dict[str, object]:
    return {
        "ready": True,
        "not_ready": [],
        "locations": [
            {"name": "shop", "status": "loaded", "workers_alive": 1, "error": None},
            {"name": "broken", "status": "failed", "workers_alive": 1, "error": "SyntaxError"},
        ],
        **extra,
    }


def test_status_names_what_is_down_and_a_location_without_a_live_worker() -> None:
    report = _report()
    locations = report["locations"]
    assert isinstance(locations, list)
    locations[0]["workers_alive"] = 0
    not_ready, failed, notes = judge(report, {"down": {"coordinator": "killed by SIGKILL"}})
    assert not_ready == ["coordinator: killed by SIGKILL", "location shop: no live worker"]
    assert [f["name"] for f in failed] == ["broken"] and notes == []


def test_one_broker_of_three_down_is_a_note_two_or_the_only_one_is_not_ready() -> None:
    one = {"brokers_down": {"kafka-2": "killed by SIGKILL"}, "brokers_total": 3}
    not_ready, _, notes = judge(_report(), one)
    assert not_ready == []
    assert notes == [
        "broker kafka-2: killed by SIGKILL (the cluster goes on with 2 of 3; dev is "
        "starting it again)"
    ]
    two = {"brokers_down": {"kafka-2": "x", "kafka-3": "y"}, "brokers_total": 3}
    assert judge(_report(), two)[0] == ["brokers (2 of 3 down, no quorum) kafka-2: x; kafka-3: y"]
    alone = {"brokers_down": {"kafka": "killed by SIGKILL"}, "brokers_total": 1}
    assert judge(_report(), alone)[0] == ["kafka: killed by SIGKILL"]


def test_status_reads_only_the_running_devs_parts_file(tmp_path: Path) -> None:
    (tmp_path / "parts.json").write_text(json.dumps({"pid": 42, "down": {"x": "y"}}))
    assert read_parts(tmp_path, 42)["down"] == {"x": "y"}
    assert read_parts(tmp_path, 43) == {}  # an earlier dev's
    assert read_parts(tmp_path, None) == {}
