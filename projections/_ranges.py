"""Range summaries of partition status: run-length encoding over the definition's order.

`conflux assets ASSET --partitions` must stay a few lines at a million partitions
(`2020-01-01..2024-12-31 materialized`), so status is summarized as maximal runs of
consecutive keys that share one status, never listed key by key.
"""

from __future__ import annotations

from itertools import groupby, islice
from typing import TYPE_CHECKING, cast

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
    if not keys:
        return PartitionRanges(asset_key=asset_key, total=0, counts={}, ranges=[])
    # One status per key, then runs of equal statuses: a list comprehension and groupby
    # keep the per-key work in C (a million keys: ~0.1 s, against ~2 s key by key).
    plain = (
        {k: _status(states, k) for k in states if k is not None}
        if _has_states(states)
        else cast("Mapping[str | None, RangeStatus]", states)
    )
    get = plain.get
    statuses: list[RangeStatus] = [get(key, "missing") for key in keys]
    ranges: list[PartitionRange] = []
    counts: dict[str, int] = {}
    at = 0
    for status, run in groupby(statuses):
        n = len(list(run))
        ranges.append(PartitionRange(first=keys[at], last=keys[at + n - 1], status=status, count=n))
        counts[status] = counts.get(status, 0) + n
        at += n
    return PartitionRanges(asset_key=asset_key, total=len(keys), counts=counts, ranges=ranges)


def _has_states(states: States) -> bool:
    """Whether `states` holds `PartitionState`s (else it maps keys to statuses already)."""
    return any(not isinstance(v, str) for v in islice(states.values(), 1))


def _status(states: States, key: str | None) -> RangeStatus:
    state = states.get(key)
    if state is None:
        return "missing"
    if isinstance(state, str):
        return state
    return state.status or "missing"
