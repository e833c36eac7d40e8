"""Code locations: summaries from the read model, the `/locations` route, the CLI's bad
input, and the dev supervisor's pieces (file watch, graceful restart of a location)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from conflux.cli._supervise import Supervisor as _Parts
from conflux.cli._watch import FileWatcher, changed_files, watched_roots
from conflux.cli._workspace import LocationSpec
from conflux.events import (
    AssetSnapshot,
    ComponentHeartbeat,
    DefinitionsPublished,
    LocationLoadFailed,
    LocationSnapshot,
)
from conflux.projections.api import ApiClient
from conflux.projections.projector import QueryApi, ReadModel, close_location_names
from conflux.projections.projector._locations import location_summaries

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _published(
    location: str, time: datetime, *keys: str, version: str = ""
) -> DefinitionsPublished:
    return DefinitionsPublished(
        location=location,
        snapshot_id=f"{location}-{len(keys)}",
        snapshot=LocationSnapshot(
            location=location,
            assets=tuple(AssetSnapshot(key=k, node=k, code_version=version or None) for k in keys),
            python_version="3.11.7",
            executable=f"/venvs/{location}/bin/python",
        ),
        time=time,
        producer="worker:w1",
    )


def _beat(location: str, instance: str, time: datetime, ready: bool = True) -> ComponentHeartbeat:
    return ComponentHeartbeat(
        component="worker", instance_id=instance, location=location, ready=ready, time=time
    )


@pytest.fixture
def model() -> ReadModel:
    m = ReadModel()
    m.apply(_published("alpha", T0, "a1", "a2", version="7"))
    m.apply(_published("beta", T0, "b1"))
    m.apply(
        LocationLoadFailed(
            location="beta",
            error_type="SyntaxError",
            message="invalid syntax (defs.py, line 3)",
            traceback="Traceback ...\nSyntaxError",
            time=T0 + timedelta(seconds=5),
            producer="worker:beta@h:1",
        )
    )
    m.apply(LocationLoadFailed(location="gamma", error_type="ImportError", message="no pandas"))
    m.apply(_beat("alpha", "alpha@h:1", T0 + timedelta(seconds=9)))
    m.apply(_beat("alpha", "alpha@h:0", T0 - timedelta(seconds=60)))  # long gone
    m.apply(_beat("delta", "delta@h:1", T0 + timedelta(seconds=9), ready=False))
    return m


def test_summaries_join_snapshots_failures_and_live_workers(model: ReadModel) -> None:
    now = T0 + timedelta(seconds=10)
    found = {s.name: s for s in location_summaries(model, expected=["epsilon"], now=now)}
    assert sorted(found) == ["alpha", "beta", "delta", "epsilon", "gamma"]
    alpha = found["alpha"]
    assert (alpha.status, alpha.asset_count, alpha.snapshot_id) == ("loaded", 2, "alpha-2")
    assert (alpha.python_version, alpha.executable) == ("3.11.7", "/venvs/alpha/bin/python")
    assert alpha.code_versions == {"a1": "7", "a2": "7"}
    assert [w.instance_id for w in alpha.workers] == ["alpha@h:1"] and alpha.workers_alive == 1
    assert alpha.last_error is None
    beta = found["beta"]  # failed after a good load: the last good snapshot stays visible
    assert (beta.status, beta.asset_count, beta.executable) == (
        "failed",
        1,
        "/venvs/beta/bin/python",
    )
    assert beta.last_error is not None
    assert (beta.last_error.error_type, beta.last_error.worker) == (
        "SyntaxError",
        "worker:beta@h:1",
    )
    assert "line 3" in beta.last_error.message and beta.last_error.traceback.startswith("Traceback")
    assert beta.updated == T0 + timedelta(seconds=5)
    gamma = found["gamma"]  # never loaded
    assert (gamma.status, gamma.python_version, gamma.asset_count) == ("failed", None, 0)
    assert found["delta"].status == "waiting" and found["delta"].workers[0].ready is False
    assert found["epsilon"].status == "waiting" and found["epsilon"].workers == []


def test_a_new_snapshot_clears_the_error_and_replaces_the_assets(model: ReadModel) -> None:
    model.apply(_published("beta", T0 + timedelta(seconds=20), "b1", "b2"))
    [beta] = [s for s in location_summaries(model) if s.name == "beta"]
    assert (beta.status, beta.asset_count, beta.last_error) == ("loaded", 2, None)
    assert beta.updated == T0 + timedelta(seconds=20)


def test_the_route_and_the_client_round_trip(model: ReadModel) -> None:
    with QueryApi(model, port=0, expected_locations=["epsilon"]) as api:
        got = ApiClient(api.url).locations()
    # the heartbeats are from 2024: nobody is alive now, so delta (only a beat) is gone
    assert [s.name for s in got] == ["alpha", "beta", "epsilon", "gamma"]
    assert got[1].last_error is not None and got[1].last_error.error_type == "SyntaxError"


def test_close_names() -> None:
    assert close_location_names("alpah", ["alpha", "beta"]) == ["alpha"]
    assert close_location_names("zzz", ["alpha", "beta"]) == []


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conflux", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
    )


def test_cli_list_and_unknown_reload(model: ReadModel, tmp_path: Path) -> None:
    with QueryApi(model, port=0) as api:
        # the broker is never reached: an unknown name fails before anything is produced
        env = {"CONFLUX_API": api.url, "CONFLUX_BOOTSTRAP": "127.0.0.1:1"}
        listed = _cli("locations", "list", "--json", env=env)
        table = _cli("locations", "list", env=env)
        bad = _cli("locations", "reload", "alpah", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [s["name"] for s in json.loads(listed.stdout)] == ["alpha", "beta", "gamma"]
    assert "SyntaxError: invalid syntax (defs.py, line 3)" in table.stdout, table.stdout
    assert "alpha: code versions a1=7, a2=7" in table.stdout
    assert bad.returncode == 1 and bad.stdout == ""
    [line] = bad.stderr.strip().splitlines()
    assert "no code location 'alpah'" in line and "did you mean alpha" in line, line


# -- the dev supervisor ------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "a.py").write_text("A = 1\n")
    (tmp_path / "b.py").write_text("B = 1\n")
    (tmp_path / "helpers.py").write_text("H = 1\n")
    (tmp_path / "team_c").mkdir()
    (tmp_path / "team_c" / "__init__.py").write_text("")
    (tmp_path / "team_c" / "defs.py").write_text("C = 1\n")
    venv = tmp_path / "team_c" / "venv"  # a virtualenv inside the package is not walked
    (venv / "lib").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr\n")
    (venv / "lib" / "x.py").write_text("")
    return tmp_path


def _specs(tree: Path) -> list[LocationSpec]:
    return [
        LocationSpec("a", file=str(tree / "a.py"), working_directory=str(tree)),
        LocationSpec("b", file=str(tree / "b.py"), working_directory=str(tree)),
        LocationSpec("c", module="team_c.defs", working_directory=str(tree)),
    ]


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_each_location_watches_its_code_and_shared_helpers_only(tree: Path) -> None:
    specs = _specs(tree)
    watcher = FileWatcher(specs)
    names = {n: sorted(os.path.relpath(p, tree) for p in watcher.watched(n)) for n in "abc"}
    assert names["a"] == ["a.py", "helpers.py"]  # not b.py: another location's entry point
    assert names["b"] == ["b.py", "helpers.py"]
    assert names["c"] == ["helpers.py", "team_c/__init__.py", "team_c/defs.py"]
    assert watcher.poll() == {}
    _touch(tree / "a.py", "A = 2\n")
    assert list(watcher.poll()) == ["a"]
    _touch(tree / "helpers.py", "H = 2\n")
    assert sorted(watcher.poll()) == ["a", "b", "c"]
    _touch(tree / "team_c" / "defs.py", "C = 2\n")
    assert watcher.poll() == {"c": [str(tree / "team_c" / "defs.py")]}
    (tree / "team_c" / "new.py").write_text("")
    (tree / "team_c" / "venv" / "lib" / "y.py").write_text("")
    assert list(watcher.poll()) == ["c"]
    assert watcher.poll() == {}


def test_watch_roots_without_a_working_directory(tree: Path) -> None:
    spec = LocationSpec("a", file=str(tree / "a.py"))
    files, trees, folders, excluded = watched_roots(spec, [spec])
    assert (files, trees, folders, excluded) == ([tree / "a.py"], [], [tree], set())
    assert changed_files({"x": (1, 1), "y": (1, 1)}, {"x": (2, 1), "z": (1, 1)}) == ["x", "y", "z"]


_POLITE = (  # SIGTERM as the default whatever the test process passed on (an ignored
    # signal stays ignored across exec)
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
    "while True: time.sleep(0.05)\n"
)
_STUBBORN = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "while True: time.sleep(0.05)\n"
)


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[_Parts]:
    (tmp_path / "logs").mkdir()
    made = _Parts(tmp_path, dict(os.environ))
    try:
        yield made
    finally:
        made.stop(timeout=5)


def _run(parts: _Parts, name: str, code: str) -> None:
    parts.commands[name] = [sys.executable, "-c", code]
    parts.logs[name] = open(parts.state_dir / "logs" / f"{name}.log", "ab")  # noqa: SIM115
    parts._spawn(name)


def _settle(parts: _Parts, timeout: float = 10.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while parts.draining and time.monotonic() < deadline:
        lines += parts.step()
        time.sleep(0.05)
    assert not parts.draining, parts.draining
    return lines


def test_restart_stops_a_part_politely_then_starts_it_again(parts: _Parts) -> None:
    _run(parts, "worker-a", _POLITE)
    _run(parts, "worker-b", _POLITE)
    time.sleep(1.0)  # past the interpreters' start: a signal is then theirs to handle
    before = {n: p.pid for n, p in parts.procs.items()}
    parts.restart(["worker-a"], grace=20.0)
    assert parts.check() == []  # a part that is restarting is not a crash
    assert _settle(parts, timeout=30.0) == []
    assert parts.procs["worker-a"].pid != before["worker-a"]
    assert parts.procs["worker-a"].poll() is None
    assert parts.procs["worker-b"].pid == before["worker-b"]  # other locations untouched


def test_restart_kills_a_part_that_does_not_stop_within_its_grace(parts: _Parts) -> None:
    _run(parts, "worker-a", _STUBBORN)
    time.sleep(0.5)  # let it install its handler
    old = parts.procs["worker-a"]
    parts.restart(["worker-a"], grace=0.5)
    lines = _settle(parts)
    assert len(lines) == 1 and "killed" in lines[0], lines
    assert old.returncode == -signal.SIGKILL
    assert parts.procs["worker-a"].poll() is None
