"""Schedules and sensors in the coordinator: a fold of their ticks, and the next ticks.

The facts (status, cursor, ticks) are the shared fold `InstigatorFacts`. On top of it the
coordinator keeps what its decisions need, all derived: the definitions' schedules and
sensors (rebuilt when a location publishes), a heap of due times (so a step with nothing
due costs O(1), with any number of schedules), the completed ticks whose run requests
are still to be turned into runs, and the latest materializations of the assets that
asset sensors monitor.

Decisions (`decide_instigators`), all with derived ids so a restart repeats nothing:

* A plain or partitioned schedule's due tick is decided here: a `TickCompleted`
  (`worker_id` None, id `derived_id("schedule-tick", name, tick time)`) carrying one run
  request (a partitioned schedule's names the partition that closed at the tick).
* A schedule with a function body gets a `TickRequested` per due tick; a sensor gets one
  when it is running, has no tick in flight and its interval has passed since the last
  request (asset sensors: only when a monitored asset materialized since the last request).
* After downtime, at most `MAX_CATCHUP_TICKS` missed ticks per schedule are caught up (the
  latest ones). A schedule started at T ticks first at the first cron time after T.
* A requested tick not completed within its timeout plus `LOST_MARGIN_S` is recorded as a
  failed tick by the coordinator (`TickCompleted`, `worker_id` None); the next may follow.
* Each run request of a completed tick becomes a `MaterializationRequested` whose run id is
  `derived_id("run-key", type, name, run_key)` (or `("tick-run", tick_id, index)`): a run
  key already in the state's runs is never requested again.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from conflux.events import (
    AnyEvent,
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    DynamicPartitionsAdded,
    DynamicPartitionsDeleted,
    MaterializationRequested,
    RunRequestSpec,
    ScheduleSnapshot,
    SensorSnapshot,
    TickCompleted,
    TickRequested,
    derived_id,
)
from conflux.projections.folds import (
    InstigatorFacts,
    defined_instigators,
    effective_status,
    next_tick,
    ticks_between,
)

if TYPE_CHECKING:
    from conflux.coordinator._state import CoordinatorState
    from conflux.projections.folds import DefinitionsProjection, InstigatorRecord, LocationState

log = logging.getLogger("conflux.coordinator.instigators")

PRODUCER = "coordinator"
MAX_CATCHUP_TICKS = 5
"""Missed ticks caught up per schedule after downtime (the latest ones; Dagster's default)."""
LOST_MARGIN_S = 10.0
"""Seconds past a tick's timeout before its request counts as lost."""
SCHEDULE_TIMEOUT_S = 60.0
"""How long a worker may evaluate a schedule function."""
BUFFERED_EVENTS = 20
"""Latest materializations kept per monitored asset (what an asset sensor tick may get)."""

Spec = tuple[str, ScheduleSnapshot | SensorSnapshot]
Decided = (
    TickRequested
    | TickCompleted
    | MaterializationRequested
    | AssetCheckEvaluated
    | DynamicPartitionsAdded
    | DynamicPartitionsDeleted
    | AssetMaterialized
    | AssetObserved
)
"""What instigators decide: ticks, their runs and reported events, freshness results."""
"""(location, snapshot) of a defined schedule or sensor."""


@dataclass
class InstigatorState:
    """Every schedule's and sensor's status, last tick and cursor, folded from the log."""

    facts: InstigatorFacts = field(default_factory=InstigatorFacts)
    pending: list[TickCompleted] = field(default_factory=list)
    """Completed ticks with run requests, asset events or partition changes not yet acted on."""
    reported: set[str] = field(default_factory=set)
    """Pending ticks whose asset events and partition changes are already on the log (seen
    while replaying it): they are not emitted again."""
    buffer: dict[str, list[AssetMaterialized]] = field(default_factory=dict)
    """Asset key -> its latest materializations: of monitored assets only once a snapshot
    has been folded, of every asset before (a replay may read the assets topic before the
    definitions, and a loaded checkpoint has not resolved its sensors). Appended as they
    come, and put in order of position (each once, the latest `BUFFERED_EVENTS`) when a
    list reaches four times that and before it is read: the fold stays an append."""
    max_catchup_ticks: int = MAX_CATCHUP_TICKS
    _specs: dict[str, Spec] | None = None
    _seen: dict[str, LocationState] = field(default_factory=dict)
    _watchers: dict[str, list[str]] = field(default_factory=dict)
    _dirty: set[str] = field(default_factory=set)
    _due: dict[str, datetime] = field(default_factory=dict)
    _heap: list[tuple[datetime, str]] = field(default_factory=list)

    def __getstate__(self) -> dict[str, Any]:
        """Checkpoint the facts only: the rest is rebuilt from them and the definitions."""
        state = dict(self.__dict__)
        state.update(_specs=None, _seen={}, _watchers={}, _dirty=set(), _due={}, _heap=[])
        return state

    def apply(self, event: AnyEvent) -> None:
        """Fold an instigator event (status change, cursor, tick request or result)."""
        accepted = self.facts.apply(event)
        if accepted is None:
            return
        self._dirty.add(accepted.name)
        if isinstance(accepted, TickCompleted) and (
            accepted.run_requests or accepted.asset_events or accepted.dynamic_partitions_requests
        ):
            self.pending.append(accepted)

    def note_reported(self, event: AnyEvent) -> None:
        """An event emitted for a pending tick's asset events was folded (a replay)."""
        cause = event.causation_id
        if cause is not None and any(t.event_id == cause for t in self.pending):
            self.reported.add(cause)

    def note_materialized(self, event: AssetMaterialized) -> None:
        """An asset materialized: keep it for the asset sensors that monitor it, wake them."""
        key = event.asset_key
        if self._specs is not None and key not in self._watchers:
            return
        kept = self.buffer.get(key)
        if kept is None:
            self.buffer[key] = [event]
        else:
            kept.append(event)
            if len(kept) >= 4 * BUFFERED_EVENTS:
                _put_in_order(kept)
        watchers = self._watchers.get(key)
        if watchers:
            self._dirty.update(watchers)

    def next_due(self) -> datetime | None:
        """When the next schedule or sensor tick falls due (None: nothing is running)."""
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    # -- used by decide ------------------------------------------------------------------

    def refresh(self, definitions: DefinitionsProjection) -> dict[str, Spec]:
        """The defined schedules and sensors, rebuilt when a location's snapshot changed."""
        current = definitions.locations
        if (
            self._specs is not None
            and len(current) == len(self._seen)
            and all(current.get(n) is s for n, s in self._seen.items())
        ):
            return self._specs
        self._seen = dict(current)
        self._specs = defined_instigators(definitions)
        self._watchers = {}
        for name, (_, snap) in self._specs.items():
            if isinstance(snap, SensorSnapshot):
                for key in snap.monitored_asset_keys:
                    self._watchers.setdefault(key, []).append(name)
        for key in [k for k in self.buffer if k not in self._watchers]:
            del self.buffer[key]
        self._dirty.update(self._specs)
        self._dirty.update(self._due)
        return self._specs

    def schedule_due(self, name: str, spec: Spec | None, now: datetime) -> None:
        """Recompute when `name` is due next (None: not at all) and queue it."""
        due = self._due_time(name, spec, now)
        if due is None:
            self._due.pop(name, None)
        elif self._due.get(name) != due:
            self._due[name] = due
            heapq.heappush(self._heap, (due, name))

    def take_due(self, now: datetime) -> list[str]:
        """The names due by `now`, each once (they are queued again when folded)."""
        out: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            due, name = heapq.heappop(self._heap)
            if self._due.get(name) == due:
                del self._due[name]
                out.append(name)
        return out

    def _due_time(self, name: str, spec: Spec | None, now: datetime) -> datetime | None:
        rec = self.facts.records.get(name)
        lost = None
        if rec is not None and rec.outstanding:
            lost = min(
                r.time + timedelta(seconds=r.timeout_s + LOST_MARGIN_S)
                for r in rec.outstanding.values()
            )
        if spec is None:
            return lost
        snap = spec[1]
        if effective_status(rec, snap.default_status) != "running":
            return lost
        if isinstance(snap, ScheduleSnapshot):
            anchor = self.anchor(name, spec, now)
            tick = next_tick(snap, anchor)
            return min(tick, lost) if lost is not None else tick
        if lost is not None:
            return lost  # one tick of a sensor in flight at a time
        last = rec.last_request_time if rec is not None else None
        interval = timedelta(seconds=snap.minimum_interval_seconds)
        earliest = last + interval if last is not None else now
        if snap.monitored_asset_keys and not self.fresh_events(name, snap):
            return None  # asset sensors tick when a monitored asset materialized
        return earliest

    def anchor(self, name: str, spec: Spec, now: datetime) -> datetime:
        """Where a schedule's next ticks count from: its last tick, or when it started."""
        rec = self.facts.records.get(name)
        since = rec.status_time if rec is not None and rec.status is not None else None
        if since is None:  # running by default: since its location published it
            location = self._seen.get(spec[0])
            since = location.updated if location is not None else None
        last = rec.last_tick_time if rec is not None else None
        candidates = [t for t in (last, since) if t is not None]
        return max(candidates) if candidates else now

    def fresh_events(self, name: str, snap: SensorSnapshot) -> list[AssetMaterialized]:
        """The monitored materializations to send with the next tick (after the cursor).

        Empty unless one of them is newer than everything sent before (a wake-up).
        """
        from conflux.sdk.runtime import cursor_positions, position_of

        rec = self.facts.records.get(name)
        positions = cursor_positions(rec.cursor if rec is not None else None)
        out: list[AssetMaterialized] = []
        woken = False
        for key in snap.monitored_asset_keys:
            events = self.buffer.get(key)
            if not events:
                continue
            _put_in_order(events)
            kept = [(position_of(e), e) for e in events]
            seen = positions.get(key)
            fresh = [e for p, e in kept if p > seen] if seen is not None else [kept[-1][1]]
            out.extend(fresh)
            sent = rec.seen_upto.get(key) if rec is not None else None
            if kept[-1][0] > max(sent or ("", ""), seen or ("", "")):
                woken = True
        return out if woken else []


def _put_in_order(events: list[AssetMaterialized]) -> None:
    """Sort `events` in place by position, each once, and keep the latest `BUFFERED_EVENTS`.

    Position is (time, event id); aware times compare as instants, as a position's
    fixed-width UTC text does, so the order is the one the sensor cursor uses.
    """
    once = {event.event_id: event for event in events}
    # One offset lookup per event (the time since the epoch, an exact timedelta), not one
    # per comparison of aware datetimes; half the cost of `timestamp()`.
    events[:] = sorted(once.values(), key=lambda e: (e.time - _EPOCH, e.event_id))[
        -BUFFERED_EVENTS:
    ]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def decide_instigators(state: CoordinatorState, now: datetime) -> list[Decided]:
    """The ticks due by `now`, and the runs that completed ticks ask for."""
    inst = state.instigators
    specs = inst.refresh(state.definitions)
    events: list[Decided] = []
    if inst.pending:
        events.extend(_runs(state, specs, now))
    if inst._dirty:
        for name in sorted(inst._dirty):
            inst.schedule_due(name, specs.get(name), now)
        inst._dirty.clear()
    for name in inst.take_due(now):
        events.extend(_tick(state, name, specs.get(name), now))
    return events


def _tick(state: CoordinatorState, name: str, spec: Spec | None, now: datetime) -> list[Decided]:
    inst = state.instigators
    rec = inst.facts.records.get(name)
    out: list[Decided] = []
    if rec is not None:
        for request in sorted(rec.outstanding.values(), key=lambda r: r.tick_time):
            if request.time + timedelta(seconds=request.timeout_s + LOST_MARGIN_S) <= now:
                out.append(_lost(request, now, state.epoch))
    inst._dirty.add(name)  # queued again once what is emitted here is folded (or at once)
    if spec is None or effective_status(rec, spec[1].default_status) != "running":
        return out
    location, snap = spec
    if isinstance(snap, ScheduleSnapshot):
        for tick_time in ticks_between(
            snap, inst.anchor(name, spec, now), now, inst.max_catchup_ticks
        ):
            tick_id = derived_id("schedule-tick", name, tick_time.isoformat())
            if rec is not None and (tick_id in rec.outstanding or rec.done(tick_id)):
                continue
            if snap.has_function:
                out.append(_request(state, location, "schedule", name, tick_id, tick_time, now))
            else:
                out.append(_schedule_tick(state, location, snap, tick_id, tick_time, now))
    elif snap.kind in ("freshness", "automation_condition") and not (
        snap.kind == "automation_condition" and snap.use_user_code_server
    ):
        out.extend(_coordinator_sensor_tick(state, location, snap, rec, now))
    elif rec is None or not rec.outstanding:  # a lost tick is folded first, then the next
        last = rec.last_request_time if rec is not None else None
        if last is None or now >= last + timedelta(seconds=snap.minimum_interval_seconds):
            events = inst.fresh_events(name, snap) if snap.monitored_asset_keys else []
            if not snap.monitored_asset_keys or events:
                tick_id = derived_id("sensor-tick", name, now.isoformat())
                out.append(
                    _request(state, location, "sensor", name, tick_id, now, now, snap, events)
                )
    return out


def _coordinator_sensor_tick(
    state: CoordinatorState,
    location: str,
    snap: SensorSnapshot,
    rec: InstigatorRecord | None,
    now: datetime,
) -> list[Decided]:
    """A tick of a sensor with no user function, decided here (no worker is asked).

    A freshness sensor evaluates its due freshness checks (`_freshness`); an automation
    condition sensor only records that it ticked (automation itself is event-driven).
    """
    from conflux.coordinator._freshness import due_checks, evaluate

    last = rec.last_request_time if rec is not None else None
    last_done = rec.last_completed.time if rec is not None and rec.last_completed else None
    since = max((t for t in (last, last_done) if t is not None), default=None)
    if since is not None and now < since + timedelta(seconds=snap.minimum_interval_seconds):
        return []
    tick_id = derived_id("sensor-tick", snap.name, now.isoformat())
    out: list[Decided] = []
    if snap.kind == "freshness":
        for text in due_checks(state, snap.check_keys, now):
            asset_key, _, name = text.rpartition(":")
            out.append(evaluate(state, (asset_key, name), now, cause=tick_id))
    done = len(out)
    out.append(
        TickCompleted(
            event_id=derived_id("tick-completed", tick_id),
            time=now,
            producer=PRODUCER,
            correlation_id=tick_id,
            instigator_type="sensor",
            name=snap.name,
            location=location,
            tick_id=tick_id,
            tick_time=now,
            status="success" if done else "skipped",
            skip_reason=None if done else "nothing to evaluate",
            cursor=rec.cursor if rec is not None else None,
        )
    )
    return out


def _request(
    state: CoordinatorState,
    location: str,
    kind: str,
    name: str,
    tick_id: str,
    tick_time: datetime,
    now: datetime,
    sensor: SensorSnapshot | None = None,
    events: list[AssetMaterialized] | None = None,
) -> TickRequested:
    rec = state.instigators.facts.records.get(name)
    last = rec.last_completed if rec is not None else None
    return TickRequested(
        event_id=derived_id("tick-requested", tick_id),
        time=now,
        producer=PRODUCER,
        epoch=state.epoch,
        correlation_id=tick_id,
        instigator_type="sensor" if kind == "sensor" else "schedule",
        name=name,
        location=location,
        tick_id=tick_id,
        tick_time=tick_time,
        cursor=rec.cursor if rec is not None and kind == "sensor" else None,
        timeout_s=sensor.timeout_s if sensor is not None else SCHEDULE_TIMEOUT_S,
        asset_events=tuple(events or ()),
        last_completion_time=last.time if last is not None else None,
    )


def _schedule_tick(
    state: CoordinatorState,
    location: str,
    snap: ScheduleSnapshot,
    tick_id: str,
    tick_time: datetime,
    now: datetime,
) -> TickCompleted:
    common: dict[str, Any] = {
        "event_id": tick_id,
        "time": now,
        "producer": PRODUCER,
        "epoch": state.epoch,
        "correlation_id": tick_id,
        "instigator_type": "schedule",
        "name": snap.name,
        "location": location,
        "tick_id": tick_id,
        "tick_time": tick_time,
    }
    partition: str | None = None
    if snap.partitioned and snap.asset_keys:
        try:
            pdef = state.definitions.partitions_def(snap.asset_keys[0])
            partition = pdef.get_last_partition_key(current_time=tick_time) if pdef else None
        except Exception as exc:  # a snapshot this version cannot rebuild: say so, go on
            return TickCompleted(
                **common, status="failure", error_type=type(exc).__name__, message=str(exc)
            )
        if partition is None:
            return TickCompleted(
                **common, status="skipped", skip_reason="no partition has closed yet"
            )
    spec = RunRequestSpec(partition_key=partition)
    return TickCompleted(**common, status="success", run_requests=(spec,))


def _reported(
    tick: TickCompleted, now: datetime
) -> list[DynamicPartitionsAdded | DynamicPartitionsDeleted | AssetMaterialized | AssetObserved]:
    """The events a sensor tick's partition changes and asset events stand for."""
    out: list[DynamicPartitionsAdded | DynamicPartitionsDeleted | AssetMaterialized | AssetObserved]
    out = []
    who = f"{tick.instigator_type}:{tick.name}"
    common = {"time": now, "producer": PRODUCER, "causation_id": tick.event_id}
    for index, change in enumerate(tick.dynamic_partitions_requests):
        kind = DynamicPartitionsAdded if change.action == "add" else DynamicPartitionsDeleted
        out.append(
            kind(
                event_id=derived_id("sensor-partitions", tick.tick_id, str(index)),
                partitions_def_name=change.partitions_def_name,
                partition_keys=change.partition_keys,
                requested_by=who,
                **common,
            )
        )
    for index, reported in enumerate(tick.asset_events):
        event_id = derived_id("sensor-asset-event", tick.tick_id, str(index))
        if reported.kind == "materialization":
            out.append(
                AssetMaterialized(
                    event_id=event_id,
                    asset_key=reported.asset_key,
                    partition_key=reported.partition_key,
                    data_version=reported.data_version or event_id[:16],
                    source="reported",
                    metadata=reported.metadata,
                    **common,
                )
            )
        else:
            out.append(
                AssetObserved(
                    event_id=event_id,
                    asset_key=reported.asset_key,
                    partition_key=reported.partition_key,
                    data_version=reported.data_version,
                    description=reported.description,
                    metadata=reported.metadata,
                    source="sensor",
                    tick_id=tick.tick_id,
                    **common,
                )
            )
    return out


def _lost(request: TickRequested, now: datetime, epoch: int) -> TickCompleted:
    waited = request.timeout_s + LOST_MARGIN_S
    return TickCompleted(
        event_id=derived_id("tick-lost", request.tick_id),
        time=now,
        producer=PRODUCER,
        epoch=epoch,
        correlation_id=request.tick_id,
        causation_id=request.event_id,
        instigator_type=request.instigator_type,
        name=request.name,
        location=request.location,
        tick_id=request.tick_id,
        tick_time=request.tick_time,
        status="failure",
        cursor=request.cursor,
        error_type="TickLost",
        message=(
            f"no worker of location {request.location} completed the tick within "
            f"{waited:g} s: is one running? (`conflux status`)"
        ),
    )


def _runs(
    state: CoordinatorState, specs: dict[str, Spec], now: datetime
) -> list[
    MaterializationRequested
    | DynamicPartitionsAdded
    | DynamicPartitionsDeleted
    | AssetMaterialized
    | AssetObserved
]:
    """What the pending ticks ask for: partition changes, asset events, then the runs.

    One `MaterializationRequested` per run request, none twice (run keys). Partition
    changes come first, so a run request may name a key its tick added.
    """
    inst = state.instigators
    out: list[
        MaterializationRequested
        | DynamicPartitionsAdded
        | DynamicPartitionsDeleted
        | AssetMaterialized
        | AssetObserved
    ] = []
    emitted: set[str] = set()
    for tick in inst.pending:
        if tick.event_id in inst.reported:
            inst.reported.discard(tick.event_id)
        else:
            out.extend(_reported(tick, now))
        spec = specs.get(tick.name)
        target = spec[1].asset_keys if spec is not None else ()
        base_tags = (
            spec[1].tags if spec is not None and isinstance(spec[1], ScheduleSnapshot) else {}
        )
        kind = tick.instigator_type
        for index, rr in enumerate(tick.run_requests):
            if rr.run_key is not None:
                run_id = derived_id("run-key", kind, tick.name, rr.run_key)
            else:
                run_id = derived_id("tick-run", tick.tick_id, str(index))
            if run_id in state.runs or run_id in emitted:
                continue  # requested before: a run key runs once
            keys = tuple(rr.asset_keys) if rr.asset_keys is not None else tuple(target)
            assets = state.definitions.assets
            unknown = [k for k in keys if k not in assets or assets[k].is_external]
            if not keys or unknown:
                log.warning(
                    "%s %s tick %s: run request %s dropped: %s",
                    kind,
                    tick.name,
                    tick.tick_id,
                    rr.run_key or index,
                    f"unknown or external assets {', '.join(unknown)}"
                    if unknown
                    else "no target assets",
                )
                continue
            emitted.add(run_id)
            tags = {
                **base_tags,
                **rr.tags,
                "trigger": kind,
                kind: tick.name,
                "tick_id": tick.tick_id,
            }
            if rr.run_key is not None:
                tags["run_key"] = rr.run_key
            out.append(
                MaterializationRequested(
                    event_id=derived_id("instigator-run", run_id),
                    time=now,
                    producer=PRODUCER,
                    epoch=state.epoch,
                    correlation_id=run_id,
                    causation_id=tick.event_id,
                    run_id=run_id,
                    selection=",".join(keys),
                    asset_keys=keys,
                    partition_keys=(rr.partition_key,) if rr.partition_key is not None else None,
                    requested_by=f"{kind}:{tick.name}",
                    tags=tags,
                )
            )
    inst.pending.clear()
    return out
