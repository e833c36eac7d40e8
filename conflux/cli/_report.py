"""`conflux report`: record a materialization that happened outside Conflux."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from conflux.cli._options import JSON, STATE_DIR
from conflux.events import ConfluxError

if TYPE_CHECKING:
    from pydantic import JsonValue


@click.command()
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
) -> int:
    """Record a materialization of ASSET_KEY that happened outside Conflux."""
    # One `AssetMaterialized` with source `reported`, once the asset and key are checked.
    from conflux.cli._output import print_json
    from conflux.cli._requests import emit, user_name
    from conflux.cli._system import find_system
    from conflux.events import AssetMaterialized, new_id
    from conflux.projections.api import ApiTransport

    info = find_system(state_dir)
    ApiTransport(info.api_url).validate_partition(asset_key, partition)
    event = AssetMaterialized(
        asset_key=asset_key,
        partition_key=partition,
        data_version=data_version or new_id()[:16],
        source="reported",
        metadata=_parse_metadata(metadata),
        producer=f"cli:{user_name()}",
    )
    emit(info, event)
    if as_json:
        print_json(
            {
                "event_id": event.event_id,
                "asset_key": asset_key,
                "partition_key": partition,
                "data_version": event.data_version,
                "time": event.time.isoformat(),
            }
        )
    else:
        where = f" partition {partition}" if partition is not None else ""
        print(
            f"reported {asset_key}{where}: data version {event.data_version} "
            f"(event {event.event_id})"
        )
    return 0


def _parse_metadata(items: tuple[str, ...]) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfluxError(f"--metadata {item!r} is not K=V: write e.g. --metadata rows=120")
        out[key] = value
    return out
