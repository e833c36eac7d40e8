"""Declarative automation in the coordinator: evaluate on events, request what is due.

Evaluation is event-driven. Folding an event only notes what it touched, in O(1): an
upstream partition that materialized or failed, an automation run that ended, a new
graph, new dynamic partitions. The next decision step maps those to the automated asset
partitions they can change (through the partition mappings) and evaluates just those;
cron conditions and new time windows are timers. There is no periodic sweep, so an
upstream materialization is answered within one decision step (milliseconds).

Each partition whose condition is true gets an `AutomationEvaluated` (the condition tree's
values: why the run exists) and, per asset and step, one `MaterializationRequested`
tagged `trigger=automation`. Ids are derived from what triggered the step, and the
conditions are "since last handled" (they compare times with the latest request), so a
restart that re-evaluates the same triggers requests nothing twice.

Full evaluations (a new graph, a cron tick) cover an asset's latest time window, or its
first `FULL_EVALUATION_CAP` keys when it is not time-partitioned.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import (
    AnyEvent,
    AutomationEvaluated,
    MaterializationRequested,
    RunCompleted,
    derived_id,
)
from conflux.projections.folds import (
    AutomationFacts,
    Evaluator,
    cron_leaves,
    next_cron_tick,
    window_schedule,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from conflux.coordinator._state import CoordinatorState
    from conflux.events import ConditionResult
    from conflux.projections.folds import DefinitionsProjection

log = logging.getLogger("conflux.coordinator.automation")

PRODUCER = "coordinator"
EVALUATION_BUDGET = 5_000
"""Asset partitions evaluated per decision step at most; the rest wait for the next step
(the loop steps every poll), so a burst of a million upstream materializations never
stalls the coordinator."""
FULL_EVALUATION_CAP = 10_000
"""Keys of a non-time-partitioned asset evaluated on a full evaluation."""

AssetPartition = tuple[str, str | None]

NOTED_TYPES = frozenset(
    {
        "AssetMaterialized",
        "PartitionFailed",
        "AutomationEvaluated",
        "MaterializationRequested",
        "RunCompleted",
        "DefinitionsPublished",
        "LocationLoadFailed",
        "DynamicPartitionsAdded",
    }
)
"""The event types `AutomationState.apply` reads; the fold skips the call for the rest
(most events, e.g. dispatches, while a million are replayed)."""


@dataclass
class AutomationState:
    """Automation's facts (a fold) and the work it has noted for the next steps.

    Attributes:
        facts: requests, code versions and first definitions (shared with readers).
        triggers: upstream asset partition -> the latest event that changed it.
        full: asset key -> the event that asks for its full evaluation.
        candidates: asset partitions to evaluate -> the events that caused it.
        timers: heap of (due, cron, time zone) for cron conditions and time windows.
        run_partitions: open automation run -> the partitions it was asked for.
        planned_runs: open run of any trigger -> the automated partitions it names, which
            automation waits for (`in_progress`) and evaluates again once it ends.
    """

    facts: AutomationFacts = field(default_factory=AutomationFacts)
    triggers: dict[AssetPartition, str] = field(default_factory=dict)
    full: dict[str, str] = field(default_factory=dict)
    candidates: dict[AssetPartition, set[str]] = field(default_factory=dict)
    timers: list[tuple[datetime, str, str]] = field(default_factory=list)
    run_partitions: dict[str, list[AssetPartition]] = field(default_factory=dict)
    planned_runs: dict[str, list[AssetPartition]] = field(default_factory=dict)
    watched: set[str] = field(default_factory=set)
    """Keys of the assets upstream of an automated asset (their events matter)."""
    graph_changed: str | None = None
    """The event id of a graph change not yet handled (watched set, timers, full runs)."""
    repaired: bool = False
    """True once the first step after a (re)start checked that every request landed."""

    def apply(self, event: AnyEvent) -> None:
        """Fold one event: facts, and a note of what it may change (O(1))."""
        kind = event.type
        if kind == "AssetMaterialized" or kind == "PartitionFailed":
            key = (event.asset_key, event.partition_key)  # type: ignore[union-attr]
            if kind == "AssetMaterialized":
                self.facts.apply(event)
            if key[0] in self.watched:
                self.triggers[key] = event.event_id
        elif kind == "AutomationEvaluated":
            assert isinstance(event, AutomationEvaluated)
            self.facts.apply(event)
            self.run_partitions.setdefault(event.run_id, []).append(
                (event.asset_key, event.partition_key)
            )
        elif isinstance(event, MaterializationRequested):
            self.facts.apply(event)
            named = self.facts.planned_by(event)
            if named and event.tags.get("trigger") != "automation":
                self.planned_runs[event.run_id] = named
        elif isinstance(event, RunCompleted):
            done = self.run_partitions.pop(event.run_id, None)
            for key in done or ():
                self.triggers[key] = event.event_id  # dependents may go on now
            for key in self.planned_runs.pop(event.run_id, ()):
                # automation waited for this run: look again at what it was to handle
                self.candidates.setdefault(key, set()).add(event.event_id)
        elif kind in ("DefinitionsPublished", "LocationLoadFailed"):
            self.facts.apply(event)
            self.graph_changed = event.event_id
        elif kind == "DynamicPartitionsAdded":
            self.graph_changed = event.event_id

    def next_due(self) -> datetime | None:
        """When the next cron or time-window timer falls due (None: none is set)."""
        return self.timers[0][0] if self.timers else None


def decide_automation(
    state: CoordinatorState, now: datetime
) -> list[AutomationEvaluated | MaterializationRequested]:
    """Evaluate the touched asset partitions; request the ones whose condition is true."""
    auto = state.automation
    graph = state.definitions
    events: list[AutomationEvaluated | MaterializationRequested] = []
    if auto.graph_changed is not None:
        _on_graph_change(auto, graph, auto.graph_changed, now)
        auto.graph_changed = None
    if not auto.repaired:
        auto.repaired = True
        events.extend(_repair(state, now))
    if not auto.facts.automated:
        auto.triggers.clear()
        return events
    _fire_timers(auto, now)
    _expand_triggers(auto, graph, now)
    _expand_full(auto, graph, now)
    if not auto.candidates:
        return events
    evaluator = Evaluator(graph, state.assets, auto.facts, lambda r: _run_open(state, r), now)
    due: dict[str, list[tuple[str | None, ConditionResult, tuple[str, ...]]]] = {}
    budget = EVALUATION_BUDGET
    while auto.candidates and budget > 0:
        budget -= 1
        (asset_key, partition), causes = auto.candidates.popitem()
        condition = auto.facts.automated.get(asset_key)
        if condition is None:
            continue
        result = evaluator.evaluate(condition, asset_key, partition)
        if result.value:
            due.setdefault(asset_key, []).append((partition, result, tuple(sorted(causes))))
    for asset_key in sorted(due):
        events.extend(_request(asset_key, due[asset_key], now, state.epoch))
    return events


def _request(
    asset_key: str,
    partitions: list[tuple[str | None, ConditionResult, tuple[str, ...]]],
    now: datetime,
    epoch: int,
) -> list[AutomationEvaluated | MaterializationRequested]:
    """One run for the asset's due partitions, and an evaluation event per partition."""
    partitions.sort(key=lambda p: "" if p[0] is None else p[0])
    causes = sorted({c for _, _, cs in partitions for c in cs})
    keys = [p for p, _, _ in partitions]
    run_id = derived_id("automation", asset_key, *(k or "" for k in keys), "|", *causes)
    events: list[AutomationEvaluated | MaterializationRequested] = [
        AutomationEvaluated(
            event_id=derived_id("automation-evaluated", run_id, partition or ""),
            time=now,
            producer=PRODUCER,
            epoch=epoch,
            correlation_id=run_id,
            causation_id=cs[-1] if cs else None,
            asset_key=asset_key,
            partition_key=partition,
            run_id=run_id,
            result=result,
            trigger_event_ids=cs,
        )
        for partition, result, cs in partitions
    ]
    events.append(_run_request(run_id, asset_key, keys, now, cause=events[0].event_id, epoch=epoch))
    return events


def _run_request(
    run_id: str,
    asset_key: str,
    keys: Sequence[str | None],
    now: datetime,
    *,
    cause: str | None,
    epoch: int,
) -> MaterializationRequested:
    """The request of an automatic run.

    Its id is derived from the run's, so emitting it again yields the same event.
    """
    partition_keys = tuple(k for k in keys if k is not None)
    return MaterializationRequested(
        event_id=derived_id("automation-request", run_id),
        time=now,
        producer=PRODUCER,
        epoch=epoch,
        correlation_id=run_id,
        causation_id=cause,
        run_id=run_id,
        selection=asset_key,
        asset_keys=(asset_key,),
        partition_keys=partition_keys or None,
        requested_by="automation",
        tags={"trigger": "automation"},
    )


def _run_open(state: CoordinatorState, run_id: str) -> bool:
    run = state.runs.get(run_id)
    return run is not None and run.request is not None and run.completed is None


# -- noting what to evaluate ------------------------------------------------------------


def _on_graph_change(
    auto: AutomationState, graph: DefinitionsProjection, cause: str, now: datetime
) -> None:
    """Re-read the automated assets; evaluate each fully once; reset the timers."""
    auto.facts.refresh(graph)
    auto.watched = {up for key in auto.facts.automated for up in graph.upstream_of(key)}
    for key in auto.facts.automated:
        auto.full[key] = cause
    schedules: set[tuple[str, str]] = set()
    for key, condition in auto.facts.automated.items():
        schedules |= cron_leaves(condition)
        window = window_schedule(graph.partitions_def(key))
        if window is not None:
            schedules.add(window)
    auto.timers = [(next_cron_tick(cron, tz, now), cron, tz) for cron, tz in sorted(schedules)]
    heapq.heapify(auto.timers)


def _fire_timers(auto: AutomationState, now: datetime) -> None:
    """A cron tick passed: fully evaluate the assets whose conditions or windows use it."""
    while auto.timers and auto.timers[0][0] <= now:
        due, cron, tz = heapq.heappop(auto.timers)
        heapq.heappush(auto.timers, (next_cron_tick(cron, tz, now), cron, tz))
        cause = f"cron:{cron}@{due.isoformat()}"
        for key, condition in auto.facts.automated.items():
            if (cron, tz) in cron_leaves(condition):
                auto.full[key] = cause
        log.debug("cron tick %s %s", cron, due)


def _expand_triggers(auto: AutomationState, graph: DefinitionsProjection, now: datetime) -> None:
    """Map changed upstream partitions to the automated partitions that read them."""
    budget = EVALUATION_BUDGET
    while auto.triggers and budget > 0:
        budget -= 1
        (up_key, up_partition), cause = auto.triggers.popitem()
        for down_key in graph.downstream_of(up_key):
            if down_key not in auto.facts.automated:
                continue
            down_def = graph.partitions_def(down_key)
            up_def = graph.partitions_def(up_key)
            if down_def is None:
                keys: list[str | None] = [None]
            elif up_def is None:
                keys = list(_full_keys(graph, down_key, now))
            else:
                mapping = graph.mapping(down_key, up_key)
                keys = list(
                    mapping.get_downstream_partition_keys(
                        up_partition, up_def, down_def, current_time=now
                    )
                )
            for key in keys:
                auto.candidates.setdefault((down_key, key), set()).add(cause)


def _expand_full(auto: AutomationState, graph: DefinitionsProjection, now: datetime) -> None:
    while auto.full:
        asset_key, cause = auto.full.popitem()
        if asset_key not in auto.facts.automated:
            continue
        for key in _full_keys(graph, asset_key, now):
            auto.candidates.setdefault((asset_key, key), set()).add(cause)


def _full_keys(graph: DefinitionsProjection, asset_key: str, now: datetime) -> list[str | None]:
    """The partitions a full evaluation covers: the latest window, else the first keys."""
    from conflux.sdk.partitions import TimeWindowPartitionsDefinition

    pdef = graph.partitions_def(asset_key)
    if pdef is None:
        return [None]
    if isinstance(pdef, TimeWindowPartitionsDefinition):
        last = pdef.get_last_partition_key(now)
        return [last] if last is not None else []
    keys = pdef.get_partition_keys(current_time=now)
    if len(keys) > FULL_EVALUATION_CAP:
        log.warning(
            "automation: %s has %d partitions; a full evaluation covers the first %d",
            asset_key,
            len(keys),
            FULL_EVALUATION_CAP,
        )
    return list(keys[:FULL_EVALUATION_CAP])


# -- restarts ------------------------------------------------------------------------------


def _repair(state: CoordinatorState, now: datetime) -> list[MaterializationRequested]:
    """Request again what was evaluated but whose request never reached the log.

    The evaluation and its request are emitted in one flush; a crash between them would
    leave partitions "requested" by a run that does not exist. The request is derived
    from the evaluations alone, with the id it would have had.
    """
    missing: dict[str, list[AssetPartition]] = {}
    for run_id, partitions in state.automation.run_partitions.items():
        run = state.runs.get(run_id)
        if run is None or run.request is None:
            missing[run_id] = partitions
    events: list[MaterializationRequested] = []
    for run_id, partitions in sorted(missing.items()):
        keys = sorted({p for _, p in partitions if p is not None})
        log.warning("automation: run %s was evaluated but never requested; requesting", run_id)
        events.append(
            _run_request(run_id, partitions[0][0], keys, now, cause=None, epoch=state.epoch)
        )
    return events
