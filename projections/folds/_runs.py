"""The runs projection: every run's request, plan, live progress and outcome.

Folded from the requests topic (`MaterializationRequested`), the runs topic (`RunStarted`,
`WorkItemDispatched`, `WorkItemSkipped`, `RunCompleted`) and asset events that carry a
run id. Topics are read concurrently, so the fold tolerates any order across them: a run
is created by whichever of its events comes first.

A run in progress keeps each of its asset partitions' latest attempt (its live counts come
from them); a completed run keeps only its summary, since `RunCompleted` carries the final
counts: what it held per partition is dropped, and later news of its partitions changes
nothing. So memory grows with the runs in flight, not with the partitions ever run.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from conflux.events import (
    AssetMaterialized,
    AssetObserved,
    MaterializationRequested,
    PartitionFailed,
    PartitionStarted,
    RunCompleted,
    RunHeld,
    RunStarted,
    WorkItemDispatched,
    WorkItemSkipped,
)

if TYPE_CHECKING:
    from conflux.events import AnyEvent
    from conflux.projections.api import RunStatus

_AssetPartition = tuple[str, str | None]
_FINAL_ATTEMPT = 1 << 30
"""A materialization without an attempt number (reported into a run) outranks attempts."""


@dataclass(slots=True)
class RunRecord:
    """What is known of one run; `status` and the counts derive from it."""

    run_id: str
    selection: str | None = None
    asset_keys: tuple[str, ...] = ()
    partition_count: int = 0
    requested_by: str | None = None
    trigger: str | None = None
    requested_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    first_seen: datetime | None = None
    """Time of the earliest event seen for the run (orders runs without a request)."""
    completed: RunCompleted | None = None
    outcomes: dict[_AssetPartition, tuple[int, int, str]] = field(default_factory=dict)
    """(asset, partition) -> (attempt, rank, status) of its latest attempt in this run."""
    skipped_items: dict[_AssetPartition, int] = field(default_factory=dict)
    """(asset, partition, or `start..end` for a ranged item) -> asset partitions skipped."""
    skipped_total: int = 0
    """The sum of `skipped_items` (kept with it: status is polled)."""
    dispatched: bool = False
    tally: Counter[str] = field(default_factory=Counter)
    """Status -> how many entries of `outcomes` have it (kept with `outcomes`)."""
    holds: dict[str, RunHeld] = field(default_factory=dict)
    """Location -> the latest `RunHeld` for it."""
    last_dispatch: dict[str, datetime] = field(default_factory=dict)
    """Location -> when the run last dispatched work there (ends a hold)."""

    def compact(self) -> None:
        """Drop what only a run in progress needs (call once it completed).

        The live counts go too: a completed run's counts are its `RunCompleted`'s, so they
        do not depend on which of its events were folded before the completion.
        """
        self.outcomes = {}
        self.tally = Counter()
        self.skipped_items = {}
        self.skipped_total = 0
        self.holds = {}
        self.last_dispatch = {}

    @property
    def held(self) -> str | None:
        """Why the run's work waits (its locations are down), or None."""
        if self.completed is not None:
            return None
        reasons = []
        for location, hold in sorted(self.holds.items()):
            since = self.last_dispatch.get(location)
            if since is None or since <= hold.time:  # nothing dispatched there since
                reasons.append(hold.reason)
        return "; ".join(reasons) or None

    @property
    def status(self) -> RunStatus:
        """`success`/`failed` once completed, `started` once planned, else `queued`."""
        if self.completed is not None:
            return self.completed.status
        if self.started_at is not None or self.dispatched or self.outcomes:
            return "started"
        return "queued"

    def count(self, status: str) -> int:
        """Live count of distinct asset partitions whose latest attempt has `status`.

        O(1): a backfill chunk's run has thousands of outcomes and status is polled.
        """
        return self.tally[status]

    @property
    def materialized(self) -> int:
        """Asset partitions materialized in the run (RunCompleted's count once ended)."""
        live = self.count("materialized")
        return max(live, self.completed.materialized) if self.completed else live

    @property
    def failed(self) -> int:
        """Asset partitions whose latest attempt in the run failed."""
        live = self.count("failed")
        return max(live, self.completed.failed) if self.completed else live

    @property
    def skipped(self) -> int:
        """Asset partitions skipped because an upstream failed."""
        live = self.skipped_total
        return max(live, self.completed.skipped) if self.completed else live

    @property
    def in_progress(self) -> int:
        """Asset partitions started without an outcome yet (0 once the run ended)."""
        return 0 if self.completed is not None else self.count("in_progress")

    @property
    def sort_time(self) -> datetime | None:
        """When the run began, for newest-first listings."""
        return self.requested_at or self.started_at or self.first_seen


@dataclass
class RunsProjection:
    """Fold of requests, runs and run-tagged asset events: `runs[run_id] -> RunRecord`.

    `apply` is idempotent (each step is a max, a min or a keyed insertion, so a duplicate
    changes nothing), and a replay from the start gives the same summaries as the live
    fold in any interleaving of the topics: once a run completed, its counts are the
    `RunCompleted`'s, whatever arrived before or after it.
    """

    runs: dict[str, RunRecord] = field(default_factory=dict)

    def get(self, run_id: str) -> RunRecord | None:
        """The run, or None if no event of it was seen."""
        return self.runs.get(run_id)

    def newest_first(self) -> list[RunRecord]:
        """Every run, newest first (by request time, else start, else first event)."""
        return sorted(
            self.runs.values(),
            key=lambda r: (r.sort_time is not None, r.sort_time or datetime.min, r.run_id),
            reverse=True,
        )

    def apply(self, event: AnyEvent) -> None:
        """Fold one event; events without a run are ignored."""
        run_id = getattr(event, "run_id", None)
        if not isinstance(run_id, str):
            return
        if not isinstance(
            event,
            MaterializationRequested
            | RunStarted
            | WorkItemDispatched
            | WorkItemSkipped
            | RunHeld
            | RunCompleted
            | PartitionStarted
            | AssetMaterialized
            | AssetObserved
            | PartitionFailed,
        ):
            return
        run = self.runs.get(run_id)
        if run is None:
            run = self.runs[run_id] = RunRecord(sys.intern(run_id))
        if run.first_seen is None or event.time < run.first_seen:
            run.first_seen = event.time
        self._fold(run, event)

    def _fold(self, run: RunRecord, event: AnyEvent) -> None:
        if run.completed is not None and not isinstance(
            event, MaterializationRequested | RunStarted | RunCompleted
        ):
            return  # its final counts are the RunCompleted's: partition news changes nothing
        match event:
            case MaterializationRequested():
                run.selection = event.selection
                run.requested_by = sys.intern(event.requested_by) if event.requested_by else None
                run.requested_at = event.time
                if not run.asset_keys:
                    run.asset_keys = _interned(event.asset_keys)
            case RunStarted():
                run.asset_keys = _interned(event.asset_keys)
                run.partition_count = event.partition_count
                run.trigger = sys.intern(event.trigger)
                run.started_at = event.time
            case WorkItemDispatched():
                run.dispatched = True
                last = run.last_dispatch.get(event.location)
                if last is None or event.time > last:
                    run.last_dispatch[event.location] = event.time
            case RunHeld():
                hold = run.holds.get(event.location)
                if hold is None or event.time > hold.time:
                    run.holds[event.location] = event
            case WorkItemSkipped():
                rng = event.partition_range
                where = f"{rng.start}..{rng.end}" if rng is not None else event.partition_key
                for key in event.asset_keys:
                    if (key, where) not in run.skipped_items:
                        run.skipped_items[(key, where)] = event.partition_count
                        run.skipped_total += event.partition_count
            case RunCompleted():
                if run.completed is None:
                    run.completed = event
                    run.completed_at = event.time
                    run.compact()
            case PartitionStarted():
                _outcome(
                    run, (event.asset_key, event.partition_key), event.attempt, 0, "in_progress"
                )
            case PartitionFailed():
                _outcome(run, (event.asset_key, event.partition_key), event.attempt, 1, "failed")
            case AssetMaterialized() | AssetObserved():  # an observation completes its item
                attempt = event.attempt if event.attempt is not None else _FINAL_ATTEMPT
                _outcome(run, (event.asset_key, event.partition_key), attempt, 2, "materialized")


_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}
"""One tuple per distinct set of asset keys (runs of one selection share it). Bounded."""


def _interned(keys: tuple[str, ...]) -> tuple[str, ...]:
    found = _KEYS.get(keys)
    if found is None:
        if len(_KEYS) >= 10_000:
            _KEYS.clear()
        found = _KEYS[keys] = tuple(sys.intern(k) for k in keys)
    return found


def _outcome(run: RunRecord, key: _AssetPartition, attempt: int, rank: int, status: str) -> None:
    """Keep the latest attempt's word: a later attempt wins, and an outcome beats a start."""
    current = run.outcomes.get(key)
    if current is None or (attempt, rank) > current[:2]:
        if current is not None:
            run.tally[current[2]] -= 1
        run.tally[status] += 1
        run.outcomes[key] = (attempt, rank, status)
