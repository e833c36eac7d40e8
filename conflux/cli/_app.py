"""The click command tree. Each command parses arguments and calls one function.

Errors leave as one line on stderr and a non-zero exit: 2 for a bad argument, 1 for
anything else Conflux reports (an unknown asset, no broker, a failed run).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click

from conflux.cli._options import JSON, STATE_DIR
from conflux.events import ConfluxError

if TYPE_CHECKING:
    from collections.abc import Callable


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `conflux: error: message` on stderr and exit with `code`."""
    click.echo(f"conflux: error: {message}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """Turns every error into one line on stderr."""

    def main(self, *args: object, **kwargs: object) -> NoReturn:
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(0)
        except click.UsageError as exc:
            hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            fail(exc.format_message().replace("\n", " ") + hint, 2)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            sys.exit(130)
        except KeyboardInterrupt:
            sys.exit(130)
        except ConfluxError as exc:
            fail(str(exc).replace("\n", " "))
        sys.exit(rv if isinstance(rv, int) else 0)


def _queue_options(fn: Callable[..., None]) -> Callable[..., None]:
    """The coordinator's settings that `dev` passes on (and `coordinator` takes).

    The run queue's limits, the liveness timeout and the schedules' catch-up limit.
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


def _queue_args(
    max_concurrent: int | None,
    pool_limits: tuple[str, ...],
    location_limits: tuple[str, ...],
    heartbeat_timeout: float | None,
    schedule_catchup: int | None = None,
) -> tuple[str, ...]:
    """The queue options as `conflux coordinator` arguments (checked here, once)."""
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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="conflux")
def cli() -> None:
    """Conflux: software-defined assets on an event log."""


@cli.command()
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
@_queue_options
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
) -> None:
    """Run the whole system locally: broker, coordinator, projector, one worker per location."""
    from conflux.cli._dev import run_dev

    sys.exit(
        run_dev(
            files=files,
            modules=modules,
            workspace=workspace,
            state_dir=state_dir,
            port=port,
            broker=broker,
            coordinator_args=_queue_args(
                max_concurrent, pool_limits, location_limits, heartbeat_timeout, schedule_catchup
            ),
            workers=workers,
        )
    )


@cli.command()
@click.argument("selection")
@click.option("--partition", "partitions", multiple=True, help="A partition key (repeatable).")
@click.option("--from", "from_key", help="First partition key of a range (with --to).")
@click.option("--to", "to_key", help="Last partition key of a range (with --from).")
@click.option("--wait", is_flag=True, help="Block until the run ends; exit 1 if anything failed.")
@JSON
@STATE_DIR
def materialize(
    selection: str,
    partitions: tuple[str, ...],
    from_key: str | None,
    to_key: str | None,
    wait: bool,
    as_json: bool,
    state_dir: str,
) -> None:
    """Request a materialization of SELECTION (keys, *upstream, downstream*, group:NAME)."""
    from conflux.cli._requests import materialize as run

    sys.exit(
        run(
            selection,
            partitions=partitions,
            from_key=from_key,
            to_key=to_key,
            wait=wait,
            as_json=as_json,
            state_dir=state_dir,
        )
    )


@cli.command()
@click.argument("asset_key")
@click.option("--partition", help="The partition that was materialized.")
@click.option("--data-version", help="The new data version (default: a fresh one).")
@click.option("--metadata", "metadata", multiple=True, help="K=V metadata (repeatable).")
@JSON
@STATE_DIR
def report(
    asset_key: str,
    partition: str | None,
    data_version: str | None,
    metadata: tuple[str, ...],
    as_json: bool,
    state_dir: str,
) -> None:
    """Record a materialization of ASSET_KEY that happened outside Conflux."""
    from conflux.cli._requests import report as run

    sys.exit(
        run(
            asset_key,
            partition=partition,
            data_version=data_version,
            metadata=metadata,
            as_json=as_json,
            state_dir=state_dir,
        )
    )


@cli.command()
@click.option("--status", type=click.Choice(["queued", "started", "success", "failed", "canceled"]))
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@JSON
@STATE_DIR
def runs(status: str | None, limit: int, as_json: bool, state_dir: str) -> None:
    """List runs, newest first."""
    from conflux.cli._reads import runs as run

    sys.exit(run(status=status, limit=limit, as_json=as_json, state_dir=state_dir))


@cli.command()
@click.argument("key", metavar="[ASSET]", required=False)
@click.option(
    "--partitions", is_flag=True, help="ASSET's partition status as ranges (any number of keys)."
)
@JSON
@STATE_DIR
def assets(key: str | None, partitions: bool, as_json: bool, state_dir: str) -> None:
    """List assets with their partition counts and last materialization."""
    from conflux.cli._reads import assets as run

    sys.exit(run(key=key, partitions=partitions, as_json=as_json, state_dir=state_dir))


@cli.command()
@click.option("--asset", "asset_key", help="Only events about this asset.")
@click.option("--partition", help="Only events about this partition (with --asset).")
@click.option("--type", "event_type", help="Only events of this type (e.g. AssetMaterialized).")
@click.option("--since", help="Only events at or after this ISO time (e.g. 2024-01-31T12:00).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="At most N events (the latest)."
)
@click.option("--follow", is_flag=True, help="Keep printing new events until Ctrl-C.")
@JSON
@STATE_DIR
def events(
    asset_key: str | None,
    partition: str | None,
    event_type: str | None,
    since: str | None,
    limit: int | None,
    follow: bool,
    as_json: bool,
    state_dir: str,
) -> None:
    """Show the event history (of one asset partition, with --asset/--partition)."""
    from conflux.cli._reads import events as run

    sys.exit(
        run(
            asset_key=asset_key,
            partition=partition,
            event_type=event_type,
            since=since,
            limit=limit,
            follow=follow,
            as_json=as_json,
            state_dir=state_dir,
        )
    )


@cli.command()
@click.argument("asset_key", metavar="ASSET")
@click.option("--partition", help="The partition (required for a partitioned asset).")
@JSON
@STATE_DIR
def why(asset_key: str, partition: str | None, as_json: bool, state_dir: str) -> None:
    """Why ASSET (a partition) was last run, and whether automation would run it now."""
    from conflux.cli._why import why as run

    sys.exit(run(asset_key=asset_key, partition=partition, as_json=as_json, state_dir=state_dir))


@cli.command()
@click.argument("asset_key", metavar="ASSET")
@click.option("--partition", help="The partition (required for a partitioned asset).")
@click.option(
    "--upstream/--downstream",
    default=True,
    help="What it read (default), or what was built from it.",
)
@click.option("--depth", type=click.IntRange(1, 32), default=5, show_default=True)
@JSON
@STATE_DIR
def lineage(
    asset_key: str, partition: str | None, upstream: bool, depth: int, as_json: bool, state_dir: str
) -> None:
    """Lineage of the latest materialization of ASSET, from the archive."""
    from conflux.cli._lineage import lineage as run

    sys.exit(
        run(
            asset_key=asset_key,
            partition=partition,
            direction="upstream" if upstream else "downstream",
            depth=depth,
            as_json=as_json,
            state_dir=state_dir,
        )
    )


@cli.command()
@click.argument(
    "projections",
    nargs=-1,
    type=click.Choice(["coordinator", "read-model", "archive", "all"]),
)
@click.option("--from-offset", type=click.IntRange(min=0), help="Start at this offset.")
@click.option("--from-time", help="Start at the first record at or after this ISO time.")
@click.option(
    "--into",
    type=click.Path(file_okay=False),
    help="A new chdb folder to rebuild the archive into (needed for `archive`).",
)
@JSON
@STATE_DIR
def replay(
    projections: tuple[str, ...],
    from_offset: int | None,
    from_time: str | None,
    into: str | None,
    as_json: bool,
    state_dir: str,
) -> None:
    """Rebuild projections from the log (default: coordinator and read-model) and check them.

    A replay from the start is compared with the running system: exit 1 if they differ.
    """
    from conflux.cli._replay import parse_start, replay_command

    start = parse_start(from_offset, from_time)
    sys.exit(
        replay_command(
            projections=projections, start=start, into=into, as_json=as_json, state_dir=state_dir
        )
    )


@cli.command()
@JSON
@STATE_DIR
def status(as_json: bool, state_dir: str) -> None:
    """Exit 0 only when broker, coordinator, projector and every location are ready."""
    from conflux.cli._reads import status as run

    sys.exit(run(as_json=as_json, state_dir=state_dir))


@cli.command()
@_queue_options
@STATE_DIR
def coordinator(
    max_concurrent: int | None,
    pool_limits: tuple[str, ...],
    location_limits: tuple[str, ...],
    heartbeat_timeout: float | None,
    schedule_catchup: int | None,
    state_dir: str,
) -> None:
    """Run the coordinator (one part, for real deployments)."""
    from conflux.cli._parts import run_coordinator
    from conflux.coordinator import DEFAULT_MAX_CONCURRENT, QueueLimits, parse_limits

    try:
        limits = QueueLimits(
            max_concurrent=max_concurrent or DEFAULT_MAX_CONCURRENT,
            pools=parse_limits(pool_limits, "pool"),
            locations=parse_limits(location_limits, "location"),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    sys.exit(
        run_coordinator(
            state_dir=state_dir,
            limits=limits,
            heartbeat_timeout_s=heartbeat_timeout,
            max_catchup_ticks=schedule_catchup,
        )
    )


@cli.command()
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
@STATE_DIR
def worker(
    location: str,
    file: str | None,
    module: str | None,
    working_directory: str | None,
    storage_dir: str | None,
    self_reload: bool,
    state_dir: str,
) -> None:
    """Run a worker of one code location (one part, for real deployments)."""
    from conflux.cli._parts import run_worker

    sys.exit(
        run_worker(
            location=location,
            file=file,
            module=module,
            working_directory=working_directory,
            storage_dir=storage_dir,
            state_dir=state_dir,
            self_reload=self_reload,
        )
    )


_HOST = click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; beyond loopback, --token is required.",
)
_TOKEN = click.option(
    "--token",
    envvar="CONFLUX_API_TOKEN",
    default=None,
    help="Require this token of every request (env CONFLUX_API_TOKEN).",
)
_EXPECT = click.option(
    "--expect-location",
    "expected",
    multiple=True,
    help="A location that must load (or report its failure) before status is ready.",
)


@cli.command()
@click.option("--port", type=int, default=0, help="Port of the query API (0: a free one).")
@_HOST
@_TOKEN
@_EXPECT
@STATE_DIR
def projector(
    port: int, host: str, token: str | None, expected: tuple[str, ...], state_dir: str
) -> None:
    """Run the projector, its query API and the web UI (one part, for real deployments)."""
    from conflux.cli._parts import run_projector

    sys.exit(
        run_projector(port=port, expected=expected, state_dir=state_dir, host=host, token=token)
    )


@cli.command()
@click.option("--port", type=int, default=3000, show_default=True, help="Port of the UI.")
@_HOST
@_TOKEN
@_EXPECT
@STATE_DIR
def ui(port: int, host: str, token: str | None, expected: tuple[str, ...], state_dir: str) -> None:
    """Serve the web UI: a projector of its own, on the system the state dir names.

    `conflux dev` serves the UI already (it prints the address); run this in a real
    deployment, or for a second UI. Lineage needs the archive: a ClickHouse server
    (CONFLUX_CLICKHOUSE_URL), or the chdb folder when no other process holds it.
    """
    from conflux.cli._parts import run_projector

    sys.exit(
        run_projector(
            port=port,
            expected=expected,
            state_dir=state_dir,
            host=host,
            token=token,
            archive_optional=True,
            announce=True,
        )
    )


@cli.group()
def partitions() -> None:
    """Dynamic partitions: add, remove and list the keys of a DynamicPartitionsDefinition."""


_KEYS_FROM_FILE = click.option(
    "--from-file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Also read keys from this file, one per line (- reads stdin; blank lines skipped).",
)


@partitions.command("add", short_help="Add keys to dynamic partitions NAME.")
@click.argument("name")
@click.argument("keys", metavar="[KEY]...", nargs=-1)
@_KEYS_FROM_FILE
@click.option("--force", is_flag=True, help="Add even though no asset uses NAME (yet).")
@JSON
@STATE_DIR
def partitions_add(
    name: str,
    keys: tuple[str, ...],
    from_file: str | None,
    force: bool,
    as_json: bool,
    state_dir: str,
) -> None:
    """Add KEYs to the dynamic partitions NAME.

    Keys keep the order of first addition; a key already there stays where it is. A key
    may not be empty, have surrounding spaces, or contain '|' or ','. Waits until the
    keys are visible, so `conflux materialize ... --partition KEY` may follow at once.
    """
    from conflux.cli._partitions import change

    sys.exit(
        change(
            "add",
            name,
            keys=keys,
            from_file=from_file,
            force=force,
            as_json=as_json,
            state_dir=state_dir,
        )
    )


@partitions.command("remove", short_help="Remove keys from dynamic partitions NAME.")
@click.argument("name")
@click.argument("keys", metavar="[KEY]...", nargs=-1)
@_KEYS_FROM_FILE
@JSON
@STATE_DIR
def partitions_remove(
    name: str, keys: tuple[str, ...], from_file: str | None, as_json: bool, state_dir: str
) -> None:
    """Remove KEYs from the dynamic partitions NAME (a key not there is ignored).

    What was materialized for a removed key stays in the log and the archive (`conflux
    events`, `conflux lineage` still show it); status views (`conflux assets`) count and
    list only current keys, and a request for a removed key is rejected. Adding the key
    again puts it at the end of the key order, and its history counts again. A run that
    is under way keeps its plan.
    """
    from conflux.cli._partitions import change

    sys.exit(
        change(
            "remove",
            name,
            keys=keys,
            from_file=from_file,
            force=False,
            as_json=as_json,
            state_dir=state_dir,
        )
    )


@partitions.command("list", short_help="Keys of dynamic partitions NAME, or every NAME.")
@click.argument("name", required=False)
@JSON
@STATE_DIR
def partitions_list(name: str | None, as_json: bool, state_dir: str) -> None:
    """Print the keys of the dynamic partitions NAME, one per line, in order of addition.

    Without NAME: every dynamic partitions name, its key count and the assets using it.
    """
    from conflux.cli._partitions import list_partitions

    sys.exit(list_partitions(name=name, as_json=as_json, state_dir=state_dir))


def run() -> None:
    """Run the command line."""
    cli.main(prog_name="conflux")


from conflux.cli._backfill_commands import backfill  # noqa: E402 - registered last

cli.add_command(backfill)

from conflux.cli._locations import locations  # noqa: E402 - registered last

cli.add_command(locations)

from conflux.cli._instigators import schedules, sensors  # noqa: E402 - registered last

cli.add_command(schedules)
cli.add_command(sensors)

from conflux.cli._sql import sql  # noqa: E402 - registered last

cli.add_command(sql)
