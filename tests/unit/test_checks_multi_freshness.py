"""Multi-asset checks, checks selections, and freshness checks evaluated by the coordinator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from conflux import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetSelection,
    DefaultSensorStatus,
    DefinitionError,
    Definitions,
    ScheduleDefinition,
    UnknownTargetError,
    asset,
    asset_check,
    build_last_update_freshness_checks,
    build_location_snapshot,
    build_sensor_for_freshness_checks,
    define_asset_job,
    materialize,
    multi_asset_check,
)
from conflux.coordinator import CoordinatorState, decide
from conflux.events import (
    AnyEvent,
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    DefinitionsPublished,
    TickCompleted,
)

if TYPE_CHECKING:
    from collections.abc import Iterator


@asset
def one() -> int:
    return 1


@asset
def two() -> int:
    return 2


# -- multi-asset checks --------------------------------------------------------------------


@multi_asset_check(
    specs=[AssetCheckSpec("positive", asset=one), AssetCheckSpec("small", asset="two")]
)
def both(context: object) -> Iterator[AssetCheckResult]:
    yield AssetCheckResult(passed=True, asset_key="one")
    yield AssetCheckResult(passed=False, asset_key="two", severity=AssetCheckSeverity.WARN)


def test_a_multi_asset_check_records_each_result_with_its_assets_materialization() -> None:
    result = materialize([one, two, both])
    assert result.success
    found = {(e.asset_key, e.check_name): e for e in result.check_evaluations}
    assert set(found) == {("one", "positive"), ("two", "small")}
    assert found[("one", "positive")].passed and not found[("two", "small")].passed
    assert found[("two", "small")].severity == "WARN"
    mats = {m.asset_key: m.event_id for m in result.materializations}
    assert found[("two", "small")].materialization_event_id == mats["two"]
    assert both.check_keys == {s.key for s in both.specs}
    snapshots = build_location_snapshot(Definitions(assets=[one, two, both]), "loc").asset_checks
    assert [(c.asset_key, c.name) for c in snapshots] == [("one", "positive"), ("two", "small")]


def test_a_multi_asset_check_that_leaves_out_a_spec_fails_that_check() -> None:
    @multi_asset_check(specs=[AssetCheckSpec("a", asset=one), AssetCheckSpec("b", asset=one)])
    def partial() -> Iterator[AssetCheckResult]:
        yield AssetCheckResult(passed=True, check_name="a")

    evaluations = materialize([one, partial]).check_evaluations
    by_name = {e.check_name: e for e in evaluations}
    assert by_name["a"].passed
    assert not by_name["b"].passed and by_name["b"].error_type == "MissingCheckResult"


def test_a_check_that_returns_none_records_nothing_as_in_dagster() -> None:
    @asset_check(asset=one)
    def placeholder() -> None: ...

    result = materialize([one, placeholder])
    assert result.success and result.check_evaluations == []


def test_multi_asset_check_refuses_what_it_cannot_run() -> None:
    with pytest.raises(DefinitionError, match="AssetCheckSpec"):
        multi_asset_check(specs=[])
    with pytest.raises(DefinitionError, match="no asset value"):

        @multi_asset_check(specs=[AssetCheckSpec("a", asset=one)])
        def takes_a_value(one: int) -> None: ...


# -- selections of checks -------------------------------------------------------------------


def test_checks_selections_name_jobs_and_are_refused_as_targets_with_the_reason() -> None:
    @asset_check(asset=one)
    def check_1() -> bool:
        return True

    same = define_asset_job("same", selection=AssetSelection.assets(one).without_checks())
    only = define_asset_job("only", selection=AssetSelection.checks_for_assets(one))
    named = define_asset_job("named", selection=AssetSelection.checks(check_1))
    defs = Definitions(
        assets=[one],
        asset_checks=[check_1],
        jobs=[same, only, named],
        schedules=[ScheduleDefinition(job=same, cron_schedule="@daily")],
    )
    assert AssetSelection.assets(one).without_checks().resolve(defs) == ["one"]
    with pytest.raises(UnknownTargetError, match="runs an asset's checks with the asset"):
        ScheduleDefinition(name="s", job=only, cron_schedule="@daily").to_snapshot(defs)


# -- freshness checks --------------------------------------------------------------------------

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
HOURLY_FRESH = build_last_update_freshness_checks(
    assets=[one], lower_bound_delta=timedelta(hours=1)
)


def _state(*checks: object, sensors: tuple[object, ...] = ()) -> CoordinatorState:
    defs = Definitions(assets=[one], asset_checks=list(checks), sensors=list(sensors))
    state = CoordinatorState()
    state.apply(
        DefinitionsPublished(
            time=T0,
            location="loc",
            snapshot_id="s",
            snapshot=build_location_snapshot(defs, "loc"),
        )
    )
    return state


def _settle(state: CoordinatorState, now: datetime) -> list[AnyEvent]:
    out: list[AnyEvent] = []
    for _ in range(10):
        events = decide(state, now)
        if not events:
            break
        for event in events:
            state.apply(event)
        out.extend(events)
    return out


def _checks(events: list[AnyEvent]) -> list[AssetCheckEvaluated]:
    return [e for e in events if isinstance(e, AssetCheckEvaluated)]


def test_freshness_checks_are_data_evaluated_when_the_asset_updates() -> None:
    [definition] = HOURLY_FRESH
    assert definition.freshness is not None
    [spec] = definition.specs
    assert (spec.name, spec.asset_key.to_user_string()) == ("freshness_check", "one")
    state = _state(*HOURLY_FRESH)
    assert _settle(state, T0) == []
    update = AssetMaterialized(time=T0 + timedelta(minutes=5), asset_key="one", data_version="v")
    state.apply(update)
    [check] = _checks(_settle(state, T0 + timedelta(minutes=5)))
    assert check.passed and check.severity == "WARN" and check.producer == "coordinator"
    assert check.causation_id == update.event_id
    assert check.materialization_event_id == update.event_id
    assert (
        check.metadata["dagster/fresh_until_timestamp"] == (T0 + timedelta(minutes=65)).timestamp()
    )
    assert _settle(state, T0 + timedelta(minutes=6)) == []  # answered once


def test_the_freshness_sensor_evaluates_checks_that_may_be_overdue() -> None:
    sensor = build_sensor_for_freshness_checks(
        freshness_checks=HOURLY_FRESH, default_status=DefaultSensorStatus.RUNNING
    )
    state = _state(*HOURLY_FRESH, sensors=(sensor,))
    first = _settle(state, T0)  # never evaluated: evaluated now, overdue (never updated)
    [never] = _checks(first)
    assert not never.passed and "never been" in (never.description or "")
    assert any(isinstance(e, TickCompleted) and e.worker_id is None for e in first)
    state.apply(AssetObserved(time=T0 + timedelta(minutes=1), asset_key="one", data_version="v1"))
    [observed] = _checks(_settle(state, T0 + timedelta(minutes=1)))
    assert observed.passed  # an observation is an update too
    assert _checks(_settle(state, T0 + timedelta(minutes=30))) == []  # fresh until 13:01
    [overdue] = _checks(_settle(state, T0 + timedelta(minutes=61, seconds=30)))
    assert not overdue.passed and "overdue" in (overdue.description or "")
    assert _checks(_settle(state, T0 + timedelta(hours=3))) == []  # failed: waits for an update


def test_a_deadline_cron_sets_the_lower_bound_before_its_latest_tick() -> None:
    checks = build_last_update_freshness_checks(
        assets=[one], lower_bound_delta=timedelta(minutes=45), deadline_cron="0 9 * * *"
    )
    state = _state(*checks)
    state.apply(AssetMaterialized(time=T0 - timedelta(hours=4), asset_key="one", data_version="v"))
    [check] = _checks(_settle(state, T0))  # updated 08:00, bound 08:15 (09:00 - 45 min)
    assert not check.passed
    assert (
        check.metadata["dagster/freshness_lower_bound_timestamp"]
        == datetime(2024, 3, 1, 8, 15, tzinfo=UTC).timestamp()
    )


def test_freshness_check_factories_refuse_what_dagster_refuses() -> None:
    with pytest.raises(DefinitionError, match="cron"):
        build_last_update_freshness_checks(
            assets=[one], lower_bound_delta=timedelta(hours=1), deadline_cron="every day"
        )
    with pytest.raises(DefinitionError, match="twice"):
        build_last_update_freshness_checks(assets=[one, one], lower_bound_delta=timedelta(1))
    with pytest.raises(DefinitionError, match="not a freshness check"):
        build_sensor_for_freshness_checks(freshness_checks=[both])


def test_metadata_bounds_checks_read_the_materialization_they_check() -> None:
    from conflux import MaterializeResult, build_metadata_bounds_checks

    @asset
    def counted() -> MaterializeResult:
        return MaterializeResult(metadata={"rows": 12})

    low, high = (
        build_metadata_bounds_checks(assets=[counted], metadata_key="rows", min_value=10),
        build_metadata_bounds_checks(
            assets=[counted], metadata_key="rows", max_value=12, exclusive_max=True
        ),
    )
    [ok] = materialize([counted, *low]).check_evaluations
    assert ok.passed and ok.check_name == "rows_bounds_check" and ok.severity == "WARN"
    [too_big] = materialize([counted, *high]).check_evaluations
    assert not too_big.passed and "greater than or equal to 12" in (too_big.description or "")
    with pytest.raises(DefinitionError, match="min_value"):
        build_metadata_bounds_checks(assets=[counted], metadata_key="rows")
