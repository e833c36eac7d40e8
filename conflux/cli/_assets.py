"""`conflux assets`: assets with their partition counts and last materialization."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from conflux.cli._options import JSON, STATE_DIR
from conflux.cli._output import print_table, short_time

if TYPE_CHECKING:
    from conflux.projections.api import AssetSummary


@click.command()
@click.argument("key", metavar="[ASSET]", required=False)
@click.option(
    "--partitions", is_flag=True, help="ASSET's partition status as ranges (any number of keys)."
)
@JSON
@STATE_DIR
def assets(key: str | None, partitions: bool, as_json: bool, state_dir: str) -> int:
    """List assets with their partition counts and last materialization."""
    from conflux.cli._output import print_json
    from conflux.cli._system import find_system
    from conflux.events import ConfluxError
    from conflux.projections.api import ApiClient

    client = ApiClient(find_system(state_dir).api_url)
    if partitions:
        if key is None:
            raise ConfluxError(
                "--partitions needs an ASSET: e.g. `conflux assets daily --partitions`"
            )
        ranges = client.partition_ranges(key)
        if as_json:
            print_json(ranges)
            return 0
        counts = ", ".join(f"{n:,} {status}" for status, n in ranges.counts.items())
        sys.stdout.write(f"{key}: {ranges.total:,} partitions ({counts})\n")
        print_table(
            ["from", "to", "status", "partitions"],
            [[r.first, r.last, r.status, f"{r.count:,}"] for r in ranges.ranges],
        )
        return 0
    found = [client.asset(key)] if key is not None else client.assets()
    if as_json:
        print_json(found)
        return 0
    rows = []
    for a in found:
        last = a.last_materialization
        rows.append(
            [
                a.key,
                a.location or "-",
                a.group_name or "-",
                f"{a.partitions.materialized}/{a.partitions.total}",
                a.partitions.failed,
                a.partitions.in_progress,
                short_time(last.time) if last else "never",
                last.data_version if last else None,
                _checks_cell(a),
            ]
        )
    headers = ["asset", "location", "group", "materialized", "failed", "running", "last"]
    print_table([*headers, "version", "checks"], rows)
    if key is not None:
        _print_checks(found[0])
    return 0


def _checks_cell(asset: AssetSummary) -> str | None:
    """`2 passed, 1 failed` over the asset's checks' newest results (None: no checks)."""
    if not asset.checks:
        return None
    passed = sum(c.status == "passed" for c in asset.checks)
    failed = sum(c.status in ("failed", "warning") for c in asset.checks)
    cell = f"{passed} passed"
    if failed:
        cell += f", {failed} failed"
    waiting = len(asset.checks) - passed - failed
    return cell + (f", {waiting} not run" if waiting else "")


def _print_checks(asset: AssetSummary) -> None:
    """One line per check of one asset: its newest result, and partition counts."""
    if not asset.checks:
        return
    rows = []
    for c in asset.checks:
        last = c.last_result
        detail = None
        if last is not None:
            detail = (
                f"{last.error_type}: {last.message}"
                if last.error_type
                else ", ".join(f"{k}={v}" for k, v in last.metadata.items()) or None
            )
        rows.append(
            [
                c.name,
                "yes" if c.blocking else "no",
                c.status,
                f"{c.passed} passed, {c.failed} failed" if asset.partitioned else None,
                (last.partition_key or "-") if last is not None and asset.partitioned else None,
                short_time(last.time) if last is not None else "never",
                (detail or "")[:60] or None,
            ]
        )
    sys.stdout.write("\n")
    print_table(["check", "blocking", "status", "partitions", "partition", "last", "detail"], rows)
