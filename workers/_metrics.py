"""A worker's metrics: the work items it executed, by outcome, and how long they took.

Served by the worker itself (`Worker(metrics_port=...)`) on a port it reports in its
heartbeat. The labels are the location and the outcome: never an asset's partition key
or a run id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from conflux.events import DURATION_BUCKETS, new_registry

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

Outcome = Literal["success", "failure", "error"]
"""`success`: every partition materialized (or observed); `failure`: the asset failed (a
`PartitionFailed`); `error`: the worker could not execute it at all (an exception out of
the executor)."""


class WorkerMetrics:
    """The worker's series, in a registry of its own.

    Raises:
        MetricsUnavailableError: prometheus_client is not installed.
    """

    def __init__(self, location: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else new_registry()
        from prometheus_client import Counter, Gauge, Histogram

        r = self.registry
        self.location = location
        self.executions = Counter(
            "conflux_worker_executions",
            "Work items executed, per outcome.",
            ["location", "outcome"],
            registry=r,
        )
        self.execution_seconds = Histogram(
            "conflux_worker_execution_seconds",
            "How long one work item took to execute (the asset's code and its IO).",
            ["location"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.executing = Gauge(
            "conflux_worker_executing", "1 while a work item executes.", ["location"], registry=r
        )
        self.loaded = Gauge(
            "conflux_worker_loaded",
            "1 once the location's code loaded and its snapshot was published.",
            ["location"],
            registry=r,
        )
        self.refused = Counter(
            "conflux_worker_deliveries_refused",
            "Deliveries not executed: fenced (an older leader's) or repeated.",
            ["location", "reason"],
            registry=r,
        )
        self._outcomes = {  # present from the start, at 0
            outcome: self.executions.labels(location, outcome)
            for outcome in ("success", "failure", "error")
        }
        self._seconds = self.execution_seconds.labels(location)
        self._executing = self.executing.labels(location)
        self._refused_seen = {"fenced": 0, "repeated": 0}

    def refused_so_far(self, *, fenced: int, repeated: int) -> None:
        """Note the deliveries refused so far (`Deliveries.fenced` and `.repeated`)."""
        for reason, total in (("fenced", fenced), ("repeated", repeated)):
            seen = self._refused_seen[reason]
            if total > seen:
                self.refused.labels(self.location, reason).inc(total - seen)
                self._refused_seen[reason] = total

    def started(self) -> None:
        """A work item started executing."""
        self._executing.set(1)

    def executed(self, outcome: Outcome, seconds: float) -> None:
        """A work item ended, with `outcome`, after `seconds`."""
        self._executing.set(0)
        self._outcomes[outcome].inc()
        self._seconds.observe(seconds)
