"""The coordinator's public surface changes on purpose only (STYLE.md 1)."""

from __future__ import annotations

import subprocess
import sys

import conflux.coordinator

EXPECTED = {
    "Coordinator",
    "CoordinatorMetrics",
    "CoordinatorState",
    "Decision",
    "ItemStatus",
    "Outcome",
    "PartitionsRequiredError",
    "Plan",
    "RunProgress",
    "RunState",
    "WorkItem",
    "completed_id",
    "decide",
    "dispatch_id",
    "plan_run",
    "range_work_item_id",
    "skip_id",
    "started_id",
    "work_item_id",
    # what `conflux coordinator`, `dev` and `replay` take from it
    "DEFAULT_HEARTBEAT_TIMEOUT_S",
    "DEFAULT_MAX_CONCURRENT",
    "QueueLimits",
    "coordinator_fold",
    "parse_limits",
    # what `conflux coordinator` takes for its metrics and its logs' instance id
    "default_instance_id",
}


def test_exported_names() -> None:
    assert set(conflux.coordinator.__all__) == EXPECTED
    assert all(hasattr(conflux.coordinator, name) for name in EXPECTED)


def test_import_loads_no_kafka_client_and_no_user_code() -> None:
    code = (
        "import sys, conflux.coordinator; "
        "print(sorted(m for m in ('confluent_kafka', 'conflux.sdk') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
