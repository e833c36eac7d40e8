"""`conflux runs | assets | events | status`: answers from the projector's query API."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING

from conflux.cli._output import print_json, print_table, short_time
from conflux.cli._system import find_system
from conflux.events import ApiUnavailableError, BrokerUnavailableError, ConfluxError, StateDirError

if TYPE_CHECKING:
    from conflux.projections.api import AssetSummary, EventRecord


def runs(*, status: str | None, limit: int, as_json: bool, state_dir: str) -> int:
    """List runs, newest first."""
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


def assets(*, key: str | None, partitions: bool, as_json: bool, state_dir: str) -> int:
    """List assets with partition counts and last materialization (or one asset's ranges)."""
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


def events(
    *,
    asset_key: str | None,
    partition: str | None,
    event_type: str | None,
    since: str | None,
    limit: int | None,
    follow: bool,
    as_json: bool,
    state_dir: str,
) -> int:
    """Print matching events; with `follow`, keep printing new ones until interrupted."""
    from conflux.projections.api import ApiClient

    if partition is not None and asset_key is None:
        raise ConfluxError("--partition needs --asset: pass the asset the partition belongs to")
    client = ApiClient(find_system(state_dir).api_url)
    found = client.events(
        asset=asset_key,
        partition=partition,
        type=event_type,
        since=_parse_since(since),
        limit=limit,
    )
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
    while follow:
        time.sleep(0.2)
        more = client.events(asset=asset_key, partition=partition, type=event_type, after=after)
        if more:
            after = _print_events(more, as_json)
    return 0


def _print_events(found: list[EventRecord], as_json: bool) -> int | None:
    import json

    last: int | None = max((r.seq for r in found), default=None)
    for r in found:
        if as_json:
            sys.stdout.write(json.dumps(r.model_dump(mode="json")) + "\n")
            continue
        where = r.asset_key or ""
        if r.partition_key is not None:
            where += f"[{r.partition_key}]"
        run = f" run={r.run_id[:8]}" if r.run_id else ""
        sys.stdout.write(f"{short_time(r.time)}  {r.type:<24} {where}{run}\n")
    sys.stdout.flush()
    return last


def status(*, as_json: bool, state_dir: str) -> int:
    """Exit 0 only when everything is ready; name what is not."""
    from conflux.projections.api import ApiClient

    try:
        info = find_system(state_dir)
        report = ApiClient(info.api_url, timeout=3.0).status()
    except (StateDirError, ApiUnavailableError, BrokerUnavailableError) as exc:
        if as_json:
            print_json({"ready": False, "not_ready": [str(exc)]})
            return 1
        raise
    if as_json:
        print_json(report)
    else:
        print("ready" if report.ready else "not ready: " + "; ".join(report.not_ready))
        for location in report.locations:
            if location.status == "failed":
                # A broken location does not hold the others up (status may still be
                # ready), but it is never silent.
                print(f"location {location.name} failed to load: {location.error}")
    return 0 if report.ready else 1
