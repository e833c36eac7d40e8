"""`conflux worker`: one worker of one code location, for real deployments.

`dev` runs one per location (with `--no-reload`: it restarts them itself). Alone, a worker
restarts itself in place when `conflux locations reload LOCATION` asks for it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from conflux.cli._options import LOG_FORMAT, METRICS_HOST, METRICS_PORT, STATE_DIR

if TYPE_CHECKING:
    from conflux.cli._watch import SelfReload
    from conflux.sdk import Definitions


@click.command()
@click.option("--location", required=True, help="The code location's name.")
@click.option("-f", "--python-file", "file", type=click.Path(dir_okay=False))
@click.option("-m", "--module-name", "module")
@click.option("--working-directory", type=click.Path(file_okay=False))
@click.option(
    "--storage-dir",
    type=click.Path(file_okay=False),
    help="Where the default IO manager stores values (default: <state-dir>/storage).",
)
@click.option(
    "--reload/--no-reload",
    "self_reload",
    default=True,
    show_default=True,
    help="Restart in place on `conflux locations reload LOCATION` (dev supervises instead).",
)
@click.option(
    "--max-log-lines",
    type=click.IntRange(min=0),
    default=10_000,
    show_default=True,
    envvar="CONFLUX_MAX_LOG_LINES",
    help="Lines of context.log, stdout and stderr kept per attempt; the rest are counted "
    "(env CONFLUX_MAX_LOG_LINES, which `dev` passes on).",
)
@click.option(
    "--capture-logs/--no-capture-logs",
    default=True,
    show_default=True,
    envvar="CONFLUX_CAPTURE_LOGS",
    help="Keep what assets write as run logs (`conflux logs`); off: it goes to the "
    "worker's own output (env CONFLUX_CAPTURE_LOGS).",
)
@METRICS_PORT
@METRICS_HOST
@LOG_FORMAT
@STATE_DIR
def worker(
    location: str,
    file: str | None,
    module: str | None,
    working_directory: str | None,
    storage_dir: str | None,
    self_reload: bool,
    max_log_lines: int,
    capture_logs: bool,
    metrics_port: int | None,
    metrics_host: str,
    log_format: str,
    state_dir: str,
) -> int:
    """Run a worker of one code location (one part, for real deployments)."""
    # With `self_reload`, a `conflux locations reload LOCATION` made after the start stops
    # the worker gracefully and starts this process again in place (same pid and
    # arguments), which loads the location's code anew.
    from conflux.cli._parts import configure_logging, find_broker, stop_on_signals
    from conflux.events import StateDirError, wait_for_broker
    from conflux.sdk import load_definitions_from_file, load_definitions_from_module
    from conflux.workers import Worker, default_worker_id

    if bool(file) == bool(module):
        raise StateDirError("a worker needs exactly one of -f FILE or -m MODULE")
    worker_id = default_worker_id(location)
    configure_logging(log_format, "worker", worker_id)
    storage = Path(storage_dir or Path(state_dir) / "storage").resolve()
    path = str(Path(file).resolve()) if file else None
    started_in = os.getcwd()
    if working_directory:
        os.chdir(working_directory)
        sys.path.insert(0, os.getcwd())
    bootstrap, kind, topics = find_broker(state_dir)
    stop = stop_on_signals()
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
            max_log_lines=max_log_lines,
            capture_logs=capture_logs,
            worker_id=worker_id,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
        ).run(stop)
    finally:
        if reload is not None:
            reload.close()
    if reload is not None and reload.requested is not None:
        import logging

        logging.getLogger("conflux.cli").warning(
            "location %s: reload requested by %s; starting again with its code as it is now",
            location,
            reload.requested.requested_by or "someone",
        )
        os.chdir(started_in)
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    return 0
