"""Schedules in the coordinator: a pure fold and decisions over hand-built events.

Covers the first tick after a start, daylight-saving days (America/New_York and
Europe/Berlin, spring forward and fall back), the catch-up limit, start/stop, partitioned
schedules, function schedules (worker-evaluated) and replay into a fresh state.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from coordinator_builders import DAILY, snap

from conflux.coordinator._instigators import (
    LOST_MARGIN_S,
    SCHEDULE_TIMEOUT_S,
    decide_instigators,
)
from conflux.coordinator._state import CoordinatorState
from conflux.events import (
    AnyEvent,
    DefinitionsPublished,
    InstigatorStatusChanged,
    LocationSnapshot,
    MaterializationRequested,
    ScheduleSnapshot,
    SensorSnapshot,
    TickCompleted,
    TickRequested,
    derived_id,
)
from conflux.projections.folds import next_tick

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def location(
    *schedules: ScheduleSnapshot,
    sensors: tuple[SensorSnapshot, ...] = (),
    at: datetime = T0,
    partitions: bool = False,
) -> DefinitionsPublished:
    assets = (snap("orders"), snap("daily", partitions=DAILY if partitions else None))
    return DefinitionsPublished(
        event_id=f"defs-{at.isoformat()}-{len(schedules)}-{len(sensors)}",
        time=at,
        location="loc",
        snapshot_id="s",
        snapshot=LocationSnapshot(
            location="loc", assets=assets, schedules=schedules, sensors=sensors
        ),
        producer="test",
    )


def status(
    name: str,
    value: Literal["running", "stopped"],
    at: datetime,
    kind: Literal["schedule", "sensor"] = "schedule",
) -> InstigatorStatusChanged:
    return InstigatorStatusChanged(
        event_id=f"status-{name}-{value}-{at.isoformat()}",
        time=at,
        instigator_type=kind,
        name=name,
        status=value,
        producer="test",
    )


def step(
    state: CoordinatorState, now: datetime, log: list[AnyEvent] | None = None
) -> list[AnyEvent]:
    """What the service does: decide, fold what was decided, until nothing more comes."""
    out: list[AnyEvent] = []
    for _ in range(10):
        events = decide_instigators(state, now)
        if not events:
            break
        for event in events:
            state.apply(event)
        out.extend(events)
    if log is not None:
        log.extend(out)
    return out


def ticks(events: list[AnyEvent]) -> list[TickCompleted]:
    return [e for e in events if isinstance(e, TickCompleted)]


def schedule(name: str = "every5", cron: str = "*/5 * * * *", **kw: object) -> ScheduleSnapshot:
    return ScheduleSnapshot(name=name, cron_schedule=cron, asset_keys=("orders",), **kw)


def started(*schedules: ScheduleSnapshot, at: datetime = T0) -> CoordinatorState:
    state = CoordinatorState()
    state.apply(location(*schedules, at=at))
    for s in schedules:
        state.apply(status(s.name, "running", at))
    return state


def test_a_stopped_schedule_never_ticks_and_a_started_one_ticks_at_the_next_cron_time() -> None:
    state = CoordinatorState()
    state.apply(location(schedule()))
    assert step(state, T0 + timedelta(hours=1)) == []  # default STOPPED
    start = T0 + timedelta(hours=1, minutes=2)
    state.apply(status("every5", "running", start))
    assert step(state, start + timedelta(minutes=2)) == []  # no history is caught up
    due = T0 + timedelta(hours=1, minutes=5)
    events = step(state, due)
    (tick,) = ticks(events)
    assert tick.tick_time == due
    assert tick.tick_id == tick.event_id == derived_id("schedule-tick", "every5", due.isoformat())
    assert tick.worker_id is None and tick.status == "success"
    (run,) = [e for e in events if isinstance(e, MaterializationRequested)]
    assert run.asset_keys == ("orders",)
    assert run.run_id == derived_id("tick-run", tick.tick_id, "0")
    assert run.causation_id == tick.event_id
    assert run.tags["trigger"] == "schedule" and run.tags["schedule"] == "every5"
    assert run.tags["tick_id"] == tick.tick_id
    assert step(state, due + timedelta(minutes=4, seconds=59)) == []
    assert [t.tick_time for t in ticks(step(state, due + timedelta(minutes=5)))] == [
        due + timedelta(minutes=5)
    ]


def test_default_running_schedules_tick_and_stop_stops_them() -> None:
    state = CoordinatorState()
    state.apply(location(schedule(default_status="running")))
    assert len(ticks(step(state, T0 + timedelta(minutes=5)))) == 1
    state.apply(status("every5", "stopped", T0 + timedelta(minutes=6)))
    assert step(state, T0 + timedelta(minutes=30)) == []
    state.apply(status("every5", "running", T0 + timedelta(minutes=31)))
    # Started again: the ticks missed while stopped are not caught up.
    assert [t.tick_time for t in ticks(step(state, T0 + timedelta(minutes=36)))] == [
        T0 + timedelta(minutes=35)
    ]


def test_after_downtime_at_most_the_catch_up_limit_of_latest_ticks_fire() -> None:
    state = started(schedule(name="minutely", cron="* * * * *"))
    assert len(ticks(step(state, T0 + timedelta(minutes=1)))) == 1
    fired = ticks(step(state, T0 + timedelta(minutes=30, seconds=10)))
    assert [t.tick_time for t in fired] == [T0 + timedelta(minutes=m) for m in range(26, 31)]
    assert step(state, T0 + timedelta(minutes=30, seconds=20)) == []


def run_day(cron: str, zone: str, day: datetime) -> list[datetime]:
    """Every tick time of `cron` in `zone` decided over one UTC-padded day."""
    state = started(schedule(name="s", cron=cron, execution_timezone=zone), at=day)
    state.instigators.max_catchup_ticks = 100
    return [t.tick_time for t in ticks(step(state, day + timedelta(hours=48)))]


def test_spring_forward_in_new_york_fires_a_skipped_time_at_the_end_of_the_gap() -> None:
    # 2024-03-10: 02:00 EST -> 03:00 EDT. 02:30 does not exist: it fires at 03:00 EDT.
    times = run_day("30 2 * * *", "America/New_York", datetime(2024, 3, 9, 12, tzinfo=UTC))
    assert times == [
        datetime(2024, 3, 10, 7, 0, tzinfo=UTC),
        datetime(2024, 3, 11, 6, 30, tzinfo=UTC),
    ]


def test_fall_back_in_new_york_fires_a_repeated_time_once() -> None:
    # 2024-11-03: 02:00 EDT -> 01:00 EST; 01:30 happens twice and fires once (the later).
    times = run_day("30 1 * * *", "America/New_York", datetime(2024, 11, 2, 12, tzinfo=UTC))
    assert times == [
        datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
        datetime(2024, 11, 4, 6, 30, tzinfo=UTC),
    ]


def test_hourly_schedules_follow_the_absolute_clock_on_change_days() -> None:
    new_york = ZoneInfo("America/New_York")
    fall = run_day("0 * * * *", "America/New_York", datetime(2024, 11, 3, 3, 59, tzinfo=UTC))
    on_day = [t for t in fall if t.astimezone(new_york).date().isoformat() == "2024-11-03"]
    assert len(on_day) == 25  # the repeated hour fires twice
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(fall))
    spring = run_day("0 * * * *", "America/New_York", datetime(2024, 3, 10, 4, 59, tzinfo=UTC))
    on_day = [t for t in spring if t.astimezone(new_york).date().isoformat() == "2024-03-10"]
    assert len(on_day) == 23  # the skipped hour never fires


def test_berlin_spring_forward_and_fall_back() -> None:
    # 2024-03-31: 02:00 CET -> 03:00 CEST; 02:30 fires at 03:00 CEST (01:00 UTC).
    spring = run_day("30 2 * * *", "Europe/Berlin", datetime(2024, 3, 30, 6, tzinfo=UTC))
    assert spring == [
        datetime(2024, 3, 31, 1, 0, tzinfo=UTC),
        datetime(2024, 4, 1, 0, 30, tzinfo=UTC),
    ]
    # 2024-10-27: 03:00 CEST -> 02:00 CET; 02:30 fires once, at 02:30 CET (01:30 UTC).
    fall = run_day("30 2 * * *", "Europe/Berlin", datetime(2024, 10, 26, 6, tzinfo=UTC))
    assert fall == [
        datetime(2024, 10, 27, 1, 30, tzinfo=UTC),
        datetime(2024, 10, 28, 1, 30, tzinfo=UTC),
    ]
    # The schedule's own next-tick helper agrees across the change.
    snapshot = schedule(cron="30 2 * * *", execution_timezone="Europe/Berlin")
    assert next_tick(snapshot, datetime(2024, 10, 26, 6, tzinfo=UTC)) == fall[0]


def test_a_partitioned_schedule_requests_the_partition_that_just_closed() -> None:
    sched = ScheduleSnapshot(
        name="daily_job_schedule",
        cron_schedule="0 0 * * *",
        asset_keys=("daily",),
        partitioned=True,
    )
    state = CoordinatorState()
    state.apply(location(sched, partitions=True))
    state.apply(status(sched.name, "running", T0))
    events = step(state, datetime(2024, 3, 2, 0, 0, 1, tzinfo=UTC))
    (tick,) = ticks(events)
    assert tick.run_requests[0].partition_key == "2024-03-01"
    (run,) = [e for e in events if isinstance(e, MaterializationRequested)]
    assert run.partition_keys == ("2024-03-01",) and run.asset_keys == ("daily",)


def test_a_function_schedule_is_requested_from_the_worker_and_lost_requests_fail() -> None:
    state = started(schedule(name="fn", cron="0 * * * *", has_function=True))
    due = T0 + timedelta(hours=1)
    (request,) = step(state, due)
    assert isinstance(request, TickRequested)
    assert (
        request.location == "loc"
        and request.tick_time == due
        and request.instigator_type == "schedule"
    )
    assert request.tick_id == derived_id("schedule-tick", "fn", due.isoformat())
    assert step(state, due + timedelta(seconds=30)) == []  # not asked twice
    lost_at = due + timedelta(seconds=SCHEDULE_TIMEOUT_S + LOST_MARGIN_S)
    (lost,) = step(state, lost_at)
    assert isinstance(lost, TickCompleted) and lost.status == "failure"
    assert lost.tick_id == request.tick_id and lost.error_type == "TickLost"
    assert lost.worker_id is None


def test_replaying_the_log_into_a_fresh_state_decides_nothing_new() -> None:
    log: list[AnyEvent] = []
    defs = location(schedule(default_status="running"))
    state = CoordinatorState()
    state.apply(defs)
    for minutes in (5, 10, 15):
        step(state, T0 + timedelta(minutes=minutes), log)
    assert len(ticks(log)) == 3
    fresh = CoordinatorState()
    for event in [defs, *log]:
        fresh.apply(event)
    assert step(fresh, T0 + timedelta(minutes=16)) == []
    assert fresh.instigators.facts.records["every5"].last_tick_time == T0 + timedelta(minutes=15)
    # A duplicate tick changes nothing either.
    for event in log:
        fresh.apply(event)
    assert fresh.instigators.facts.records["every5"].counts == {"success": 3}


def test_a_checkpointed_state_decides_like_the_live_one() -> None:
    import pickle

    state = started(schedule(name="minutely", cron="* * * * *"))
    step(state, T0 + timedelta(minutes=1))
    restored = pickle.loads(pickle.dumps(state))
    live = [t.tick_time for t in ticks(step(state, T0 + timedelta(minutes=3)))]
    again = [t.tick_time for t in ticks(step(restored, T0 + timedelta(minutes=3)))]
    assert live == again == [T0 + timedelta(minutes=2), T0 + timedelta(minutes=3)]


def test_the_catch_up_limit_is_configured_on_the_coordinator() -> None:
    from conflux.coordinator import Coordinator
    from conflux.events import Topics

    coordinator = Coordinator("127.0.0.1:1", Topics("t"), max_catchup_ticks=2)
    assert coordinator.state.instigators.max_catchup_ticks == 2
    assert Coordinator("127.0.0.1:1", Topics("t")).state.instigators.max_catchup_ticks == 5


def test_a_nickname_schedule_ticks_as_its_five_fields() -> None:
    state = started(schedule("nightly", cron="@daily"))
    assert step(state, T0 + timedelta(hours=11, minutes=59)) == []
    (tick,) = ticks(step(state, T0 + timedelta(hours=12)))
    assert tick.tick_time == datetime(2024, 3, 2, tzinfo=UTC)
    weekly = started(schedule("weekly", cron="@weekly"))
    (tick,) = ticks(step(weekly, datetime(2024, 3, 3, tzinfo=UTC)))  # a Sunday
    assert tick.tick_time == datetime(2024, 3, 3, tzinfo=UTC)


def test_schedules_accept_dagsters_nicknames_and_refuse_days_that_never_come() -> None:
    import pytest

    from conflux import Definitions, InvalidScheduleError, ScheduleDefinition, asset, schedule

    @asset
    def a() -> None: ...

    defs = Definitions(assets=[a])
    for nickname in ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly"):
        snapshot = ScheduleDefinition(name="s", cron_schedule=nickname, target=[a])
        assert snapshot.to_snapshot(defs).cron_schedule == nickname
    decorated = schedule("@annually", target=[a])(lambda: {})
    assert decorated.to_snapshot(defs).cron_schedule == "@annually"
    for bad in ("@reboot", "0 0 30 2 *", "0 0 31 feb *", "0 0 * * * *"):
        with pytest.raises(InvalidScheduleError, match="nickname"):
            ScheduleDefinition(name="s", cron_schedule=bad, target=[a]).to_snapshot(defs)
