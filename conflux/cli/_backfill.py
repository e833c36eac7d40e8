"""`conflux backfill`: launch, follow, list and cancel backfills.

`backfill SELECTION ...` launches (the hidden `launch` command, which `backfill --help`
documents); `backfill list|status|cancel` are subcommands. Launching emits one
`BackfillRequested` once its keys (and a range's order) are checked; cancelling one
`BackfillCanceled`. Everything else reads the query API, so `status` works from any
machine that can reach it.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Literal

import click

from conflux.cli._options import JSON, STATE_DIR
from conflux.events import ConfluxError

if TYPE_CHECKING:
    from conflux.projections.api import ApiClient, BackfillSummary

ACCEPT_TIMEOUT_S = 30.0


class BackfillFailedError(ConfluxError):
    """A backfill was rejected, or ended with failures."""


class _BackfillGroup(click.Group):
    """`backfill SELECTION ...` launches; `backfill list|status|cancel` are subcommands.

    Its help shows the launch's arguments and options with the subcommands, since
    `launch` is not a name a user types (an error in it points at `backfill --help`).
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["launch", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(
            ctx.command_path, "SELECTION (--from KEY --to KEY | --partition KEY...) [OPTIONS]"
        )
        formatter.write_usage(ctx.command_path, "COMMAND [ARGS]...", prefix="   or: ")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [("SELECTION", "Asset keys, *upstream, downstream*, group:NAME (as materialize).")]
        own_help = launch.get_help_option(ctx)
        for param in launch.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is not None and param is not own_help:
                rows.append(record)
        with formatter.section("Launch a backfill (`conflux backfill SELECTION ...`)"):
            formatter.write_dl(rows)
        super().format_options(ctx, formatter)


@click.group(cls=_BackfillGroup, invoke_without_command=False)
def backfill() -> None:
    """Backfill partitions: `conflux backfill SELECTION --from A --to B [--wait]`.

    One event starts it; the coordinator walks the partitions in chunks, in dependency
    order, within the run queue's limits. Also: `backfill list`, `backfill status ID
    [--follow]`, `backfill cancel ID` (an ID may be shortened to a unique prefix).
    """


@backfill.command("launch", hidden=True)
@click.argument("selection")
@click.option("--from", "from_key", help="First partition key of the range (with --to).")
@click.option("--to", "to_key", help="Last partition key of the range (with --from).")
@click.option("--partition", "partitions", multiple=True, help="A partition key (repeatable).")
@click.option("--missing-only", "missing", is_flag=True, help="Skip partitions already there.")
@click.option("--failed-only", "failed", is_flag=True, help="Only partitions that failed last.")
@click.option("--wait", is_flag=True, help="Show progress until it ends; exit 1 on failures.")
@JSON
@STATE_DIR
def launch(
    selection: str,
    from_key: str | None,
    to_key: str | None,
    partitions: tuple[str, ...],
    missing: bool,
    failed: bool,
    wait: bool,
    as_json: bool,
    state_dir: str,
) -> int:
    """Backfill SELECTION over a range (--from/--to) or explicit keys (--partition)."""
    # One event, once its keys are checked; then wait until the coordinator takes it, and
    # (with --wait) until it ends.
    from conflux.cli._requests import check_partitions, emit, partition_arguments, user_name
    from conflux.cli._system import find_system
    from conflux.events import BackfillRequested, new_id
    from conflux.projections.api import BACKFILL_ENDED, ApiClient

    if missing and failed:
        raise click.UsageError("pass --missing-only or --failed-only, not both")
    if not partitions and from_key is None and to_key is None:
        raise click.UsageError("pass --from KEY --to KEY, or --partition KEY", ctx=None)
    only: Literal["all", "missing", "failed"] = (
        "missing" if missing else "failed" if failed else "all"
    )
    partition_range = partition_arguments(partitions, from_key, to_key)
    info = find_system(state_dir)
    client = ApiClient(info.api_url)
    keys = client.resolve_selection(selection)
    # The first explicit key only: a backfill may name many, and the coordinator checks
    # them all when it resolves the backfill's space.
    check_partitions(client, keys, partitions[:1], partition_range)
    backfill_id = new_id()
    request = BackfillRequested(
        backfill_id=backfill_id,
        selection=selection,
        asset_keys=tuple(keys),
        partition_keys=tuple(partitions) or None,
        partition_range=partition_range,
        only=only,
        requested_by=user_name(),
        producer="cli",
        correlation_id=backfill_id,
    )
    emit(info, request)
    summary = _await(client, backfill_id, until=("running", *BACKFILL_ENDED), progress=False)
    if summary.status == "failed" and summary.reason and not summary.materialized:
        raise BackfillFailedError(f"backfill {backfill_id} rejected: {summary.reason}")
    if wait and summary.status not in BACKFILL_ENDED:
        summary = _await(client, backfill_id, until=BACKFILL_ENDED, progress=sys.stderr.isatty())
    _show(summary, as_json=as_json)
    return _exit_code(summary, waited=wait)


@backfill.command("list")
@JSON
@STATE_DIR
def list_command(as_json: bool, state_dir: str) -> int:
    """Every backfill, newest first, with its progress."""
    from conflux.cli._output import print_json
    from conflux.cli._system import find_system
    from conflux.projections.api import ApiClient

    backfills = ApiClient(find_system(state_dir).api_url).backfills()
    if as_json:
        print_json(backfills)
        return 0
    if not backfills:
        print("no backfills yet: start one with `conflux backfill SELECTION --from A --to B`")
        return 0
    for b in backfills:
        what = b.partition_range or f"{b.partition_keys} key(s)"
        print(f"{b.backfill_id}  {b.status:<9}  {_counts(b)}  {b.selection} {what}")
    return 0


@backfill.command("status")
@click.argument("backfill_id")
@click.option("--follow", is_flag=True, help="Show a live progress bar until it ends.")
@JSON
@STATE_DIR
def status_command(backfill_id: str, follow: bool, as_json: bool, state_dir: str) -> int:
    """Done, failed, in progress and remaining partitions of BACKFILL_ID, rate and ETA."""
    from conflux.cli._system import find_system
    from conflux.projections.api import BACKFILL_ENDED, ApiClient

    client = ApiClient(find_system(state_dir).api_url)
    summary = client.backfill(_full_id(client, backfill_id))
    if follow and summary.status not in BACKFILL_ENDED:
        summary = _await(
            client, summary.backfill_id, until=BACKFILL_ENDED, progress=sys.stderr.isatty()
        )
    _show(summary, as_json=as_json)
    return _exit_code(summary, waited=follow)


@backfill.command("cancel")
@click.argument("backfill_id")
@JSON
@STATE_DIR
def cancel_command(backfill_id: str, as_json: bool, state_dir: str) -> int:
    """Stop dispatching BACKFILL_ID's partitions; running ones finish."""
    from conflux.cli._output import print_json
    from conflux.cli._requests import emit, user_name
    from conflux.cli._system import find_system
    from conflux.events import BackfillCanceled
    from conflux.projections.api import BACKFILL_ENDED, ApiClient

    info = find_system(state_dir)
    client = ApiClient(info.api_url)
    summary = client.backfill(_full_id(client, backfill_id))
    if summary.status in BACKFILL_ENDED:
        raise ConfluxError(f"backfill {summary.backfill_id} already ended ({summary.status})")
    emit(
        info,
        BackfillCanceled(
            backfill_id=summary.backfill_id,
            requested_by=user_name(),
            producer="cli",
            correlation_id=summary.backfill_id,
        ),
    )
    summary = _await(
        client, summary.backfill_id, until=("canceling", *BACKFILL_ENDED), progress=False
    )
    if as_json:
        print_json(summary)
    else:
        print(
            f"backfill {summary.backfill_id} {summary.status}: {summary.in_progress} running "
            "partition(s) finish, nothing new is dispatched"
        )
    return 0


# -- helpers --------------------------------------------------------------------------------


def _full_id(client: ApiClient, backfill_id: str) -> str:
    """Accept a unique prefix of a backfill id, as git does."""
    matches = [b.backfill_id for b in client.backfills() if b.backfill_id.startswith(backfill_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfluxError(f"no backfill {backfill_id!r}: list them with `conflux backfill list`")
    raise ConfluxError(f"{backfill_id!r} matches {len(matches)} backfills: give more characters")


def _await(
    client: ApiClient, backfill_id: str, *, until: tuple[str, ...], progress: bool
) -> BackfillSummary:
    deadline = time.monotonic() + ACCEPT_TIMEOUT_S if "running" in until else None
    shown = ""
    while True:
        try:
            summary: BackfillSummary | None = client.backfill(backfill_id)
        except ConfluxError as exc:
            if type(exc).__name__ == "ApiUnavailableError":
                raise
            summary = None
        if summary is not None and summary.status in until:
            if progress and shown:
                sys.stderr.write("\n")
            return summary
        if progress and summary is not None:
            line = "\r" + _bar(summary)
            if line != shown:
                sys.stderr.write(line.ljust(len(shown)))
                sys.stderr.flush()
                shown = line
        if deadline is not None and time.monotonic() > deadline:
            raise BackfillFailedError(
                f"backfill {backfill_id} was not picked up within {ACCEPT_TIMEOUT_S:.0f} s: "
                "is the coordinator running? (`conflux status`)"
            )
        time.sleep(0.2 if progress else 0.05)


def _bar(b: BackfillSummary, width: int = 24) -> str:
    done = b.materialized + b.failed + b.skipped
    total = b.total or 0
    fraction = min(1.0, done / total) if total else 0.0
    filled = int(fraction * width)
    bar = "#" * filled + "-" * (width - filled)
    return f"backfill {b.backfill_id[:8]} [{bar}] {fraction:4.0%} {_counts(b)}"


def _counts(b: BackfillSummary) -> str:
    total = f"/{b.total}" if b.total is not None else ""
    text = f"{b.materialized}{total} materialized, {b.failed} failed, {b.in_progress} running"
    if b.skipped:
        text += f", {b.skipped} skipped"
    if b.rate_per_s:
        text += f", {b.rate_per_s:g}/s"
    if b.eta_s is not None:
        text += f", ETA {_duration(b.eta_s)}"
    return text


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


def _show(summary: BackfillSummary, *, as_json: bool) -> None:
    from conflux.cli._output import print_json

    if as_json:
        print_json(summary)
        return
    if summary.status == "failed" and summary.reason:
        print(f"backfill {summary.backfill_id} failed: {summary.reason}")
        return
    print(f"backfill {summary.backfill_id} {summary.status}: {_counts(summary)}")


def _exit_code(summary: BackfillSummary, *, waited: bool) -> int:
    if summary.status == "failed" and (waited or summary.reason):
        return 1
    if waited and summary.status == "canceled":
        return 1
    return 0
