"""The `conflux backfill` command group: `backfill SELECTION ...`, `list`, `status`, `cancel`."""

from __future__ import annotations

import sys
from typing import Literal

import click

from conflux.cli._options import JSON, STATE_DIR


class _BackfillGroup(click.Group):
    """`backfill SELECTION ...` launches; `backfill list|status|cancel` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["launch", *args]
        return super().parse_args(ctx, args)


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
) -> None:
    """Backfill SELECTION over a range (--from/--to) or explicit keys (--partition)."""
    from conflux.cli._backfill import launch as run

    if missing and failed:
        raise click.UsageError("pass --missing-only or --failed-only, not both")
    if not partitions and from_key is None and to_key is None:
        raise click.UsageError("pass --from KEY --to KEY, or --partition KEY", ctx=None)
    only: Literal["all", "missing", "failed"] = (
        "missing" if missing else "failed" if failed else "all"
    )
    sys.exit(
        run(
            selection,
            partitions=partitions,
            from_key=from_key,
            to_key=to_key,
            only=only,
            wait=wait,
            as_json=as_json,
            state_dir=state_dir,
        )
    )


@backfill.command("list")
@JSON
@STATE_DIR
def list_command(as_json: bool, state_dir: str) -> None:
    """Every backfill, newest first, with its progress."""
    from conflux.cli._backfill import list_backfills

    sys.exit(list_backfills(as_json=as_json, state_dir=state_dir))


@backfill.command("status")
@click.argument("backfill_id")
@click.option("--follow", is_flag=True, help="Show a live progress bar until it ends.")
@JSON
@STATE_DIR
def status_command(backfill_id: str, follow: bool, as_json: bool, state_dir: str) -> None:
    """Done, failed, in progress and remaining partitions of BACKFILL_ID, rate and ETA."""
    from conflux.cli._backfill import status

    sys.exit(status(backfill_id, follow=follow, as_json=as_json, state_dir=state_dir))


@backfill.command("cancel")
@click.argument("backfill_id")
@JSON
@STATE_DIR
def cancel_command(backfill_id: str, as_json: bool, state_dir: str) -> None:
    """Stop dispatching BACKFILL_ID's partitions; running ones finish."""
    from conflux.cli._backfill import cancel

    sys.exit(cancel(backfill_id, as_json=as_json, state_dir=state_dir))
