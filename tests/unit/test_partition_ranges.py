"""Range summaries: a partition space in a few lines, whatever its size."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from conflux.projections.folds import LastAttempt, MaterializationRef, PartitionState
from conflux.projections.projector._ranges import _dense_runs, _sparse_runs, summarize

if TYPE_CHECKING:
    from conflux.projections.api import RangeStatus

T = datetime(2024, 1, 1, tzinfo=UTC)
STATUSES: list[RangeStatus] = ["materialized", "failed", "in_progress", "missing"]


def _done() -> PartitionState:
    return PartitionState(MaterializationRef("e", "v", T, None, "executed"))


def _failed() -> PartitionState:
    return PartitionState(None, LastAttempt("failed", "f", T, "r", "w"))


def test_runs_of_one_status_become_one_range() -> None:
    keys = [f"2024-01-{d:02d}" for d in range(1, 11)]
    states: dict[str | None, PartitionState] = {k: _done() for k in keys[:5]}
    states |= {keys[6]: _failed(), keys[7]: _failed()}
    summary = summarize("daily", keys, states)
    assert [(r.first, r.last, r.status, r.count) for r in summary.ranges] == [
        ("2024-01-01", "2024-01-05", "materialized", 5),
        ("2024-01-06", "2024-01-06", "missing", 1),
        ("2024-01-07", "2024-01-08", "failed", 2),
        ("2024-01-09", "2024-01-10", "missing", 2),
    ]
    assert summary.counts == {"materialized": 5, "missing": 3, "failed": 2}
    assert summary.total == 10


def test_a_million_partitions_stay_a_few_ranges() -> None:
    keys = [f"k{i:07d}" for i in range(1_000_000)]
    states: dict[str | None, PartitionState] = {k: _done() for k in keys[:600_000]}
    summary = summarize("big", keys, states)
    assert [(r.first, r.last, r.count) for r in summary.ranges] == [
        ("k0000000", "k0599999", 600_000),
        ("k0600000", "k0999999", 400_000),
    ]


def test_no_partitions_and_keys_only_seen_in_events() -> None:
    assert summarize("empty", [], {}).ranges == []
    gone: dict[str | None, PartitionState] = {"gone": _done()}
    only_old = summarize("a", ["x"], gone)
    assert [(r.first, r.status) for r in only_old.ranges] == [("x", "missing")]


@pytest.mark.parametrize("seed", range(20))
def test_bisecting_the_states_gives_the_runs_of_a_pass_over_every_key(seed: int) -> None:
    rng = random.Random(seed)
    keys = [f"k{i:05d}" for i in range(rng.randrange(1, 3000))]
    states: dict[str | None, RangeStatus] = {}
    for _ in range(rng.randrange(0, 40)):
        start = rng.randrange(len(keys))
        status = rng.choice(STATUSES)
        for key in keys[start : start + rng.randrange(1, 30)]:
            states[key] = status
    states["not-a-key"] = "materialized"  # a key of an older definition is left out
    assert _sparse_runs(keys, states) == _dense_runs(keys, states)
    both = summarize("a", keys, states), summarize("a", keys, states, keys_sorted=True)
    assert both[0] == both[1] and sum(r.count for r in both[0].ranges) == len(keys)
