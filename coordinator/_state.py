"""The coordinator's state: one fold over definitions, requests, runs and asset events.

`apply` is idempotent (every decision has a derived id, every outcome is keyed by work
item id and attempt) and tolerant of cross-topic order: an `AssetMaterialized` may be
folded before the `WorkItemDispatched` it answers, or before the run's plan is known;
outcomes are recorded by work item id and an item's status is derived from everything
recorded, so any interleaving of the same events gives the same state.

Besides the fold, the state keeps what the run queue needs to stay cheap at scale: the
items in flight (per location and pool), the runs that hold ready items back for lack
of capacity, and the retry timers. All of it is derived from the folded facts.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.coordinator._automation import NOTED_TYPES, AutomationState
from conflux.coordinator._backfill import BackfillState
from conflux.coordinator._freshness import NOTED_TYPES as FRESHNESS_TYPES, FreshnessState
from conflux.coordinator._instigators import InstigatorState
from conflux.coordinator._leadership import ClaimsFold
from conflux.coordinator._run_state import (
    TERMINAL,
    ItemStatus,
    Outcome,
    RunProgress,
    RunState,
    Stamp,
)
from conflux.events import (
    AnyEvent,
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    AutomationEvaluated,
    BackfillCanceled,
    BackfillCompleted,
    BackfillRequested,
    DefinitionsPublished,
    DynamicPartitionsAdded,
    DynamicPartitionsDeleted,
    EpochFence,
    InstigatorStatusChanged,
    LeadershipClaimed,
    LocationLoadFailed,
    MaterializationRequested,
    PartitionFailed,
    PartitionStarted,
    RunCompleted,
    RunHeld,
    RunStarted,
    SensorCursorSet,
    TickCompleted,
    TickRequested,
    WorkItemAbandoned,
    WorkItemDispatched,
    WorkItemSkipped,
)
from conflux.projections.folds import AssetStateProjection, DefinitionsProjection

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.coordinator._planner import Plan, WorkItem

__all__ = ["TERMINAL", "CoordinatorState", "ItemStatus", "Outcome", "RunProgress", "RunState"]


_REPORTED = frozenset(
    {"AssetMaterialized", "AssetObserved", "DynamicPartitionsAdded", "DynamicPartitionsDeleted"}
)
"""Event types a sensor tick may stand for (see `InstigatorState.note_reported`)."""


def queue_keys(item: WorkItem) -> tuple[str, ...]:
    """The run-queue counters one in-flight item counts against."""
    keys = ("*", f"location:{item.location}")
    return (*keys, f"pool:{item.pool}") if item.pool is not None else keys


@dataclass
class CoordinatorState:
    """Everything the coordinator knows, folded from the log; `decide` reads it.

    Attributes:
        definitions: the asset graph (shared fold).
        assets: the latest state of every asset partition (shared fold).
        runs: run id -> run.
        backfills: backfill id -> backfill.
        dirty: runs touched since the last decision; `decide` consumes it.
        dirty_backfills: backfills touched since the last decision.
        inflight: dispatched items without an outcome, counted per `queue_keys`.
        inflight_items: work item id -> run id of every item in flight (for liveness).
        waiting: runs holding ready items back until the run queue has room.
        timers: heap of (due time, run id, work item id) for retries.
        instigators: schedules and sensors (status, ticks, cursors).
        automation: what declarative automation evaluates next.
        freshness: freshness checks, their results, and updates not yet answered.
        fence: per partition, the highest leadership epoch marked: what `fold` refuses.
        claims: the leader topic's claims (who leads, under which epoch).
        epoch: the epoch `decide` stamps decisions with (set by the service when it
            becomes the leader; not a fold).
    """

    definitions: DefinitionsProjection = field(default_factory=DefinitionsProjection)
    assets: AssetStateProjection = field(default_factory=AssetStateProjection)
    runs: dict[str, RunState] = field(default_factory=dict)
    backfills: dict[str, BackfillState] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    dirty_backfills: set[str] = field(default_factory=set)
    inflight: Counter[str] = field(default_factory=Counter)
    inflight_items: dict[str, str] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)
    timers: list[tuple[datetime, str, str]] = field(default_factory=list)
    instigators: InstigatorState = field(default_factory=InstigatorState)
    automation: AutomationState = field(default_factory=AutomationState)
    freshness: FreshnessState = field(default_factory=FreshnessState)
    fence: EpochFence = field(default_factory=EpochFence)
    claims: ClaimsFold = field(default_factory=ClaimsFold)
    epoch: int = 0
    _item_run: dict[str, str] = field(default_factory=dict, repr=False)

    def fold(self, event: AnyEvent, topic: str, partition: int) -> bool:
        """Fold an event read at (topic, partition), unless a newer epoch's mark fenced it.

        Returns False for a refused decision (see `conflux.events.EpochFence`).
        """
        if not self.fence.admit(event, topic, partition):
            return False
        self.apply(event)
        return True

    def apply(self, event: AnyEvent) -> None:
        """Fold one event (idempotent; events of other types are ignored)."""
        match event:  # the log's most frequent types first: cases are tried in order
            case AssetMaterialized():
                self.assets.apply(event)
                self._record_materialized(event)
                self.instigators.note_materialized(event)
            case PartitionStarted():
                self.assets.apply(event)
                self._record_started(event)
            case AssetObserved():
                self._record_materialized(event)  # it completes its work item
            case PartitionFailed():
                self.assets.apply(event)
                self._record_failed(event)
            case DefinitionsPublished() | LocationLoadFailed():
                self.definitions.apply(event)
                # Which assets sensors monitor, known from now on: a replay then keeps
                # only their materializations, as the live fold does.
                self.instigators.refresh(self.definitions)
                for run in self.runs.values():
                    if run.plan is not None and run.completed is None:
                        run.full_check = True
                        self.dirty.add(run.run_id)
                self.dirty_backfills.update(
                    b for b, bf in self.backfills.items() if bf.completed is None
                )
            case MaterializationRequested():
                self._request(event)
            case RunStarted():
                run = self._run(event.run_id)
                if run.started is None:
                    run.started = event
                    if run.completed is None:
                        self.dirty.add(run.run_id)
            case RunCompleted():
                self._complete(event)
            case WorkItemDispatched():
                active = self._active(event.run_id)
                previous = active.dispatched.get(event.work_item_id) if active else None
                if active is not None and (previous is None or event.attempt > previous.attempt):
                    active.dispatched[event.work_item_id] = event
                    self._touch(active, event.work_item_id)
            case WorkItemSkipped():
                active = self._active(event.run_id)
                if active is not None and event.work_item_id not in active.skipped:
                    active.skipped[event.work_item_id] = event
                    self._note_outcome(active, (event.time, event.event_id))
                    self._touch(active, event.work_item_id)
            case RunHeld():
                active = self._active(event.run_id)
                if active is not None:
                    active.held[event.location] = event.causation_id or ""
            case WorkItemAbandoned():
                active = self._active(event.run_id)
                if active is not None:
                    outcome = active.outcomes.setdefault(event.work_item_id, Outcome())
                    if event.attempt not in outcome.abandoned:
                        outcome.abandoned[event.attempt] = event
                        self._touch(active, event.work_item_id)
            case BackfillRequested():
                backfill = self._backfill(event.backfill_id)
                if backfill.request is None:
                    backfill.request = event
                    self.dirty_backfills.add(event.backfill_id)
            case DynamicPartitionsAdded() | DynamicPartitionsDeleted():
                self.definitions.apply(event)  # the planner reads keys bound to the live set
            case BackfillCanceled():
                self._cancel(event)
            case InstigatorStatusChanged() | SensorCursorSet() | TickRequested() | TickCompleted():
                self.instigators.apply(event)
            case AssetCheckEvaluated():
                self._record_check(event)
            case AutomationEvaluated():
                pass  # folded by `automation` below
            case BackfillCompleted():
                backfill = self._backfill(event.backfill_id)
                if backfill.completed is None:
                    backfill.completed = event
                    self.dirty_backfills.discard(event.backfill_id)
            case LeadershipClaimed():
                self.claims.apply(event)
            case _:
                pass
        if event.type in _REPORTED and self.instigators.pending:
            self.instigators.note_reported(event)
        if event.type in NOTED_TYPES:
            self.automation.apply(event)
        if event.type in FRESHNESS_TYPES:
            self.freshness.apply(event)

    # -- queries -------------------------------------------------------------------------

    def progress(self) -> dict[str, RunProgress]:
        """Every run's summary: equal for a live state and a replay of the same log."""
        return {run_id: run.progress() for run_id, run in sorted(self.runs.items())}

    def location_loaded(self, location: str) -> bool:
        """Tell whether the location's latest word is a loaded snapshot."""
        loc = self.definitions.locations.get(location)
        return loc is not None and loc.status == "loaded"

    def next_due(self) -> datetime | None:
        """When the earliest pending retry falls due (None: no retry is waiting)."""
        return self.timers[0][0] if self.timers else None

    # -- used by decide --------------------------------------------------------------------

    def attach_plan(self, run_id: str, plan: Plan) -> None:
        """Give a run its plan; item statuses are derived from what is recorded so far."""
        run = self.runs[run_id]
        run.plan = plan
        run.status = {}
        run.counts = Counter()
        for item in plan.items:
            self._item_run[item.work_item_id] = run_id
            run.status[item.work_item_id] = "pending"
            run.counts["pending"] += 1
            status = run.derive_status(item)
            if status != "pending":
                self._set_status(run, item, "pending", status)
        run.full_check = True

    def take_dirty(self) -> list[str]:
        """Return and forget the runs touched since the last call, sorted (one order)."""
        dirty = sorted(self.dirty)
        self.dirty.clear()
        return dirty

    def take_due(self, now: datetime) -> None:
        """Move the retries due by `now` into their runs' checks."""
        while self.timers and self.timers[0][0] <= now:
            _, run_id, work_item_id = heapq.heappop(self.timers)
            run = self.runs.get(run_id)
            if run is not None and run.completed is None and run.plan is not None:
                run.check.add(work_item_id)
                self.dirty.add(run_id)

    # -- internals ---------------------------------------------------------------------------

    def _run(self, run_id: str) -> RunState:
        run = self.runs.get(run_id)
        if run is None:
            run = self.runs[run_id] = RunState(run_id)
        return run

    def _backfill(self, backfill_id: str) -> BackfillState:
        backfill = self.backfills.get(backfill_id)
        if backfill is None:
            backfill = self.backfills[backfill_id] = BackfillState(backfill_id)
        return backfill

    def _active(self, run_id: str | None) -> RunState | None:
        if run_id is None:
            return None
        run = self._run(run_id)
        return run if run.completed is None else None

    def _request(self, event: MaterializationRequested) -> None:
        run = self._run(event.run_id)
        if run.request is not None:
            return  # a second request with the same run id is a duplicate
        run.request = event
        if run.completed is None:
            self.dirty.add(run.run_id)
        backfill_id = event.tags.get("backfill_id")
        if backfill_id is not None:
            self._backfill(backfill_id).note_chunk(event, run.completed)
            self.dirty_backfills.add(backfill_id)

    def _cancel(self, event: BackfillCanceled) -> None:
        backfill = self._backfill(event.backfill_id)
        if backfill.canceled is not None:
            return
        backfill.canceled = event
        self.dirty_backfills.add(event.backfill_id)
        for run_id in backfill.chunks.values():
            run = self.runs.get(run_id)
            if run is not None and run.completed is None and run.plan is not None:
                run.full_check = True
                self.dirty.add(run_id)

    def _record_materialized(self, event: AssetMaterialized | AssetObserved) -> None:
        if event.work_item_id is None:
            return  # reported, or not part of a run: asset state only
        run = self._active(event.run_id or self._item_run.get(event.work_item_id))
        if run is None:
            return
        outcome = run.outcomes.setdefault(event.work_item_id, Outcome())
        stamp = (event.time, event.event_id)
        if outcome.note_materialized(
            event.asset_key, event.attempt or 0, event.partition_key, stamp
        ):
            self._note_outcome(run, stamp)
            self._touch(run, event.work_item_id)

    def _record_failed(self, event: PartitionFailed) -> None:
        run = self._active(event.run_id)
        if run is None:
            return
        outcome = run.outcomes.setdefault(event.work_item_id, Outcome())
        previous = outcome.failed.get(event.attempt)
        stamp = (event.time, event.event_id)
        if previous is None or stamp < (previous.time, previous.event_id):
            outcome.failed[event.attempt] = event
            self._note_outcome(run, stamp)
            self._touch(run, event.work_item_id)

    def _record_check(self, event: AssetCheckEvaluated) -> None:
        """Note a check result (blocking checks gate the asset's dependents in the run).

        Kept per (asset, check, attempt, partition), the earliest by (time, id), so
        duplicates and any order of arrival give the same state. The item's own status does
        not change (it materialized); its dependents are examined again, at a cost of its
        dependents.
        """
        if event.work_item_id is None:
            return  # not part of a run: the read side shows it, the coordinator needs none
        run = self._active(event.run_id or self._item_run.get(event.work_item_id))
        if run is None:
            return
        outcome = run.outcomes.setdefault(event.work_item_id, Outcome())
        if not outcome.note_check(event):
            return
        if run.status.get(event.work_item_id) == "materialized":
            run.check.update(plan_dependents(run, event.work_item_id))
            self.dirty.add(run.run_id)

    def _record_started(self, event: PartitionStarted) -> None:
        run = self._active(event.run_id)
        if run is None:
            return
        outcome = run.outcomes.setdefault(event.work_item_id, Outcome())
        if event.attempt not in outcome.started_by:
            outcome.started_by[event.attempt] = event.worker_id
            self._touch(run, event.work_item_id)

    def _note_outcome(self, run: RunState, stamp: Stamp) -> None:
        if run.last_outcome is None or stamp > run.last_outcome:
            run.last_outcome = stamp

    def _touch(self, run: RunState, work_item_id: str) -> None:
        """Re-derive one item's status and react to the change."""
        plan = run.plan
        if plan is None or work_item_id not in run.status:
            return
        item = plan.item(work_item_id)
        old = run.status[work_item_id]
        new = run.derive_status(item)
        if new != old:
            self._set_status(run, item, old, new)

    def _set_status(self, run: RunState, item: WorkItem, old: ItemStatus, new: ItemStatus) -> None:
        """Record a status change: counters, in-flight bookkeeping, wake-ups and timers."""
        run.status[item.work_item_id] = new
        run.counts[old] -= 1
        run.counts[new] += 1
        if old == "dispatched":
            self.inflight.subtract(queue_keys(item))
            self.inflight_items.pop(item.work_item_id, None)
            if self.waiting:  # capacity freed: runs that held items back may go on
                self.dirty.update(self.waiting)
                self.waiting.clear()
        if new == "dispatched":
            self.inflight.update(queue_keys(item))
            self.inflight_items[item.work_item_id] = run.run_id
        if new in TERMINAL:
            run.check.update(plan_dependents(run, item.work_item_id))
            self.dirty.add(run.run_id)
        elif new == "retrying":
            due, _ = run.retry_due(item)
            heapq.heappush(self.timers, (due, run.run_id, item.work_item_id))

    def _complete(self, event: RunCompleted) -> None:
        run = self._run(event.run_id)
        if run.completed is not None:
            return
        run.completed = event
        if run.plan is not None:
            for item in run.plan.items:
                self._item_run.pop(item.work_item_id, None)
                if run.status.get(item.work_item_id) == "dispatched":
                    self.inflight.subtract(queue_keys(item))
                    self.inflight_items.pop(item.work_item_id, None)
        run.plan = None
        run.outcomes = {}
        run.dispatched = {}
        run.skipped = {}
        run.status = {}
        run.counts = Counter()
        run.check = set()
        run.ready = []
        run.full_check = False
        self.dirty.discard(run.run_id)
        self.waiting.discard(run.run_id)
        backfill_id = run.backfill_id
        if backfill_id is not None and run.request is not None:
            self._backfill(backfill_id).note_chunk(run.request, event)
            self.dirty_backfills.add(backfill_id)


def plan_dependents(run: RunState, work_item_id: str) -> tuple[str, ...]:
    """Ids of the items of the run's plan that wait for `work_item_id`."""
    return run.plan.dependents(work_item_id) if run.plan is not None else ()
