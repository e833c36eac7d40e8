"""The readiness report behind `conflux status` and `conflux dev`'s "ready" line.

Ready means: the projector has read the log to its end, a coordinator beat recently and
said it is ready, and every expected code location has either published its definitions
or reported why it could not load (a broken location is shown, and holds no one up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux.projections.api import ComponentStatus, DeadLetterSummary, LocationStatus, StatusReport
from conflux.projections.folds import is_alive

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from conflux.events import ComponentHeartbeat
    from conflux.projections.api import BrokerStatus
    from conflux.projections.projector._read_model import ReadModel


def _component(hb: ComponentHeartbeat, now: datetime) -> ComponentStatus:
    return ComponentStatus(
        component=hb.component,
        instance_id=hb.instance_id,
        location=hb.location,
        ready=hb.ready,
        alive=is_alive(hb, now),
        last_seen=hb.time,
        age_s=round((now - hb.time).total_seconds(), 3),
        pid=hb.pid,
        role=hb.role,
        epoch=hb.epoch,
    )


def active_coordinator(coordinators: Sequence[ComponentStatus]) -> ComponentStatus | None:
    """The coordinator that decides: alive and active, the newest epoch's.

    A coordinator paused past its takeover may beat as active for a moment after it wakes
    (until it reads the newer epoch's marks); its epoch is the older one. Coordinators from
    before leadership (no role) count as active. None when no coordinator is alive; the
    latest beat when none of the alive ones is active (a takeover under way).
    """
    alive = [c for c in coordinators if c.alive]
    deciding = [c for c in alive if c.role != "standby"]
    if deciding:
        return max(deciding, key=lambda c: (c.epoch or 0, c.last_seen))
    return max(coordinators, key=lambda c: c.last_seen, default=None)


def status_report(
    model: ReadModel,
    *,
    caught_up: bool,
    expected_locations: tuple[str, ...],
    now: datetime,
    broker_problem: str | None = None,
    brokers: Sequence[BrokerStatus] = (),
    progress: str | None = None,
) -> StatusReport:
    """Build the report from the read model; the caller holds the model's lock.

    `broker_problem` is the feeding projector's word on the broker (None: it answers);
    `brokers` the cluster's brokers, from its metadata; `progress` what it does until it
    has caught up (e.g. rebuilding, with a count).
    """
    not_ready: list[str] = []
    if broker_problem is not None:
        not_ready.append(f"broker: {broker_problem}")
    if not caught_up:
        not_ready.append(f"projector: {progress or 'still reading the log'}")
    beats = sorted(model.components.heartbeats.values(), key=lambda h: (h.component, h.instance_id))
    components = [_component(hb, now) for hb in beats]
    coordinators = [c for c in components if c.component == "coordinator"]
    coordinator = active_coordinator(coordinators)
    if coordinator is None:
        not_ready.append("coordinator: no heartbeat yet (is it running?)")
    elif not coordinator.alive:
        not_ready.append(
            f"coordinator: last heartbeat {coordinator.age_s:.0f} s ago (is it running?)"
        )
    elif coordinator.role == "standby":
        waiting = sum(1 for c in coordinators if c.alive)
        not_ready.append(
            f"coordinator: no active coordinator ({waiting} on standby; one takes over "
            "once the leader's session with the broker expires)"
        )
    elif not coordinator.ready:
        not_ready.append("coordinator: running, not ready yet")

    workers: dict[str, int] = {}
    for c in components:
        if c.component == "worker" and c.alive and c.location is not None:
            workers[c.location] = workers.get(c.location, 0) + 1
    locations: list[LocationStatus] = []
    for name in sorted(set(model.definitions.locations) | set(expected_locations)):
        state = model.definitions.locations.get(name)
        if state is None:
            not_ready.append(f"location {name}: has not published its definitions yet")
            locations.append(
                LocationStatus(
                    name=name,
                    status="waiting",
                    error=None,
                    assets=0,
                    workers_alive=workers.get(name, 0),
                )
            )
            continue
        error = None
        if state.status == "failed" and state.error is not None:
            error = f"{state.error.error_type}: {state.error.message}"
        locations.append(
            LocationStatus(
                name=name,
                status=state.status,
                error=error,
                assets=len(state.snapshot.assets) if state.snapshot else 0,
                workers_alive=workers.get(name, 0),
            )
        )
    return StatusReport(
        ready=not not_ready,
        not_ready=not_ready,
        caught_up=caught_up,
        coordinator=coordinator,
        coordinators=coordinators,
        brokers=list(brokers),
        locations=locations,
        components=components,
        dead_letters=model.components.dead_letter_count,
        recent_dead_letters=[
            DeadLetterSummary(
                source_topic=d.source_topic,
                source_partition=d.source_partition,
                source_offset=d.source_offset,
                reason=d.reason,
                time=d.time,
            )
            for d in model.components.recent_dead_letters
        ],
        events=model.applied,
    )
