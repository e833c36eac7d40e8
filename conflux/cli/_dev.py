"""`conflux dev`: the whole system on one machine, with nothing to install by hand.

Starts a local broker (Apache Kafka when Java is there, else Tansu), creates the topics,
then one process per part: the projector (with the query API), the coordinator, and a
worker per code location. Writes `<state-dir>/dev.json` for the other commands. Ctrl-C
(or SIGTERM) stops the parts, then the broker, and leaves no process behind.

While it runs, `dev` restarts a location's workers (only that location's) when one of its
files changes (polled every second, see `_watch.py`) or when `conflux locations reload
NAME` puts a `LocationReloadRequested` on the log. A restart is graceful: SIGTERM, so the
worker finishes the work items it has taken, then a new worker loads the code and
publishes the new snapshot; after `RELOAD_GRACE_S` a worker still busy is killed, and the
coordinator's liveness dispatches its unfinished attempts again.

Every process `dev` starts, each broker node included, is supervised (`_supervise.py`):
one that dies is started again with a backoff (0.5 s doubling to 30 s, reset after 60 s
up), and the terminal says what died, why (its log's last lines) and what `dev` does; a
broker node restarts on its own log, and the parts that died meanwhile start once it
answers. Children die with `dev` (a parent-death signal), and a new `dev` stops what an
old one, killed, left in its state folder. `--brokers 3` runs a three-node Apache Kafka
cluster, `--coordinators 2` a standby coordinator.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from conflux.cli._options import LOG_FORMAT, STATE_DIR, queue_args, queue_options
from conflux.events import ConfluxError

if TYPE_CHECKING:
    from conflux.cli._supervise import Supervisor
    from conflux.cli._watch import ReloadListener
    from conflux.cli._workspace import LocationSpec
    from conflux.events import Topics
    from conflux.events.brokers import KafkaCluster, LocalBroker

READY_TIMEOUT_S = 120.0
RELOAD_GRACE_S = 30.0
"""How long a restarted worker may take to finish the work it holds before SIGKILL."""
WATCH_INTERVAL_S = 1.0
"""How often the locations' files are checked for changes."""


@click.command()
@click.option(
    "-f",
    "--python-file",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A Python file holding a code location's Definitions (repeatable).",
)
@click.option(
    "-m",
    "--module-name",
    "modules",
    multiple=True,
    help="An importable module holding a code location's Definitions (repeatable).",
)
@click.option(
    "-w",
    "--workspace",
    type=click.Path(dir_okay=False),
    help="A workspace.yaml listing code locations (Dagster's format).",
)
@STATE_DIR
@click.option(
    "--port", type=int, default=None, help="Port of the query API (default: 3000, or a free one)."
)
@click.option(
    "--broker",
    type=click.Choice(["kafka", "tansu"]),
    default=None,
    help="Force a local broker (default: Apache Kafka when Java is present, else Tansu).",
)
@click.option(
    "--brokers",
    type=click.IntRange(min=1, max=9),
    default=1,
    show_default=True,
    help="Apache Kafka brokers (KRaft, loopback ports); 3 gives every topic 3 replicas "
    "and min.insync.replicas 2. Tansu runs one.",
)
@click.option(
    "--coordinators",
    type=click.IntRange(min=1, max=9),
    default=1,
    show_default=True,
    help="Coordinator processes: one leads, the others stand by (a 3 s session each).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes per code location (they share its work).",
)
@queue_options
@LOG_FORMAT
def dev(
    files: tuple[str, ...],
    modules: tuple[str, ...],
    workspace: str | None,
    state_dir: str,
    port: int | None,
    broker: str | None,
    brokers: int,
    coordinators: int,
    workers: int,
    max_concurrent: int | None,
    pool_limits: tuple[str, ...],
    location_limits: tuple[str, ...],
    heartbeat_timeout: float | None,
    schedule_catchup: int | None,
    log_format: str = "text",
) -> int:
    """Run the whole system locally: broker, coordinator, projector, one worker per location.

    Every process is supervised: one that dies (a broker node too) is started again,
    with a backoff from 0.5 s doubling to 30 s, and the terminal says what died, why,
    and what `dev` does. Needs the `server` extra: pip install 'conflux[server]'.
    """
    # Until Ctrl-C or SIGTERM. The queue options go to `conflux coordinator`; `workers`
    # worker processes run per location, sharing its work in one consumer group.
    _check_server_extra()
    coordinator_args = queue_args(
        max_concurrent, pool_limits, location_limits, heartbeat_timeout, schedule_catchup
    )
    from conflux.cli._dev_metrics import (
        METRICS_FILE,
        metrics_args,
        metrics_available,
        write_metrics_file,
    )
    from conflux.cli._supervise import Supervisor, stop_leftovers
    from conflux.cli._system import DEV_FILE, SystemInfo, broker_kind_from, write_dev_file
    from conflux.cli._watch import FileWatcher, ReloadListener
    from conflux.events import Topics, ensure_topics

    locations = _locations(files, modules, workspace)
    root = Path(state_dir).resolve()
    _refuse_running_dev(root)
    if brokers > 1 and broker == "tansu":
        raise ConfluxError(
            f"Tansu runs a single node: --brokers {brokers} needs Apache Kafka (--broker kafka)"
        )
    (root / "logs").mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    left = stop_leftovers(root)
    if left:
        click.echo(
            f"conflux dev: stopped what an earlier dev left running in {root}: {', '.join(left)}",
            err=True,
        )

    started = time.monotonic()
    since = datetime.now(UTC)
    local, nodes = _start_brokers(root, broker_kind_from(broker), brokers)
    parts: Supervisor | None = None
    listener: ReloadListener | None = None
    watch: _StatusWatch | None = None
    try:
        shown = _label(local.kind, broker) + (f" x{brokers}" if brokers > 1 else "")
        click.echo(f"conflux dev: broker {shown} {local.version} at {local.bootstrap}")
        topics = Topics(os.environ.get("CONFLUX_TOPIC_PREFIX", "conflux"))
        specs = [*topics.core(), *(topics.work_spec(spec.name) for spec in locations)]
        specs.append(topics.leader_spec())  # before two coordinators race to create it
        ensure_topics(local.bootstrap, specs)
        if local.kind == "tansu":
            _restore_from_archive(root, local.bootstrap, topics)
        api_port = _free_port(port)
        env = {
            **os.environ,
            "CONFLUX_BOOTSTRAP": local.bootstrap,
            "CONFLUX_BROKER_KIND": local.kind,
            "CONFLUX_TOPIC_PREFIX": topics.prefix,
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("CONFLUX_API", None)

        def broker_back() -> None:
            # A Tansu that died lost every record: give the new one the log again from
            # the archive, which the projector must release first.
            ensure_topics(local.bootstrap, specs)
            if local.kind == "tansu" and parts is not None:
                parts.pause()
                _restore_from_archive(root, local.bootstrap, topics)

        parts = Supervisor(root, env, nodes, on_broker_back=broker_back)
        expected = [a for spec in locations for a in ("--expect-location", spec.name)]
        # Every part logs as asked, and serves metrics on a port of its own (the projector
        # on its query API) when this environment has prometheus_client.
        logs = ["--log-format", log_format] if log_format != "text" else []
        with_metrics = metrics_available()
        urls: dict[str, str] = {}
        parts.start("projector", ["projector", "--port", str(api_port), *expected, *logs])
        session = ["--session-timeout", "3"] if coordinators > 1 else []
        parts.start(
            "coordinator",
            [
                "coordinator",
                *coordinator_args,
                *session,
                *metrics_args(urls, "coordinator", with_metrics),
                *logs,
            ],
        )
        for n in range(2, coordinators + 1):  # standbys, each with its own checkpoint
            (root / f"coordinator-{n}").mkdir(exist_ok=True)
            parts.start(
                f"coordinator-{n}",
                [
                    "coordinator",
                    *coordinator_args,
                    *session,
                    *metrics_args(urls, f"coordinator-{n}", with_metrics),
                    *logs,
                ],
                state_dir=root / f"coordinator-{n}",
            )
        watcher = FileWatcher(locations)  # before the workers load: no edit is missed
        groups: dict[str, list[str]] = {}
        for spec in locations:
            args = ["worker", "--location", spec.name, "--no-reload"]  # dev restarts them
            args += ["-f", spec.file] if spec.file else ["-m", str(spec.module)]
            if spec.working_directory:
                args += ["--working-directory", spec.working_directory]
            args += ["--storage-dir", str(root / "storage")]
            for n in range(workers):
                name = f"worker-{spec.name}" + (f"-{n + 1}" if workers > 1 else "")
                # a location in an environment of its own may lack prometheus_client
                served = with_metrics and spec.executable is None
                extra = [*metrics_args(urls, name, served), *logs]
                parts.start(name, [*args, *extra], executable=spec.executable)
                groups.setdefault(spec.name, []).append(name)
        listener = ReloadListener(local.bootstrap, topics, since, local.kind)
        api_url = f"http://127.0.0.1:{api_port}"
        write_dev_file(
            root,
            SystemInfo(
                bootstrap=local.bootstrap,
                api_url=api_url,
                broker_kind=local.kind,
                topic_prefix=topics.prefix,
                pid=os.getpid(),
                state_dir=str(root),
            ),
        )
        parts.write_state()
        if with_metrics:
            write_metrics_file(root, {"projector": f"{api_url}/metrics", **urls})
        click.echo(f"query API: {api_url}   state: {root}   logs: {root / 'logs'}")
        click.echo(f"UI: {api_url}/")
        click.echo(f"locations: {', '.join(spec.name for spec in locations)}")
        watch = _StatusWatch(api_url)
        _announce_ready(api_url, stop, started, parts, watch)
        watched = time.monotonic()
        while not stop.wait(0.5):
            for line in parts.check():
                click.echo(f"conflux dev: {line}", err=True)
            for line in watch.changes(parts.state()):
                click.echo(f"conflux dev: {line}", err=True)
            reasons = {e.location: f"reload requested by {e.requested_by}" for e in listener.poll()}
            if time.monotonic() - watched >= WATCH_INTERVAL_S:
                watched = time.monotonic()
                for name, paths in watcher.poll().items():
                    shown = ", ".join(Path(f).name for f in paths[:3])
                    more = f" (+{len(paths) - 3})" if len(paths) > 3 else ""
                    reasons.setdefault(name, f"{shown}{more} changed")
            for name, why in sorted(reasons.items()):
                if name in groups:
                    click.echo(f"conflux dev: {name}: {why}; restarting its workers")
                    parts.restart(groups[name], RELOAD_GRACE_S)
        click.echo("conflux dev: stopping", err=True)
        return 0
    finally:
        if watch is not None:
            watch.close()
        if listener is not None:
            listener.close()
        if parts is not None:
            parts.stop()
        local.stop()
        if parts is not None:
            parts.forget_brokers()
        with contextlib.suppress(FileNotFoundError):
            (root / DEV_FILE).unlink()
        with contextlib.suppress(FileNotFoundError):
            (root / METRICS_FILE).unlink()


def _check_server_extra() -> None:
    """Refuse at once, in one line, when the `server` extra is not installed.

    The projector needs chdb (the embedded archive; clickhouse-connect when
    `CONFLUX_CLICKHOUSE_URL` names a server) and `dev` needs psutil; without them the
    projector would die on start and `dev` would restart it until it gave up.
    """
    import importlib.util

    wanted = ["psutil"]
    wanted.append("clickhouse_connect" if os.environ.get("CONFLUX_CLICKHOUSE_URL") else "chdb")
    missing = []
    for module in wanted:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    if missing:
        raise ConfluxError(
            f"conflux dev needs the server extra ({', '.join(missing)} missing): "
            "pip install 'conflux[server]'"
        )


def _refuse_running_dev(root: Path) -> None:
    """Refuse to start a second `dev` on a state folder a live one uses."""
    from conflux.cli._system import DEV_FILE, find_system
    from conflux.events import StateDirError

    if not (root / DEV_FILE).is_file() or os.environ.get("CONFLUX_BOOTSTRAP"):
        return
    with contextlib.suppress(StateDirError, TypeError):
        info = find_system(root)  # raises when the recorded dev is gone
        if info.pid is not None and info.pid != os.getpid():
            raise ConfluxError(
                f"`conflux dev` (pid {info.pid}) already runs on {root}: stop it first, "
                "or pass another --state-dir"
            )


def _start_brokers(
    root: Path, prefer: Literal["kafka", "tansu"] | None, count: int
) -> tuple[LocalBroker | KafkaCluster, list[LocalBroker]]:
    """The broker (or cluster) `dev` runs, started, and the nodes to supervise."""
    from conflux.events.brokers import KafkaCluster, kafka_available, start_local_broker

    if count == 1:
        local = start_local_broker(root, prefer=prefer)
        return local, [local]
    ok, why = kafka_available()
    if not ok:
        raise ConfluxError(
            f"--brokers {count} needs Apache Kafka (Tansu runs a single node): {why}"
        )
    cluster = KafkaCluster(root, count).start(timeout=180.0)
    return cluster, list(cluster.nodes)


def _locations(
    files: tuple[str, ...], modules: tuple[str, ...], workspace: str | None
) -> list[LocationSpec]:
    from conflux.cli._workspace import LocationSpec, load_workspace

    specs = [LocationSpec(Path(f).stem, file=str(Path(f).resolve())) for f in files]
    specs += [LocationSpec(m, module=m, working_directory=os.getcwd()) for m in modules]
    if workspace:
        specs += load_workspace(Path(workspace))
    if not specs and Path("workspace.yaml").is_file():
        specs = load_workspace(Path("workspace.yaml"))
    if not specs:
        raise ConfluxError(
            "no code location: pass -f FILE, -m MODULE or -w workspace.yaml "
            "(e.g. `conflux dev -f examples/quickstart/definitions.py`)"
        )
    for spec in specs:
        if spec.file and not Path(spec.file).is_file():
            raise ConfluxError(f"code location file {spec.file} does not exist")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfluxError(f"two code locations share a name in {names}: rename one")
    return specs


def _free_port(preferred: int | None) -> int:
    """`preferred` if given (0: any free port), else 3000 when free, else any free port."""
    import socket  # here, not at import: `conflux --help` imports this module

    candidates = [preferred] if preferred is not None else [3000, 0]
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                if preferred is not None:
                    raise ConfluxError(f"port {preferred} is in use: pass another --port") from None
                continue
            return int(sock.getsockname()[1])
    raise ConfluxError("no free port on 127.0.0.1")


def _restore_from_archive(root: Path, bootstrap: str, topics: Topics) -> None:
    """Give a fresh Tansu (which keeps nothing) the log back from the archive, if any."""
    if os.environ.get("CONFLUX_CLICKHOUSE_URL") or not (root / "archive").is_dir():
        return
    from conflux.projections.archive import ChdbStore, seed_broker

    shown = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - shown[0] >= 2.0:
            shown[0] = time.monotonic()
            click.echo(f"conflux dev: restoring the log from the archive: {done:,}/{total:,}")

    with ChdbStore(root / "archive") as store:
        store.create_schema()
        report = seed_broker(store, bootstrap, topics, broker_kind="tansu", progress=progress)
    # The checkpoints name offsets of the old broker: replay (or rebuild) instead.
    for checkpoint in [
        root / "coordinator",
        root / "projector",
        *root.glob("coordinator-*/coordinator"),
    ]:
        (checkpoint / "checkpoint").unlink(missing_ok=True)
    if report.records:
        click.echo(
            f"conflux dev: restored {report.records:,} events from the archive"
            f" in {report.seconds:.1f} s (Tansu keeps nothing across restarts)"
        )


def _label(kind: str, forced: str | None) -> str:
    """Name the broker; on an automatic fallback to Tansu, say why Kafka was not used."""
    if kind == "kafka":
        return "Apache Kafka"
    if forced == "tansu":
        return "Tansu (memory only)"
    from conflux.events.brokers import kafka_available

    return f"Tansu (memory only; fallback: {kafka_available()[1]})"


class _StatusWatch:
    """Asks the query API for `/status` in a thread (every `POLL_S`), for `dev` to report.

    The main loop, which supervises the processes, never waits on the API; it asks
    `changes` for what to print: a location that failed to load (or loaded again), and
    the system going not ready (with every reason) and ready again.
    """

    POLL_S = 1.0

    def __init__(self, api_url: str) -> None:
        from conflux.projections.api import ApiTransport

        self._api = ApiTransport(api_url, timeout=2.0)
        self._lock = threading.Lock()
        self._report: dict[str, Any] | None = None
        self._error = ""
        self._failed: dict[str, str] = {}
        self._ready: bool | None = None
        self._since = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="conflux-dev-status", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from conflux.events import ConfluxError as Failed

        while not self._stop.is_set():
            try:
                report = self._api.get_json("/status")
                with self._lock:
                    self._report, self._error = report, ""
            except Failed as exc:
                with self._lock:
                    self._report, self._error = None, str(exc)
            self._stop.wait(self.POLL_S)

    def latest(self, parts: dict[str, Any]) -> tuple[bool | None, list[str], list[dict[str, Any]]]:
        """(ready, why not, failed locations) now; ready is None before the first answer.

        `parts` is the supervisor's `state()`.
        """
        from conflux.cli._status import judge

        with self._lock:
            report, error = self._report, self._error
        if report is None:
            down = {**parts.get("brokers_down", {}), **parts.get("down", {})}
            reasons = [f"{k}: {v}" for k, v in sorted(down.items())]
            if error:
                reasons.append(f"query API: {error}")
            return None, reasons, []
        not_ready, failed, _ = judge(report, parts)
        return not not_ready, not_ready, failed

    def changes(self, parts: dict[str, Any]) -> list[str]:
        """Lines for what changed since the last call."""
        ready, reasons, failed = self.latest(parts)
        lines = []
        now_failed = {str(loc["name"]): str(loc["error"]) for loc in failed}
        for name, error in sorted(now_failed.items()):
            if self._failed.get(name) != error:
                lines.append(
                    f"location {name} failed to load: {error} (the other locations go on; "
                    f"see logs/worker-{name}*.log, fix it and save, or "
                    f"`conflux locations reload {name}`)"
                )
        for name in sorted(set(self._failed) - set(now_failed)):
            lines.append(f"location {name} loads again")
        self._failed = now_failed
        if ready is None and reasons and self._ready:
            ready = False  # the API stopped answering: that is not ready
        if ready is not None and ready != self._ready:
            took = time.monotonic() - self._since
            if ready and self._ready is False:
                lines.append(f"ready again after {took:.1f} s")
            elif not ready and self._ready:
                lines.append("not ready: " + "; ".join(reasons))
            self._ready, self._since = ready, time.monotonic()
        return lines

    def close(self) -> None:
        """Stop asking."""
        self._stop.set()


def _announce_ready(
    api_url: str, stop: threading.Event, started: float, parts: Supervisor, watch: _StatusWatch
) -> None:
    """Print one line when `status` first says ready (or why not, after a while).

    Meanwhile the processes are supervised as in the main loop: a part that dies while
    the system starts is restarted, and said so.
    """
    deadline = time.monotonic() + READY_TIMEOUT_S
    reasons: list[str] = []
    while not stop.is_set() and time.monotonic() < deadline:
        for line in parts.check():
            click.echo(f"conflux dev: {line}", err=True)
        ready, reasons, failed = watch.latest(parts.state())
        if ready:
            watch.changes(parts.state())  # the failed locations, printed once
            down = f", with {len(failed)} location(s) down" if failed else ""
            click.echo(
                f"ready in {time.monotonic() - started:.1f} s{down}: "
                "try `conflux materialize '*'` or `conflux status`"
            )
            for location in failed:
                click.echo(
                    f"conflux dev: location {location['name']} failed to load: "
                    f"{location['error']} (the other locations go on)",
                    err=True,
                )
            return
        stop.wait(0.2)
    if not stop.is_set():
        if not reasons:
            reasons = [f"the query API at {api_url} never answered"]
        last = tail_line(parts.state_dir / "logs" / "projector.log")
        if last and not any(r.startswith("projector") for r in reasons):
            reasons.append(f"logs/projector.log ends with: {last}")
        click.echo(
            f"conflux dev: not ready after {READY_TIMEOUT_S:.0f} s: {'; '.join(reasons)}",
            err=True,
        )


def tail_line(path: Path) -> str:
    """The last non-empty line of a log file ('' when none)."""
    from conflux.cli._supervise import tail

    found = tail(path, 1)
    return found[0].strip()[:300] if found else ""
