"""`conflux logs RUN_ID`: what a run's attempts wrote (`context.log`, stdout, stderr).

Each attempt's lines in order, under a header naming the asset, partition and attempt, so
a retried partition shows its failed attempt's lines, then the next one's. `--follow`
prints lines as they are archived and ends once the run has ended and its last lines are
in. `--json`: one document (`RunLogs`), or with `--follow` one JSON line per log line.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from conflux.cli._options import JSON, STATE_DIR

if TYPE_CHECKING:
    from conflux.projections.api import RunLogs

FOLLOW_INTERVAL_S = 0.3
ENDED = ("success", "failed", "canceled")


@click.command()
@click.argument("run_id")
@click.option("--asset", "asset_key", help="Only the lines of this asset's attempts.")
@click.option("--partition", help="Only the lines of this partition's attempts.")
@click.option("--follow", is_flag=True, help="Print lines as they come, until the run ends.")
@JSON
@STATE_DIR
def logs(
    run_id: str,
    asset_key: str | None,
    partition: str | None,
    follow: bool,
    as_json: bool,
    state_dir: str,
) -> int:
    """Show what a run's attempts wrote with context.log, on stdout and on stderr."""
    from conflux.cli._output import print_json
    from conflux.cli._system import find_system
    from conflux.projections.api import ApiClient, NotFoundError

    client = ApiClient(find_system(state_dir).api_url, timeout=30.0)
    found = client.run_logs(run_id, asset_key=asset_key, partition_key=partition)
    if not follow and found.run_status is None and not found.lines:
        raise NotFoundError(f"no run {run_id!r}: list runs with `conflux runs`")
    if as_json and not follow:
        print_json(found)
        return 0
    printer = _Printer(as_json)
    printer.show(found)
    while follow:
        ended = found.run_status in ENDED
        time.sleep(FOLLOW_INTERVAL_S)
        found = client.run_logs(
            run_id, asset_key=asset_key, partition_key=partition, after=found.cursor
        )
        printer.show(found)
        if ended and not found.lines:
            break
    return 0


class _Printer:
    """Prints lines once each (a follower may see a line again after a projector restart)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.seen: set[tuple[str, int, int]] = set()
        self.attempt: tuple[str, int] | None = None
        self.dropped: dict[tuple[str, int], int] = {}

    def show(self, found: RunLogs) -> None:
        import json

        from conflux.cli._output import one_line

        out = sys.stdout
        for line in found.lines:
            key = (line.work_item_id, line.attempt, line.seq)
            if key in self.seen:
                continue
            self.seen.add(key)
            if self.as_json:
                out.write(json.dumps(line.model_dump(mode="json")) + "\n")
                continue
            if self.attempt != (line.work_item_id, line.attempt):
                self.attempt = (line.work_item_id, line.attempt)
                where = one_line(line.asset_key)
                if line.partition_key is not None:
                    where += f"[{one_line(line.partition_key)}]"
                out.write(f"== {where} attempt {line.attempt}\n")
            at = line.time.strftime("%H:%M:%S.%f")[:12] if line.time else "-"
            what = line.level if line.stream == "log" else line.stream
            out.write(f"{at}  {what:<7} {line.message}\n")
        for drop in found.dropped:
            key2 = (drop.work_item_id, drop.attempt)
            if self.as_json or self.dropped.get(key2) == drop.dropped:
                continue
            self.dropped[key2] = drop.dropped
            where = drop.asset_key + (f"[{drop.partition_key}]" if drop.partition_key else "")
            sys.stderr.write(
                f"conflux: {where} attempt {drop.attempt}: {drop.dropped} more line(s) were"
                " counted, not kept (the worker's --max-log-lines)\n"
            )
        out.flush()
