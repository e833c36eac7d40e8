"""Declarative automation in the coordinator: evaluate on events, request what is due.

Evaluation is event-driven. Folding an event only notes what it touched, in O(1): an
asset partition that a condition reads materialized, was observed, failed or was checked;
an automation run (or a run that automation waited for) ended; a new graph; new dynamic
partitions; a worker's report of custom conditions. The next decision step maps those to
the automated asset partitions they can change (through the partition mappings) and
evaluates just those; cron conditions and new time windows are timers. There is no
periodic sweep, so an upstream materialization is answered within one decision step
(milliseconds).

A step evaluates its candidates in dependency order. A partition whose condition is true
is `will_be_requested` for the rest of the step, so its automated dependents are
evaluated in the same step and can join its run (`a -> b -> c` eager: one run for `b`
and `c` once `a` updates, as in Dagster). Each true partition gets an `AutomationEvaluated`
(the condition tree's values: why the run exists); the partitions due in a step are
requested in one `MaterializationRequested` per location, partitions definition and key
set, tagged `trigger=automation`. Ids are derived from what triggered the step, and the
conditions compare times with the latest request, so a restart that re-evaluates the same
triggers requests nothing twice.

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
    InstigatorStatusChanged,
    MaterializationRequested,
    RunCompleted,
    TickCompleted,
    derived_id,
)
from conflux.projections.folds import (
    AutomationFacts,
    Evaluator,
    cron_leaves,
    effective_status,
    next_cron_tick,
    run_group,
    window_schedule,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from conflux.coordinator._state import CoordinatorState
    from conflux.events import ConditionResult, SensorSnapshot
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
        "AssetObserved",
        "AssetCheckEvaluated",
        "PartitionFailed",
        "AutomationEvaluated",
        "MaterializationRequested",
        "RunCompleted",
        "DefinitionsPublished",
        "LocationLoadFailed",
        "DynamicPartitionsAdded",
        "TickCompleted",
        "InstigatorStatusChanged",
    }
)
"""The event types `AutomationState.apply` reads; the fold skips the call for the rest
(most events, e.g. dispatches, while a million are replayed)."""


@dataclass
class AutomationState:
    """Automation's facts (a fold) and the work it has noted for the next steps.

    Attributes:
        facts: requests, runs, first publications, ... (shared with readers).
        triggers: asset partition a condition reads -> the latest event that changed it.
        full: asset key -> the event that asks for its full evaluation.
        candidates: asset partitions to evaluate -> the events that caused it.
        timers: heap of (due, cron, time zone) for cron conditions and time windows.
        run_partitions: open automation run -> the partitions it was asked for.
        planned_runs: open run of any trigger -> the partitions it names that conditions
            read, which automation waits for (`in_progress`) and looks at again once it ends.
        levels: automated asset -> its depth in the graph (evaluation order in a step).
    """

    facts: AutomationFacts = field(default_factory=AutomationFacts)
    triggers: dict[AssetPartition, str] = field(default_factory=dict)
    full: dict[str, str] = field(default_factory=dict)
    candidates: dict[AssetPartition, set[str]] = field(default_factory=dict)
    timers: list[tuple[datetime, str, str]] = field(default_factory=list)
    run_partitions: dict[str, list[AssetPartition]] = field(default_factory=dict)
    planned_runs: dict[str, list[AssetPartition]] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)
    sensors: dict[str, tuple[str, SensorSnapshot]] = field(default_factory=dict)
    """Automated asset -> (location, the automation condition sensor that governs it); an
    asset none targets is governed by the implicit default sensor, always running."""
    timed: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    """(cron, time zone) -> the automated assets a tick of it may change (a cron node of
    their condition, or their time window)."""
    graph_changed: str | None = None
    """The event id of a graph change not yet handled (levels, timers, full runs)."""
    repaired: bool = False
    """True once the first step after a (re)start checked that every request landed."""

    def apply(self, event: AnyEvent) -> None:
        """Fold one event: facts, and a note of what it may change (O(1))."""
        kind = event.type
        if kind in ("AssetMaterialized", "PartitionFailed", "AssetObserved", "AssetCheckEvaluated"):
            key = (event.asset_key, event.partition_key)  # type: ignore[union-attr]
            if kind != "PartitionFailed":
                self.facts.apply(event)
            if key[0] in self.facts.read_by:
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
                # automation waited for this run: look again at what reads its partitions
                self.triggers[key] = event.event_id
        elif kind in ("DefinitionsPublished", "LocationLoadFailed", "DynamicPartitionsAdded"):
            self.facts.apply(event)
            self.graph_changed = event.event_id
        elif kind == "TickCompleted":
            self._custom_reported(event)
        elif isinstance(event, InstigatorStatusChanged):
            for asset_key, (_, sensor) in self.sensors.items():
                if sensor.name == event.name:  # started or stopped: look at its assets again
                    self.full[asset_key] = event.event_id

    def _custom_reported(self, event: AnyEvent) -> None:
        """A worker reported custom conditions: evaluate the assets they belong to again."""
        assert isinstance(event, TickCompleted)
        if event.condition_results:
            self.facts.apply(event)
            for report in event.condition_results:
                self.full[report.root_key.split(":")[0]] = event.event_id

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
    evaluator = Evaluator(
        graph,
        state.assets,
        auto.facts,
        lambda r: _run_open(state, r),
        now,
        group_of=lambda key: _group(graph, auto.sensors, key),
    )
    due: dict[AssetPartition, tuple[ConditionResult, tuple[str, ...]]] = {}
    queue = [(auto.levels.get(a, 0), a, p or "", p) for (a, p) in auto.candidates]
    heapq.heapify(queue)
    causes_of = auto.candidates
    seen: set[AssetPartition] = set()
    budget = EVALUATION_BUDGET
    while queue and budget > 0:
        _, asset_key, _, partition = heapq.heappop(queue)
        ap = (asset_key, partition)
        causes = causes_of.pop(ap, set())
        if ap in seen:
            continue
        seen.add(ap)
        budget -= 1
        condition = auto.facts.automated.get(asset_key)
        if condition is None or not _governed(state, asset_key):
            continue
        quick = evaluator.evaluate(condition, asset_key, partition, explain=False)
        if not quick.value:
            continue
        result = evaluator.evaluate(condition, asset_key, partition)
        due[ap] = (result, tuple(sorted(causes)))
        evaluator.step_requests[ap] = _group(graph, auto.sensors, asset_key)
        for down, keys in _dependents(graph, auto, asset_key, partition, now):
            for key in keys:
                nxt = (down, key)
                if nxt not in seen:
                    causes_of.setdefault(nxt, set()).update(causes)
                    heapq.heappush(queue, (auto.levels.get(down, 0), down, key or "", key))
    events.extend(_request(graph, due, now, auto.sensors, state.epoch))
    return events


def _dependents(
    graph: DefinitionsProjection,
    auto: AutomationState,
    asset_key: str,
    partition: str | None,
    now: datetime,
) -> list[tuple[str, list[str | None]]]:
    """The automated dependents of a partition due now, with the partitions that read it."""
    found = []
    for down in graph.downstream_of(asset_key):
        if down in auto.facts.automated and down != asset_key:
            found.append((down, _mapped_down(graph, auto, asset_key, partition, down, now)))
    return found


def _request(
    graph: DefinitionsProjection,
    due: dict[AssetPartition, tuple[ConditionResult, tuple[str, ...]]],
    now: datetime,
    sensors: Mapping[str, tuple[str, SensorSnapshot]],
    epoch: int,
) -> list[AutomationEvaluated | MaterializationRequested]:
    """One run per location, partitions definition, sensor and key set.

    An evaluation per partition; a run carries its automation condition sensor's
    `run_tags`.
    """
    by_group: dict[str, dict[str, list[str | None]]] = {}
    tags_of: dict[str, dict[str, str]] = {}
    for asset_key, partition in due:
        sensor = sensors.get(asset_key)
        group = _group(graph, sensors, asset_key)
        tags_of[group] = dict(sensor[1].run_tags) if sensor else {}
        by_group.setdefault(group, {}).setdefault(asset_key, []).append(partition)
    events: list[AutomationEvaluated | MaterializationRequested] = []
    for name in sorted(by_group):
        runs: dict[tuple[str | None, ...], list[str]] = {}
        for asset_key, keys in by_group[name].items():
            ordered = tuple(sorted(keys, key=lambda k: "" if k is None else k))
            runs.setdefault(ordered, []).append(asset_key)
        for key_set, assets in sorted(runs.items(), key=lambda r: (sorted(r[1]), r[0])):
            events.extend(_run(sorted(assets), key_set, due, now, tags_of[name], epoch))
    return events


def _run(
    assets: list[str],
    keys: tuple[str | None, ...],
    due: dict[AssetPartition, tuple[ConditionResult, tuple[str, ...]]],
    now: datetime,
    tags: dict[str, str],
    epoch: int,
) -> list[AutomationEvaluated | MaterializationRequested]:
    causes = sorted({c for a in assets for k in keys for c in due[(a, k)][1]})
    run_id = derived_id("automation", *assets, "|", *(k or "" for k in keys), "|", *causes)
    events: list[AutomationEvaluated | MaterializationRequested] = []
    for asset_key in assets:
        for partition in keys:
            result, cs = due[(asset_key, partition)]
            events.append(
                AutomationEvaluated(
                    event_id=derived_id("automation-evaluated", run_id, asset_key, partition or ""),
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
            )
    events.append(
        _run_request(run_id, assets, keys, now, cause=events[0].event_id, tags=tags, epoch=epoch)
    )
    return events


def _run_request(
    run_id: str,
    assets: Sequence[str],
    keys: Sequence[str | None],
    now: datetime,
    *,
    cause: str | None,
    tags: Mapping[str, str] | None = None,
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
        selection=",".join(assets),
        asset_keys=tuple(assets),
        partition_keys=partition_keys or None,
        requested_by="automation",
        tags={**(tags or {}), "trigger": "automation"},
    )


def _group(
    graph: DefinitionsProjection, sensors: Mapping[str, tuple[str, SensorSnapshot]], key: str
) -> str:
    """The run an automatic request of `key` joins: location, partitions, sensor."""
    sensor = sensors.get(key)
    return run_group(graph, key) + (f"|{sensor[1].name}" if sensor else "")


def _governed(state: CoordinatorState, asset_key: str) -> bool:
    """Whether automation runs for the asset: its automation condition sensor is running."""
    found = state.automation.sensors.get(asset_key)
    if found is None:
        return True
    sensor = found[1]
    record = state.instigators.facts.records.get(sensor.name)
    return effective_status(record, sensor.default_status) == "running"


def _run_open(state: CoordinatorState, run_id: str) -> bool:
    run = state.runs.get(run_id)
    return run is not None and run.request is not None and run.completed is None


# -- noting what to evaluate ------------------------------------------------------------


def _on_graph_change(
    auto: AutomationState, graph: DefinitionsProjection, cause: str, now: datetime
) -> None:
    """Re-read the automated assets; evaluate each fully once; reset the timers."""
    auto.facts.refresh(graph)
    auto.levels = _levels(graph, auto.facts.automated)
    auto.sensors = {}
    for location, state in sorted(graph.locations.items()):
        snapshot = state.snapshot
        for sensor in sorted(snapshot.sensors if snapshot else (), key=lambda s: s.name):
            if sensor.kind != "automation_condition":
                continue
            for asset_key in sensor.asset_keys:
                if graph.location_of(asset_key) == location:
                    auto.sensors.setdefault(asset_key, (location, sensor))
    for key in auto.facts.automated:
        auto.full[key] = cause
    timed: dict[tuple[str, str], set[str]] = {}
    for key, condition in auto.facts.automated.items():
        schedules = cron_leaves(condition)
        window = window_schedule(graph.partitions_def(key))
        if window is not None:
            schedules.add(window)
        for schedule in schedules:
            timed.setdefault(schedule, set()).add(key)
    auto.timed = timed
    auto.timers = [(next_cron_tick(cron, tz, now), cron, tz) for cron, tz in sorted(timed)]
    heapq.heapify(auto.timers)


def _levels(graph: DefinitionsProjection, automated: Mapping[str, object]) -> dict[str, int]:
    """Each automated asset's depth (0: nothing upstream of it is known)."""
    levels: dict[str, int] = {}

    def level(key: str, path: frozenset[str]) -> int:
        found = levels.get(key)
        if found is not None:
            return found
        ups = [u for u in graph.upstream_of(key) if u in graph.assets and u not in path]
        value = 1 + max((level(u, path | {key}) for u in ups), default=-1)
        levels[key] = value
        return value

    for key in automated:
        level(key, frozenset())
    return {k: levels[k] for k in automated}


def _fire_timers(auto: AutomationState, now: datetime) -> None:
    """A cron tick passed: fully evaluate the assets whose conditions or windows use it."""
    while auto.timers and auto.timers[0][0] <= now:
        due, cron, tz = heapq.heappop(auto.timers)
        heapq.heappush(auto.timers, (next_cron_tick(cron, tz, now), cron, tz))
        cause = f"cron:{cron}@{due.isoformat()}"
        for key in auto.timed.get((cron, tz), ()):
            auto.full[key] = cause
        log.debug("cron tick %s %s", cron, due)


def _expand_triggers(auto: AutomationState, graph: DefinitionsProjection, now: datetime) -> None:
    """Map changed partitions to the automated partitions whose conditions read them."""
    budget = EVALUATION_BUDGET
    while auto.triggers and budget > 0:
        budget -= 1
        (key, partition), cause = auto.triggers.popitem()
        for reader in auto.facts.read_by.get(key, ()):
            if reader == key:
                keys: list[str | None] = [partition]
            elif key in graph.upstream_of(reader):
                keys = _mapped_down(graph, auto, key, partition, reader, now)
            else:  # read through asset_matches: look at the whole asset again
                auto.full[reader] = cause
                continue
            for down_key in keys:
                auto.candidates.setdefault((reader, down_key), set()).add(cause)


def _mapped_down(
    graph: DefinitionsProjection,
    auto: AutomationState,
    up_key: str,
    up_partition: str | None,
    down_key: str,
    now: datetime,
) -> list[str | None]:
    """The partitions of `down_key` that read `up_key`'s partition."""
    down_def = graph.partitions_def(down_key)
    up_def = graph.partitions_def(up_key)
    if down_def is None:
        return [None]
    if up_def is None:
        return _full_keys(graph, down_key, now)
    mapping = graph.mapping(down_key, up_key)
    return list(
        mapping.get_downstream_partition_keys(up_partition, up_def, down_def, current_time=now)
    )


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

    The evaluations and their request are emitted in one flush; a crash between them would
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
        assets = sorted({a for a, _ in partitions})
        keys = sorted({p for _, p in partitions if p is not None})
        log.warning("automation: run %s was evaluated but never requested; requesting", run_id)
        events.append(_run_request(run_id, assets, keys, now, cause=None, epoch=state.epoch))
    return events
