"""One run as the coordinator folds it: its request, plan, and what each attempt reported.

An item's status is derived from the recorded facts alone, never from the order they
arrived in, so a replay that interleaves topics differently derives the same statuses.
Attempts are fenced: an outcome counts only if its attempt was not abandoned, and a
failure counts only for the item's current (latest) attempt.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from conflux.coordinator._planner import Plan, WorkItem
    from conflux.events import (
        AssetCheckEvaluated,
        AssetCheckSnapshot,
        MaterializationRequested,
        PartitionFailed,
        RunCompleted,
        RunStarted,
        WorkItemAbandoned,
        WorkItemDispatched,
        WorkItemSkipped,
    )

ItemStatus = Literal["pending", "dispatched", "retrying", "materialized", "failed", "skipped"]
"""Where a work item stands; `materialized`, `failed` and `skipped` are terminal.

`retrying`: the current attempt failed (or its worker was lost) and another attempt is
due at `RunState.retry_due`."""

TERMINAL: frozenset[ItemStatus] = frozenset({"materialized", "failed", "skipped"})

LOST_WORKER_RETRIES = 2
"""Attempts lost with their worker are dispatched again at least this many times, even
for assets without a retry policy (a kill -9 is not the asset's fault)."""

Stamp = tuple[datetime, str]
"""(time, event id): the order-independent way to pick one event among several."""


@dataclass(slots=True)
class Outcome:
    """What was reported for one work item, per attempt, whatever order it arrived in.

    A ranged item (several partitions, one call) has one report per partition; the item's
    attempt counts as materialized once every partition of it is in (`accepted(key, n)`),
    and its blocking checks once every partition's result is in. Aggregates are kept as
    reports arrive, so each question costs O(attempts), not O(partitions).

    Attributes:
        materialized: (asset key, attempt) -> the latest of its partitions' earliest
            materialization stamps (for one partition: its earliest stamp); attempt 0
            stands for a materialization reported without one.
        parts: (asset key, attempt) -> partition -> its earliest materialization stamp.
        failed: attempt -> its earliest `PartitionFailed`.
        abandoned: attempt -> the coordinator's `WorkItemAbandoned` (a fenced attempt).
        started_by: attempt -> the worker that reported starting it.
        checks: (asset key, check name, attempt) -> partition -> the earliest result of
            that check for that partition (empty for items whose assets have no checks).
        check_failed: (asset key, check name, attempt) -> the earliest result among
            `checks` that failed with severity ERROR, if any.
    """

    materialized: dict[tuple[str, int], Stamp] = field(default_factory=dict)
    parts: dict[tuple[str, int], dict[str | None, Stamp]] = field(default_factory=dict)
    failed: dict[int, PartitionFailed] = field(default_factory=dict)
    abandoned: dict[int, WorkItemAbandoned] = field(default_factory=dict)
    started_by: dict[int, str] = field(default_factory=dict)
    checks: dict[tuple[str, str, int], dict[str | None, AssetCheckEvaluated]] = field(
        default_factory=dict
    )
    check_failed: dict[tuple[str, str, int], AssetCheckEvaluated] = field(default_factory=dict)

    def note_materialized(
        self, asset_key: str, attempt: int, partition_key: str | None, stamp: Stamp
    ) -> bool:
        """Record one partition's materialization; False if it changes nothing (a duplicate)."""
        slot = (asset_key, attempt)
        stamps = self.parts.get(slot)
        if stamps is None:
            stamps = self.parts[slot] = {}
        previous = stamps.get(partition_key)
        if previous is not None and previous <= stamp:
            return False
        stamps[partition_key] = stamp
        if previous is None:
            latest = self.materialized.get(slot)
            self.materialized[slot] = stamp if latest is None or stamp > latest else latest
        else:  # an earlier report of a partition already in (rare): the latest may drop
            self.materialized[slot] = max(stamps.values())
        return True

    def note_check(self, event: AssetCheckEvaluated) -> bool:
        """Record one partition's check result; False if it changes nothing."""
        slot = (event.asset_key, event.check_name, event.attempt or 0)
        results = self.checks.get(slot)
        if results is None:
            results = self.checks[slot] = {}
        previous = results.get(event.partition_key)
        if previous is not None and (previous.time, previous.event_id) <= (
            event.time,
            event.event_id,
        ):
            return False
        results[event.partition_key] = event
        if previous is None:
            first = self.check_failed.get(slot)
            if _fails(event) and (
                first is None or (event.time, event.event_id) < (first.time, first.event_id)
            ):
                self.check_failed[slot] = event
            return True
        # an earlier result for a partition already in (rare): find the earliest failure again
        failures = [r for r in results.values() if _fails(r)]
        if failures:
            self.check_failed[slot] = min(failures, key=lambda r: (r.time, r.event_id))
        else:
            self.check_failed.pop(slot, None)
        return True

    def latest_attempt(self) -> int:
        """The highest attempt anything was reported for (0: none)."""
        attempts = [a for _, a in self.materialized]
        attempts += [*self.failed, *self.abandoned, *self.started_by]
        return max(attempts, default=0)

    def _complete(self, asset_key: str, partitions: int) -> list[tuple[Stamp, int]]:
        """(stamp, attempt) of every unfenced attempt with all `partitions` of `asset_key`."""
        return [
            (stamp, attempt)
            for (key, attempt), stamp in self.materialized.items()
            if key == asset_key
            and attempt not in self.abandoned
            and len(self.parts[(key, attempt)]) >= partitions
        ]

    def accepted(self, asset_key: str, partitions: int = 1) -> Stamp | None:
        """When `asset_key` materialized in the earliest complete, unfenced attempt.

        Complete: it reported all `partitions`; the stamp is the last of theirs. None if no
        attempt did.
        """
        found = self._complete(asset_key, partitions)
        return min(found)[0] if found else None

    def accepted_attempt(self, asset_key: str, partitions: int = 1) -> int | None:
        """The attempt whose materialization of `asset_key` counts (see `accepted`)."""
        found = self._complete(asset_key, partitions)
        return min(found)[1] if found else None

    def check_gate(
        self, asset_key: str, checks: tuple[AssetCheckSnapshot, ...], partitions: int = 1
    ) -> AssetCheckEvaluated | bool:
        """Whether the blocking `checks` of `asset_key` let its dependents go.

        False while a blocking check lacks a result for a partition of the accepted
        attempt; then the earliest failed result (severity ERROR) of the first blocking
        check (by name) that has one, or True when each passed (or failed as a warning).
        Waiting for every result keeps the answer independent of the order they arrive in.
        """
        attempt = self.accepted_attempt(asset_key, partitions) or 0
        failed: AssetCheckEvaluated | None = None
        for check in checks:
            if not check.blocking:
                continue
            slot = (asset_key, check.name, attempt)
            results = self.checks.get(slot)
            if results is None or len(results) < partitions:
                return False
            if failed is None:
                failed = self.check_failed.get(slot)
        return failed if failed is not None else True


def _fails(result: AssetCheckEvaluated) -> bool:
    """A result that blocks dependents when its check is blocking."""
    return not result.passed and result.severity == "ERROR"


@dataclass(frozen=True, slots=True)
class RunProgress:
    """A comparable summary of one run: what tests and readers may rely on.

    Counts are in asset partitions (a multi-asset node counts once per key), like
    `RunStarted.partition_count`; they are None until the run is planned here.
    """

    run_id: str
    requested: bool
    started: bool
    completed: Literal["success", "failed", "canceled"] | None
    items: tuple[tuple[str, ItemStatus], ...] | None


@dataclass
class RunState:
    """One run: its request, lifecycle events, recorded outcomes and (once planned) plan.

    Detail (plan, outcomes, dispatches, skips) is dropped when `RunCompleted` is folded:
    a completed run keeps only its request and lifecycle events.
    """

    run_id: str
    request: MaterializationRequested | None = None
    started: RunStarted | None = None
    completed: RunCompleted | None = None
    plan: Plan | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    dispatched: dict[str, WorkItemDispatched] = field(default_factory=dict)
    """Work item id -> the dispatch of its latest attempt."""
    skipped: dict[str, WorkItemSkipped] = field(default_factory=dict)
    status: dict[str, ItemStatus] = field(default_factory=dict)
    """Cached status of every planned item (derived from the records above)."""
    counts: Counter[ItemStatus] = field(default_factory=Counter)
    """Planned items per status."""
    check: set[str] = field(default_factory=set)
    """Items to examine at the next decision (an upstream changed, a retry fell due)."""
    full_check: bool = False
    """Examine every item at the next decision (new plan, a location came back)."""
    ready: list[int] = field(default_factory=list)
    """Heap of plan indexes of items ready to dispatch that the run queue held back."""
    last_outcome: Stamp | None = None
    """The latest outcome event (by time, id): the cause of the run's completion."""
    new_skips: dict[str, WorkItemSkipped] = field(default_factory=dict)
    """Skips decided in the current decision step, not folded yet (scratch for decide)."""
    held: dict[str, str] = field(default_factory=dict)
    """Location -> the cause (its `LocationLoadFailed` id) of the `RunHeld` emitted for
    its current outage, so that one outage is announced once."""
    holding: set[str] = field(default_factory=set)
    """Locations whose down state held a ready item back in this step (scratch)."""

    @property
    def backfill_id(self) -> str | None:
        """The backfill this run is a chunk of, if any."""
        return self.request.tags.get("backfill_id") if self.request is not None else None

    def current_attempt(self, work_item_id: str) -> int:
        """The item's latest attempt: dispatched, or reported by a worker (0: none)."""
        dispatched = self.dispatched.get(work_item_id)
        outcome = self.outcomes.get(work_item_id)
        return max(
            dispatched.attempt if dispatched is not None else 0,
            outcome.latest_attempt() if outcome is not None else 0,
        )

    def derive_status(self, item: WorkItem) -> ItemStatus:
        """Derive the item's status from the recorded facts alone (order-independent)."""
        outcome = self.outcomes.get(item.work_item_id)
        if outcome is not None:
            n = item.partition_count
            if all(outcome.accepted(key, n) is not None for key in item.asset_keys):
                return "materialized"
            attempt = self.current_attempt(item.work_item_id)
            if attempt in outcome.abandoned:
                retries = max(item.max_retries, LOST_WORKER_RETRIES)
                return "retrying" if attempt <= retries else "failed"
            if attempt in outcome.failed:
                requested = outcome.failed[attempt].retry_requested or 0
                return "retrying" if attempt <= max(item.max_retries, requested) else "failed"
        if item.work_item_id in self.skipped:
            return "skipped"
        if item.work_item_id in self.dispatched:
            return "dispatched"
        return "pending"

    def retry_due(self, item: WorkItem) -> tuple[datetime, str]:
        """When a `retrying` item's next attempt is due, and the event that caused it."""
        from conflux.coordinator._retries import retry_delay_s

        outcome = self.outcomes[item.work_item_id]
        attempt = self.current_attempt(item.work_item_id)
        lost = outcome.abandoned.get(attempt)
        if lost is not None:
            return lost.time, lost.event_id
        failure = outcome.failed[attempt]
        delay = 0.0
        if failure.retry_requested is not None and attempt > item.max_retries:
            delay = failure.retry_after_s or 0.0  # RetryRequested beyond the policy's retries
        elif item.retry_policy is not None:
            seed = f"{item.work_item_id}:{attempt}"
            delay = retry_delay_s(item.retry_policy, attempt, seed)
        return failure.time + timedelta(seconds=delay), failure.event_id

    def progress(self) -> RunProgress:
        """Summarize the run (comparable across live and replayed states)."""
        items = None
        if self.plan is not None:
            items = tuple((it.work_item_id, self.status[it.work_item_id]) for it in self.plan.items)
        return RunProgress(
            run_id=self.run_id,
            requested=self.request is not None,
            started=self.started is not None,
            completed=self.completed.status if self.completed is not None else None,
            items=items,
        )
