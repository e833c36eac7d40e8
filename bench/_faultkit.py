"""What the fault benches share: run `conflux dev`, find its parts, break them, count the log.

`bench_faults.py` (issue 16) and `bench_chaos.py` (issue 18) and the short chaos test
(`tests/e2e/test_chaos_short.py`) all do the same few things:

- `Dev` runs `conflux dev` as a user does (its own session, output to a file), knows its
  parts by the state folder named on their command lines (so it finds what an old `dev`
  left behind too), kills one of them, the whole tree, or starts it again on the same
  folder; `close` kills whatever is left and `survivors` lists what would have been left;
- the log is tailed and counted in `_faultlog.py`;
- `replay_matches_live` asks `conflux replay --json` whether a replay from zero equals
  what the running system serves.

Progress goes to stderr (`say`); the benches print one JSON object on stdout.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:
    from collections.abc import Iterable


START = datetime(2020, 1, 1)
"""The first minutely partition key of the benches' assets."""
KEY_FORMAT = "%Y-%m-%d-%H:%M"

CHAIN_DEFINITIONS = """
import time
from conflux import Definitions, MaterializeResult, TimeWindowPartitionsDefinition, asset

# A fixed end: the count of partitions does not move with the clock, so a replay and the
# live read model agree on it whenever each one counts.
minutes = TimeWindowPartitionsDefinition(
    cron_schedule="* * * * *", start="2020-01-01-00:00", end="2022-01-01-00:00",
    fmt="%Y-%m-%d-%H:%M",
)
PAUSE = {pause_s!r}

@asset(partitions_def=minutes)
def up() -> MaterializeResult:
    time.sleep(PAUSE)
    return MaterializeResult()

ASSETS = [up]
if {chain!r}:
    @asset(partitions_def=minutes, deps=[up])
    def down() -> MaterializeResult:
        time.sleep(PAUSE)
        return MaterializeResult()

    ASSETS.append(down)

defs = Definitions(assets=ASSETS)
"""


def say(message: str) -> None:
    """One progress line on stderr, stamped."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def conflux_bin() -> str:
    """The `conflux` command of this interpreter's environment."""
    return str(Path(sys.executable).with_name("conflux"))


def key_at(index: int) -> str:
    """The minutely partition key `index` minutes after `START`."""
    return (START + timedelta(minutes=index)).strftime(KEY_FORMAT)


def write_definitions(folder: Path, *, chain: bool, partition_ms: float) -> Path:
    """The benches' code location: `up` (and `down` reading it), each sleeping a while."""
    path = folder / "chaos_defs.py"
    path.write_text(CHAIN_DEFINITIONS.format(pause_s=partition_ms / 1000, chain=chain))
    return path


# -- processes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A process of a running system, found by the state folder on its command line."""

    pid: int
    kind: str
    """`dev`, `broker`, `coordinator`, `projector`, `worker`, or `other`."""
    cmdline: tuple[str, ...]


def _kind(cmdline: list[str]) -> str:
    if any(arg.endswith("kafka.Kafka") or arg == "kafka.Kafka" for arg in cmdline):
        return "broker"
    for i, arg in enumerate(cmdline[:-1]):
        if arg == "conflux" and i > 0 and cmdline[i - 1] == "-m":
            return cmdline[i + 1]
        if arg.endswith("/conflux") and i == 1:
            return cmdline[i + 1]
    if len(cmdline) > 1 and cmdline[0].endswith("/conflux"):
        return cmdline[1]
    return "other"


def find_parts(root: Path) -> list[Part]:
    """Every live process whose command line names `root` (dev, its parts, its broker)."""
    mark = str(root)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if any(mark in arg for arg in cmdline):
            found.append(Part(proc.info["pid"], _kind(cmdline), tuple(cmdline)))
    return found


def alive(pid: int) -> bool:
    """The process runs (a zombie waiting for its parent to reap it does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kill(pid: int, signum: int = signal.SIGKILL) -> None:
    """Send `signum` to one process; gone already is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dev:
    """`conflux dev` on one state folder: started, broken, started again, and stopped.

    The query API keeps one port across restarts, so clients keep one address.
    """

    def __init__(
        self, root: Path, definitions: Path, *, workers: int, extra: Iterable[str] = ()
    ) -> None:
        self.root = root
        self.state = root / ".conflux"
        self.definitions = definitions
        self.port = _free_port()
        self.api_url = f"http://127.0.0.1:{self.port}"
        self.args = [
            "dev",
            "-f",
            str(definitions),
            "--state-dir",
            str(self.state),
            "--port",
            str(self.port),
            "--broker",
            "kafka",
            "--workers",
            str(workers),
            *extra,
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.killed: set[int] = set()
        """Every pid a fault killed: `status` must not count these as alive parts."""
        self.starts = 0
        self.standbys: list[subprocess.Popen[bytes]] = []

    @staticmethod
    def supports(flag: str) -> bool:
        """Whether this `conflux dev` has `flag` (e.g. `--brokers`)."""
        out = subprocess.run(
            [conflux_bin(), "dev", "--help"], capture_output=True, text=True, timeout=60
        )
        return flag in out.stdout

    @property
    def output(self) -> Path:
        return self.root / f"dev-{self.starts}.out"

    def start(self, timeout: float = 240.0) -> float:
        """Start `conflux dev`; return the seconds until it printed `ready in`."""
        self.starts += 1
        started = time.monotonic()
        self._port_free_or_move()
        with self.output.open("wb") as out:
            self.proc = subprocess.Popen(
                [conflux_bin(), *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.root,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = started + timeout
        while time.monotonic() < deadline:
            text = self.output.read_text(errors="replace")
            if "\nready in " in "\n" + text:
                return time.monotonic() - started
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"conflux dev exited with {self.proc.returncode}: {text[-2000:]}"
                )
            time.sleep(0.2)
        raise RuntimeError(f"conflux dev not ready in {timeout:g} s: {text[-2000:]}")

    def _port_free_or_move(self, wait: float = 5.0) -> None:
        """Keep the API's port if it can be bound again soon, else move to a free one.

        After a kill -9 the port may stay unusable for a while (connections in TIME_WAIT,
        and `dev` binds without SO_REUSEADDR): then clients must learn the new address.
        """
        import socket

        deadline = time.monotonic() + wait
        while True:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", self.port))
                    return
                except OSError:
                    if time.monotonic() > deadline:
                        break
            time.sleep(0.5)
        old = self.port
        self.port = _free_port()
        self.api_url = f"http://127.0.0.1:{self.port}"
        self.args[self.args.index("--port") + 1] = str(self.port)
        say(f"port {old} still taken after {wait:g} s: the query API moves to {self.port}")

    def info(self) -> dict[str, Any]:
        """What `dev` wrote to `dev.json` (bootstrap, topic prefix, API)."""
        data: dict[str, Any] = json.loads((self.state / "dev.json").read_text())
        return data

    def parts(self, kind: str | None = None) -> list[Part]:
        """The live processes of this system (of one kind), found by the state folder."""
        return [p for p in find_parts(self.root) if kind is None or p.kind == kind]

    def kill_part(self, kind: str, pid: int | None = None) -> int:
        """kill -9 one part of `kind` (or the process `pid`); return its pid."""
        if pid is None:
            found = [p.pid for p in self.parts(kind) if p.pid not in self.standby_pids()]
            found = found or [p.pid for p in self.parts(kind)]
            if not found:
                raise RuntimeError(f"no live {kind} under {self.root}")
            pid = found[0]
        kill(pid)
        self.killed.add(pid)
        return pid

    def kill_tree(self) -> list[int]:
        """kill -9 `dev` first (it restarts nothing then), then every process of the folder."""
        pids = []
        if self.proc is not None and self.proc.poll() is None:
            kill(self.proc.pid)
            pids.append(self.proc.pid)
        for _ in range(20):
            left = [p for p in find_parts(self.root) if p.pid != os.getpid()]
            if not left:
                break
            for part in left:
                kill(part.pid)
                pids.append(part.pid)
            time.sleep(0.1)
        if self.proc is not None:
            self.proc.wait(timeout=30)
        for proc in self.standbys:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        self.standbys = []
        self.killed.update(pids)
        return pids

    # -- a standby coordinator by hand, while `dev` has no --coordinators ------------------

    def standby_pids(self) -> set[int]:
        return {p.pid for p in self.standbys if p.poll() is None}

    def start_standby(self, session_timeout: float | None = None) -> subprocess.Popen[bytes]:
        """A second `conflux coordinator` against dev's broker, with its own checkpoint."""
        info = self.info()
        folder = self.root / f"standby-{len(list(self.root.glob('standby-*'))) + 1}"
        folder.mkdir()
        env = {
            **os.environ,
            "CONFLUX_BOOTSTRAP": info["bootstrap"],
            "CONFLUX_BROKER_KIND": info["broker_kind"],
            "CONFLUX_TOPIC_PREFIX": info["topic_prefix"],
            "PYTHONUNBUFFERED": "1",
        }
        args = [conflux_bin(), "coordinator", "--state-dir", str(folder)]
        if session_timeout is not None:
            args += ["--session-timeout", str(session_timeout)]
        with (folder / "log").open("wb") as log:
            proc = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.root,
                start_new_session=True,
            )
        self.standbys.append(proc)
        return proc

    # -- stopping --------------------------------------------------------------------------

    def stop(self, timeout: float = 60.0) -> int | None:
        """Ctrl-C `dev` and wait for it; the standbys get SIGTERM."""
        for proc in self.standbys:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        code = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.proc.wait(timeout=timeout)
        for proc in self.standbys:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        return code

    def close(self) -> list[dict[str, Any]]:
        """Stop cleanly, then list what is left (the survivors), then kill it all."""
        try:
            self.stop()
        finally:
            for part in find_parts(self.root):  # continued, should a clean stop leave one
                kill(part.pid, signal.SIGCONT)
            time.sleep(0.5)
            survivors = [
                {"pid": p.pid, "kind": p.kind, "cmdline": " ".join(p.cmdline)[:200]}
                for p in find_parts(self.root)
            ]
            self.kill_tree()
        return survivors


# -- the query API ---------------------------------------------------------------------------


def status(api_url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """`/status` as JSON (what `conflux status --json` prints), or None if nothing answers."""
    try:
        with urllib.request.urlopen(f"{api_url}/status", timeout=timeout) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except (urllib.error.URLError, OSError, ValueError):
        return None


def ready_without(
    report: dict[str, Any] | None, dead: set[int], parts: dict[str, Any] | None = None
) -> bool:
    """`status` says ready, counts no killed process as alive, and every broker is online.

    (A cluster may stay ready with a broker down; after a broker's fault, "ready again"
    means with that broker back.) `/status` does not list `dev`'s brokers: `parts` (its
    `parts.json`, what `conflux status` adds) says which part or broker is down.
    """
    if report is None or not report.get("ready"):
        return False
    if parts and (parts.get("brokers_down") or parts.get("down")):
        return False
    brokers = report.get("brokers")
    if brokers is not None and (not brokers or any(b["state"] != "online" for b in brokers)):
        return False
    listed = [*report.get("components", []), *report.get("coordinators", [])]
    if report.get("coordinator"):
        listed.append(report["coordinator"])
    return not any(c.get("alive") and c.get("pid") in dead for c in listed)


def dev_parts(dev: Dev) -> dict[str, Any]:
    """What the running `dev` says of its parts (`parts.json`), or {} (none, or stale)."""
    try:
        data = json.loads((dev.state / "parts.json").read_text())
        pid = dev.info().get("pid")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("pid") == pid else {}


def run_cli(dev: Dev, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """One `conflux` command against the system."""
    return subprocess.run(
        [conflux_bin(), *args, "--state-dir", str(dev.state)],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=dev.root,
    )


def request_backfill(dev: Dev, selection: str, first: int, count: int) -> str:
    """`conflux backfill SELECTION --from --to --json`; return the backfill id."""
    out = run_cli(
        dev, "backfill", selection, "--from", key_at(first), "--to", key_at(first + count - 1),
        "--json",
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"conflux backfill failed: {out.stderr.strip()}")
    data = json.loads(out.stdout)
    return str(data["backfill_id"])


def replay_matches_live(dev: Dev) -> dict[str, Any]:
    """`conflux replay --json` (coordinator and read model from zero vs. the live system)."""
    out = run_cli(dev, "replay", "--json", timeout=600)
    try:
        reports = json.loads(out.stdout)
    except ValueError:
        return {"matches_live": False, "error": (out.stderr or out.stdout).strip()[-500:]}
    matches = out.returncode == 0 and all(r["matches_live"] for r in reports)
    detail = {} if matches else _read_model_detail(dev)
    return {
        "matches_live": matches,
        **detail,
        "projections": {
            r["projection"]: {
                "matches_live": r["matches_live"],
                "events": r["events"],
                "seconds": r["seconds"],
                "differences": r["differences"][:5],
            }
            for r in reports
        },
    }


def _read_model_detail(dev: Dev) -> dict[str, Any]:
    """Per asset, the partition counts the live read model serves and a replay gives."""
    from conflux.events import Topics
    from conflux.projections.projector import read_model_fold, replay

    out = run_cli(dev, "assets", "--json")
    live = {a["key"]: a["partitions"] for a in json.loads(out.stdout)} if not out.returncode else {}
    info = dev.info()
    model, fold = read_model_fold()
    replay(info["bootstrap"], Topics(info["topic_prefix"]), "read-model", fold, start=None,
           broker_kind="kafka")  # fmt: skip
    replayed = {s.key: s.partitions.model_dump() for s in model.asset_summaries()}
    return {"read_model_live": live, "read_model_replayed": replayed}


def live_materialized(dev: Dev) -> dict[str, int]:
    """The read model's materialized partitions per asset (`conflux assets --json`)."""
    out = run_cli(dev, "assets", "--json")
    if out.returncode:
        return {}
    return {a["key"]: a["partitions"]["materialized"] for a in json.loads(out.stdout)}
