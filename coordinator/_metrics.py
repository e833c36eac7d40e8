"""The coordinator's metrics: what it folds, what it decides, and what its state holds.

Counters move where things happen (a batch folded, a decision step), a few additions per
batch; gauges are set from the state by `refresh`, which the service calls from its own
thread every `REFRESH_INTERVAL_S` (the state is not safe to read from the scrape thread).
Labels are bounded: topics, Kafka partitions, code locations, pools, event types and
statuses; never a partition key, a run id or a backfill id.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from conflux.events import DURATION_BUCKETS, LATENCY_BUCKETS, FoldSeries, new_registry

if TYPE_CHECKING:
    from collections.abc import Sequence

    from prometheus_client import CollectorRegistry

    from conflux.coordinator._decide import Decision
    from conflux.coordinator._state import CoordinatorState
    from conflux.events import ConsumedEvent, EventConsumer, TickCompleted

REFRESH_INTERVAL_S = 5.0
"""How often the gauges are set from the state (Prometheus scrapes every 15 s or so)."""
NO_POOL = ""
"""The `pool` label of work items that count against no pool."""

RUN_STATUSES = ("queued", "started", "success", "failed", "canceled")
ITEM_STATES = ("queued", "dispatched", "running")


class CoordinatorMetrics:
    """The coordinator's series, in a registry of its own (see `conflux.events.new_registry`).

    Raises:
        MetricsUnavailableError: prometheus_client is not installed.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else new_registry()
        from prometheus_client import Counter as PCounter, Gauge, Histogram

        r = self.registry
        self.fold = FoldSeries(r)
        self.decisions = PCounter(
            "conflux_coordinator_decisions",
            "Decisions emitted, per event type.",
            ["type"],
            registry=r,
        )
        self.decision_seconds = Histogram(
            "conflux_coordinator_decision_seconds",
            "One decision round: decide, emit, flush to the broker, fold (rounds that "
            "decided something).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.work_items = Gauge(
            "conflux_work_items",
            "Work items queued (ready, held back by the run queue's limits), dispatched "
            "(not started yet) and running, per code location and pool.",
            ["location", "pool", "state"],
            registry=r,
        )
        self.runs = Gauge("conflux_runs", "Runs folded, per status.", ["status"], registry=r)
        self.backfills = Gauge(
            "conflux_backfills_active", "Backfills requested and not completed.", registry=r
        )
        self.backfill_remaining = Gauge(
            "conflux_backfill_partitions_remaining",
            "Partitions of active backfills not in a completed chunk (all backfills summed).",
            registry=r,
        )
        self.ticks = PCounter(
            "conflux_ticks",
            "Schedule and sensor ticks completed (live, not replayed), per status.",
            ["instigator_type", "location", "status"],
            registry=r,
        )
        self.tick_seconds = Histogram(
            "conflux_tick_duration_seconds",
            "How long a tick's evaluation took in the worker (ticks that ran user code).",
            ["instigator_type", "location"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.ready = Gauge(
            "conflux_coordinator_ready",
            "1 once the coordinator caught up with the log.",
            registry=r,
        )
        self.leader = Gauge(
            "conflux_coordinator_leader", "1 while this coordinator leads (decides).", registry=r
        )
        self.refresh_seconds = Gauge(
            "conflux_coordinator_metrics_refresh_seconds",
            "How long the last refresh of these gauges took (the cost of metrics).",
            registry=r,
        )
        self._known_items: set[tuple[str, str, str]] = set()
        self._decided: dict[str, PCounter] = {}
        self._spaces: dict[str, tuple[int, int]] = {}
        """Backfill id -> (partitions, partitions per chunk), resolved once."""

    # -- where things happen ------------------------------------------------------------------

    def count_folded(self, records: Sequence[ConsumedEvent], *, live: bool) -> None:
        """Count a folded batch per topic; live, also the ticks it completes."""
        if not records:
            return
        self.fold.count(records)
        if live:
            for record in records:
                if record.event.type == "TickCompleted":
                    self._tick(record.event)

    def _tick(self, tick: TickCompleted) -> None:
        self.ticks.labels(tick.instigator_type, tick.location, tick.status).inc()
        if tick.duration_ms is not None:
            self.tick_seconds.labels(tick.instigator_type, tick.location).observe(
                tick.duration_ms / 1000
            )

    def count_decided(self, events: Sequence[Decision], seconds: float) -> None:
        """Count one decision round's events and observe how long it took."""
        counts: dict[str, int] = {}
        for event in events:
            counts[event.type] = counts.get(event.type, 0) + 1
        children = self._decided
        for kind, n in counts.items():
            child = children.get(kind)
            if child is None:
                child = children[kind] = self.decisions.labels(kind)
            child.inc(n)
        self.decision_seconds.observe(seconds)

    # -- gauges from the state ----------------------------------------------------------------

    def refresh(
        self,
        state: CoordinatorState,
        consumer: EventConsumer | None,
        *,
        ready: bool,
        active: bool,
    ) -> None:
        """Set the gauges from the state and the consumer (from the service's thread)."""
        started = time.perf_counter()
        self.ready.set(1 if ready else 0)
        self.leader.set(1 if active else 0)
        if consumer is not None:
            self.fold.set_lags(consumer)
        self._refresh_runs(state)
        self._refresh_items(state)
        self._refresh_backfills(state)
        self.refresh_seconds.set(time.perf_counter() - started)

    def _refresh_runs(self, state: CoordinatorState) -> None:
        counts: Counter[str] = Counter()
        for run in state.runs.values():
            if run.completed is not None:
                counts[run.completed.status] += 1
            elif run.started is not None:
                counts["started"] += 1
            elif run.request is not None:
                counts["queued"] += 1
        for status in RUN_STATUSES:
            self.runs.labels(status).set(counts[status])

    def _refresh_items(self, state: CoordinatorState) -> None:
        counts: Counter[tuple[str, str, str]] = Counter()
        for work_item_id, run_id in state.inflight_items.items():
            run = state.runs.get(run_id)
            if run is None or run.plan is None:
                continue
            item = run.plan.item(work_item_id)
            outcome = run.outcomes.get(work_item_id)
            attempt = run.current_attempt(work_item_id)
            running = outcome is not None and attempt in outcome.started_by
            where = (item.location, item.pool or NO_POOL)
            counts[(*where, "running" if running else "dispatched")] += 1
        for run_id in state.waiting:
            run = state.runs.get(run_id)
            if run is None or run.plan is None:
                continue
            for index in run.ready:
                item = run.plan.items[index]
                counts[(item.location, item.pool or NO_POOL, "queued")] += 1
        # Every (location, pool) seen keeps all three states (0 when none): a series that
        # vanishes reads as "no data", not as an empty queue.
        places = {(loc, pool) for loc, pool, _ in self._known_items | counts.keys()}
        places.update((location, NO_POOL) for location in state.definitions.locations)
        for location, pool in places:
            for item_state in ITEM_STATES:
                key = (location, pool, item_state)
                self.work_items.labels(*key).set(counts.get(key, 0))
                self._known_items.add(key)

    def _refresh_backfills(self, state: CoordinatorState) -> None:
        from conflux.events import ConfluxError
        from conflux.projections.folds import resolve_space

        active = 0
        remaining = 0
        for backfill_id, backfill in state.backfills.items():
            if backfill.completed is not None or backfill.request is None:
                self._spaces.pop(backfill_id, None)
                continue
            active += 1
            if backfill_id not in self._spaces:
                try:
                    space = resolve_space(backfill.request, state.definitions)
                except ConfluxError:
                    self._spaces[backfill_id] = (0, 1)
                    continue
                per = len(space.chunk_keys(0)) if space.chunk_count > 1 else space.size
                self._spaces[backfill_id] = (space.size, max(1, per))
            size, per = self._spaces[backfill_id]
            done = sum(min(per, max(0, size - i * per)) for i in backfill.done)
            remaining += max(0, size - done)
        self.backfills.set(active)
        self.backfill_remaining.set(remaining)
