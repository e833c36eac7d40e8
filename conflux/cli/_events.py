"""`conflux events`: the event history, one line per event (or JSON), optionally followed.

The options build one `EventQuery`, which travels as it is to the query API and the read
model's event log. A key is matched as written, also when empty (`--partition ''` matches
nothing, and the command then says why, as for any key that is not the asset's). A key
holding a line break or another control character is printed escaped, so that each event
stays one line.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING

import click

from conflux.cli._options import JSON, STATE_DIR
from conflux.cli._output import one_line, short_time
from conflux.events import ConfluxError

if TYPE_CHECKING:
    from conflux.projections.api import EventRecord

FOLLOW_INTERVAL_S = 0.2


@click.command()
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
) -> int:
    """Show the event history (of one asset partition, with --asset/--partition)."""
    from conflux.cli._output import print_json
    from conflux.cli._system import find_system
    from conflux.projections.api import ApiClient, EventQuery

    if partition is not None and asset_key is None:
        raise ConfluxError("--partition needs --asset: pass the asset the partition belongs to")
    query = EventQuery(
        asset=asset_key,
        partition=partition,
        type=event_type,
        since=_parse_since(since),
        limit=limit,
    )
    client = ApiClient(find_system(state_dir).api_url)
    found = client.events(query)
    if not found and asset_key is not None and not follow:
        # Nothing matched: a typo in the asset or the key gets its one-line reason, not
        # silence (a defined asset, or a valid key, with no events yet stays empty).
        if partition is None:
            client.asset(asset_key)
        else:
            client.validate_partition(asset_key, partition)
    if as_json and not follow:
        print_json(found)
        return 0
    after = _print_events(found, as_json)
    following = query.model_copy(update={"since": None, "limit": None})
    while follow:
        time.sleep(FOLLOW_INTERVAL_S)
        more = client.events(following.model_copy(update={"after": after}))
        if more:
            after = _print_events(more, as_json)
    return 0


def _parse_since(since: str | None) -> datetime | None:
    if since is None:
        return None
    try:
        parsed = datetime.fromisoformat(since)
    except ValueError:
        raise ConfluxError(
            f"--since {since!r} is not an ISO time: write e.g. 2024-01-31T12:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()
    return parsed


def _print_events(found: list[EventRecord], as_json: bool) -> int | None:
    import json

    last: int | None = max((r.seq for r in found), default=None)
    for r in found:
        if as_json:
            sys.stdout.write(json.dumps(r.model_dump(mode="json")) + "\n")
            continue
        where = one_line(r.asset_key or "")
        if r.partition_key is not None:
            where += f"[{one_line(r.partition_key)}]"
        run = f" run={r.run_id[:8]}" if r.run_id else ""
        lines = r.event.get("log_lines")
        logged = f" logs={lines}" if isinstance(lines, int) and lines else ""
        sys.stdout.write(f"{short_time(r.time)}  {r.type:<24} {where}{run}{logged}\n")
    if not as_json:
        _hint_logs(found)
    sys.stdout.flush()
    return last


def _hint_logs(found: list[EventRecord]) -> None:
    """Point at `conflux logs` for the latest run whose attempts wrote lines (on stderr)."""
    logged = [r.run_id for r in found if r.run_id and r.event.get("log_lines")]
    if logged:
        sys.stderr.write(f"what its attempts wrote: conflux logs {logged[-1]}\n")
