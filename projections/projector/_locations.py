"""Code locations as `conflux locations list` shows them, from folds the read model keeps.

A location's summary joins two folds: the definitions projection (its last snapshot or
its load failure: status, interpreter, snapshot id, code versions) and the components
projection (the heartbeats of its live workers). Nothing here is stored: each answer is
computed under the read model's lock, so it is as fresh as the log the projector read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conflux.projections.api import LocationError, LocationSummary, LocationWorker
from conflux.projections.folds import is_alive

if TYPE_CHECKING:
    from collections.abc import Iterable

    from conflux.projections.projector._read_model import ReadModel


def location_summaries(
    model: ReadModel, expected: Iterable[str] = (), now: datetime | None = None
) -> list[LocationSummary]:
    """Every location the log or the projector's expectations name, sorted by name.

    A location appears once it published, failed, is expected (`--expect-location`), or
    one of its workers beat; the caller need not hold the model's lock.
    """
    now = now or datetime.now(UTC)
    with model.lock:
        workers: dict[str, list[LocationWorker]] = {}
        for hb in model.components.heartbeats.values():
            if hb.component != "worker" or hb.location is None or not is_alive(hb, now):
                continue
            workers.setdefault(hb.location, []).append(
                LocationWorker(
                    instance_id=hb.instance_id,
                    ready=hb.ready,
                    work_item_id=hb.work_item_id,
                    last_seen=hb.time,
                    age_s=round((now - hb.time).total_seconds(), 3),
                )
            )
        names = set(model.definitions.locations) | set(expected) | set(workers)
        return [
            _summary(model, name, sorted(workers.get(name, []), key=lambda w: w.instance_id))
            for name in sorted(names)
        ]


def _summary(model: ReadModel, name: str, workers: list[LocationWorker]) -> LocationSummary:
    state = model.definitions.locations.get(name)
    if state is None:
        return LocationSummary(
            name=name,
            status="waiting",
            updated=None,
            python_version=None,
            executable=None,
            snapshot_id=None,
            asset_count=0,
            code_versions={},
            workers_alive=len(workers),
            workers=workers,
            last_error=None,
        )
    snap = state.snapshot
    error = state.error if state.status == "failed" else None
    return LocationSummary(
        name=name,
        status=state.status,
        updated=state.updated,
        python_version=(snap.python_version or None) if snap else None,
        executable=(snap.executable or None) if snap else None,
        snapshot_id=state.snapshot_id,
        asset_count=len(snap.assets) if snap else 0,
        code_versions={a.key: a.code_version for a in snap.assets if a.code_version}
        if snap
        else {},
        workers_alive=len(workers),
        workers=workers,
        last_error=LocationError(
            error_type=error.error_type,
            message=error.message,
            traceback=error.traceback,
            time=error.time,
            worker=error.producer,
        )
        if error is not None
        else None,
    )


def close_location_names(name: str, known: Iterable[str]) -> list[str]:
    """Known names that look like `name` (for "did you mean"), best first."""
    import difflib

    return difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.5)
