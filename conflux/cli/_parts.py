"""`conflux coordinator | worker | projector`: one part each, stopped by SIGTERM or Ctrl-C.

A part finds the broker in `CONFLUX_BOOTSTRAP` (a real deployment) or in the state
folder that `conflux dev` wrote, and logs to stderr (which `dev` sends to a file).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from conflux.cli._system import broker_kind_from
from conflux.events import StateDirError, Topics

if TYPE_CHECKING:
    from conflux.cli._watch import SelfReload
    from conflux.coordinator import QueueLimits
    from conflux.projections.archive import ArchiveStore
    from conflux.sdk import Definitions


def _configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("CONFLUX_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("conflux.kafka").setLevel(logging.WARNING)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def _broker(state_dir: str) -> tuple[str, Literal["kafka", "tansu"] | None, Topics]:
    bootstrap = os.environ.get("CONFLUX_BOOTSTRAP")
    kind = broker_kind_from(os.environ.get("CONFLUX_BROKER_KIND"))
    prefix = os.environ.get("CONFLUX_TOPIC_PREFIX", "conflux")
    if not bootstrap:
        path = Path(state_dir) / "dev.json"
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            raise StateDirError(
                "no broker: set CONFLUX_BOOTSTRAP (host:port of the Kafka cluster), or run "
                "`conflux dev`"
            ) from None
        bootstrap, prefix = data["bootstrap"], data["topic_prefix"]
        kind = broker_kind_from(data.get("broker_kind"))
    return bootstrap, kind, Topics(prefix)


def run_coordinator(
    *,
    state_dir: str,
    limits: QueueLimits | None = None,
    heartbeat_timeout_s: float | None = None,
    max_catchup_ticks: int | None = None,
) -> int:
    """Run the coordinator until stopped."""
    from conflux.coordinator import DEFAULT_HEARTBEAT_TIMEOUT_S, Coordinator
    from conflux.events import wait_for_broker

    _configure_logging()
    bootstrap, kind, topics = _broker(state_dir)
    stop = _stop_on_signals()
    wait_for_broker(bootstrap)
    checkpoint = Path(state_dir) / "coordinator" / "checkpoint"
    Coordinator(
        bootstrap,
        topics,
        broker_kind=kind,
        checkpoint=checkpoint,
        limits=limits,
        heartbeat_timeout_s=heartbeat_timeout_s or DEFAULT_HEARTBEAT_TIMEOUT_S,
        max_catchup_ticks=max_catchup_ticks,
    ).run(stop)
    return 0


def run_projector(
    *,
    port: int,
    expected: tuple[str, ...],
    state_dir: str,
    host: str = "127.0.0.1",
    token: str | None = None,
    archive_optional: bool = False,
    announce: bool = False,
) -> int:
    """Run the projector, its query API and the web UI until stopped.

    With `archive_optional`, a chdb archive that another process holds (a running
    `conflux dev`) is left out: the UI then serves everything but history (events, run
    timelines, lineage, SQL).
    """
    from conflux.events import wait_for_broker
    from conflux.projections.archive import ArchiveUnavailableError
    from conflux.projections.projector import Projector, check_bind

    check_bind(host, token)  # a bad flag is refused before the broker or archive is touched
    _configure_logging()
    bootstrap, kind, topics = _broker(state_dir)
    stop = _stop_on_signals()
    wait_for_broker(bootstrap)
    try:
        archive: ArchiveStore | None = open_archive(state_dir)
    except ArchiveUnavailableError as exc:
        if not archive_optional:
            raise
        logging.getLogger("conflux.cli").warning("serving without history: %s", exc)
        archive = None
    # The checkpoint goes with the archive: the projector that owns it keeps it.
    checkpoint = Path(state_dir) / "projector" / "checkpoint" if archive is not None else None
    projector = Projector(
        bootstrap,
        topics,
        api_port=port,
        api_host=host,
        api_token=token,
        broker_kind=kind,
        expected_locations=expected,
        archive=archive,
        checkpoint=checkpoint,
    )
    if announce:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        print(f"UI: http://{shown}:{projector.api.port}/", flush=True)
    projector.run(stop)
    return 0


def open_archive(state_dir: str) -> ArchiveStore:
    """The archive: the server at `CONFLUX_CLICKHOUSE_URL`, else chdb in the state folder.

    Raises:
        ArchiveUnavailableError: the server does not answer, or another process holds the
            chdb folder.
    """
    url = os.environ.get("CONFLUX_CLICKHOUSE_URL")
    if url:
        from conflux.projections.archive import ServerStore

        return ServerStore(url)
    from conflux.projections.archive import ChdbStore

    return ChdbStore(Path(state_dir) / "archive")


def run_worker(
    *,
    location: str,
    file: str | None,
    module: str | None,
    working_directory: str | None,
    storage_dir: str | None,
    state_dir: str,
    self_reload: bool = True,
) -> int:
    """Run one worker of `location` until stopped.

    With `self_reload`, a `conflux locations reload LOCATION` made after the start stops
    the worker gracefully and starts this process again in place (same pid and
    arguments), which loads the location's code anew.
    """
    from conflux.events import wait_for_broker
    from conflux.sdk import load_definitions_from_file, load_definitions_from_module
    from conflux.workers import Worker

    if bool(file) == bool(module):
        raise StateDirError("a worker needs exactly one of -f FILE or -m MODULE")
    _configure_logging()
    storage = Path(storage_dir or Path(state_dir) / "storage").resolve()
    path = str(Path(file).resolve()) if file else None
    started_in = os.getcwd()
    if working_directory:
        os.chdir(working_directory)
        sys.path.insert(0, os.getcwd())
    bootstrap, kind, topics = _broker(state_dir)
    stop = _stop_on_signals()
    wait_for_broker(bootstrap)

    def load() -> Definitions:
        if path:
            return load_definitions_from_file(path, location=location)
        assert module is not None
        return load_definitions_from_module(module, location=location)

    reload: SelfReload | None = None
    if self_reload:
        from datetime import UTC, datetime

        from conflux.cli._watch import ReloadListener, SelfReload

        listener = ReloadListener(bootstrap, topics, datetime.now(UTC), kind)
        reload = SelfReload(listener, location, stop)
    try:
        Worker(
            location=location,
            load=load,
            bootstrap=bootstrap,
            topics=topics,
            storage_dir=storage,
            broker_kind=kind,
        ).run(stop)
    finally:
        if reload is not None:
            reload.close()
    if reload is not None and reload.requested is not None:
        logging.getLogger("conflux.cli").warning(
            "location %s: reload requested by %s; starting again with its code as it is now",
            location,
            reload.requested.requested_by or "someone",
        )
        os.chdir(started_in)
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    return 0
