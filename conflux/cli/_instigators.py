"""`conflux schedules list|start|stop` and `conflux sensors list|start|stop|cursor`.

Writes are events produced to the ticks topic (`InstigatorStatusChanged`,
`SensorCursorSet`), as every other state change; each command then waits until the
projector's read model shows the change, so that the next command sees it. Reads go
through the query API (`/instigators`). An unknown name is one line on stderr, with close
matches, and exit 1.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Literal

import click

from conflux.cli._options import JSON, STATE_DIR
from conflux.cli._output import print_json, print_table, short_time
from conflux.events import ConfluxError

if TYPE_CHECKING:
    from collections.abc import Callable

    from conflux.projections.api import ApiClient, InstigatorSummary

Kind = Literal["schedule", "sensor"]
FOLD_TIMEOUT_S = 30.0
"""How long start / stop / cursor wait for the projector to show the change."""


class InstigatorNotFoldedError(ConfluxError):
    """The projector did not show a status or cursor change in time."""


def _await(
    client: ApiClient, name: str, kind: Kind, done: Callable[[InstigatorSummary], bool]
) -> InstigatorSummary:
    deadline = time.monotonic() + FOLD_TIMEOUT_S
    pause = 0.02
    while True:
        found = client.instigator(name, kind)
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise InstigatorNotFoldedError(
                f"the change to {kind} {name} was sent but the projector has not shown it within "
                f"{FOLD_TIMEOUT_S:.0f} s: is it running? (`conflux status`)"
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def list_instigators(kind: Kind, *, as_json: bool, state_dir: str) -> int:
    """Print every schedule (or sensor) with its status, last and next tick."""
    from conflux.cli._system import find_system
    from conflux.projections.api import ApiClient

    found = ApiClient(find_system(state_dir).api_url).instigators(kind)
    if as_json:
        print_json(found)
        return 0
    if not found:
        sys.stderr.write(
            f"no {kind}s: define them in a location (Definitions({kind}s=[...])) and let its "
            "worker publish\n"
        )
        return 0
    rows = []
    for s in found:
        when = (
            f"{s.cron_schedule} ({s.execution_timezone})"
            if kind == "schedule"
            else f"every {s.minimum_interval_seconds:g} s"
        )
        last = s.last_tick
        rows.append(
            [
                s.name,
                s.location,
                s.status,
                when,
                f"{last.status} {short_time(last.completed_at)}" if last else None,
                short_time(s.next_tick) if s.next_tick else None,
                ",".join(s.asset_keys) or None,
            ]
        )
    headers = ["name", "location", "status", "when", "last tick", "next tick", "target"]
    print_table(headers, rows)
    return 0


def set_status(kind: Kind, name: str, running: bool, *, as_json: bool, state_dir: str) -> int:
    """Start or stop a schedule or sensor: one `InstigatorStatusChanged` event."""
    from conflux.cli._requests import emit, user_name
    from conflux.cli._system import find_system
    from conflux.events import InstigatorStatusChanged
    from conflux.projections.api import ApiClient

    info = find_system(state_dir)
    client = ApiClient(info.api_url)
    client.instigator(name, kind)  # raises NotFoundError, naming close matches
    status: Literal["running", "stopped"] = "running" if running else "stopped"
    event = InstigatorStatusChanged(
        instigator_type=kind, name=name, status=status, requested_by=user_name(), producer="cli"
    )
    emit(info, event, flush_timeout_s=30.0)
    after = _await(
        client,
        name,
        kind,
        lambda s: s.status == status,
    )
    if as_json:
        print_json({"name": name, "type": kind, "status": status, "event_id": event.event_id})
    else:
        nxt = f"; next tick {short_time(after.next_tick)} UTC" if after.next_tick else ""
        print(f"{'started' if running else 'stopped'} {kind} {name}{nxt}")
    return 0


def cursor(name: str, *, value: str | None, delete: bool, as_json: bool, state_dir: str) -> int:
    """Show, set or delete a sensor's cursor (`SensorCursorSet`)."""
    from conflux.cli._requests import emit, user_name
    from conflux.cli._system import find_system
    from conflux.events import SensorCursorSet
    from conflux.projections.api import ApiClient

    info = find_system(state_dir)
    client = ApiClient(info.api_url)
    current = client.instigator(name, "sensor")
    if value is None and not delete:
        if as_json:
            print_json({"name": name, "cursor": current.cursor})
        else:
            print(current.cursor if current.cursor is not None else "(no cursor)")
        return 0
    event = SensorCursorSet(name=name, cursor=value, requested_by=user_name(), producer="cli")
    emit(info, event, flush_timeout_s=30.0)
    _await(client, name, "sensor", lambda s: s.cursor == value)
    if as_json:
        print_json({"name": name, "cursor": value, "event_id": event.event_id})
    else:
        print(f"sensor {name}: cursor {'deleted' if value is None else 'set to ' + repr(value)}")
    return 0


# -- the command groups ----------------------------------------------------------------------


@click.group()
def schedules() -> None:
    """Schedules: list them, start or stop one (starting and stopping are events)."""


@click.group()
def sensors() -> None:
    """Sensors: list them, start or stop one, show or set a cursor (all events)."""


def _register(group: click.Group, kind: Kind) -> None:
    when = "cron and time zone" if kind == "schedule" else "interval"
    later = (
        " A schedule started now ticks at its next cron time: missed ticks are not caught up."
        if kind == "schedule"
        else ""
    )

    @group.command(
        "list",
        short_help=f"Every {kind} with its status and ticks.",
        help=f"Every {kind}: status, {when}, last tick, next tick, target.",
    )
    @JSON
    @STATE_DIR
    def list_command(as_json: bool, state_dir: str) -> int:
        return list_instigators(kind, as_json=as_json, state_dir=state_dir)

    @group.command(
        "start",
        short_help=f"Start {kind} NAME.",
        help=f"Start {kind} NAME (an event; it overrides the default status).{later}",
    )
    @click.argument("name")
    @JSON
    @STATE_DIR
    def start(name: str, as_json: bool, state_dir: str) -> int:
        return set_status(kind, name, True, as_json=as_json, state_dir=state_dir)

    @group.command(
        "stop",
        short_help=f"Stop {kind} NAME.",
        help=f"Stop {kind} NAME (an event): it requests no more ticks until started.",
    )
    @click.argument("name")
    @JSON
    @STATE_DIR
    def stop(name: str, as_json: bool, state_dir: str) -> int:
        return set_status(kind, name, False, as_json=as_json, state_dir=state_dir)


_register(schedules, "schedule")
_register(sensors, "sensor")


@sensors.command("cursor", short_help="Show, set or delete sensor NAME's cursor.")
@click.argument("name")
@click.option("--set", "value", metavar="VALUE", help="Set the cursor the next tick receives.")
@click.option("--delete", is_flag=True, help="Delete the cursor (the next tick gets none).")
@JSON
@STATE_DIR
def cursor_command(
    name: str, value: str | None, delete: bool, as_json: bool, state_dir: str
) -> int:
    """Print sensor NAME's cursor, or change it with --set VALUE or --delete (an event)."""
    if value is not None and delete:
        raise click.UsageError("pass --set VALUE or --delete, not both")
    return cursor(name, value=value, delete=delete, as_json=as_json, state_dir=state_dir)
