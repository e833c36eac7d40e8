"""The coordinator: plans requests into work items and drives runs to completion.

It never imports user code (rule 7): it learns assets, partitions and mappings from the
definitions projection. Its state is a fold of the log; `decide` turns that state into
the next events, with derived ids, so a restarted coordinator decides the same again.
"""

from __future__ import annotations

from conflux.coordinator._decide import (
    Decision,
    completed_id,
    decide,
    dispatch_id,
    skip_id,
    started_id,
)
from conflux.coordinator._liveness import DEFAULT_HEARTBEAT_TIMEOUT_S
from conflux.coordinator._metrics import CoordinatorMetrics
from conflux.coordinator._planner import (
    PartitionsRequiredError,
    Plan,
    WorkItem,
    plan_run,
    range_work_item_id,
    work_item_id,
)
from conflux.coordinator._queue import DEFAULT_MAX_CONCURRENT, QueueLimits, parse_limits
from conflux.coordinator._replay import coordinator_fold
from conflux.coordinator._service import Coordinator, default_instance_id
from conflux.coordinator._state import (
    CoordinatorState,
    ItemStatus,
    Outcome,
    RunProgress,
    RunState,
)

__all__ = [
    # service
    "Coordinator",
    "CoordinatorMetrics",
    "coordinator_fold",
    "default_instance_id",
    # settings
    "DEFAULT_HEARTBEAT_TIMEOUT_S",
    "DEFAULT_MAX_CONCURRENT",
    "QueueLimits",
    "parse_limits",
    # planning
    "Plan",
    "WorkItem",
    "plan_run",
    "range_work_item_id",
    "work_item_id",
    # state
    "CoordinatorState",
    "ItemStatus",
    "Outcome",
    "RunProgress",
    "RunState",
    # decisions and their derived ids
    "Decision",
    "completed_id",
    "decide",
    "dispatch_id",
    "skip_id",
    "started_id",
    # errors
    "PartitionsRequiredError",
]
