# mypy: disallow-untyped-decorators=False, disallow-subclassing-any=False
"""Dagster as the oracle: the same definitions, run by `dagster.materialize` and by
`conflux.materialize`, give the same values (assets, IO managers, config, ops, testing).

Each scenario is a function of the library module (`dagster` or `conflux`): it declares
its assets with that library's names only, as a ported project would, and says what to
run and what to read back. Definitions one library refuses, the other must refuse too.

No `from __future__ import annotations` here: Dagster cannot resolve string annotations
that name classes defined in a function, and each scenario defines its own.
"""

import types
from pathlib import Path
from typing import Any

import pytest

dagster = pytest.importorskip(
    "dagster", reason="needs the compat extra (pip install -e '.[compat]')"
)

import conflux  # noqa: E402

Lib = types.ModuleType


def _value(lib: Lib, result: Any, node: str, output: str = "result") -> Any:
    return result.output_for_node(node, output)


def _both(scenario: Any, tmp_path: Path) -> tuple[Any, Any]:
    """The scenario's answer under Dagster, then under Conflux."""
    answers = []
    for lib in (dagster, conflux):
        folder = tmp_path / lib.__name__
        folder.mkdir()
        answers.append(scenario(lib, folder))
    return answers[0], answers[1]


def config_scenario(dg: Lib, folder: Path) -> Any:
    class Greeting(dg.Config):  # type: ignore[name-defined]
        name: str
        phrase: str = "hello"

    @dg.asset
    def greeting(config: Greeting) -> str:
        return f"{config.phrase} {config.name}"

    config = dg.RunConfig({"greeting": Greeting(name="Ada")})
    result = dg.materialize([greeting], run_config=config)
    raw = {"ops": {"greeting": {"config": {"name": "Bo", "phrase": "hi"}}}}
    return (
        _value(dg, result, "greeting"),
        _value(dg, dg.materialize([greeting], run_config=raw), "greeting"),
        greeting(Greeting(name="direct")),
    )


def unknown_deps_scenario(dg: Lib, folder: Path) -> Any:
    @dg.asset(deps=["raw_file", dg.AssetKey(["lake", "events"])])
    def table() -> int:
        return 1

    @dg.asset
    def report(table: int) -> int:
        return table + 1

    return _value(dg, dg.materialize([table, report]), "report")


def prefix_resolution_scenario(dg: Lib, folder: Path) -> Any:
    @dg.asset(key_prefix=["staging"])
    def upstream() -> int:
        return 5

    @dg.asset(key_prefix=["staging"], ins={"upstream": dg.AssetIn()})
    def down(upstream: int) -> int:
        return upstream * 2

    return _value(dg, dg.materialize([upstream, down]), "staging__down")


def graph_asset_scenario(dg: Lib, folder: Path) -> Any:
    @dg.op
    def add_one(value: int) -> int:
        return value + 1

    @dg.op(out={"one": dg.Out(), "two": dg.Out()})
    def split(value: int) -> tuple[int, int]:
        return value, value * 10

    @dg.asset
    def upstream_asset() -> int:
        return 3

    @dg.graph_asset
    def derived(upstream_asset: int) -> int:
        return add_one(add_one(upstream_asset))  # type: ignore[no-any-return]

    @dg.graph_multi_asset(outs={"first": dg.AssetOut(), "second": dg.AssetOut()})
    def pair(upstream_asset: int) -> dict[str, Any]:
        one, two = split(upstream_asset)
        return {"first": add_one(one), "second": two}

    result = dg.materialize([upstream_asset, derived, pair])
    return (
        _value(dg, result, "derived"),
        _value(dg, result, "pair", "first"),
        _value(dg, result, "pair", "second"),
        add_one(1),
    )


def multi_asset_scenario(dg: Lib, folder: Path) -> Any:
    @dg.multi_asset(outs={"users": dg.AssetOut(), "orders": dg.AssetOut(key_prefix="shop")})
    def extract() -> tuple[list[str], list[int]]:
        return ["a", "b"], [1, 2]

    @dg.multi_asset(specs=[dg.AssetSpec("x"), dg.AssetSpec("y")])
    def two_specs() -> Any:
        yield dg.MaterializeResult("x", metadata={"n": 1})
        yield dg.MaterializeResult("y")

    result = dg.materialize([extract, two_specs])
    materialized = sorted(
        k if isinstance(k, str) else k.to_user_string()
        for k in (m.asset_key for m in result.asset_materializations_for_node("two_specs"))
    )
    return (
        _value(dg, result, "extract", "users"),
        _value(dg, result, "extract", "orders"),
        materialized,
    )


def partitions_and_context_scenario(dg: Lib, folder: Path) -> Any:
    days = dg.DailyPartitionsDefinition(start_date="2024-01-01")

    @dg.asset(partitions_def=days)
    def daily(context: dg.AssetExecutionContext) -> str:  # type: ignore[name-defined]
        window = context.partition_time_window
        return f"{context.partition_key}:{window.start:%d}-{window.end:%d}"

    run = _value(dg, dg.materialize([daily], partition_key="2024-01-02"), "daily")
    direct = daily(dg.build_asset_context(partition_key="2024-01-05"))
    return run, direct


def none_output_scenario(dg: Lib, folder: Path) -> Any:
    @dg.asset
    def nothing():  # type: ignore[no-untyped-def]
        return None

    @dg.asset(ins={"value": dg.AssetIn("nothing")})
    def reads(value: Any) -> str:
        return repr(value)

    io = dg.FilesystemIOManager(base_dir=str(folder))
    return _value(dg, dg.materialize([nothing, reads], resources={"io_manager": io}), "reads")


def self_dependency_scenario(dg: Lib, folder: Path) -> Any:
    days = dg.DailyPartitionsDefinition(start_date="2024-01-01")
    previous = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)

    @dg.asset(
        partitions_def=days, ins={"running": dg.AssetIn("running", partition_mapping=previous)}
    )
    def running(running: Any) -> int:
        return (running or 0) + 1

    io = dg.FilesystemIOManager(base_dir=str(folder))
    values = []
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        result = dg.materialize([running], partition_key=day, resources={"io_manager": io})
        values.append(_value(dg, result, "running"))
    return values


def io_manager_key_scenario(dg: Lib, folder: Path) -> Any:
    seen: dict[str, Any] = {}

    class Memory(dg.ConfigurableIOManager):  # type: ignore[name-defined]
        tag: str

        def handle_output(self, context: Any, obj: Any) -> None:
            seen["/".join(context.asset_key.path)] = (self.tag, obj, context.name)

        def load_input(self, context: Any) -> Any:
            return seen["/".join(context.asset_key.path)][1]

    @dg.asset(io_manager_key="warehouse")
    def upstream() -> list[int]:
        return [1, 2]

    @dg.asset
    def downstream(upstream: list[int]) -> int:
        return sum(upstream)

    result = dg.materialize([upstream, downstream], resources={"warehouse": Memory(tag="w")})
    return seen["upstream"], _value(dg, result, "downstream")


def io_contexts_scenario(dg: Lib, folder: Path) -> Any:
    class StepIO(dg.IOManager):  # type: ignore[name-defined]
        def __init__(self) -> None:
            self.storage: dict[Any, Any] = {}

        def handle_output(self, context: Any, obj: Any) -> None:
            self.storage[(context.step_key, context.name)] = obj

        def load_input(self, context: Any) -> Any:
            up = context.upstream_output
            return self.storage[(up.step_key, up.name)]

    manager = StepIO()
    manager.handle_output(dg.build_output_context(name="abc", step_key="123"), 5)
    loaded = manager.load_input(
        dg.build_input_context(upstream_output=dg.build_output_context(name="abc", step_key="123"))
    )
    keyed = dg.build_output_context(asset_key=dg.AssetKey(["a", "b"]), partition_key="p")
    return loaded, list(keyed.asset_key.path), keyed.has_partition_key, keyed.asset_partition_key


def io_context_partitions_scenario(dg: Lib, folder: Path) -> Any:
    """What an IO manager is told about partitions: the run's key, the upstream's keys, and
    a multi-partitioned asset's keys as `MultiPartitionKey`s."""
    seen: list[Any] = []

    class Recording(dg.IOManager):  # type: ignore[name-defined]
        def handle_output(self, context: Any, obj: Any) -> None:
            key = context.asset_partition_key
            seen.append(("out", str(key), isinstance(key, dg.MultiPartitionKey)))

        def load_input(self, context: Any) -> Any:
            keys = context.asset_partition_keys
            multi = [isinstance(k, dg.MultiPartitionKey) for k in keys]
            seen.append(("in", str(context.partition_key), [str(k) for k in keys], multi))
            return 1

    days = dg.DailyPartitionsDefinition(start_date="2024-01-01")

    @dg.asset(partitions_def=days)
    def daily() -> int:
        return 1

    @dg.asset(
        partitions_def=days,
        ins={"daily": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(-1, 0))},
    )
    def two_days(daily: Any) -> int:
        return 2

    grid = dg.MultiPartitionsDefinition(
        {"day": days, "region": dg.StaticPartitionsDefinition(["eu", "us"])}
    )

    @dg.asset(partitions_def=grid)
    def cell() -> int:
        return 1

    @dg.asset(partitions_def=grid)
    def after_cell(cell: Any) -> int:
        return 2

    resources = {"io_manager": Recording()}
    dg.materialize([daily, two_days], partition_key="2024-01-03", resources=resources)
    dg.materialize([cell, after_cell], partition_key="2024-01-02|eu", resources=resources)
    return seen


def resources_scenario(dg: Lib, folder: Path) -> Any:
    class Counter(dg.ConfigurableResource):  # type: ignore[name-defined]
        start: int

        def next(self) -> int:
            return self.start + 1

    @dg.asset
    def counted(counter: Counter) -> int:
        return counter.next()

    @dg.asset
    def by_param(plain: dg.ResourceParam[str]) -> str:  # type: ignore[name-defined]
        return str(plain.upper())

    result = dg.materialize(
        [counted, by_param], resources={"counter": Counter(start=41), "plain": "x"}
    )
    return _value(dg, result, "counted"), _value(dg, result, "by_param")


def retry_requested_scenario(dg: Lib, folder: Path) -> Any:
    attempts: list[int] = []

    @dg.asset
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise dg.RetryRequested(max_retries=3)
        return len(attempts)

    return _value(dg, dg.materialize([flaky]), "flaky")


SCENARIOS = [
    config_scenario,
    unknown_deps_scenario,
    prefix_resolution_scenario,
    graph_asset_scenario,
    multi_asset_scenario,
    partitions_and_context_scenario,
    none_output_scenario,
    self_dependency_scenario,
    io_manager_key_scenario,
    io_contexts_scenario,
    io_context_partitions_scenario,
    resources_scenario,
    retry_requested_scenario,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_dagster_and_conflux_give_the_same_values(scenario: Any, tmp_path: Path) -> None:
    expected, got = _both(scenario, tmp_path)
    assert got == expected


def _refusal(build: Any) -> tuple[bool, bool]:
    """Whether Dagster and Conflux refuse the definitions `build(lib)` makes."""
    refused = []
    for lib in (dagster, conflux):
        try:
            build(lib)
        except Exception:  # each library raises its own error type
            refused.append(True)
        else:
            refused.append(False)
    return refused[0], refused[1]


def two_mappings_on_one_dep(dg: Lib) -> None:
    days = dg.DailyPartitionsDefinition(start_date="2024-01-01")
    mapping = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)

    @dg.asset(
        partitions_def=days, deps=[dg.AssetDep("u", partition_mapping=mapping), dg.AssetDep("u")]
    )
    def twice() -> None: ...


def the_same_dep_twice(dg: Lib) -> None:
    @dg.asset(deps=["u", dg.AssetDep("u")])
    def twice() -> None: ...

    dg.Definitions(assets=[twice]).get_assets_def("twice")


def self_dependency_on_the_same_partition(dg: Lib) -> None:
    days = dg.DailyPartitionsDefinition(start_date="2024-01-01")

    @dg.asset(partitions_def=days, deps=["itself"])
    def itself() -> None: ...

    dg.materialize([itself], partition_key="2024-01-02")


def an_unknown_loaded_input(dg: Lib) -> None:
    @dg.asset
    def report(orders: int) -> int:
        return orders

    dg.materialize([report])


def a_graph_asset_returning_nothing(dg: Lib) -> None:
    @dg.op
    def step() -> None: ...

    @dg.graph_asset
    def nothing() -> None:
        step()


def a_missing_config(dg: Lib) -> None:
    class Needed(dg.Config):  # type: ignore[name-defined]
        value: int

    @dg.asset
    def needs(config: Needed) -> int:
        return config.value

    dg.materialize([needs])


@pytest.mark.parametrize(
    "build",
    [
        two_mappings_on_one_dep,
        the_same_dep_twice,
        self_dependency_on_the_same_partition,
        an_unknown_loaded_input,
        a_graph_asset_returning_nothing,
        a_missing_config,
    ],
    ids=lambda b: b.__name__,
)
def test_both_refuse_or_both_accept(build: Any) -> None:
    by_dagster, by_conflux = _refusal(build)
    assert by_conflux == by_dagster
