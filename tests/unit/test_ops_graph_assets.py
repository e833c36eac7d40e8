"""Ops inside assets: `@op`, `@graph_asset`, `@graph_multi_asset`, as Dagster has them.

A graph asset is one node: the worker runs its ops in one work item, passing values in
memory; only the assets go through the IO manager.
"""

from __future__ import annotations

import pytest

from conflux import (
    AssetOut,
    AssetsDefinition,
    Config,
    ConfigurableResource,
    Definitions,
    In,
    OpExecutionContext,
    Out,
    Output,
    asset,
    graph,
    graph_asset,
    graph_multi_asset,
    materialize,
    op,
)
from conflux.events import DefinitionError, WorkItemDispatched


@op
def add_one(value: int) -> int:
    return value + 1


@op
def multiply_by_two(value: int) -> int:
    return value * 2


@asset
def upstream_asset() -> int:
    return 3


@graph_asset
def derived_asset(upstream_asset: int) -> int:
    return multiply_by_two(add_one(upstream_asset))  # type: ignore[no-any-return]


def test_an_op_called_outside_a_graph_calls_its_function() -> None:
    assert add_one(1) == 2


def test_a_graph_asset_runs_its_ops_in_one_work_item() -> None:
    result = materialize([upstream_asset, derived_asset])
    assert result.success
    assert result.asset_value("derived_asset") == 8
    nodes = [e.node for e in result.events if isinstance(e, WorkItemDispatched)]
    assert nodes == ["upstream_asset", "derived_asset"]  # the ops are not work items


def test_ops_with_several_outputs_unpack_and_a_graph_multi_asset_maps_them() -> None:
    @op(out={"one": Out(), "two": Out()})
    def split(value: int) -> tuple[int, int]:
        return value, value * 10

    @graph_multi_asset(outs={"first": AssetOut(), "second": AssetOut()})
    def two_assets(upstream_asset: int) -> dict[str, object]:
        one, two = split(upstream_asset)
        return {"first": add_one(one), "second": two}

    result = materialize([upstream_asset, two_assets])
    assert result.asset_value("first") == 4 and result.asset_value("second") == 30


def test_ops_yielding_outputs_by_name_with_their_selected_outputs() -> None:
    @op(out={"foo_1": Out(is_required=False), "foo_2": Out(is_required=False)})
    def foo(context: OpExecutionContext, bar_1: int):  # type: ignore[no-untyped-def]
        if "foo_1" in context.selected_output_names:
            yield Output(bar_1 + 1, output_name="foo_1")
        if "foo_2" in context.selected_output_names:
            yield Output(bar_1 + 2, output_name="foo_2")

    @op(out={"bar_1": Out(), "bar_2": Out()})
    def bar() -> tuple[int, int]:
        return 1, 2

    @op
    def baz(foo_2: int, bar_2: int) -> int:
        return foo_2 + bar_2

    @graph_multi_asset(outs={"foo_asset": AssetOut(), "baz_asset": AssetOut()}, can_subset=True)
    def my_graph_assets():  # type: ignore[no-untyped-def]
        bar_1, bar_2 = bar()
        foo_1, foo_2 = foo(bar_1)
        return {"foo_asset": foo_1, "baz_asset": baz(foo_2, bar_2)}

    result = materialize([my_graph_assets])
    assert result.asset_value("foo_asset") == 2 and result.asset_value("baz_asset") == 5


def test_op_config_resources_and_defaults() -> None:
    class Factor(Config):
        factor: int = 2

    class Offset(ConfigurableResource):
        offset: int

    @op(ins={"value": In(default_value=5)})
    def scaled(config: Factor, offset: Offset, value: int) -> int:
        return value * config.factor + offset.offset

    @graph_asset
    def scaled_asset() -> int:
        return scaled()  # type: ignore[no-any-return]

    resources = {"offset": Offset(offset=1)}
    assert materialize([scaled_asset], resources=resources).asset_value("scaled_asset") == 11
    nested = {"ops": {"scaled_asset": {"ops": {"scaled": {"config": {"factor": 3}}}}}}
    result = materialize([scaled_asset], resources=resources, run_config=nested)
    assert result.asset_value("scaled_asset") == 16
    flat = {"ops": {"scaled": {"config": {"factor": 4}}}}
    result = materialize([scaled_asset], resources=resources, run_config=flat)
    assert result.asset_value("scaled_asset") == 21


def test_a_graph_used_twice_and_nested_and_from_graph() -> None:
    @graph
    def plus_two(value: int) -> object:
        return add_one(add_one(value))

    @graph_asset
    def four_more(upstream_asset: int) -> object:
        return plus_two(plus_two(upstream_asset))

    assert materialize([upstream_asset, four_more]).asset_value("four_more") == 7
    middle = AssetsDefinition.from_graph(plus_two)
    keyed = AssetsDefinition.from_graph(plus_two, keys_by_input_name={"value": "upstream_asset"})
    assert middle.key.to_user_string() == "plus_two"
    assert materialize([upstream_asset, keyed]).asset_value("plus_two") == 5


def test_a_graph_asset_must_return_an_op_output() -> None:
    with pytest.raises(DefinitionError, match="returns nothing"):

        @graph_asset
        def nothing() -> None:
            add_one(1)


def test_graph_assets_validate_in_definitions() -> None:
    defs = Definitions(assets=[upstream_asset, derived_asset])
    assert [str(k) for k in defs.asset_keys] == ["derived_asset", "upstream_asset"]


def test_an_asset_from_one_op() -> None:
    from_op = AssetsDefinition.from_op(add_one, keys_by_input_name={"value": "upstream_asset"})
    assert from_op.key.to_user_string() == "add_one"
    assert materialize([upstream_asset, from_op]).asset_value("add_one") == 4
