"""Range summaries of partition status: run-length encoding over the definition's order.

`conflux assets ASSET --partitions` must stay a few lines at a million partitions
(`2020-01-01..2024-12-31 materialized`), so status is summarized as maximal runs of
consecutive keys that share one status, never listed key by key.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import groupby, islice
from typing import TYPE_CHECKING, cast

from conflux.projections.api import PartitionRange, PartitionRanges, RangeStatus

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from conflux.projections.folds import PartitionState

    States = Mapping[str | None, PartitionState] | Mapping[str | None, RangeStatus]


def summarize(
    asset_key: str, keys: Sequence[str], states: States, *, keys_sorted: bool = False
) -> PartitionRanges:
    """Ranges of `keys` (in order) by the status `states` gives them (missing if none).

    `states` maps keys to their `PartitionState`, or straight to their status (as
    `AssetPartitions.statuses()` gives it, without building a state per partition).
    `keys_sorted` says that the definition's order is also the keys' string order (true
    of most time windows): then few states among many keys are placed by bisection
    instead of a pass over every key.

    Keys known only from events (not in `keys`, e.g. from an older definition) are left
    out: the summary describes the partition space as defined now.
    """
    if not keys:
        return PartitionRanges(asset_key=asset_key, total=0, counts={}, ranges=[])
    plain: Mapping[str | None, RangeStatus] = (
        {k: _status(states, k) for k in states if k is not None}
        if _has_states(states)
        else cast("Mapping[str | None, RangeStatus]", states)
    )
    if keys_sorted and len(plain) * SPARSE < len(keys):
        runs = _sparse_runs(keys, plain)
    else:
        runs = _dense_runs(keys, plain)
    ranges: list[PartitionRange] = []
    counts: dict[str, int] = {}
    for start, end, status in runs:
        n = end - start + 1
        ranges.append(PartitionRange(first=keys[start], last=keys[end], status=status, count=n))
        counts[status] = counts.get(status, 0) + n
    return PartitionRanges(asset_key=asset_key, total=len(keys), counts=counts, ranges=ranges)


SPARSE = 8
"""Bisect when fewer than 1 key in this many has a state (and the keys are sorted)."""


def _dense_runs(
    keys: Sequence[str], plain: Mapping[str | None, RangeStatus]
) -> list[tuple[int, int, RangeStatus]]:
    """(first index, last index, status) runs, from one status per key.

    A list comprehension and groupby keep the per-key work in C (a million keys: ~0.2 s,
    against ~2 s key by key).
    """
    get = plain.get
    statuses: list[RangeStatus] = [get(key, "missing") for key in keys]
    runs: list[tuple[int, int, RangeStatus]] = []
    at = 0
    for status, run in groupby(statuses):
        n = len(list(run))
        runs.append((at, at + n - 1, status))
        at += n
    return runs


def _sparse_runs(
    keys: Sequence[str], plain: Mapping[str | None, RangeStatus]
) -> list[tuple[int, int, RangeStatus]]:
    """The same runs from the states alone: each key found by bisection, gaps missing."""
    n = len(keys)
    placed: list[tuple[int, RangeStatus]] = []
    for key, status in plain.items():
        if key is None or status == "missing":
            continue
        i = bisect_left(keys, key)
        if i < n and keys[i] == key:
            placed.append((i, status))
    placed.sort()
    runs: list[list[int | RangeStatus]] = []
    end = -1
    for i, status in placed:
        if runs and runs[-1][2] == status and end == i - 1:
            runs[-1][1] = end = i
            continue
        if i > end + 1:
            runs.append([end + 1, i - 1, "missing"])
        runs.append([i, i, status])
        end = i
    if end < n - 1:
        runs.append([end + 1, n - 1, "missing"])
    return [(int(a), int(b), cast("RangeStatus", c)) for a, b, c in runs]


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
