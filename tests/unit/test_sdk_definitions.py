from __future__ import annotations

import pytest

from conflux import (
    AllPartitionMapping,
    AssetDep,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetSpec,
    ConfigurableResource,
    DailyPartitionsDefinition,
    Definitions,
    DependencyCycleError,
    DuplicateAssetKeyError,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    IncompatiblePartitionMappingError,
    StaticPartitionsDefinition,
    UnknownDependencyError,
    asset,
    build_location_snapshot,
    multi_asset,
)
from conflux.events import DefinitionError


class Store(ConfigurableResource):
    url: str


def test_asset_key_forms() -> None:
    assert AssetKey("a") == AssetKey(["a"]) == AssetKey.from_user_string("a")
    assert AssetKey(["a", "b"]).to_user_string() == "a/b"
    assert AssetKey("b").with_prefix("a") == AssetKey(["a", "b"])
    with pytest.raises(DefinitionError, match="invalid asset key part"):
        AssetKey(["a b"])
    with pytest.raises(DefinitionError):
        AssetKey([])


def test_asset_decorator_bare_and_called() -> None:
    @asset
    def one() -> int:
        return 1

    @asset(
        key_prefix=["raw"],
        group_name="g",
        description="d",
        metadata={"owner": "me"},
        code_version="7",
    )
    def two(context: AssetExecutionContext, one: int) -> int:
        return one + 1

    assert one.key == AssetKey("one")
    assert two.key == AssetKey(["raw", "two"])
    assert two.context_param == "context"
    assert [i.key for i in two.inputs] == [AssetKey("one")]
    out = two.outputs[0]
    assert (out.group_name, out.description, out.code_version, dict(out.metadata)) == (
        "g",
        "d",
        "7",
        {"owner": "me"},
    )
    assert one() == 1


def test_deps_and_ins_forms() -> None:
    @asset
    def up() -> int:
        return 1

    @asset(
        deps=[
            up,
            "raw/file",
            AssetKey("k"),
            AssetSpec("spec"),
            AssetDep("mapped", partition_mapping=AllPartitionMapping()),
        ],
        ins={"x": AssetIn("up"), "y": AssetIn(key_prefix="p")},
    )
    def down(x: int, y: int) -> int:
        return x + y

    assert [d.key for d in down.deps] == [
        AssetKey("up"),
        AssetKey(["raw", "file"]),
        AssetKey("k"),
        AssetKey("spec"),
        AssetKey("mapped"),
    ]
    assert [(i.param, i.key) for i in down.inputs] == [
        ("x", AssetKey("up")),
        ("y", AssetKey(["p", "y"])),
    ]

    def no_params() -> int:
        return 1

    with pytest.raises(DefinitionError, match="no such parameter"):
        asset(ins={"nope": AssetIn("a")})(no_params)


def test_resources_bind_by_name_and_by_type() -> None:
    @asset
    # `other` unannotated on purpose: it binds by name, `store` by its type
    def a(store: Store, other) -> int:  # type: ignore[no-untyped-def]
        return 1

    defs = Definitions(assets=[a], resources={"store": Store(url="x"), "other": Store(url="y")})
    node = defs.node_for("a")
    assert node.inputs == ()
    assert set(node.resource_params) == {"store", "other"}

    with pytest.raises(DefinitionError, match="needs resource 'store'"):
        Definitions(assets=[a], resources={"other": 1})


def test_multi_asset_outputs_and_keys() -> None:
    @multi_asset(outs={"users": AssetOut(), "orders": AssetOut(key_prefix="shop", group_name="s")})
    def extract() -> tuple[int, int]:
        return 1, 2

    assert extract.keys == [AssetKey("users"), AssetKey(["shop", "orders"])]
    with pytest.raises(DefinitionError):
        _ = extract.key
    with pytest.raises(DefinitionError, match="exactly one of"):
        multi_asset()


def test_unknown_dependency_names_asset_and_suggests() -> None:
    @asset
    def orders() -> int:
        return 1

    @asset
    def report(order: int) -> int:
        return order

    with pytest.raises(UnknownDependencyError) as info:
        Definitions(assets=[orders, report])
    message = str(info.value)
    assert "report" in message and "order" in message and "did you mean orders" in message
    assert info.value.asset_key == "report"


def test_external_asset_spec_satisfies_a_dependency() -> None:
    @asset(deps=["raw_file"])
    def table() -> int:
        return 1

    defs = Definitions(assets=[AssetSpec("raw_file"), table])
    snapshot = build_location_snapshot(defs, "loc")
    by_key = {a.key: a for a in snapshot.assets}
    assert by_key["raw_file"].is_external
    assert [d.asset_key for d in by_key["table"].deps] == ["raw_file"]
    assert by_key["table"].deps[0].loads_value is False


def test_cycle_is_refused_with_its_path() -> None:
    @asset
    def a(c: int) -> int:
        return c

    @asset
    def b(a: int) -> int:
        return a

    @asset
    def c(b: int) -> int:
        return b

    with pytest.raises(DependencyCycleError, match=r"cycle: .*a -> .*b -> .*c|cycle: .*c -> .*a"):
        Definitions(assets=[a, b, c])


def test_duplicate_keys_are_refused() -> None:
    @asset(name="x")
    def first() -> int:
        return 1

    @asset(key="x")
    def second() -> int:
        return 2

    with pytest.raises(DuplicateAssetKeyError, match="defined twice"):
        Definitions(assets=[first, second])


def test_incompatible_mapping_is_refused() -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    colors = StaticPartitionsDefinition(["red", "blue"])

    @asset(partitions_def=colors)
    def up() -> int:
        return 1

    @asset(partitions_def=daily, ins={"up": AssetIn(partition_mapping=IdentityPartitionMapping())})
    def down(up: int) -> int:
        return up

    with pytest.raises(IncompatiblePartitionMappingError) as info:
        Definitions(assets=[up, down])
    assert info.value.asset_key == "down"


def test_snapshot_is_deterministic_and_carries_partitions() -> None:
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
    daily = DailyPartitionsDefinition(start_date="2024-01-01")

    @asset(partitions_def=hourly)
    def events() -> int:
        return 1

    @asset(partitions_def=daily)
    def days(events: int) -> int:
        return events

    defs = Definitions(assets=[events, days])
    s1 = build_location_snapshot(defs, "loc")
    s2 = build_location_snapshot(Definitions(assets=[days, events]), "loc")
    assert s1 == s2
    by_key = {a.key: a for a in s1.assets}
    assert by_key["days"].partitions == daily.to_snapshot()
    assert by_key["days"].deps[0].asset_key == "events"
