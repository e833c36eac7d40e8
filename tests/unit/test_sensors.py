"""Sensors: the SDK (definitions, validation, evaluation) and the coordinator's decisions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from test_schedules import location, status, step

from conflux import (
    AssetSelection,
    DefaultSensorStatus,
    Definitions,
    DuplicateInstigatorNameError,
    InvalidScheduleError,
    InvalidSensorError,
    MultiAssetSensorEvaluationContext,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    UnknownTargetError,
    asset,
    asset_sensor,
    multi_asset_sensor,
    sensor,
)
from conflux.coordinator._instigators import LOST_MARGIN_S, decide_instigators
from conflux.coordinator._state import CoordinatorState
from conflux.events import (
    AssetMaterialized,
    MaterializationRequested,
    RunRequestSpec,
    SensorCursorSet,
    SensorSnapshot,
    TickCompleted,
    TickRequested,
    derived_id,
)
from conflux.sdk._snapshot import build_location_snapshot

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conflux.events import AnyEvent

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@asset
def orders() -> int:
    return 1


@asset(deps=[orders])
def report() -> int:
    return 2


# -- SDK ---------------------------------------------------------------------------------


def test_sensor_functions_return_requests_skips_and_cursors() -> None:
    @sensor(target=[report], minimum_interval_seconds=1)
    def files(context: SensorEvaluationContext) -> Iterator[RunRequest]:
        for name in ("a", "b", "c"):
            if name > (context.cursor or ""):
                yield RunRequest(run_key=name, tags={"file": name})
                context.update_cursor(name)

    result = files.evaluate(cursor="a")
    assert [r.run_key for r in result.run_requests] == ["b", "c"]
    assert result.cursor == "c" and result.run_requests[0].asset_keys is None
    assert files.evaluate(cursor="c").skip_reason is not None

    @sensor(target="report")
    def skipping() -> SkipReason:
        return SkipReason("nothing new")

    assert skipping.evaluate(cursor=None).skip_reason == "nothing new"

    @sensor()
    def whole(context: SensorEvaluationContext) -> SensorResult:
        return SensorResult(
            run_requests=[RunRequest(asset_selection=[orders], partition_key=None)], cursor="7"
        )

    result = whole.evaluate(cursor=None)
    assert result.cursor == "7" and result.run_requests[0].asset_keys == ("orders",)


def test_definitions_refuse_broken_schedules_and_sensors_naming_the_fix() -> None:
    @sensor(target=[report], minimum_interval_seconds=0.5)
    def too_fast() -> None:
        return None

    with pytest.raises(InvalidSensorError, match="floor of 1 s"):
        Definitions(assets=[orders, report], sensors=[too_fast])
    with pytest.raises(UnknownTargetError, match="did you mean report"):
        Definitions(
            assets=[orders, report],
            schedules=[ScheduleDefinition(name="s", cron_schedule="0 * * * *", target="reprt")],
        )
    with pytest.raises(InvalidScheduleError, match="five-field cron"):
        Definitions(
            assets=[orders],
            schedules=[ScheduleDefinition(name="s", cron_schedule="every day", target=[orders])],
        )
    with pytest.raises(InvalidScheduleError, match="unknown time zone"):
        Definitions(
            assets=[orders],
            schedules=[
                ScheduleDefinition(
                    name="s",
                    cron_schedule="0 0 * * *",
                    target=[orders],
                    execution_timezone="Mars/X",
                )
            ],
        )

    @sensor(target=[orders], name="s")
    def same_name() -> None:
        return None

    with pytest.raises(DuplicateInstigatorNameError, match="'s'"):
        Definitions(
            assets=[orders],
            schedules=[ScheduleDefinition(name="s", cron_schedule="0 0 * * *", target=[orders])],
            sensors=[same_name],
        )


def test_targets_resolve_through_selections_into_the_snapshot() -> None:
    @sensor(
        target=AssetSelection.assets(orders).downstream(),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=2,
    )
    def watch() -> None:
        return None

    defs = Definitions(assets=[orders, report], sensors=[watch])
    (snapshot,) = build_location_snapshot(defs, "loc").sensors
    assert snapshot.asset_keys == ("orders", "report")
    assert snapshot.default_status == "running" and snapshot.minimum_interval_seconds == 2


def mat(key: str, n: int, at: datetime) -> AssetMaterialized:
    return AssetMaterialized(
        event_id=f"mat-{key}-{n}", time=at, asset_key=key, data_version=str(n), producer="test"
    )


def test_asset_sensors_see_the_newest_materialization_after_their_cursor() -> None:
    seen: list[str] = []

    @asset_sensor(orders, target=[report])
    def on_orders(context: SensorEvaluationContext, event: AssetMaterialized) -> RunRequest:
        seen.append(event.data_version)
        return RunRequest(run_key=event.event_id)

    events = [mat("orders", 1, T0), mat("orders", 2, T0 + timedelta(seconds=1))]
    first = on_orders.evaluate(cursor=None, asset_events=events)
    assert seen == ["2"] and first.run_requests[0].run_key == "mat-orders-2"
    again = on_orders.evaluate(cursor=first.cursor, asset_events=events)
    assert again.skip_reason is not None and seen == ["2"]


def test_multi_asset_sensors_advance_only_what_they_consume() -> None:
    @multi_asset_sensor(monitored_assets=[orders, report], target=[report])
    def both(context: MultiAssetSensorEvaluationContext) -> RunRequest | SkipReason:
        latest = context.latest_materialization_records_by_key()
        if all(latest.values()):
            context.advance_all_cursors()
            return RunRequest()
        return SkipReason("waiting for both")

    one = both.evaluate(cursor=None, asset_events=[mat("orders", 1, T0)])
    assert one.skip_reason == "waiting for both" and one.cursor is None
    events = [mat("orders", 1, T0), mat("report", 1, T0 + timedelta(seconds=1))]
    two = both.evaluate(cursor=one.cursor, asset_events=events)
    assert len(two.run_requests) == 1 and two.cursor is not None
    assert both.evaluate(cursor=two.cursor, asset_events=events).skip_reason == "waiting for both"


# -- the coordinator -----------------------------------------------------------------------


def sensor_snap(name: str = "watch", **kw: object) -> SensorSnapshot:
    return SensorSnapshot(
        name=name,
        minimum_interval_seconds=5,
        asset_keys=("orders",),
        **kw,
    )


def completed(request: TickRequested, at: datetime, **kw: object) -> TickCompleted:
    return TickCompleted(
        event_id=f"done-{request.tick_id}",
        time=at,
        instigator_type="sensor",
        name=request.name,
        location=request.location,
        tick_id=request.tick_id,
        tick_time=request.tick_time,
        worker_id="w1",
        **kw,
    )


def sensor_state(*sensors: SensorSnapshot) -> CoordinatorState:
    state = CoordinatorState()
    state.apply(location(sensors=sensors))
    for s in sensors:
        state.apply(status(s.name, "running", T0, "sensor"))
    return state


def test_a_sensor_is_asked_once_per_interval_with_its_cursor_and_one_tick_in_flight() -> None:
    state = sensor_state(sensor_snap())
    (request,) = step(state, T0)
    assert isinstance(request, TickRequested)
    assert request.tick_id == derived_id("sensor-tick", "watch", T0.isoformat())
    assert request.cursor is None and request.location == "loc"
    assert step(state, T0 + timedelta(seconds=20)) == []  # still in flight: no second request
    state.apply(completed(request, T0 + timedelta(seconds=20), status="skipped", cursor="c1"))
    (second,) = step(state, T0 + timedelta(seconds=20))
    assert isinstance(second, TickRequested) and second.cursor == "c1"
    state.apply(completed(second, T0 + timedelta(seconds=21), status="skipped", cursor="c1"))
    assert step(state, T0 + timedelta(seconds=24)) == []  # interval counts from the request
    state.apply(SensorCursorSet(name="watch", cursor="manual", time=T0 + timedelta(seconds=24)))
    (third,) = step(state, T0 + timedelta(seconds=25))
    assert isinstance(third, TickRequested) and third.cursor == "manual"


def test_a_lost_sensor_tick_is_recorded_as_a_failure_and_the_next_one_follows() -> None:
    state = sensor_state(sensor_snap(timeout_s=2))
    (request,) = step(state, T0)
    assert isinstance(request, TickRequested)
    events = step(state, T0 + timedelta(seconds=2 + LOST_MARGIN_S))
    lost, nxt = events
    assert isinstance(lost, TickCompleted) and lost.status == "failure"
    assert lost.tick_id == request.tick_id
    assert isinstance(nxt, TickRequested) and nxt.tick_id != request.tick_id
    # The worker's late answer is ignored: the first completion of a tick wins.
    state.apply(completed(request, T0 + timedelta(seconds=30), status="success", cursor="late"))
    assert state.instigators.facts.records["watch"].cursor is None


def test_a_run_key_is_requested_once_even_across_a_replay_into_a_fresh_state() -> None:
    defs = location(sensors=(sensor_snap(),))
    state = CoordinatorState()
    log: list[AnyEvent] = [defs, status("watch", "running", T0, "sensor")]
    for event in log:
        state.apply(event)
    (request,) = step(state, T0)
    assert isinstance(request, TickRequested)
    done = completed(
        request,
        T0 + timedelta(seconds=1),
        status="success",
        run_requests=(
            RunRequestSpec(run_key="file-1"),
            RunRequestSpec(run_key="x", asset_keys=("nope",)),
        ),
    )
    state.apply(done)
    (run,) = step(state, T0 + timedelta(seconds=1))  # the unknown asset's request is dropped
    assert isinstance(run, MaterializationRequested)
    assert run.run_id == derived_id("run-key", "sensor", "watch", "file-1")
    assert run.tags == {
        "trigger": "sensor",
        "sensor": "watch",
        "tick_id": request.tick_id,
        "run_key": "file-1",
    }
    assert run.causation_id == done.event_id and run.asset_keys == ("orders",)
    log += [request, done, run]
    fresh = CoordinatorState()
    for event in log:
        fresh.apply(event)
    (again,) = step(fresh, T0 + timedelta(seconds=10))
    assert isinstance(again, TickRequested)
    fresh.apply(
        completed(
            again,
            T0 + timedelta(seconds=11),
            status="success",
            run_requests=(RunRequestSpec(run_key="file-1"),),
        )
    )
    assert decide_instigators(fresh, T0 + timedelta(seconds=11)) == []


def test_asset_sensors_wake_on_materializations_of_their_assets_only() -> None:
    snap_ = sensor_snap(kind="asset_sensor", monitored_asset_keys=("orders",))
    state = sensor_state(snap_)
    assert step(state, T0 + timedelta(minutes=5)) == []  # nothing materialized: no tick
    state.apply(mat("other", 1, T0 + timedelta(minutes=5)))
    assert step(state, T0 + timedelta(minutes=5)) == []
    state.apply(mat("orders", 1, T0 + timedelta(minutes=5)))
    state.apply(mat("orders", 2, T0 + timedelta(minutes=5, seconds=1)))
    (request,) = step(state, T0 + timedelta(minutes=5, seconds=1))
    assert isinstance(request, TickRequested)
    assert [e.data_version for e in request.asset_events] == ["2"]  # no cursor: the latest
    from conflux.sdk._sensor import cursor_positions, position_of

    cursor = json.dumps({"orders": list(position_of(request.asset_events[0]))})
    state.apply(
        completed(request, T0 + timedelta(minutes=5, seconds=2), status="success", cursor=cursor)
    )
    assert (
        cursor_positions(state.instigators.facts.records["watch"].cursor)["orders"][1]
        == "mat-orders-2"
    )
    assert step(state, T0 + timedelta(minutes=9)) == []  # nothing new since
    state.apply(mat("orders", 3, T0 + timedelta(minutes=9)))
    assert step(state, T0 + timedelta(minutes=9)) != []


def test_an_asset_sensor_gets_the_events_after_its_cursor_in_order_each_once() -> None:
    # Materializations come out of order (several partitions of the log) and twice
    # (redelivery); the sensor is sent those after its cursor, oldest first, each once, at
    # most the latest BUFFERED_EVENTS.
    import random

    from conflux.coordinator._instigators import BUFFERED_EVENTS
    from conflux.sdk._sensor import position_of

    snap_ = sensor_snap(kind="asset_sensor", monitored_asset_keys=("orders",))
    state = sensor_state(snap_)
    events = [mat("orders", n, T0 + timedelta(seconds=n)) for n in range(100)]
    cursor = json.dumps({"orders": list(position_of(events[90]))})
    state.apply(SensorCursorSet(name="watch", cursor=cursor, time=T0))
    shuffled = events + events[85:]
    random.Random(4).shuffle(shuffled)
    for event in shuffled:
        state.apply(event)
    (request,) = step(state, T0 + timedelta(minutes=5))
    assert isinstance(request, TickRequested)
    assert [e.data_version for e in request.asset_events] == [str(n) for n in range(91, 100)]
    assert len(state.instigators.buffer["orders"]) <= BUFFERED_EVENTS


def test_a_replay_keeps_only_what_sensors_monitor_once_it_has_read_a_snapshot() -> None:
    # A replay reads topics in no set order: materializations read before any snapshot
    # are all kept (a sensor may monitor them); once one is folded, only monitored assets
    # are, with nothing decided yet. The sensor then gets the same events as the live fold.
    state = CoordinatorState()
    state.apply(mat("orders", 1, T0))
    state.apply(mat("daily", 1, T0))
    assert set(state.instigators.buffer) == {"orders", "daily"}
    state.apply(
        location(sensors=(sensor_snap(kind="asset_sensor", monitored_asset_keys=("orders",)),))
    )
    state.apply(status("watch", "running", T0, "sensor"))
    assert set(state.instigators.buffer) == {"orders"}
    state.apply(mat("orders", 2, T0 + timedelta(seconds=1)))
    state.apply(mat("daily", 2, T0 + timedelta(seconds=1)))
    assert set(state.instigators.buffer) == {"orders"}

    # Live, the snapshot came first and a step resolved the sensors before anything else.
    live = sensor_state(sensor_snap(kind="asset_sensor", monitored_asset_keys=("orders",)))
    step(live, T0 - timedelta(minutes=1))
    for event in (
        mat("orders", 1, T0),
        mat("daily", 1, T0),
        mat("orders", 2, T0 + timedelta(seconds=1)),
        mat("daily", 2, T0 + timedelta(seconds=1)),
    ):
        live.apply(event)
    later = T0 + timedelta(minutes=5)
    (replayed,) = step(state, later)
    (expected,) = [e for e in step(live, later) if isinstance(e, TickRequested)]
    assert isinstance(replayed, TickRequested)
    assert replayed.asset_events == expected.asset_events
    assert [e.data_version for e in replayed.asset_events] == ["2"]
