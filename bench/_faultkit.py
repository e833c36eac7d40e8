"""What the fault benches share: run `conflux dev`, find its parts, break them, count the log.

`bench_faults.py` (issue 16) and `bench_chaos.py` (issue 18) and the short chaos test
(`tests/e2e/test_chaos_short.py`) all do the same few things:

- `Dev` runs `conflux dev` as a user does (its own session, output to a file), knows its
  parts by the state folder named on their command lines (so it finds what an old `dev`
  left behind too), kills one of them, the whole tree, or starts it again on the same
  folder; `close` kills whatever is left and `survivors` lists what would have been left;
- `Watch` tails the runs and assets topics as they grow, to tell when work goes on after a
  fault (a materialization of work dispatched after the fault: a decision and an
  execution both happened since);
- `count_log` reads every topic from offset 0 with a plain consumer, folds it through the
  coordinator's own state (so the epoch fence refuses what the folds refuse) and counts,
  per (asset, partition) of the backfills: lost, counted twice, executed again;
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
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from conflux.events import ConsumedEvent

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


def ready_without(report: dict[str, Any] | None, dead: set[int]) -> bool:
    """`status` says ready, counts no killed process as alive, and every broker is online.

    (A cluster may stay ready with a broker down; after a broker's fault, "ready again"
    means with that broker back.)
    """
    if report is None or not report.get("ready"):
        return False
    brokers = report.get("brokers")
    if brokers is not None and (not brokers or any(b["state"] != "online" for b in brokers)):
        return False
    listed = [*report.get("components", []), *report.get("coordinators", [])]
    if report.get("coordinator"):
        listed.append(report["coordinator"])
    return not any(c.get("alive") and c.get("pid") in dead for c in listed)


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


# -- tailing the log ---------------------------------------------------------------------------


@dataclass
class Watch:
    """The runs and assets topics as they grow, with event times (wall clock, this machine).

    Kept across broker faults (librdkafka reconnects) and `dev` restarts (`reopen` resumes
    at the positions read so far, on the new bootstrap).
    """

    bootstrap: str
    prefix: str
    dispatched: dict[tuple[str, int], float] = field(default_factory=dict)
    """(work item, attempt) -> when its first dispatch was decided (epoch-blind)."""
    dispatch_epochs: list[tuple[float, int, int]] = field(default_factory=list)
    """(time, epoch, attempt) of every dispatch, in the order read."""
    materialized: list[tuple[float, str | None, int]] = field(default_factory=list)
    """(time, work item, attempt) of every execution, in the order read."""
    done: set[tuple[str, str | None]] = field(default_factory=set)
    """(asset, partition) executed at least once."""
    completed: set[str] = field(default_factory=set)
    """Backfills that completed."""
    started: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(worker id, asset, partition) of every start, in the order read."""
    executed: dict[tuple[str, str | None], list[tuple[float, str | None]]] = field(
        default_factory=dict
    )
    """(asset, partition) -> (time, worker id) of each of its executions."""
    marks: list[tuple[float, int]] = field(default_factory=list)
    """(time, epoch) of every epoch mark on the runs topic: when a leader took over."""
    _consumer: Any = None
    _positions: dict[tuple[str, int], int] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def open(self) -> None:
        from conflux.events import EventConsumer, Topics

        topics = Topics(self.prefix)
        self._consumer = EventConsumer(
            self.bootstrap,
            topics,
            [topics.runs, topics.assets],
            broker_kind="kafka",
            start_offsets=self._positions,
        )

    def reopen(self, bootstrap: str) -> None:
        self.close()
        self.bootstrap = bootstrap
        self.open()

    def close(self) -> None:
        if self._consumer is not None:
            self._positions.update(self._consumer.positions())
            with contextlib.suppress(Exception):
                self._consumer.close()
            self._consumer = None

    def poll(self, timeout: float = 0.05) -> int:
        """Read what arrived; return how many records."""
        from conflux.events import InfrastructureError

        if self._consumer is None:
            self.open()
        try:
            records = self._consumer.poll(timeout=timeout, max_records=5000)
        except InfrastructureError as exc:
            say(f"watch: {exc}; reading on")
            time.sleep(0.5)
            return 0
        for record in records:
            event = record.event
            kind = event.type
            if kind == "AssetMaterialized":
                if event.event_id in self._seen:
                    continue
                self._seen.add(event.event_id)
                when = event.time.timestamp()
                self.materialized.append((when, event.work_item_id, event.attempt or 0))
                self.done.add((event.asset_key, event.partition_key))
                self.executed.setdefault((event.asset_key, event.partition_key), []).append(
                    (when, event.worker_id)
                )
            elif kind == "PartitionStarted":
                self.started.append((event.worker_id, event.asset_key, event.partition_key))
            elif kind == "WorkItemDispatched":
                when = event.time.timestamp()
                self.dispatched.setdefault((event.work_item_id, event.attempt), when)
                self.dispatch_epochs.append((when, event.epoch, event.attempt))
            elif kind == "BackfillCompleted":
                self.completed.add(event.backfill_id)
            elif kind == "EpochMarked":
                self.marks.append((event.time.timestamp(), event.epoch))
        return len(records)

    def work_continued(self, since: float) -> float | None:
        """When work dispatched after `since` was first executed (None: not yet)."""
        firsts = []
        for when, item, attempt in reversed(self.materialized):
            if when < since - 60:
                break  # read in about the order they happened: older ones cannot qualify
            if when > since and self.dispatched.get((item or "", attempt), 0.0) > since:
                firsts.append(when)
        return min(firsts) if firsts else None

    def first_execution_after(self, since: float) -> float | None:
        """The first execution finished after `since` (any work, dispatched whenever)."""
        return min((w for w, _, _ in self.materialized if w > since), default=None)

    def first_dispatch_after(
        self, since: float, *, epoch_above: int = -1, attempt_above: int = 0
    ) -> float | None:
        """The first dispatch decided after `since`, of a newer epoch / a later attempt."""
        return min(
            (
                w
                for w, e, a in self.dispatch_epochs
                if w > since and e > epoch_above and a > attempt_above
            ),
            default=None,
        )

    def orphans(self, pid: int) -> set[tuple[str, str | None]]:
        """What the worker process `pid` started and did not finish itself."""
        tag = f":{pid}:"
        return {
            (asset, key)
            for worker, asset, key in self.started
            if tag in worker
            and not any(w is not None and tag in w for _, w in self.executed.get((asset, key), []))
        }

    def finished_by_others(
        self, orphans: set[tuple[str, str | None]], since: float
    ) -> float | None:
        """When the last of `orphans` was executed after `since` (None: not all yet)."""
        last = 0.0
        for where in orphans:
            after = [when for when, _ in self.executed.get(where, []) if when > since]
            if not after:
                return None
            last = max(last, min(after))
        return last if orphans else None

    def first_mark_after(self, since: float, *, epoch_above: int) -> float | None:
        """When a leader of a newer epoch first marked a partition after `since`."""
        return min((w for w, e in self.marks if w > since and e > epoch_above), default=None)

    def rate(self, window: float = 10.0) -> float:
        """Executions per second over the last `window` seconds."""
        now = time.time()
        recent = 0
        for when, _, _ in reversed(self.materialized):
            if when < now - window:
                break
            recent += 1
        return recent / window

    def latest_epoch(self) -> int:
        return max((e for _, e, _ in self.dispatch_epochs), default=0)

    def wait(self, check: Callable[[], object], what: str, timeout: float) -> None:
        """Read on until `check()` holds."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} within {timeout:g} s")
            self.poll(0.1)


# -- after a fault -----------------------------------------------------------------------------


def recovery(
    dev: Dev,
    watch: Watch,
    at: float,
    *,
    timeout: float,
    also: Callable[[], object] | None = None,
    extra: Callable[[], dict[str, float | None]] | None = None,
) -> dict[str, Any]:
    """Seconds from the fault at wall time `at` until work goes on and `status` is ready.

    Work goes on: an execution of work dispatched after the fault (a decision and an
    execution both happened since). Ready: `status` says ready and counts no killed
    process as alive. With `also`, waits for it too (e.g. the dead worker's items sent
    again). Gives up after `timeout` s (the values not reached are then None).
    """
    deadline = time.monotonic() + timeout
    ready_at: float | None = None
    stale_ready = 0
    next_status = 0.0
    while time.monotonic() < deadline:
        watch.poll(0.1)
        if ready_at is None and time.monotonic() >= next_status:
            next_status = time.monotonic() + 0.25
            report = status(dev.api_url)
            if ready_without(report, dev.killed):
                ready_at = time.time()
            elif report is not None and report.get("ready"):
                stale_ready += 1
        if (
            ready_at is not None
            and watch.work_continued(at) is not None
            and (also is None or also())
        ):
            break
    continued = watch.work_continued(at)
    result: dict[str, Any] = {
        "work_continues_s": _since(at, continued),
        "status_ready_s": _since(at, ready_at),
        "first_execution_after_s": _since(at, watch.first_execution_after(at)),
        "status_ready_polls_while_a_killed_part_counted_alive": stale_ready,
    }
    if extra is not None:
        result.update({k: v for k, v in extra().items()})
    return result


def _since(at: float, when: float | None) -> float | None:
    return None if when is None else round(max(0.0, when - at), 2)


def since(at: float, when: float | None) -> float | None:
    """Seconds from `at` to `when`, rounded (None stays None)."""
    return _since(at, when)


# -- counting from the log ----------------------------------------------------------------------


def read_log(bootstrap: str, prefix: str, locations: Iterable[str]) -> list[ConsumedEvent]:
    """Every record of the system's topics but heartbeats, from offset 0, with a plain
    (assign) consumer."""
    from conflux.events import EventConsumer, Topics

    topics = Topics(prefix)
    names = [spec.name for spec in topics.core() if spec.name != topics.heartbeats]
    names += [topics.work(loc) for loc in locations]
    if topics.leader not in names:
        names.append(topics.leader)
    records: list[ConsumedEvent] = []
    with EventConsumer(bootstrap, topics, names, broker_kind="kafka") as consumer:
        while not consumer.caught_up():
            records += consumer.poll(timeout=0.5, max_records=20_000)
    return records


def count_log(
    records: list[ConsumedEvent],
    *,
    prefix: str,
    expected: Iterable[tuple[str, str]],
    zombies: Iterable[tuple[int, float]] = (),
) -> dict[str, Any]:
    """Count the log as the folds count it, per (asset, partition) in `expected`.

    The records go through the coordinator's own state (`CoordinatorState.fold`, its epoch
    fence first), so a decision counts exactly when the live folds count it. A
    materialization counts once per (work item, attempt) whose attempt the (admitted)
    decisions did not abandon; the worker's side of the fence is the work topic's own
    marks: an execution of a delivery that no admitted dispatch covers is a fenced decision
    that was executed.

    Args:
        records: the whole log (`read_log`).
        prefix: the topic prefix.
        expected: the (asset, partition) pairs the backfills asked for.
        zombies: (epoch, wall time it woke) of paused coordinators: how many of that
            epoch's decisions produced after it woke were counted (must be 0).
    """
    from conflux.coordinator import CoordinatorState
    from conflux.events import EpochFence, Topics, decision_epoch

    topics = Topics(prefix)
    work_prefix = topics.work("")
    state = CoordinatorState()
    delivery_fence = EpochFence()
    admitted_dispatch: set[tuple[str, int]] = set()
    admitted_delivery: set[tuple[str, int]] = set()
    abandoned: set[tuple[str, int | None]] = set()
    refused_by_epoch: Counter[int] = Counter()
    zombie_list = list(zombies)
    zombie_counted: Counter[int] = Counter()
    zombie_refused: Counter[int] = Counter()
    materializations: list[Any] = []
    starts: Counter[tuple[str, str | None]] = Counter()
    for record in records:
        event, topic = record.event, record.topic
        if topic.startswith(work_prefix):
            if delivery_fence.admit(event, topic, record.partition) and (
                event.type == "WorkItemDispatched"
            ):
                admitted_delivery.add((event.work_item_id, event.attempt))
            continue
        admitted = state.fold(event, topic, record.partition)
        epoch = decision_epoch(event)
        if epoch is not None:
            for zombie_epoch, woke in zombie_list:
                if epoch == zombie_epoch and record.timestamp_ms / 1000 >= woke:
                    (zombie_counted if admitted else zombie_refused)[zombie_epoch] += 1
            if not admitted:
                refused_by_epoch[epoch] += 1
                continue
        match event.type:
            case "WorkItemDispatched":
                admitted_dispatch.add((event.work_item_id, event.attempt))
            case "WorkItemAbandoned":
                abandoned.add((event.work_item_id, event.attempt))
            case "AssetMaterialized":
                materializations.append(event)
            case "PartitionStarted":
                starts[(event.asset_key, event.partition_key)] += 1
    counted: dict[tuple[str, str | None], set[tuple[str | None, int | None]]] = {}
    executions: Counter[tuple[str, str | None]] = Counter()
    fenced_executed = 0
    for event in materializations:
        where = (event.asset_key, event.partition_key)
        executions[where] += 1
        attempt = (event.work_item_id, event.attempt)
        if event.work_item_id is not None and attempt not in admitted_delivery:
            fenced_executed += 1
        if attempt not in abandoned:
            counted.setdefault(where, set()).add(attempt)
    wanted = list(expected)
    lost = [w for w in wanted if not counted.get(w)]
    twice = sorted((w for w, attempts in counted.items() if len(attempts) > 1), key=str)
    by_asset: Counter[str] = Counter(asset for asset, key in wanted if counted.get((asset, key)))
    fold_states = [state.assets.get(asset, key) for asset, key in wanted]
    fold_done = sum(1 for p in fold_states if p is not None and p.status == "materialized")
    return {
        "partitions_expected": len(wanted),
        "lost": len(lost),
        "lost_examples": [f"{a}[{k}]" for a, k in lost[:5]],
        "double_counted": len(twice),
        "double_counted_examples": [f"{a}[{k}]" for a, k in twice[:5]],
        "counted_by_asset": dict(sorted(by_asset.items())),
        "executions_repeated": sum(executions.values()) - len(executions),
        "starts_repeated": sum(n - 1 for n in starts.values() if n > 1),
        "attempts_abandoned": len(abandoned),
        "refused_decisions": sum(refused_by_epoch.values()),
        "refused_decisions_by_epoch": {str(e): n for e, n in sorted(refused_by_epoch.items())},
        "executed_fenced_deliveries": fenced_executed,
        "zombie_decisions_after_waking": {
            str(e): {"counted": zombie_counted[e], "refused": zombie_refused[e]}
            for e, _ in zombie_list
        },
        "coordinator_fold_materialized": fold_done,
        "highest_epoch": max(state.fence.marks.values(), default=0),
        "backfills_status": {
            b: (s.completed.status if s.completed else None) for b, s in state.backfills.items()
        },
    }
