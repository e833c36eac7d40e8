"""The coordinator's state: one fold over definitions, requests, runs and asset events.

`apply` is idempotent (every decision has a derived id, every outcome is keyed by work
item id) and tolerant of cross-topic order: an `AssetMaterialized` may be folded before
the `WorkItemDispatched` it answers, or before the run's plan is known; outcomes are
recorded by work item id and an item's status is derived from everything recorded, so
any interleaving of the same events gives the same state.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from conflux.events import (
    AnyEvent,
    AssetMaterialized,
    DefinitionsPublished,
    LocationLoadFailed,
    MaterializationRequested,
    PartitionFailed,
    PartitionStarted,
    RunCompleted,
    RunStarted,
    WorkItemDispatched,
    WorkItemSkipped,
)
from conflux.projections import AssetStateProjection, DefinitionsProjection

if TYPE_CHECKING:
    from conflux.coordinator._planner import Plan, WorkItem

ItemStatus = Literal["pending", "dispatched", "materialized", "failed", "skipped"]
"""Where a work item stands; `materialized`, `failed` and `skipped` are terminal."""

TERMINAL: frozenset[ItemStatus] = frozenset({"materialized", "failed", "skipped"})

_Stamp = tuple[datetime, str]
"""(time, event id): the order-independent way to pick one event among several."""


@dataclass(slots=True)
class Outcome:
    """What workers reported for one work item, whatever order it arrived in.

    Attributes:
        materialized: asset key -> the earliest `AssetMaterialized` (by time, id) for it.
        failed: the earliest `PartitionFailed` for the item, if any.
    """

    materialized: dict[str, _Stamp] = field(default_factory=dict)
    failed: PartitionFailed | None = None


@dataclass(frozen=True, slots=True)
class RunProgress:
    """A comparable summary of one run: what tests and readers may rely on.

    Counts are in asset partitions (a multi-asset node counts once per key), like
    `RunStarted.partition_count`; they are None until the run is planned here.
    """

    run_id: str
    requested: bool
    started: bool
    completed: Literal["success", "failed"] | None
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
    skipped: dict[str, WorkItemSkipped] = field(default_factory=dict)
    status: dict[str, ItemStatus] = field(default_factory=dict)
    """Cached status of every planned item (derived from the records above)."""
    counts: Counter[ItemStatus] = field(default_factory=Counter)
    """Planned items per status."""
    check: set[str] = field(default_factory=set)
    """Items whose upstream changed since the last decision."""
    full_check: bool = False
    """Examine every item at the next decision (new plan, a location came back)."""
    last_outcome: _Stamp | None = None
    """The latest outcome event (by time, id): the cause of the run's completion."""

    def derive_status(self, item: WorkItem) -> ItemStatus:
        """Derive the item's status from the recorded facts alone (order-independent)."""
        outcome = self.outcomes.get(item.work_item_id)
        if outcome is not None:
            if all(k in outcome.materialized for k in item.asset_keys):
                return "materialized"
            if outcome.failed is not None:
                return "failed"
        if item.work_item_id in self.skipped:
            return "skipped"
        if item.work_item_id in self.dispatched:
            return "dispatched"
        return "pending"

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


@dataclass
class CoordinatorState:
    """Everything the coordinator knows, folded from the log; `decide` reads it.

    Attributes:
        definitions: the asset graph (shared fold).
        assets: the latest state of every asset partition (shared fold).
        runs: run id -> run.
        dirty: runs touched since the last decision; `decide` consumes it.
    """

    definitions: DefinitionsProjection = field(default_factory=DefinitionsProjection)
    assets: AssetStateProjection = field(default_factory=AssetStateProjection)
    runs: dict[str, RunState] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    _item_run: dict[str, str] = field(default_factory=dict, repr=False)

    def apply(self, event: AnyEvent) -> None:
        """Fold one event (idempotent; events of other types are ignored)."""
        match event:
            case DefinitionsPublished() | LocationLoadFailed():
                self.definitions.apply(event)
                for run in self.runs.values():
                    if run.plan is not None and run.completed is None:
                        run.full_check = True
                        self.dirty.add(run.run_id)
            case MaterializationRequested():
                run = self._run(event.run_id)
                if run.request is None:  # a second request with the same run id is a duplicate
                    run.request = event
                    if run.completed is None:
                        self.dirty.add(run.run_id)
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
                if active is not None and event.work_item_id not in active.dispatched:
                    active.dispatched[event.work_item_id] = event
                    self._touch(active, event.work_item_id)
            case WorkItemSkipped():
                active = self._active(event.run_id)
                if active is not None and event.work_item_id not in active.skipped:
                    active.skipped[event.work_item_id] = event
                    self._note_outcome(active, (event.time, event.event_id))
                    self._touch(active, event.work_item_id)
            case AssetMaterialized():
                self.assets.apply(event)
                self._record_materialized(event)
            case PartitionFailed():
                self.assets.apply(event)
                self._record_failed(event)
            case PartitionStarted():
                self.assets.apply(event)
            case _:
                pass

    # -- queries -------------------------------------------------------------------------

    def progress(self) -> dict[str, RunProgress]:
        """Every run's summary: equal for a live state and a replay of the same log."""
        return {run_id: run.progress() for run_id, run in sorted(self.runs.items())}

    def location_loaded(self, location: str) -> bool:
        """Tell whether the location's latest word is a loaded snapshot."""
        loc = self.definitions.locations.get(location)
        return loc is not None and loc.status == "loaded"

    # -- used by decide --------------------------------------------------------------------

    def attach_plan(self, run_id: str, plan: Plan) -> None:
        """Give a run its plan; item statuses are derived from what is recorded so far."""
        run = self.runs[run_id]
        run.plan = plan
        run.status = {}
        run.counts = Counter()
        for item in plan.items:
            status = run.derive_status(item)
            run.status[item.work_item_id] = status
            run.counts[status] += 1
            self._item_run[item.work_item_id] = run_id
        run.full_check = True

    def take_dirty(self) -> list[str]:
        """Return and forget the runs touched since the last call, sorted (one order)."""
        dirty = sorted(self.dirty)
        self.dirty.clear()
        return dirty

    # -- internals ---------------------------------------------------------------------------

    def _run(self, run_id: str) -> RunState:
        run = self.runs.get(run_id)
        if run is None:
            run = self.runs[run_id] = RunState(run_id)
        return run

    def _active(self, run_id: str | None) -> RunState | None:
        if run_id is None:
            return None
        run = self._run(run_id)
        return run if run.completed is None else None

    def _record_materialized(self, event: AssetMaterialized) -> None:
        if event.work_item_id is None:
            return  # reported, or not part of a run: asset state only
        run = self._active(event.run_id or self._item_run.get(event.work_item_id))
        if run is None:
            return
        outcome = run.outcomes.setdefault(event.work_item_id, Outcome())
        stamp = (event.time, event.event_id)
        previous = outcome.materialized.get(event.asset_key)
        if previous is None or stamp < previous:
            outcome.materialized[event.asset_key] = stamp
            self._note_outcome(run, stamp)
            self._touch(run, event.work_item_id)

    def _record_failed(self, event: PartitionFailed) -> None:
        run = self._active(event.run_id)
        if run is None:
            return
        outcome = run.outcomes.setdefault(event.work_item_id, Outcome())
        stamp = (event.time, event.event_id)
        if outcome.failed is None or stamp < (outcome.failed.time, outcome.failed.event_id):
            outcome.failed = event
            self._note_outcome(run, stamp)
            self._touch(run, event.work_item_id)

    def _note_outcome(self, run: RunState, stamp: _Stamp) -> None:
        if run.last_outcome is None or stamp > run.last_outcome:
            run.last_outcome = stamp

    def _touch(self, run: RunState, work_item_id: str) -> None:
        """Re-derive one item's status; a new terminal status wakes its dependents."""
        plan = run.plan
        if plan is None or work_item_id not in run.status:
            return
        old = run.status[work_item_id]
        new = run.derive_status(plan.item(work_item_id))
        if new == old:
            return
        run.status[work_item_id] = new
        run.counts[old] -= 1
        run.counts[new] += 1
        if new in TERMINAL:
            run.check.update(plan.dependents(work_item_id))
            self.dirty.add(run.run_id)

    def _complete(self, event: RunCompleted) -> None:
        run = self._run(event.run_id)
        if run.completed is not None:
            return
        run.completed = event
        if run.plan is not None:
            for item in run.plan.items:
                self._item_run.pop(item.work_item_id, None)
        run.plan = None
        run.outcomes = {}
        run.dispatched = {}
        run.skipped = {}
        run.status = {}
        run.counts = Counter()
        run.check = set()
        run.full_check = False
        self.dirty.discard(run.run_id)
