"""Liveness: find attempts whose worker went silent, and fence them off.

Workers beat every few seconds, naming the item they execute. The coordinator keeps, in
memory only, when it last heard from each worker (heartbeats are about now, not state:
they are never replayed). An item in flight whose attempt was started by a worker not
heard from for the timeout is abandoned: a `WorkItemAbandoned` fences that attempt off
(a late result from it does not count) and the item is dispatched again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from conflux.events import WorkItemAbandoned, derived_id

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.coordinator._state import CoordinatorState

DEFAULT_HEARTBEAT_TIMEOUT_S = 15.0
"""Silence after which a worker counts as lost: several missed beats (they come every
2 s), and longer than a stop-the-world pause of a busy worker."""


class WorkerClock:
    """When each worker was last heard from (monotonic seconds), in this process.

    A worker never heard from since this process started counts from the start, so a
    restarted coordinator gives every worker a full timeout before calling it lost.
    """

    def __init__(self, timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._started = time.monotonic()
        self._seen: dict[str, float] = {}

    def heard(self, worker_id: str) -> None:
        """Note a sign of life (a heartbeat, or any event the worker produced)."""
        self._seen[worker_id] = time.monotonic()

    def is_lost(self, worker_id: str) -> bool:
        """Whether the worker has been silent for longer than the timeout."""
        last = self._seen.get(worker_id, self._started)
        return time.monotonic() - last > self.timeout_s


def lost_attempts(
    state: CoordinatorState, clock: WorkerClock, now: datetime
) -> list[WorkItemAbandoned]:
    """Abandon every in-flight attempt whose worker is lost (ids derived: no duplicates)."""
    events: list[WorkItemAbandoned] = []
    for work_item_id, run_id in sorted(state.inflight_items.items()):
        run = state.runs.get(run_id)
        if run is None or run.plan is None:
            continue
        outcome = run.outcomes.get(work_item_id)
        if outcome is None:
            continue  # dispatched, not started: still waiting in the work topic
        attempt = run.current_attempt(work_item_id)
        worker = outcome.started_by.get(attempt)
        if worker is None or attempt in outcome.abandoned or not clock.is_lost(worker):
            continue
        item = run.plan.item(work_item_id)
        events.append(
            WorkItemAbandoned(
                event_id=derived_id("abandon", work_item_id, str(attempt)),
                time=now,
                producer="coordinator",
                epoch=state.epoch,
                correlation_id=run_id,
                causation_id=run.dispatched[work_item_id].event_id
                if work_item_id in run.dispatched
                else None,
                work_item_id=work_item_id,
                run_id=run_id,
                asset_keys=item.asset_keys,
                partition_key=item.partition_key,
                partition_range=item.partition_range,
                partition_count=item.partition_count,
                attempt=attempt,
                worker_id=worker,
                reason=(
                    f"worker {worker} sent no heartbeat for {clock.timeout_s:g} s "
                    f"(attempt {attempt} is fenced off and the item dispatched again)"
                ),
            )
        )
    return events
