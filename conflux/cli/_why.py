"""`conflux why`: what asked for an asset partition's latest run, and what automation thinks."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from conflux.cli._options import JSON, STATE_DIR
from conflux.cli._output import short_time

if TYPE_CHECKING:
    from conflux.events import ConditionResult
    from conflux.projections.api import WhyReport


@click.command()
@click.argument("asset_key", metavar="ASSET")
@click.option("--partition", help="The partition (required for a partitioned asset).")
@JSON
@STATE_DIR
def why(asset_key: str, partition: str | None, as_json: bool, state_dir: str) -> int:
    """Why ASSET (a partition) was last run, and whether automation would run it now."""
    from conflux.cli._output import print_json
    from conflux.cli._system import find_system
    from conflux.projections.api import ApiClient

    report = ApiClient(find_system(state_dir).api_url, timeout=10.0).why(asset_key, partition)
    if as_json:
        print_json(report)
    else:
        sys.stdout.write("".join(line + "\n" for line in render(report)))
    return 0


def render(report: WhyReport) -> list[str]:
    """The report for people: materialization, the run's cause, the condition now."""
    name = report.asset_key + (f"[{report.partition_key}]" if report.partition_key else "")
    lines = [name]
    mat = report.materialization
    if mat is None:
        lines.append("  materialized: never")
    else:
        run = f" by run {mat.run_id}" if mat.run_id else ""
        lines.append(
            f"  materialized: {short_time(mat.time)}{run} ({mat.source}, version "
            f"{mat.data_version})"
        )
    cause = report.last_run
    if cause is None:
        lines.append("  last run: none has covered it")
    else:
        lines.append(
            f"  last run: {cause.run_id} {cause.status or 'unknown'}, requested "
            f"{short_time(cause.requested_at)}"
        )
        lines.append(f"    because {cause.explanation}")
        if cause.evaluation is not None:
            lines.extend(_tree(cause.evaluation, 3))
    if report.automation_condition is None:
        lines.append("  automation: none (materialized only when something asks for it)")
    elif report.evaluation_now is not None:
        verdict = "would request it" if report.evaluation_now.value else "would not request it"
        lines.append(
            f"  automation: {report.automation_condition}: {verdict} now "
            f"({short_time(report.evaluated_at)})"
        )
        lines.extend(_tree(report.evaluation_now, 2))
    return lines


def _tree(result: ConditionResult, indent: int) -> list[str]:
    mark = "✓" if result.value else "✗"
    detail = f"  {result.detail}" if result.detail else ""
    lines = [f"{'  ' * indent}{mark} {result.condition}{detail}"]
    for child in result.children:
        lines.extend(_tree(child, indent + 1))
    return lines
