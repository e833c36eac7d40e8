"""What the parts' commands share (`coordinator`, `worker`, `projector`, `ui`).

A part finds the broker in `CONFLUX_BOOTSTRAP` (a real deployment) or in the state
folder that `conflux dev` wrote, logs to stderr (which `dev` sends to a file), and stops
on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from conflux.cli._system import broker_kind_from
from conflux.events import StateDirError

if TYPE_CHECKING:
    from conflux.events import Topics
    from conflux.projections.archive import ArchiveStore


def configure_logging(
    log_format: str = "text", component: str = "", instance_id: str | None = None
) -> None:
    """Log to stderr at `CONFLUX_LOG_LEVEL` (librdkafka's chatter at warnings only).

    `log_format="json"`: one JSON object per line (see `conflux.events.JsonFormatter`),
    naming `component` and `instance_id`.
    """
    level = os.environ.get("CONFLUX_LOG_LEVEL", "INFO")
    if log_format == "json":
        from conflux.events import JsonFormatter

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter(component, instance_id))
        logging.basicConfig(level=level, handlers=[handler], force=True)
    else:
        logging.basicConfig(
            level=level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    logging.getLogger("conflux.kafka").setLevel(logging.WARNING)


def stop_on_signals() -> threading.Event:
    """An event that SIGTERM and SIGINT set: the part's loop stops when it is set."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def find_broker(state_dir: str) -> tuple[str, Literal["kafka", "tansu"] | None, Topics]:
    """The broker, its kind and the topic names, from the environment or `dev.json`."""
    from conflux.events import Topics

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


def run_projector(
    *,
    port: int,
    expected: tuple[str, ...],
    state_dir: str,
    host: str = "127.0.0.1",
    token: str | None = None,
    archive_optional: bool = False,
    announce: bool = False,
    log_format: str = "text",
) -> int:
    """Run the projector, its query API and the web UI until stopped.

    With `archive_optional`, a chdb archive that another process holds (a running
    `conflux dev`) is left out: the UI then serves everything but history (events, run
    timelines, lineage, SQL).
    """
    from conflux.events import wait_for_broker
    from conflux.projections.archive import ArchiveUnavailableError
    from conflux.projections.projector import Projector, check_bind, limit_malloc_arenas

    limit_malloc_arenas()  # before the archive, the consumer and the API start threads
    check_bind(host, token)  # a bad flag is refused before the broker or archive is touched
    instance_id = f"projector-{uuid.uuid4().hex[:8]}"
    configure_logging(log_format, "projector", instance_id)
    bootstrap, kind, topics = find_broker(state_dir)
    stop = stop_on_signals()
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
        instance_id=instance_id,
    )
    if announce:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        print(f"UI: http://{shown}:{projector.api.port}/", flush=True)
    projector.run(stop)
    return 0
