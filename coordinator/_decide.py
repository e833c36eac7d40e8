"""The decision step: from the coordinator's state to the events it should emit next.

`decide` is deterministic and does no I/O: every event it returns has a derived id, so
deciding again over the same state (after a restart and a replay) yields the same events,
and every fold drops the duplicates. It looks only at runs touched since the last step,
and within a run only at items whose upstream changed, so it stays cheap with many runs.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from conflux.coordinator._planner import plan_run
from conflux.coordinator._state import TERMINAL
from conflux.events import (
    ConfluxError,
    RunCompleted,
    RunStarted,
    UpstreamRef,
    WorkItemDispatched,
    WorkItemSkipped,
    derived_id,
)

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.coordinator._planner import Plan, WorkItem
    from conflux.coordinator._state import CoordinatorState, ItemStatus, RunState

PRODUCER = "coordinator"

Decision = RunStarted | WorkItemDispatched | WorkItemSkipped | RunCompleted
"""What the coordinator emits."""


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


def decide(state: CoordinatorState, now: datetime) -> list[Decision]:
    """Return the events that the runs touched since the last step call for, in emit order.

    Consumes `state.dirty` and caches plans in the state; the fold itself changes only
    when the caller applies the returned events (which it should do at once, so the next
    step does not decide them again; deciding them again would yield equal ids anyway).

    Args:
        state: the folded state (caught up with the log, or decisions may come early).
        now: the `time` of the emitted events; it does not change any decision.
    """
    events: list[Decision] = []
    for run_id in state.take_dirty():
        events.extend(_decide_run(state, state.runs[run_id], now))
    return events


def _decide_run(state: CoordinatorState, run: RunState, now: datetime) -> list[Decision]:
    request = run.request
    if run.completed is not None or request is None:
        return []
    events: list[Decision] = []
    plan = run.plan
    if plan is None:
        try:
            plan = plan_run(request, state.definitions)
        except ConfluxError as exc:
            what = "can no longer be planned: " if run.started is not None else ""
            return [_completed(run, now, request.event_id, reason=what + _one_line(exc))]
        state.attach_plan(run.run_id, plan)
    started_event = run.started
    if started_event is None:
        started_event = RunStarted(
            event_id=started_id(run.run_id),
            time=now,
            producer=PRODUCER,
            correlation_id=run.run_id,
            causation_id=request.event_id,
            run_id=run.run_id,
            asset_keys=plan.asset_keys,
            partition_count=plan.partition_count,
            trigger="manual",
        )
        events.append(started_event)
    if run.full_check:
        candidates = list(range(len(plan.items)))
    else:
        candidates = [plan.index(i) for i in run.check if i in run.status]
    run.full_check = False
    run.check = set()
    heapq.heapify(candidates)
    new_skips: dict[str, WorkItemSkipped] = {}
    seen: set[int] = set()
    while candidates:
        index = heapq.heappop(candidates)
        if index in seen:
            continue
        seen.add(index)
        item = plan.items[index]
        if run.status[item.work_item_id] != "pending":
            continue
        decision = _decide_item(state, run, item, new_skips, started_event.event_id, now)
        if decision is None:
            continue
        events.append(decision)
        if isinstance(decision, WorkItemSkipped):
            new_skips[item.work_item_id] = decision
            for dependent in plan.dependents(item.work_item_id):
                heapq.heappush(candidates, plan.index(dependent))
    terminal = sum(run.counts[s] for s in TERMINAL) + len(new_skips)
    if terminal == len(plan.items):
        # The cause is the latest outcome (by time, id): the one that ended the run.
        stamps = [(s.time, s.event_id) for s in new_skips.values()]
        if run.last_outcome is not None:
            stamps.append(run.last_outcome)
        cause = max(stamps)[1] if stamps else started_event.event_id
        events.append(_completed(run, now, cause, plan=plan, new_skips=new_skips))
    return events


def _decide_item(
    state: CoordinatorState,
    run: RunState,
    item: WorkItem,
    new_skips: dict[str, WorkItemSkipped],
    started_event_id: str,
    now: datetime,
) -> Decision | None:
    """Decide one pending item.

    Skip it if an upstream failed or was skipped; dispatch it if every upstream
    materialized and its location is loaded; else leave it pending (None).
    """
    assert run.plan is not None
    ready = True
    for dep_id in item.depends_on:
        status: ItemStatus = "skipped" if dep_id in new_skips else run.status[dep_id]
        if status == "failed":
            outcome = run.outcomes[dep_id]
            assert outcome.failed is not None
            dep = run.plan.item(dep_id)
            reason = (
                f"upstream {', '.join(dep.asset_keys)}{_at(dep.partition_key)} failed "
                f"({outcome.failed.error_type})"
            )
            return _skipped(run, item, now, reason, cause=outcome.failed.event_id)
        if status == "skipped":
            skip = new_skips.get(dep_id) or run.skipped[dep_id]
            return _skipped(run, item, now, skip.reason, cause=skip.event_id)
        if status != "materialized":
            ready = False
    if not ready or not state.location_loaded(item.location):
        return None  # wait for upstream, or hold until the location is back
    graph = state.definitions
    for key in item.asset_keys:
        asset = graph.assets.get(key)
        if asset is None or asset.node != item.node or graph.location_of(key) != item.location:
            reason = f"asset {key} is no longer defined by location {item.location}"
            return _skipped(run, item, now, reason, cause=started_event_id)
    return _dispatched(state, run, item, now, started_event_id)


def _dispatched(
    state: CoordinatorState, run: RunState, item: WorkItem, now: datetime, started_event_id: str
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
    # The cause is the last in-run upstream materialization (the one that made it ready).
    stamps = [stamp for dep in item.depends_on for stamp in run.outcomes[dep].materialized.values()]
    cause = max(stamps)[1] if stamps else started_event_id
    return WorkItemDispatched(
        event_id=dispatch_id(item.work_item_id, 1),
        time=now,
        producer=PRODUCER,
        correlation_id=run.run_id,
        causation_id=cause,
        work_item_id=item.work_item_id,
        run_id=run.run_id,
        location=item.location,
        node=item.node,
        asset_keys=item.asset_keys,
        partition_key=item.partition_key,
        attempt=1,
        upstream=tuple(upstream),
    )


def _skipped(
    run: RunState, item: WorkItem, now: datetime, reason: str, *, cause: str
) -> WorkItemSkipped:
    return WorkItemSkipped(
        event_id=skip_id(item.work_item_id),
        time=now,
        producer=PRODUCER,
        correlation_id=run.run_id,
        causation_id=cause,
        work_item_id=item.work_item_id,
        run_id=run.run_id,
        asset_keys=item.asset_keys,
        partition_key=item.partition_key,
        reason=reason,
    )


def _completed(
    run: RunState,
    now: datetime,
    cause: str,
    *,
    reason: str | None = None,
    plan: Plan | None = None,
    new_skips: dict[str, WorkItemSkipped] | None = None,
) -> RunCompleted:
    counts = {"materialized": 0, "failed": 0, "skipped": 0}
    if plan is not None:
        for item in plan.items:
            status = "skipped" if new_skips and item.work_item_id in new_skips else None
            counts[status or run.status[item.work_item_id]] += len(item.asset_keys)
    failed = reason is not None or counts["failed"] > 0 or counts["skipped"] > 0
    return RunCompleted(
        event_id=completed_id(run.run_id),
        time=now,
        producer=PRODUCER,
        correlation_id=run.run_id,
        causation_id=cause,
        run_id=run.run_id,
        status="failed" if failed else "success",
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
