# mypy: disallow-untyped-decorators=False
"""Partition mappings given through `deps`, specs and graphs: the same as Dagster's.

Each case is built once with Dagster and once with Conflux from the same code (the library
is the parameter), and the outcomes are compared: the mapping an asset reports for an
upstream, and the error family and message prefix when the definition is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

dagster = pytest.importorskip("dagster", reason="dagster is not installed: pip install '.[compat]'")

import conflux  # noqa: E402

if TYPE_CHECKING:
    from types import ModuleType

pytestmark = pytest.mark.filterwarnings("ignore")  # Dagster's beta warnings


def _mapping_via_deps(dg: ModuleType) -> tuple[Any, Any, Any]:
    daily = dg.DailyPartitionsDefinition(start_date="2023-08-15")

    @dg.asset(partitions_def=daily)
    def upstream() -> None:
        return None

    mapping = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)

    @dg.asset(partitions_def=daily, deps=[dg.AssetDep(upstream, partition_mapping=mapping)])
    def downstream() -> None:
        return None

    @dg.asset(partitions_def=daily, deps=[upstream])
    def plain() -> None:
        return None

    return (
        downstream.get_partition_mapping(dg.AssetKey("upstream")),
        plain.get_partition_mapping(dg.AssetKey("upstream")),
        mapping,
    )


@pytest.mark.parametrize("lib", [dagster, conflux], ids=["dagster", "conflux"])
def test_get_partition_mapping_gives_the_explicit_mapping_or_none(lib: ModuleType) -> None:
    given, plain, mapping = _mapping_via_deps(lib)
    assert given == mapping
    assert plain is None


def _conflicting_deps(dg: ModuleType) -> None:
    daily = dg.DailyPartitionsDefinition(start_date="2023-08-15")

    @dg.asset(partitions_def=daily)
    def upstream() -> None:
        return None

    @dg.asset(
        partitions_def=daily,
        deps=[
            dg.AssetDep(upstream, partition_mapping=dg.TimeWindowPartitionMapping(-1, -1)),
            dg.AssetDep(upstream, partition_mapping=dg.TimeWindowPartitionMapping(-2, -2)),
        ],
    )
    def downstream() -> None:
        return None


def _conflicting_specs(dg: ModuleType) -> None:
    daily = dg.DailyPartitionsDefinition(start_date="2023-08-15")
    one = dg.AssetSpec(
        "one", deps=[dg.AssetDep("up", partition_mapping=dg.TimeWindowPartitionMapping(-2, -2))]
    )
    two = dg.AssetSpec(
        "two", deps=[dg.AssetDep("up", partition_mapping=dg.TimeWindowPartitionMapping(-3, -3))]
    )

    @dg.multi_asset(specs=[one, two], partitions_def=daily)
    def both():  # type: ignore[no-untyped-def]  # Dagster wants no return annotation here
        return None


@pytest.mark.parametrize(
    ("build", "family", "prefix"),
    [
        (_conflicting_deps, "DagsterInvariantViolationError", "Cannot set a dependency on asset"),
        (_conflicting_specs, "DagsterInvalidDefinitionError", "Two different PartitionMappings"),
    ],
    ids=["deps", "specs"],
)
@pytest.mark.parametrize("lib", [dagster, conflux], ids=["dagster", "conflux"])
def test_one_upstream_mapped_twice_differently_is_refused(
    lib: ModuleType, build: Any, family: str, prefix: str
) -> None:
    with pytest.raises(getattr(lib, family), match=prefix):
        build(lib)


@pytest.mark.parametrize("lib", [dagster, conflux], ids=["dagster", "conflux"])
def test_from_graph_takes_partition_mappings_by_input_name(lib: ModuleType) -> None:
    keys = lib.StaticPartitionsDefinition(["a", "b"])
    mapping = lib.StaticPartitionMapping({"a": "b", "b": "a"})

    @lib.op
    def passthrough(upstream: object) -> object:
        return upstream

    @lib.graph
    def downstream(upstream: object) -> object:
        return passthrough(upstream)

    made = lib.AssetsDefinition.from_graph(
        downstream, partitions_def=keys, partition_mappings={"upstream": mapping}
    )
    assert made.get_partition_mapping(lib.AssetKey("upstream")) == mapping
