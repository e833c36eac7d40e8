"""The decision step: from the coordinator's state to the events it should emit next.

`decide` is deterministic and does no I/O: every event it returns has a derived id, so
deciding again over the same state (after a restart and a replay) yields the same events,
and every fold drops the duplicates. It looks only at runs touched since the last step,
and within a run only at items whose upstream changed, so it stays cheap with many runs.
`now` stamps the events and says which retries are due; the run queue's limits say how
much may be in flight.
"""

from __future__ import annotations

import heapq
from collections import Counter
from typing import TYPE_CHECKING, Literal

from conflux.coordinator._automation import decide_automation
from conflux.coordinator._backfill import chunk_request
from conflux.coordinator._freshness import decide_freshness
from conflux.coordinator._instigators import decide_instigators
from conflux.coordinator._planner import plan_run
from conflux.coordinator._queue import QueueLimits
from conflux.coordinator._state import TERMINAL, queue_keys
from conflux.events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    AutomationEvaluated,
    BackfillCompleted,
    ConfluxError,
    DynamicPartitionsAdded,
    DynamicPartitionsDeleted,
    MaterializationRequested,
    RunCompleted,
    RunHeld,
    RunStarted,
    TickCompleted,
    TickRequested,
    UpstreamRef,
    WorkItemAbandoned,
    WorkItemDispatched,
    WorkItemSkipped,
    derived_id,
)
from conflux.projections.folds import resolve_space

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.coordinator._backfill import BackfillState
    from conflux.coordinator._planner import Plan, WorkItem
    from conflux.coordinator._state import CoordinatorState, ItemStatus, RunState

PRODUCER = "coordinator"

Decision = (
    RunStarted
    | WorkItemDispatched
    | WorkItemSkipped
    | RunHeld
    | RunCompleted
    | WorkItemAbandoned
    | MaterializationRequested
    | BackfillCompleted
    | TickRequested
    | TickCompleted
    | AutomationEvaluated
    | AssetCheckEvaluated
    | AssetMaterialized
    | AssetObserved
    | DynamicPartitionsAdded
    | DynamicPartitionsDeleted
)
"""What the coordinator emits."""

_READY = "ready"
"""`_decide_item`'s answer for an item that may be dispatched once the queue has room."""


def started_id(run_id: str) -> str:
    """Derive the event id of a run's `RunStarted`."""
    return derived_id("run-started", run_id)


def completed_id(run_id: str) -> str:
    """Derive the event id of a run's `RunCompleted`."""
    return derived_id("run-completed", run_id)


def dispatch_id(work_item_id: str, attempt: int) -> str:
    """Derive the event id of one attempt's `WorkItemDispatched`."""
    return derived_id("dispatch", work_item_id, str(attempt))


def skip_id(work_item_id: str) -> str:
    """Derive the event id of a work item's `WorkItemSkipped`."""
    return derived_id("skip", work_item_id)


def decide(
    state: CoordinatorState, now: datetime, limits: QueueLimits | None = None
) -> list[Decision]:
    """Return the events that the runs touched since the last step call for, in emit order.

    Consumes `state.dirty` and caches plans in the state; the fold itself changes only
    when the caller applies the returned events (which it should do at once, then call
    `decide` again until it returns nothing: a chunk's request is planned in the next
    round, and a skip can complete a run).

    Args:
        state: the folded state (caught up with the log, or decisions may come early).
        now: the `time` of the emitted events, and the clock that retries are due by.
        limits: the run queue's limits (default: `QueueLimits()`).
    """
    limits = limits or QueueLimits()
    state.take_due(now)
    events: list[Decision] = []
    events.extend(decide_instigators(state, now))
    events.extend(decide_automation(state, now))
    events.extend(decide_freshness(state, now))
    events.extend(_decide_backfills(state, now))
    touched: list[RunState] = []
    for run_id in state.take_dirty():
        run = state.runs[run_id]
        events.extend(_decide_run(state, run, now))
        touched.append(run)
    events.extend(_dispatch(state, touched, now, limits))
    for run in touched:
        done = _maybe_completed(state, run, now)
        if done is not None:
            events.append(done)
    return events


# -- runs ---------------------------------------------------------------------------------


def _decide_run(state: CoordinatorState, run: RunState, now: datetime) -> list[Decision]:
    """Plan the run if needed, skip what cannot run, and queue what may run."""
    request = run.request
    if run.completed is not None or request is None:
        return []
    events: list[Decision] = []
    run.new_skips = {}
    run.holding = set()
    plan = run.plan
    if plan is None:
        try:
            plan = plan_run(request, state.definitions)
        except ConfluxError as exc:
            what = "can no longer be planned: " if run.started is not None else ""
            return [
                _completed(run, now, request.event_id, state.epoch, reason=what + _one_line(exc))
            ]
        state.attach_plan(run.run_id, plan)
    if run.started is None:
        run.started = RunStarted(
            event_id=started_id(run.run_id),
            time=now,
            producer=PRODUCER,
            epoch=state.epoch,
            correlation_id=run.run_id,
            causation_id=request.event_id,
            run_id=run.run_id,
            asset_keys=plan.asset_keys,
            partition_count=plan.partition_count,
            trigger=request.tags.get(
                "trigger", "backfill" if run.backfill_id is not None else "manual"
            ),
        )
        events.append(run.started)
    canceled = _cancel_reason(state, run)
    if run.full_check:
        candidates = list(range(len(plan.items)))
    else:
        candidates = [plan.index(i) for i in run.check if i in run.status]
    run.full_check = False
    run.check = set()
    if canceled is not None:
        run.ready = []
    heapq.heapify(candidates)
    new_skips: dict[str, WorkItemSkipped] = {}
    queued = set(run.ready)
    seen: set[int] = set()
    while candidates:
        index = heapq.heappop(candidates)
        if index in seen:
            continue
        seen.add(index)
        item = plan.items[index]
        status = run.status[item.work_item_id]
        if status not in ("pending", "retrying"):
            continue
        if canceled is not None:
            decision: WorkItemSkipped | str | None = _skipped(
                run, item, now, canceled, cause=run.started.event_id, epoch=state.epoch
            )
        elif status == "retrying":
            decision = _READY if run.retry_due(item)[0] <= now else None
        else:
            decision = _decide_item(state, run, item, new_skips, run.started.event_id, now)
        if decision == _READY:
            if index not in queued:
                queued.add(index)
                heapq.heappush(run.ready, index)
        elif isinstance(decision, WorkItemSkipped):
            events.append(decision)
            new_skips[item.work_item_id] = decision
            for dependent in plan.dependents(item.work_item_id):
                heapq.heappush(candidates, plan.index(dependent))
    run.new_skips = new_skips
    for location in sorted(run.holding):
        held = _held(state, run, location, now)
        if held is not None:
            events.append(held)
    return events


def _held(state: CoordinatorState, run: RunState, location: str, now: datetime) -> RunHeld | None:
    """Say once per outage that a run's ready work waits for its location (None: said)."""
    assert run.started is not None
    loc = state.definitions.locations.get(location)
    error = loc.error if loc is not None else None
    cause = error.event_id if error is not None else run.started.event_id
    if run.held.get(location) == cause:
        return None
    why = (
        f"failed to load ({error.error_type}: {error.message.splitlines()[0]})"
        if error is not None and error.message
        else "has not loaded"
    )
    return RunHeld(
        event_id=derived_id("run-held", run.run_id, location, cause),
        time=now,
        producer=PRODUCER,
        epoch=state.epoch,
        correlation_id=run.run_id,
        causation_id=cause,
        run_id=run.run_id,
        location=location,
        reason=(
            f"location {location} is down: it {why}; its work is dispatched once it loads "
            f"again (`conflux locations list` shows its error)"
        ),
    )


def _decide_item(
    state: CoordinatorState,
    run: RunState,
    item: WorkItem,
    new_skips: dict[str, WorkItemSkipped],
    started_event_id: str,
    now: datetime,
) -> WorkItemSkipped | str | None:
    """Decide one pending item.

    Skip it if an upstream failed, was skipped, or a blocking check of an upstream failed;
    call it ready if every upstream materialized (and its blocking checks have results)
    and its location is loaded; else leave it pending (None).
    """
    assert run.plan is not None
    ready = True
    for dep_id in item.depends_on:
        status: ItemStatus = "skipped" if dep_id in new_skips else run.status[dep_id]
        if status == "failed":
            outcome = run.outcomes[dep_id]
            attempt = run.current_attempt(dep_id)
            failure = outcome.failed.get(attempt)
            lost = outcome.abandoned.get(attempt)
            why = failure.error_type if failure is not None else "its worker was lost"
            cause = started_event_id
            if failure is not None or lost is not None:
                cause = (failure or lost).event_id  # type: ignore[union-attr]
            dep = run.plan.item(dep_id)
            reason = (
                f"upstream {', '.join(dep.asset_keys)}{_at(dep.partition_label)} failed ({why})"
            )
            return _skipped(run, item, now, reason, cause=cause, epoch=state.epoch)
        if status == "skipped":
            skip = new_skips.get(dep_id) or run.skipped[dep_id]
            return _skipped(run, item, now, skip.reason, cause=skip.event_id, epoch=state.epoch)
        if status != "materialized":
            ready = False
            continue
        gate = _check_gate(state, run, dep_id)
        if gate is False:
            ready = False  # a blocking check of the upstream has not reported yet
        elif gate is not True:
            reason = (
                f"blocking check {gate.check_name} on {gate.asset_key}"
                f"{_at(gate.partition_key)} failed"
            )
            return _skipped(run, item, now, reason, cause=gate.event_id, epoch=state.epoch)
    if not ready:
        return None  # wait for upstream
    if not state.location_loaded(item.location):
        run.holding.add(item.location)
        return None  # hold until the location is back (and say so: `_held`)
    graph = state.definitions
    for key in item.asset_keys:
        asset = graph.assets.get(key)
        if asset is None or asset.node != item.node or graph.location_of(key) != item.location:
            reason = f"asset {key} is no longer defined by location {item.location}"
            return _skipped(run, item, now, reason, cause=started_event_id, epoch=state.epoch)
    return _READY


def _check_gate(state: CoordinatorState, run: RunState, dep_id: str) -> AssetCheckEvaluated | bool:
    """Whether a materialized upstream item is done for its dependents (see `check_gate`).

    Assets without checks cost a dict lookup each: no scan of items or results.
    """
    assert run.plan is not None
    outcome = run.outcomes.get(dep_id)
    item = run.plan.item(dep_id)
    for key in item.asset_keys:
        checks = state.definitions.asset_checks_of(key)
        if checks and outcome is not None:
            gate = outcome.check_gate(key, checks, item.partition_count)
            if gate is not True:
                return gate
    return True


def _cancel_reason(state: CoordinatorState, run: RunState) -> str | None:
    backfill_id = run.backfill_id
    if backfill_id is None:
        return None
    backfill = state.backfills.get(backfill_id)
    if backfill is None or backfill.canceled is None:
        return None
    return f"backfill {backfill_id} was canceled"


def _maybe_completed(state: CoordinatorState, run: RunState, now: datetime) -> RunCompleted | None:
    """The run's completion, once every item is terminal (counting this step's skips).

    A run that could not be planned was completed by `_decide_run` and has no plan.
    """
    plan = run.plan
    if run.completed is not None or plan is None:
        return None
    new_skips = run.new_skips
    terminal = sum(run.counts[s] for s in TERMINAL) + len(new_skips)
    if terminal != len(plan.items):
        return None
    stamps = [(s.time, s.event_id) for s in new_skips.values()]
    if run.last_outcome is not None:
        stamps.append(run.last_outcome)
    assert run.started is not None
    cause = max(stamps)[1] if stamps else run.started.event_id
    canceled = _cancel_reason(state, run) is not None
    return _completed(
        run, now, cause, state.epoch, plan=plan, new_skips=new_skips, canceled=canceled
    )


# -- the run queue -------------------------------------------------------------------------


def _dispatch(
    state: CoordinatorState, runs: list[RunState], now: datetime, limits: QueueLimits
) -> list[WorkItemDispatched]:
    """Hand ready items to workers as far as the limits allow.

    Manual runs go first, then backfill chunks in turn; runs left holding ready items
    wait in `state.waiting` until an item in flight finishes.
    """
    inflight: Counter[str] = Counter(state.inflight)
    events: list[WorkItemDispatched] = []
    with_ready = [r for r in runs if r.ready and r.completed is None]
    manual = sorted(
        (r for r in with_ready if r.backfill_id is None),
        key=lambda r: (r.request.time if r.request else now, r.run_id),
    )
    for run in manual:
        while (item := _next_ready(state, run, inflight, limits)) is not None:
            events.append(_dispatched(state, run, item, now))
    turn = sorted((r for r in with_ready if r.backfill_id is not None), key=lambda r: r.run_id)
    while turn and not limits.full(inflight):
        for run in list(turn):
            item = _next_ready(state, run, inflight, limits)
            if item is None:
                turn.remove(run)
            else:
                events.append(_dispatched(state, run, item, now))
    for run in with_ready:
        if run.ready:
            state.waiting.add(run.run_id)
    return events


def _next_ready(
    state: CoordinatorState, run: RunState, inflight: Counter[str], limits: QueueLimits
) -> WorkItem | None:
    """Pop the run's first ready item that fits under the limits, and count it in flight.

    Items whose pool or location is full stay queued; at most 64 of them are passed over
    per call, so a run blocked on one pool costs little.
    """
    plan = run.plan
    assert plan is not None
    held: list[int] = []
    found: WorkItem | None = None
    while run.ready and not limits.full(inflight) and len(held) < 64:
        index = heapq.heappop(run.ready)
        item = plan.items[index]
        if run.status[item.work_item_id] not in ("pending", "retrying"):
            continue  # dispatched or ended since it was queued
        if not limits.has_room(inflight, item):
            held.append(index)
            continue
        inflight.update(queue_keys(item))
        found = item
        break
    for index in held:
        heapq.heappush(run.ready, index)
    return found


# -- backfills ---------------------------------------------------------------------------


def _decide_backfills(state: CoordinatorState, now: datetime) -> list[Decision]:
    """Request each backfill's next chunk once the previous one completed, or end it."""
    events: list[Decision] = []
    for backfill_id in sorted(state.dirty_backfills):
        backfill = state.backfills[backfill_id]
        if backfill.completed is not None or backfill.request is None or backfill.active:
            continue
        if backfill.canceled is not None:
            events.append(_backfill_completed(backfill, now, "canceled", state.epoch))
            continue
        try:
            space = resolve_space(backfill.request, state.definitions)
        except ConfluxError as exc:
            events.append(
                _backfill_completed(backfill, now, "failed", state.epoch, reason=_one_line(exc))
            )
            continue
        index = backfill.next_chunk
        request = None
        while index < space.chunk_count and request is None:
            request = chunk_request(backfill, space, index, state.assets, now, state.epoch)
            index += 1
        if request is not None:
            events.append(request)
        else:
            failed = any(c.status != "success" for c in backfill.done.values())
            events.append(
                _backfill_completed(backfill, now, "failed" if failed else "success", state.epoch)
            )
    state.dirty_backfills.clear()
    return events


def _backfill_completed(
    backfill: BackfillState,
    now: datetime,
    status: Literal["success", "failed", "canceled"],
    epoch: int,
    *,
    reason: str | None = None,
) -> BackfillCompleted:
    materialized, failed, skipped = backfill.totals()
    assert backfill.request is not None
    last = max(backfill.done.values(), key=lambda c: (c.time, c.event_id), default=None)
    return BackfillCompleted(
        event_id=derived_id("backfill-completed", backfill.backfill_id),
        time=now,
        producer=PRODUCER,
        epoch=epoch,
        correlation_id=backfill.backfill_id,
        causation_id=(
            backfill.canceled.event_id
            if backfill.canceled is not None
            else last.event_id
            if last is not None
            else backfill.request.event_id
        ),
        backfill_id=backfill.backfill_id,
        status=status,
        chunks=len(backfill.chunks),
        materialized=materialized,
        failed=failed,
        skipped=skipped,
        reason=reason,
    )


# -- events -------------------------------------------------------------------------------


def _dispatched(
    state: CoordinatorState, run: RunState, item: WorkItem, now: datetime
) -> WorkItemDispatched:
    upstream = []
    for asset_key, partition_key in item.upstream:
        partition = state.assets.get(asset_key, partition_key)
        latest = partition.materialized if partition is not None else None
        upstream.append(
            UpstreamRef(
                asset_key=asset_key,
                partition_key=partition_key,
                data_version=latest.data_version if latest is not None else None,
                event_id=latest.event_id if latest is not None else None,
            )
        )
    assert run.started is not None
    attempt = 1
    if run.status[item.work_item_id] == "retrying":
        attempt = run.current_attempt(item.work_item_id) + 1
        cause = run.retry_due(item)[1]
    else:
        # The cause is the last in-run upstream materialization (the one that made it ready).
        stamps = [
            stamp
            for dep in item.depends_on
            if dep in run.outcomes
            for stamp in run.outcomes[dep].materialized.values()
        ]
        cause = max(stamps)[1] if stamps else run.started.event_id
    return WorkItemDispatched(
        event_id=dispatch_id(item.work_item_id, attempt),
        time=now,
        producer=PRODUCER,
        epoch=state.epoch,
        correlation_id=run.run_id,
        causation_id=cause,
        work_item_id=item.work_item_id,
        run_id=run.run_id,
        location=item.location,
        node=item.node,
        asset_keys=item.asset_keys,
        partition_key=item.partition_key,
        attempt=attempt,
        upstream=tuple(upstream),
        partition_range=item.partition_range,
        partition_count=item.partition_count,
        partition_keys=item.partition_keys,
        upstream_spans=item.upstream_spans,
        run_config=run.request.run_config if run.request is not None else None,
        tags=dict(run.request.tags) if run.request is not None else {},
    )


def _skipped(
    run: RunState, item: WorkItem, now: datetime, reason: str, *, cause: str, epoch: int
) -> WorkItemSkipped:
    return WorkItemSkipped(
        event_id=skip_id(item.work_item_id),
        time=now,
        producer=PRODUCER,
        epoch=epoch,
        correlation_id=run.run_id,
        causation_id=cause,
        work_item_id=item.work_item_id,
        run_id=run.run_id,
        asset_keys=item.asset_keys,
        partition_key=item.partition_key,
        reason=reason,
        partition_range=item.partition_range,
        partition_count=item.partition_count,
    )


def _completed(
    run: RunState,
    now: datetime,
    cause: str,
    epoch: int,
    *,
    reason: str | None = None,
    plan: Plan | None = None,
    new_skips: dict[str, WorkItemSkipped] | None = None,
    canceled: bool = False,
) -> RunCompleted:
    counts = {"materialized": 0, "failed": 0, "skipped": 0}
    if plan is not None:
        for item in plan.items:
            status = "skipped" if new_skips and item.work_item_id in new_skips else None
            counts[status or run.status[item.work_item_id]] += (
                len(item.asset_keys) * item.partition_count
            )
    failed = reason is not None or counts["failed"] > 0 or counts["skipped"] > 0
    return RunCompleted(
        event_id=completed_id(run.run_id),
        time=now,
        producer=PRODUCER,
        epoch=epoch,
        correlation_id=run.run_id,
        causation_id=cause,
        run_id=run.run_id,
        status="canceled" if canceled else "failed" if failed else "success",
        materialized=counts["materialized"],
        failed=counts["failed"],
        skipped=counts["skipped"],
        reason=reason,
    )


def _at(partition_key: str | None) -> str:
    return f" partition {partition_key}" if partition_key is not None else ""


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
