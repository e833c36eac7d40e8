"""Workers: stateless executors of one code location's work items."""

from __future__ import annotations

from conflux.workers._metrics import WorkerMetrics
from conflux.workers._worker import Worker, default_worker_id

__all__ = ["Worker", "WorkerMetrics", "default_worker_id"]
