"""Options shared by several commands: each written once, so their help reads alike.

Only click at import: every command module imports this, and `conflux --help` imports
every command module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])

STATE_DIR = click.option(
    "--state-dir",
    default=".conflux",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder written by `conflux dev` "
    "(ignored when CONFLUX_BOOTSTRAP and CONFLUX_API are set).",
)
JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")

HOST = click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; beyond loopback, --token is required.",
)
TOKEN = click.option(
    "--token",
    envvar="CONFLUX_API_TOKEN",
    default=None,
    help="Require this token of every request (env CONFLUX_API_TOKEN).",
)
EXPECT = click.option(
    "--expect-location",
    "expected",
    multiple=True,
    help="A location that must load (or report its failure) before status is ready.",
)


METRICS_PORT = click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    default=None,
    help="Serve Prometheus metrics at http://HOST:PORT/metrics (0: a free port; default: none).",
)
METRICS_HOST = click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Interface the metrics listen on (0.0.0.0 for a Prometheus on another host).",
)
LOG_FORMAT = click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    envvar="CONFLUX_LOG_FORMAT",
    default="text",
    show_default=True,
    help="Log lines as text, or as JSON objects (time, level, component, instance id, and "
    "the run and event ids where there are some); env CONFLUX_LOG_FORMAT.",
)


def queue_options(fn: F) -> F:
    """The coordinator's settings that `dev` passes on (and `coordinator` takes).

    The run queue's limits, the liveness timeout and the schedules' catch-up limit; the
    command receives them as `max_concurrent`, `pool_limits`, `location_limits`,
    `heartbeat_timeout` and `schedule_catchup`.
    """
    fn = click.option(
        "--schedule-catchup",
        type=click.IntRange(min=1),
        default=None,
        help="After downtime, run at most the N latest missed ticks of each schedule "
        "(default 5; 1: only the latest).",
    )(fn)
    fn = click.option(
        "--heartbeat-timeout",
        type=click.FloatRange(min=0.5),
        default=None,
        help="Seconds of worker silence before its work is dispatched again (default 15).",
    )(fn)
    fn = click.option(
        "--location-limit",
        "location_limits",
        multiple=True,
        metavar="NAME=N",
        help="At most N work items in flight in location NAME (repeatable).",
    )(fn)
    fn = click.option(
        "--pool-limit",
        "pool_limits",
        multiple=True,
        metavar="NAME=N",
        help='At most N work items in flight on pool NAME, as in @asset(pool="NAME").',
    )(fn)
    return click.option(
        "--max-concurrent",
        type=click.IntRange(min=1),
        default=None,
        help="Work items in flight at once across the system (default 256).",
    )(fn)


def queue_args(
    max_concurrent: int | None,
    pool_limits: tuple[str, ...],
    location_limits: tuple[str, ...],
    heartbeat_timeout: float | None,
    schedule_catchup: int | None = None,
) -> tuple[str, ...]:
    """The queue options as `conflux coordinator` arguments (checked here, once).

    Raises:
        click.BadParameter: a NAME=N pair is malformed.
    """
    from conflux.coordinator import parse_limits

    try:
        parse_limits(pool_limits, "pool")
        parse_limits(location_limits, "location")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    args: list[str] = []
    if max_concurrent is not None:
        args += ["--max-concurrent", str(max_concurrent)]
    for pair in pool_limits:
        args += ["--pool-limit", pair]
    for pair in location_limits:
        args += ["--location-limit", pair]
    if heartbeat_timeout is not None:
        args += ["--heartbeat-timeout", str(heartbeat_timeout)]
    if schedule_catchup is not None:
        args += ["--schedule-catchup", str(schedule_catchup)]
    return tuple(args)
