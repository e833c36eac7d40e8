"""Run config as Dagster has it: `Config`, `RunConfig`, and the paths a config travels.

In process (`materialize(run_config=...)`), in the request event (`run_config`), on every
work item the coordinator dispatches, from `RunRequest(run_config=...)` and a job's
`config=`, from the CLI's `--config-json` and the UI's materialize action.
"""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from conflux import (
    AssetExecutionContext,
    Config,
    ConfigurableResource,
    DailyPartitionsDefinition,
    Definitions,
    EnvVar,
    InvalidConfigError,
    PermissiveConfig,
    RunConfig,
    RunRequest,
    ScheduleDefinition,
    asset,
    build_location_snapshot,
    define_asset_job,
    materialize,
)
from conflux.events import MaterializationRequested, WorkItemDispatched


class GreetingConfig(Config):
    person_name: str
    greeting_phrase: str = Field(default="hello", description="how to greet")


@asset
def greeting(config: GreetingConfig) -> str:
    return f"{config.greeting_phrase} {config.person_name}"


def test_run_config_configures_the_asset_and_travels_in_the_events() -> None:
    result = materialize(
        [greeting], run_config=RunConfig({"greeting": GreetingConfig(person_name="Ada")})
    )
    assert result.success
    assert result.output_for_node("greeting") == "hello Ada"
    request = next(e for e in result.events if isinstance(e, MaterializationRequested))
    wanted = {"ops": {"greeting": {"config": {"person_name": "Ada", "greeting_phrase": "hello"}}}}
    assert request.run_config == wanted
    dispatch = next(e for e in result.events if isinstance(e, WorkItemDispatched))
    assert dispatch.run_config == wanted  # the coordinator copies it, unread, onto the work item


def test_a_dict_in_dagsters_shape_works_too() -> None:
    config = {"ops": {"greeting": {"config": {"person_name": "Bo", "greeting_phrase": "hi"}}}}
    result = materialize([greeting], run_config=config)
    assert result.output_for_node("greeting") == "hi Bo"


def test_a_missing_or_wrong_config_fails_before_anything_runs() -> None:
    with pytest.raises(InvalidConfigError, match="person_name: Field required") as missing:
        materialize([greeting])
    assert "no config was given" in str(missing.value)
    with pytest.raises(InvalidConfigError, match="nonexistent"):
        materialize(
            [greeting],
            run_config={"ops": {"greeting": {"config": {"person_name": "x", "nonexistent": 1}}}},
        )
    with pytest.raises(ValidationError):  # refused when built, as Dagster's Config is
        GreetingConfig(person_name="x", nonexistent=1)  # type: ignore[call-arg]


def test_defaults_need_no_config_and_a_direct_call_takes_the_model() -> None:
    class Window(Config):
        days: int = 30

    @asset
    def forecast(config: Window) -> int:
        return config.days

    assert materialize([forecast]).output_for_node("forecast") == 30
    assert forecast(Window(days=7)) == 7


def test_config_of_a_prefixed_asset_is_found_by_dagsters_op_name() -> None:
    @asset(key_prefix=["sales"])
    def report(config: GreetingConfig) -> str:
        return config.person_name

    by_op_name = {"ops": {"sales__report": {"config": {"person_name": "op"}}}}
    assert materialize([report], run_config=by_op_name).asset_value("sales/report") == "op"
    by_function = {"ops": {"report": {"config": {"person_name": "fn"}}}}
    assert materialize([report], run_config=by_function).asset_value("sales/report") == "fn"


def test_env_vars_travel_by_name_and_are_read_where_the_asset_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERSON", "Cy")
    config = RunConfig({"greeting": GreetingConfig(person_name=EnvVar("PERSON"))})
    result = materialize([greeting], run_config=config)
    request = next(e for e in result.events if isinstance(e, MaterializationRequested))
    assert request.run_config == {
        "ops": {
            "greeting": {"config": {"person_name": {"env": "PERSON"}, "greeting_phrase": "hello"}}
        }
    }  # the value never goes into an event
    assert result.output_for_node("greeting") == "hello Cy"
    monkeypatch.delenv("PERSON")
    with pytest.raises(InvalidConfigError, match="environment variable PERSON is not set"):
        materialize([greeting], run_config=config)


def test_permissive_config_keeps_undeclared_fields() -> None:
    class Filters(PermissiveConfig):
        title: str | None = None

    @asset
    def listings(config: Filters) -> dict[str, object]:
        return config.model_dump()

    result = materialize([listings], run_config={"ops": {"listings": {"config": {"beds": 4}}}})
    assert result.output_for_node("listings") == {"title": None, "beds": 4}


def test_the_older_config_schema_is_context_op_config() -> None:
    @asset(config_schema={"api_endpoint": str})
    def fetched(context: AssetExecutionContext) -> str:
        return str(context.op_config["api_endpoint"])

    config = {"ops": {"fetched": {"config": {"api_endpoint": "https://x"}}}}
    assert materialize([fetched], run_config=config).output_for_node("fetched") == "https://x"
    with pytest.raises(InvalidConfigError):
        materialize([fetched], run_config={"ops": {"fetched": {"config": {"api_endpoint": 3}}}})


def test_each_partition_gets_the_runs_config() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01")

    @asset(partitions_def=days)
    def daily(context: AssetExecutionContext, config: GreetingConfig) -> str:
        return f"{context.partition_key}:{config.person_name}"

    result = materialize(
        [daily],
        partition_key="2024-01-02",
        run_config=RunConfig({"daily": GreetingConfig(person_name="d")}),
    )
    assert result.asset_value("daily", "2024-01-02") == "2024-01-02:d"


def test_resources_configured_at_launch_take_the_runs_config() -> None:
    class Database(ConfigurableResource):
        table: str

    @asset
    def rows(db: Database) -> str:
        return db.table

    resources = {"db": Database.configure_at_launch()}
    config = RunConfig(resources={"db": Database(table="orders")})
    result = materialize([rows], run_config=config, resources=resources)
    assert result.output_for_node("rows") == "orders"
    raw = {"resources": {"db": {"config": {"table": "items"}}}}
    assert (
        materialize([rows], run_config=raw, resources=resources).output_for_node("rows") == "items"
    )


def test_run_requests_and_job_config_reach_the_request_event() -> None:
    spec = RunRequest(
        run_key="k", run_config=RunConfig({"greeting": GreetingConfig(person_name="s")})
    ).to_spec()
    assert spec.run_config == {
        "ops": {"greeting": {"config": {"person_name": "s", "greeting_phrase": "hello"}}}
    }
    job = define_asset_job(
        "greet", [greeting], config=RunConfig({"greeting": GreetingConfig(person_name="j")})
    )
    schedule = ScheduleDefinition(cron_schedule="0 0 * * *", job=job)
    defs = Definitions(assets=[greeting], schedules=[schedule], jobs=[job])
    snap = build_location_snapshot(defs, "loc").schedules[0]
    assert snap.run_config == {
        "ops": {"greeting": {"config": {"person_name": "j", "greeting_phrase": "hello"}}}
    }


def test_the_cli_and_the_ui_take_the_config_as_json() -> None:
    from conflux.cli._materialize import parse_run_config
    from conflux.events import ConfluxError

    assert parse_run_config('{"ops": {"a": {"config": {"x": 1}}}}') == {
        "ops": {"a": {"config": {"x": 1}}}
    }
    assert parse_run_config(None) is None
    with pytest.raises(ConfluxError, match="not JSON"):
        parse_run_config("{nope")
    with pytest.raises(ConfluxError, match="JSON object"):
        parse_run_config("[1]")
    from conflux.projections.projector._actions import MaterializeBody

    body = MaterializeBody.model_validate(
        {"selection": "a", "run_config": {"ops": {"a": {"config": {}}}}}
    )
    assert body.run_config == {"ops": {"a": {"config": {}}}}


def test_an_old_request_without_run_config_still_reads() -> None:
    from conflux.events import decode_event

    raw = (
        '{"type": "MaterializationRequested", "event_id": "e", "schema_version": 1, '
        '"time": "2024-01-01T00:00:00Z", "run_id": "r", "selection": "a", "asset_keys": ["a"]}'
    )
    event = decode_event(raw)
    assert isinstance(event, MaterializationRequested) and event.run_config is None
