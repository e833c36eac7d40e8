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
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from conflux.cli._options import LOG_FORMAT, STATE_DIR, queue_args, queue_options
from conflux.events import ConfluxError

if TYPE_CHECKING:
    import subprocess

    from conflux.cli._watch import ReloadListener
    from conflux.cli._workspace import LocationSpec
    from conflux.events import Topics

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
    workers: int,
    max_concurrent: int | None,
    pool_limits: tuple[str, ...],
    location_limits: tuple[str, ...],
    heartbeat_timeout: float | None,
    schedule_catchup: int | None,
    log_format: str = "text",
) -> int:
    """Run the whole system locally: broker, coordinator, projector, one worker per location."""
    # Until Ctrl-C or SIGTERM. The queue options go to `conflux coordinator`; `workers`
    # worker processes run per location, sharing its work in one consumer group.
    coordinator_args = queue_args(
        max_concurrent, pool_limits, location_limits, heartbeat_timeout, schedule_catchup
    )
    from conflux.cli._dev_metrics import (
        METRICS_FILE,
        metrics_args,
        metrics_available,
        write_metrics_file,
    )
    from conflux.cli._system import DEV_FILE, SystemInfo, broker_kind_from, write_dev_file
    from conflux.cli._watch import FileWatcher, ReloadListener
    from conflux.events import Topics, ensure_topics
    from conflux.events.brokers import start_local_broker

    locations = _locations(files, modules, workspace)
    root = Path(state_dir).resolve()
    (root / "logs").mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    started = time.monotonic()
    since = datetime.now(UTC)
    local = start_local_broker(root, prefer=broker_kind_from(broker))
    parts: _Parts | None = None
    listener: ReloadListener | None = None
    try:
        click.echo(
            f"conflux dev: broker {_label(local.kind, broker)} {local.version} at {local.bootstrap}"
        )
        topics = Topics(os.environ.get("CONFLUX_TOPIC_PREFIX", "conflux"))
        ensure_topics(
            local.bootstrap, [*topics.core(), *(topics.work_spec(spec.name) for spec in locations)]
        )
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
        parts = _Parts(root, env)
        expected = [a for spec in locations for a in ("--expect-location", spec.name)]
        # Every part logs as asked, and serves metrics on a port of its own (the projector
        # on its query API) when this environment has prometheus_client.
        logs = ["--log-format", log_format] if log_format != "text" else []
        with_metrics = metrics_available()
        urls: dict[str, str] = {}
        parts.start("projector", ["projector", "--port", str(api_port), *expected, *logs])
        parts.start(
            "coordinator",
            [
                "coordinator",
                *coordinator_args,
                *metrics_args(urls, "coordinator", with_metrics),
                *logs,
            ],
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
        if with_metrics:
            write_metrics_file(root, {"projector": f"{api_url}/metrics", **urls})
        click.echo(f"query API: {api_url}   state: {root}   logs: {root / 'logs'}")
        click.echo(f"UI: {api_url}/")
        click.echo(f"locations: {', '.join(spec.name for spec in locations)}")
        _announce_ready(api_url, stop, started)
        watched = time.monotonic()
        while not stop.wait(0.5):
            for line in parts.check() + parts.step():
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
                    parts.restart(groups[name])
        click.echo("conflux dev: stopping", err=True)
        return 0
    finally:
        if listener is not None:
            listener.close()
        if parts is not None:
            parts.stop()
        local.stop()
        with contextlib.suppress(FileNotFoundError):
            (root / DEV_FILE).unlink()
        with contextlib.suppress(FileNotFoundError):
            (root / METRICS_FILE).unlink()


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


class _Parts:
    """The child processes of `dev`, each in its own session so Ctrl-C reaches only `dev`."""

    def __init__(self, state_dir: Path, env: dict[str, str]) -> None:
        self.state_dir = state_dir
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.commands: dict[str, list[str]] = {}
        self.logs: dict[str, IO[bytes]] = {}
        self.restarts: dict[str, int] = {}
        self.cwds: dict[str, str | None] = {}
        self.draining: dict[str, float] = {}
        """Parts asked to stop for a restart -> when they get SIGKILL instead."""

    def start(
        self, name: str, args: list[str], executable: str | None = None, cwd: str | None = None
    ) -> None:
        command = [
            executable or sys.executable,
            "-m",
            "conflux",
            *args,
            "--state-dir",
            str(self.state_dir),
        ]
        self.commands[name] = command
        self.cwds[name] = cwd
        self.logs[name] = self.logs.get(name) or open(  # noqa: SIM115
            self.state_dir / "logs" / f"{name}.log", "ab"
        )
        self._spawn(name)

    def _spawn(self, name: str) -> None:
        import subprocess

        self.procs[name] = subprocess.Popen(
            self.commands[name],
            stdout=self.logs[name],
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwds.get(name),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )

    def restart(self, names: list[str], grace: float = RELOAD_GRACE_S) -> None:
        """Ask `names` to stop (SIGTERM); `step` starts each again once it has exited.

        A part already restarting keeps its deadline: the new process loads the code as it
        is when it starts, so one restart covers every change made while it drained.
        """
        for name in names:
            if name in self.draining:
                continue
            self.draining[name] = time.monotonic() + grace
            proc = self.procs[name]
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)

    def step(self) -> list[str]:
        """Start again the restarting parts that exited; kill those past their grace."""
        lines = []
        for name, deadline in list(self.draining.items()):
            proc = self.procs[name]
            if proc.poll() is None:
                if time.monotonic() < deadline:
                    continue
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                lines.append(
                    f"{name} did not stop within {RELOAD_GRACE_S:.0f} s: killed; "
                    "the coordinator dispatches its unfinished work again"
                )
            del self.draining[name]
            self.restarts[name] = 0
            self._spawn(name)
        return lines

    def check(self) -> list[str]:
        """Restart parts that died (at most 3 times each); return lines to show."""
        lines = []
        for name, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None or name in self.draining:
                continue
            count = self.restarts.get(name, 0)
            if count >= 3:
                continue
            self.restarts[name] = count + 1
            lines.append(f"{name} exited with code {code}; restarting (see logs/{name}.log)")
            self._spawn(name)
        return lines

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every part, wait, SIGKILL what is left."""
        import subprocess

        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in self.logs.values():
            log.close()


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
    # The coordinator's checkpoint names offsets of the old broker: replay instead.
    with contextlib.suppress(FileNotFoundError):
        (root / "coordinator" / "checkpoint").unlink()
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


def _announce_ready(api_url: str, stop: threading.Event, started: float) -> None:
    """Print one line when `status` first says ready (or why not, after a while)."""
    from conflux.events import ApiUnavailableError
    from conflux.projections.api import ApiClient

    client = ApiClient(api_url, timeout=2.0)
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = ""
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            report = client.status()
        except ApiUnavailableError:
            stop.wait(0.2)
            continue
        if report.ready:
            click.echo(
                f"ready in {time.monotonic() - started:.1f} s: "
                "try `conflux materialize '*'` or `conflux status`"
            )
            return
        last = "; ".join(report.not_ready)
        stop.wait(0.2)
    if not stop.is_set():
        click.echo(f"conflux dev: not ready after {READY_TIMEOUT_S:.0f} s: {last}", err=True)
