"""`conflux backfill`: launch, follow, list and cancel backfills.

Launching emits one `BackfillRequested`; cancelling one `BackfillCanceled`. Everything
else reads the query API, so `status` works from any machine that can reach it.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Literal

from conflux.cli._output import print_json
from conflux.cli._requests import _emit, _user, partition_arguments
from conflux.cli._system import find_system
from conflux.events import (
    BackfillCanceled,
    BackfillRequested,
    ConfluxError,
    new_id,
)
from conflux.projections.api import BACKFILL_ENDED
from conflux.projections.projector import check_partition_keys

if TYPE_CHECKING:
    from conflux.projections.api import ApiClient, BackfillSummary

ACCEPT_TIMEOUT_S = 30.0


class BackfillFailedError(ConfluxError):
    """A backfill was rejected, or ended with failures."""


def launch(
    selection: str,
    *,
    partitions: tuple[str, ...],
    from_key: str | None,
    to_key: str | None,
    only: Literal["all", "missing", "failed"],
    wait: bool,
    as_json: bool,
    state_dir: str,
) -> int:
    """Emit a backfill, wait until the coordinator takes it, and (with `wait`) until it ends."""
    from conflux.projections.api import ApiClient

    partition_range = partition_arguments(partitions, from_key, to_key)
    info = find_system(state_dir)
    client = ApiClient(info.api_url)
    keys = client.resolve_selection(selection)
    ends = [k for k in (from_key, to_key, *partitions[:1]) if k]
    check_partition_keys(keys, ends, client.validate_partition)
    backfill_id = new_id()
    request = BackfillRequested(
        backfill_id=backfill_id,
        selection=selection,
        asset_keys=tuple(keys),
        partition_keys=tuple(partitions) or None,
        partition_range=partition_range,
        only=only,
        requested_by=_user(),
        producer="cli",
        correlation_id=backfill_id,
    )
    _emit(info, request)
    summary = _await(client, backfill_id, until=("running", *BACKFILL_ENDED), progress=False)
    if summary.status == "failed" and summary.reason and not summary.materialized:
        raise BackfillFailedError(f"backfill {backfill_id} rejected: {summary.reason}")
    if wait and summary.status not in BACKFILL_ENDED:
        summary = _await(client, backfill_id, until=BACKFILL_ENDED, progress=sys.stderr.isatty())
    _show(summary, as_json=as_json)
    return _exit_code(summary, waited=wait)


def status(backfill_id: str, *, follow: bool, as_json: bool, state_dir: str) -> int:
    """Show one backfill; with `follow`, a live progress bar until it ends."""
    from conflux.projections.api import ApiClient

    client = ApiClient(find_system(state_dir).api_url)
    summary = client.backfill(_full_id(client, backfill_id))
    if follow and summary.status not in BACKFILL_ENDED:
        summary = _await(
            client, summary.backfill_id, until=BACKFILL_ENDED, progress=sys.stderr.isatty()
        )
    _show(summary, as_json=as_json)
    return _exit_code(summary, waited=follow)


def list_backfills(*, as_json: bool, state_dir: str) -> int:
    """Every backfill, newest first."""
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


def cancel(backfill_id: str, *, as_json: bool, state_dir: str) -> int:
    """Emit a cancellation; running partitions finish, nothing new is dispatched."""
    from conflux.projections.api import ApiClient

    info = find_system(state_dir)
    client = ApiClient(info.api_url)
    summary = client.backfill(_full_id(client, backfill_id))
    if summary.status in BACKFILL_ENDED:
        raise ConfluxError(f"backfill {summary.backfill_id} already ended ({summary.status})")
    _emit(
        info,
        BackfillCanceled(
            backfill_id=summary.backfill_id,
            requested_by=_user(),
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
