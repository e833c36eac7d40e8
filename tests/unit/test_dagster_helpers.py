"""Smaller Dagster names a project uses around assets, ops, config, tests, sensors and checks."""

from __future__ import annotations

import contextlib
import logging
import sys
import types
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from conflux import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    AutomationCondition,
    ConfigurableResource,
    Definitions,
    EventLogEntry,
    ExecuteInProcessResult,
    Field,
    In,
    LazyDefinitions,
    MaterializeResult,
    MaterializeRunResult,
    Noneable,
    Nothing,
    RunRequest,
    SensorEvaluationContext,
    asset,
    asset_check,
    asset_sensor,
    build_init_resource_context,
    build_op_context,
    build_resources,
    define_asset_job,
    definitions,
    file_relative_path,
    get_dagster_logger,
    graph_asset,
    load_assets_from_modules,
    load_definitions_from_file,
    map_asset_specs,
    materialize,
    materialize_to_memory,
    op,
    resource,
)
from conflux.events import AssetMaterialized, DefinitionError

if TYPE_CHECKING:
    from collections.abc import Iterator
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


def test_build_op_context_gives_op_config_and_resources() -> None:
    @op(config_schema={"n": int})
    def counted(context: AssetExecutionContext) -> int:
        return int(context.op_config["n"]) + int(context.resources.base)

    assert counted(build_op_context(op_config={"n": 2}, resources={"base": 40})) == 42


def test_build_resources_and_init_contexts() -> None:
    class Greeter(ConfigurableResource):
        word: str

        def greet(self) -> str:
            return self.word

    @resource(config_schema={"prefix": str})
    def prefixed(context):  # type: ignore[no-untyped-def]
        return f"{context.resource_config['prefix']}!"

    with build_resources({"greeter": Greeter(word="hi"), "plain": 3}) as resources:
        assert resources.greeter.greet() == "hi" and resources.plain == 3
    assert prefixed.resource_fn(build_init_resource_context(config={"prefix": "p"})) == "p!"


def test_older_config_schema_with_fields() -> None:
    @asset(config_schema={"n": Field(int, default_value=1), "label": Field(Noneable(str))})
    def counted(context: AssetExecutionContext) -> str:
        return f"{context.op_config['label']}:{context.op_config['n']}"

    config = {"ops": {"counted": {"config": {"label": None}}}}
    assert materialize([counted], run_config=config).output_for_node("counted") == "None:1"


def test_nothing_inputs_order_ops_without_a_value() -> None:
    ran: list[str] = []

    @op
    def first() -> None:
        ran.append("first")

    @op(ins={"start": In(Nothing)})
    def second() -> int:
        ran.append("second")
        return 2

    @graph_asset
    def ordered() -> object:
        return second(start=first())

    assert materialize([ordered]).asset_value("ordered") == 2
    assert ran == ["first", "second"]


def test_load_assets_from_modules_with_a_group_and_a_prefix() -> None:
    module = types.ModuleType("loaded_assets_example")

    @asset
    def raw() -> int:
        return 1

    @asset
    def cleaned(raw: int) -> int:
        return raw + 1

    module.raw, module.cleaned = raw, cleaned  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        loaded = load_assets_from_modules([module], group_name="etl", key_prefix="lake")
    finally:
        del sys.modules[module.__name__]
    result = materialize(loaded)  # type: ignore[arg-type]
    assert result.asset_value("lake/cleaned") == 2
    assert {o.group_name for a in loaded for o in a.outputs} == {"etl"}  # type: ignore[attr-defined]


def test_map_asset_specs_changes_specs_and_assets() -> None:
    @asset
    def mine() -> None: ...

    mapped = map_asset_specs(
        lambda spec: spec.replace_attributes(group_name="g", tags={"t": "1"}),
        [mine, AssetSpec("theirs")],
    )
    first, second = mapped
    assert isinstance(first, AssetsDefinition) and first.get_asset_spec().group_name == "g"
    assert isinstance(second, AssetSpec) and second.tags == {"t": "1"}
    with pytest.raises(DefinitionError, match="cannot change"):
        map_asset_specs(lambda spec: spec.replace_attributes(key="other"), [mine])


def test_materialize_to_memory_and_dagsters_result_name() -> None:
    @asset
    def five() -> int:
        return 5

    result = materialize_to_memory([five])
    assert (
        isinstance(result, ExecuteInProcessResult)
        and ExecuteInProcessResult is MaterializeRunResult
    )
    assert result.output_for_node("five") == 5
    with pytest.raises(DefinitionError, match="in memory"):
        materialize_to_memory([five], resources={"io_manager": object()})


def test_dagster_logger_and_asset_key_forms(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        get_dagster_logger().info("hello")
    assert "hello" in caplog.text
    key = AssetKey(["a", "b"])
    assert key.path == ["a", "b"] and key.to_string() == '["a", "b"]'
    assert key.to_python_identifier() == "a__b"


def test_a_resource_yields_what_assets_receive_for_the_whole_run() -> None:
    events: list[str] = []

    class Client:
        def query(self) -> str:
            return "rows"

    class Database(ConfigurableResource[Client]):  # type: ignore[type-arg]  # Dagster's form
        url: str

        @contextlib.contextmanager
        def yield_for_execution(self, context: object) -> Iterator[Client]:
            events.append("open")
            yield Client()
            events.append("close")

    @asset
    def rows(db: Database) -> str:
        events.append("asset")
        return str(db.query())  # type: ignore[attr-defined]

    assert (
        materialize([rows], resources={"db": Database(url="x")}).output_for_node("rows") == "rows"
    )
    assert events == ["open", "asset", "close"]
