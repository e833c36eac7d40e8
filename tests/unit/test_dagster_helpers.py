"""Smaller Dagster names a project uses around sensors, checks and locations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from conflux import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetKey,
    AutomationCondition,
    Definitions,
    EventLogEntry,
    LazyDefinitions,
    MaterializeResult,
    RunRequest,
    SensorEvaluationContext,
    asset,
    asset_check,
    asset_sensor,
    define_asset_job,
    definitions,
    file_relative_path,
    load_definitions_from_file,
    materialize,
)
from conflux.events import AssetMaterialized

if TYPE_CHECKING:
    from pathlib import Path


@asset
def daily_sales() -> MaterializeResult:
    return MaterializeResult(metadata={"row_count": 1500})


@asset_check(asset="daily_sales")
def enough_rows(context: AssetCheckExecutionContext) -> AssetCheckResult:
    event = context.instance.get_latest_materialization_event(AssetKey("daily_sales"))
    assert event is not None and event.asset_materialization is not None
    rows = event.asset_materialization.metadata["row_count"].value
    return AssetCheckResult(passed=rows > 1000, metadata={"row_count": rows})


def test_a_check_reads_the_materialization_it_checks_through_the_instance() -> None:
    [evaluation] = materialize([daily_sales, enough_rows]).check_evaluations
    assert evaluation.passed and evaluation.metadata == {"row_count": 1500}


def test_an_asset_sensor_receives_dagsters_event_log_entry() -> None:
    seen: list[EventLogEntry] = []

    @asset_sensor(asset_key=AssetKey("daily_sales"), target=[daily_sales])
    def on_sales(context: SensorEvaluationContext, asset_event: EventLogEntry) -> RunRequest:
        seen.append(asset_event)
        return RunRequest(run_key=asset_event.event_id)  # the event's own fields read through

    event = AssetMaterialized(
        time=datetime(2024, 1, 1, tzinfo=UTC),
        asset_key="daily_sales",
        data_version="v1",
        metadata={"row_count": 3},
        run_id="r1",
    )
    result = on_sales.evaluate(cursor=None, asset_events=[event])
    assert result.run_requests[0].run_key == event.event_id
    [entry] = seen
    assert entry.dagster_event_type == "ASSET_MATERIALIZATION" and entry.run_id == "r1"
    assert entry.asset_materialization is not None
    assert entry.asset_materialization.metadata["row_count"].value == 3
    assert entry.data_version == "v1"


def test_definitions_functions_are_loaded_by_a_location(tmp_path: Path) -> None:
    @definitions
    def defs() -> Definitions:
        return Definitions(assets=[daily_sales])

    assert isinstance(defs, LazyDefinitions)
    assert [k.to_user_string() for k in defs().asset_keys] == ["daily_sales"]
    module = tmp_path / "location.py"
    module.write_text(
        "import conflux as dg\n\n"
        "@dg.asset\ndef a() -> int:\n    return 1\n\n"
        "@dg.definitions\ndef defs():\n    return dg.Definitions(assets=[a])\n"
    )
    loaded = load_definitions_from_file(module, location="lazy")
    assert [k.to_user_string() for k in loaded.asset_keys] == ["a"]


def test_file_relative_path_is_next_to_the_file() -> None:
    assert file_relative_path("/x/y/defs.py", "data.txt") == "/x/y/data.txt"


def test_a_job_automation_condition_is_accepted_and_said_not_to_be_evaluated() -> None:
    condition = AutomationCondition.all_job_root_assets_match(AutomationCondition.eager())
    assert condition.get_label() == "all_job_root_assets_match(eager)"
    with pytest.warns(UserWarning, match="automates assets, not jobs"):
        define_asset_job("j", selection=[daily_sales], automation_condition=condition)
