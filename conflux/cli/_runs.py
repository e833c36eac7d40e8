"""`conflux runs`: runs, newest first, from the query API."""

from __future__ import annotations

import click

from conflux.cli._options import JSON, STATE_DIR


@click.command()
@click.option("--status", type=click.Choice(["queued", "started", "success", "failed", "canceled"]))
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@JSON
@STATE_DIR
def runs(status: str | None, limit: int, as_json: bool, state_dir: str) -> int:
    """List runs, newest first."""
    from conflux.cli._output import print_json, print_table, short_time
    from conflux.cli._system import find_system
    from conflux.projections.api import ApiClient

    found = ApiClient(find_system(state_dir).api_url).runs(status=status, limit=limit)
    if as_json:
        print_json(found)
        return 0
    print_table(
        ["run", "status", "assets", "partitions", "ok", "failed", "skipped", "requested"],
        [
            [
                r.run_id[:12],
                r.status,
                ",".join(r.asset_keys)[:40],
                r.partition_count,
                r.materialized,
                r.failed,
                r.skipped,
                short_time(r.requested_at),
            ]
            for r in found
        ],
    )
    return 0
