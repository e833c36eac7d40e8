"""`conflux lineage`: what a materialization read, transitively, or what was built from it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from conflux.cli._options import JSON, STATE_DIR
from conflux.cli._output import short_time

if TYPE_CHECKING:
    from conflux.projections.api import LineageAnswer, LineageLink


@click.command()
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
) -> int:
    """Lineage of the latest materialization of ASSET, from the archive."""
    from conflux.cli._output import print_json
    from conflux.cli._system import find_system
    from conflux.projections.api import ApiClient

    client = ApiClient(find_system(state_dir).api_url, timeout=10.0)
    direction = "upstream" if upstream else "downstream"
    answer = client.lineage(asset_key, partition, direction=direction, depth=depth)
    if as_json:
        print_json(answer)
    else:
        sys.stdout.write("".join(line + "\n" for line in render(answer)))
    return 0


def _name(asset: str, partition: str | None) -> str:
    return asset + (f"[{partition}]" if partition is not None else "")


def render(answer: LineageAnswer) -> list[str]:
    """The answer as an indented tree; a node reached twice is expanded once."""
    root = answer.root
    lines = [
        f"{_name(root.asset_key, root.partition_key)}  version {root.data_version}"
        f"  {short_time(root.time)}  {root.source}  event {root.event_id[:12]}"
    ]
    upstream = answer.direction == "upstream"
    children: dict[str, list[LineageLink]] = {}
    for link in answer.links:
        parent = link.downstream_event_id if upstream else (link.upstream_event_id or "")
        children.setdefault(parent, []).append(link)
    arrow = "<-" if upstream else "->"
    expanded: set[str] = set()

    def walk(event_id: str, indent: int) -> None:
        if event_id in expanded:
            return
        expanded.add(event_id)
        for link in children.get(event_id, []):
            if upstream:
                name = _name(link.upstream_asset, link.upstream_partition)
                version, child = link.upstream_data_version, link.upstream_event_id
                detail = f"version {version}" if version else "never materialized when read"
            else:
                name = _name(link.downstream_asset, link.downstream_partition)
                version, child = link.downstream_data_version, link.downstream_event_id
                detail = f"version {version}  {short_time(link.time)}"
            ident = f"  event {child[:12]}" if child else ""
            lines.append(f"{'   ' * indent}{arrow} {name}  {detail}{ident}")
            if child:
                walk(child, indent + 1)

    walk(root.event_id, 1)
    if len(lines) == 1:
        lines.append(f"   ({'reads nothing' if upstream else 'nothing was built from it'})")
    return lines
