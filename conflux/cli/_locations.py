"""`conflux locations list | reload NAME`: code locations, seen and restarted through the log.

`list` reads the query API (`/locations`). `reload` produces `LocationReloadRequested`:
`conflux dev` restarts that location's worker processes when it sees the event, and the
restarted workers publish the new snapshot (or the load failure). In a real deployment the
event is the record of who asked; restarting the workers is the process manager's job
(see docs/code-locations.md). `--wait` blocks until the location's workers report again.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from conflux.cli._options import JSON, STATE_DIR
from conflux.events import ConfluxError

if TYPE_CHECKING:
    from conflux.events import LocationReloadRequested
    from conflux.projections.api import ApiClient, LocationSummary


class UnknownLocationError(ConfluxError):
    """A command named a code location that the running system does not know."""


class ReloadTimeoutError(ConfluxError):
    """A reloaded location's workers did not report within `--timeout`."""


@click.group()
def locations() -> None:
    """Code locations: what each defines, where it runs, and reloading one."""


@locations.command("list")
@JSON
@STATE_DIR
def list_command(as_json: bool, state_dir: str) -> int:
    """Every code location: status, interpreter, snapshot, assets, live workers, last error."""
    from conflux.cli._output import print_json, print_table, short_time
    from conflux.cli._system import find_system
    from conflux.projections.api import ApiClient

    found = ApiClient(find_system(state_dir).api_url).locations()
    if as_json:
        print_json(found)
        return 0
    if not found:
        sys.stdout.write("no code location has reported yet\n")
        return 0
    print_table(
        ["location", "status", "python", "snapshot", "assets", "workers", "updated", "error"],
        [
            [
                loc.name,
                loc.status,
                loc.python_version,
                loc.snapshot_id,
                loc.asset_count,
                loc.workers_alive,
                short_time(loc.updated) if loc.updated else None,
                _one_line(loc),
            ]
            for loc in found
        ],
    )
    for loc in found:
        if loc.executable:
            sys.stdout.write(f"{loc.name}: interpreter {loc.executable}\n")
        if loc.code_versions:
            pairs = ", ".join(f"{k}={v}" for k, v in sorted(loc.code_versions.items()))
            sys.stdout.write(f"{loc.name}: code versions {pairs}\n")
    return 0


@locations.command("reload")
@click.argument("name")
@click.option("--wait", is_flag=True, help="Block until the location's workers report again.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Seconds --wait waits for the new snapshot (or load failure).",
)
@JSON
@STATE_DIR
def reload_command(name: str, wait: bool, timeout: float, as_json: bool, state_dir: str) -> int:
    """Ask for location NAME's workers to load its code again.

    `conflux dev` restarts NAME's worker processes (each finishes the work item it holds
    first); the other locations keep running. Elsewhere the request is recorded and the
    location's process manager restarts its workers. With --wait, exit 1 if the reloaded
    code failed to load.
    """
    # One `LocationReloadRequested` for a known location (an unknown one is
    # `UnknownLocationError`, naming close ones); with --wait, `ReloadTimeoutError` when no
    # new snapshot or failure comes within --timeout.
    from conflux.cli._output import print_json
    from conflux.cli._requests import emit, user_name
    from conflux.cli._system import find_system
    from conflux.events import LocationReloadRequested
    from conflux.projections.api import ApiClient
    from conflux.projections.projector import close_location_names

    info = find_system(state_dir)
    client = ApiClient(info.api_url)
    known = [loc.name for loc in client.locations()]
    if name not in known:
        close = close_location_names(name, known)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        listed = ", ".join(known) if known else "none has reported yet"
        raise UnknownLocationError(
            f"no code location {name!r}: {hint}known locations: {listed} "
            "(see `conflux locations list`)"
        )
    event = LocationReloadRequested(location=name, requested_by=user_name(), producer="conflux-cli")
    emit(info, event)
    if not wait:
        if as_json:
            print_json({"location": name, "event_id": event.event_id, "requested": True})
        else:
            sys.stdout.write(
                f"reload of {name} requested (event {event.event_id[:12]}): `conflux dev` "
                "restarts its workers; elsewhere the location's process manager does\n"
            )
        return 0
    summary = _await_report(client, event, timeout)
    if as_json:
        print_json(summary)
    elif summary.status == "loaded":
        sys.stdout.write(
            f"{name} reloaded: snapshot {summary.snapshot_id}, {summary.asset_count} assets\n"
        )
    else:
        sys.stdout.write(f"{name} failed to load: {_one_line(summary)}\n")
    return 0 if summary.status == "loaded" else 1


def _one_line(loc: LocationSummary) -> str | None:
    if loc.last_error is None:
        return None
    first = (loc.last_error.message.strip().splitlines() or [""])[0]
    return f"{loc.last_error.error_type}: {first}"[:100]


def _await_report(
    client: ApiClient, event: LocationReloadRequested, timeout: float
) -> LocationSummary:
    """The location once its workers reported (snapshot or failure) after `event`."""
    deadline = time.monotonic() + timeout
    while True:
        for loc in client.locations():
            if loc.name == event.location and loc.updated is not None and loc.updated > event.time:
                return loc
        if time.monotonic() > deadline:
            raise ReloadTimeoutError(
                f"{event.location}'s workers did not report within {timeout:.0f} s of the "
                "reload request: without `conflux dev`, restart them with the location's "
                "process manager (the request is recorded)"
            )
        time.sleep(0.2)
