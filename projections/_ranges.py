"""Range summaries of partition status: run-length encoding over the definition's order.

`conflux assets ASSET --partitions` must stay a few lines at a million partitions
(`2020-01-01..2024-12-31 materialized`), so status is summarized as maximal runs of
consecutive keys that share one status, never listed key by key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux.projections._api_models import PartitionRange, PartitionRanges, RangeStatus

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from conflux.projections._asset_state import PartitionState, PartitionStatus

    States = Mapping[str | None, PartitionState] | Mapping[str | None, PartitionStatus]


def summarize(asset_key: str, keys: Sequence[str], states: States) -> PartitionRanges:
    """Ranges of `keys` (in order) by the status `states` gives them (missing if none).

    `states` maps keys to their `PartitionState`, or straight to their status (as
    `AssetPartitions.statuses()` gives it, without building a state per partition).

    Keys known only from events (not in `keys`, e.g. from an older definition) are left
    out: the summary describes the partition space as defined now.
    """
    ranges: list[PartitionRange] = []
    counts: dict[str, int] = {}
    if not keys:
        return PartitionRanges(asset_key=asset_key, total=0, counts={}, ranges=[])
    first = keys[0]
    current: RangeStatus = _status(states, first)
    run = 0
    previous = first
    for key in keys:
        status = _status(states, key) if states else "missing"
        if status != current:
            ranges.append(PartitionRange(first=first, last=previous, status=current, count=run))
            counts[current] = counts.get(current, 0) + run
            first, current, run = key, status, 0
        run += 1
        previous = key
    ranges.append(PartitionRange(first=first, last=previous, status=current, count=run))
    counts[current] = counts.get(current, 0) + run
    return PartitionRanges(asset_key=asset_key, total=len(keys), counts=counts, ranges=ranges)


def _status(states: States, key: str) -> RangeStatus:
    state = states.get(key)
    if state is None:
        return "missing"
    if isinstance(state, str):
        return state
    return state.status or "missing"
