"""Asset definitions behave as Dagster 1.13's do (each case checked against Dagster).

Unknown `deps` keys, name resolution under `key_prefix`, duplicate deps, `AssetDep` of an
asset, `MaterializeResult("a")`, partitioned schedules inferred from their assets,
self-dependent partitioned assets, and the small API Dagster code calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from conflux import (
    AssetDep,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    AssetSpec,
    DailyPartitionsDefinition,
    Definitions,
    DependencyCycleError,
    MaterializeResult,
    RetryRequested,
    TimeWindowPartitionMapping,
    UnknownDependencyError,
    asset,
    build_location_snapshot,
    build_schedule_from_partitioned_job,
    define_asset_job,
    materialize,
    multi_asset,
)
from conflux.events import DefinitionError, PartitionFailed

if TYPE_CHECKING:
    from pathlib import Path

days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-10")


def _by_key(defs: Definitions) -> dict[str, object]:
    return {a.key: a for a in build_location_snapshot(defs, "loc").assets}


def test_a_deps_key_no_asset_defines_becomes_an_external_asset() -> None:
    @asset(deps=["raw_file", AssetKey(["lake", "events"])])
    def table() -> int:
        return 1

    by_key = _by_key(Definitions(assets=[table]))
    assert sorted(by_key) == ["lake/events", "raw_file", "table"]
    assert by_key["raw_file"].is_external and by_key["lake/events"].is_external  # type: ignore[attr-defined]
    assert not by_key["table"].is_external  # type: ignore[attr-defined]
    assert materialize([table]).success  # and it runs, reading nothing


def test_a_loaded_parameter_still_needs_a_definition() -> None:
    @asset
    def report(orders: int) -> int:
        return orders

    with pytest.raises(UnknownDependencyError, match="orders"):  # Dagster refuses it too
        Definitions(assets=[report])


def test_a_one_name_key_resolves_to_the_asset_of_that_name_in_the_group() -> None:
    @asset(key_prefix=["staging"])
    def upstream() -> int:
        return 1

    @asset(key_prefix=["staging"], ins={"upstream": AssetIn()})
    def down(upstream: int) -> int:
        return upstream + 1

    @asset(key_prefix=["staging"], deps=["upstream"])
    def side() -> None: ...

    defs = Definitions(assets=[upstream, down, side])
    by_key = _by_key(defs)
    assert sorted(by_key) == ["staging/down", "staging/side", "staging/upstream"]
    assert [d.asset_key for d in by_key["staging/down"].deps] == ["staging/upstream"]  # type: ignore[attr-defined]
    assert [d.asset_key for d in by_key["staging/side"].deps] == ["staging/upstream"]  # type: ignore[attr-defined]
    assert materialize([upstream, down, side]).asset_value("staging/down") == 2


def test_the_same_dep_twice_counts_once_and_two_mappings_are_refused() -> None:
    @asset(partitions_def=days)
    def u() -> None: ...

    @asset(partitions_def=days, deps=[u, "u", AssetDep("u")])
    def once() -> None: ...

    assert [d.key for d in once.deps] == [AssetKey("u")]
    mapping = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
    with pytest.raises(DefinitionError, match="twice"):

        @asset(partitions_def=days, deps=[AssetDep("u", partition_mapping=mapping), AssetDep("u")])
        def twice() -> None: ...


def test_asset_dep_takes_an_asset_with_a_mapping() -> None:
    @asset(partitions_def=days)
    def events() -> None: ...

    @asset(
        partitions_def=days,
        deps=[
            AssetDep(
                events, partition_mapping=TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
            )
        ],
    )
    def yesterday() -> None: ...

    dep = _by_key(Definitions(assets=[events, yesterday]))["yesterday"].deps[0]  # type: ignore[attr-defined]
    assert dep.asset_key == "events" and dep.partition_mapping is not None


def test_deps_on_a_multi_asset_name_all_its_keys() -> None:
    @multi_asset(outs={"a": AssetOut(), "b": AssetOut()})
    def both() -> tuple[int, int]:
        return 1, 2

    @asset(deps=[both])
    def after() -> None: ...

    assert sorted(str(d.key) for d in after.deps) == ["a", "b"]


def test_materialize_result_reads_its_first_argument_as_the_asset_key() -> None:
    assert MaterializeResult("a").asset_key == "a"

    @multi_asset(specs=[AssetSpec("a"), AssetSpec("b")])
    def pair():  # type: ignore[no-untyped-def]
        yield MaterializeResult("a")
        yield MaterializeResult("b")

    result = materialize([pair])
    assert sorted(m.asset_key for m in result.materializations) == ["a", "b"]


def test_a_specs_multi_asset_that_returns_nothing_materializes_its_specs() -> None:
    @multi_asset(specs=[AssetSpec("one"), AssetSpec("two")])
    def quiet() -> None: ...

    assert sorted(m.asset_key for m in materialize([quiet]).materializations) == ["one", "two"]


def test_partitioned_schedule_infers_partitions_from_the_selected_assets() -> None:
    @asset(partitions_def=days)
    def daily_asset() -> None: ...

    job = define_asset_job("partitioned_job", selection=[daily_asset])
    schedule = build_schedule_from_partitioned_job(job)
    assert schedule.cron_schedule == "0 0 * * *" and schedule.partitioned
    defs = Definitions(assets=[daily_asset], schedules=[schedule], jobs=[job])
    assert build_location_snapshot(defs, "loc").schedules[0].partitioned
    # selected by key: the partitions are known when Definitions resolves the selection
    by_key = define_asset_job("by_key", selection="daily_asset")
    later = build_schedule_from_partitioned_job(by_key, hour_of_day=1)
    defs = Definitions(assets=[daily_asset], schedules=[later], jobs=[by_key])
    snap = build_location_snapshot(defs, "loc").schedules[0]
    assert (snap.cron_schedule, snap.partitioned) == ("0 1 * * *", True)


def test_a_none_output_is_stored_so_a_downstream_asset_loads_it(tmp_path: Path) -> None:
    from conflux import FilesystemIOManager

    @asset
    def nothing():  # type: ignore[no-untyped-def]
        return None

    @asset
    def declared_none() -> None:
        return None

    @asset(ins={"value": AssetIn("nothing")})
    def reads(value: object) -> str:
        return repr(value)

    io = FilesystemIOManager(base_dir=str(tmp_path))
    result = materialize([nothing, declared_none, reads], resources={"io_manager": io})
    assert result.asset_value("reads") == "None"
    assert (tmp_path / "nothing" / "__all__").exists()
    assert not (tmp_path / "declared_none").exists()  # `-> None` stores nothing, as in Dagster


def test_self_dependent_partitions_are_planned_one_after_another() -> None:
    previous = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)

    @asset(partitions_def=days, ins={"running": AssetIn("running", partition_mapping=previous)})
    def running(running: int | None) -> int:
        return (running or 0) + 1

    result = materialize([running], partition_key="2024-01-01")
    assert result.asset_value("running", "2024-01-01") == 1  # no earlier partition: None
    deps = _by_key(Definitions(assets=[running]))["running"].deps  # type: ignore[attr-defined]
    assert [d.asset_key for d in deps] == ["running"]

    @asset(partitions_def=days, deps=["itself"])
    def itself() -> None: ...

    with pytest.raises(DependencyCycleError, match="depends on itself"):
        Definitions(assets=[itself])


def test_self_dependent_plan_orders_each_partition_after_the_previous() -> None:
    from conflux.coordinator import plan_run
    from conflux.events import DefinitionsPublished, PartitionRange
    from conflux.projections.folds import DefinitionsProjection

    previous = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)

    @asset(partitions_def=days, deps=[AssetDep("inc", partition_mapping=previous)])
    def inc() -> None: ...

    graph = DefinitionsProjection()
    snapshot = build_location_snapshot(Definitions(assets=[inc]), "loc")
    graph.apply(DefinitionsPublished(location="loc", snapshot_id="s", snapshot=snapshot))
    from conflux.events import MaterializationRequested

    request = MaterializationRequested(
        run_id="r",
        selection="inc",
        asset_keys=("inc",),
        partition_range=PartitionRange(start="2024-01-01", end="2024-01-04"),
    )
    plan = plan_run(request, graph)
    assert [i.partition_key for i in plan.items] == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    assert plan.items[0].depends_on == ()
    for before, item in zip(plan.items, plan.items[1:], strict=False):
        assert item.depends_on == (before.work_item_id,)
        assert item.upstream == (("inc", before.partition_key),)


def test_assets_definition_of_specs_is_external() -> None:
    one = AssetSpec("asset_one")
    two = AssetSpec("asset_two", deps=[one])
    by_key = _by_key(Definitions(assets=[AssetsDefinition(specs=[one, two])]))  # type: ignore[call-arg]
    assert by_key["asset_two"].is_external and by_key["asset_one"].is_external  # type: ignore[attr-defined]


def test_asset_spec_tags_owners_and_io_manager_key() -> None:
    spec = AssetSpec("raw", tags={"pii": "true"}, owners=["team:data"]).with_io_manager_key(
        "warehouse"
    )
    assert spec.tags == {"pii": "true"} and spec.owners == ("team:data",)
    assert spec.io_manager_key == "warehouse"

    @asset(tags={"domain": "sales"}, owners=["a@b.c"])
    def tagged() -> None: ...

    assert tagged.get_asset_spec().tags == {"domain": "sales"}
    assert tagged.get_asset_spec().owners == ("a@b.c",)


def test_retry_requested_retries_without_a_policy() -> None:
    attempts: list[int] = []

    @asset
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise RetryRequested(max_retries=3)
        return len(attempts)

    result = materialize([flaky])
    assert result.success and result.output_for_node("flaky") == 3
    failures = [e for e in result.events if isinstance(e, PartitionFailed)]
    assert [f.retry_requested for f in failures] == [3, 3]

    @asset
    def gives_up() -> int:
        raise RetryRequested(max_retries=1)

    with pytest.raises(RetryRequested):
        materialize([gives_up])


def test_definitions_merge_and_validate_loadable() -> None:
    @asset
    def a() -> int:
        return 1

    @asset(deps=[a])
    def b() -> int:
        return 2

    merged = Definitions.merge(Definitions(assets=[a]), Definitions(assets=[b], resources={"x": 1}))
    assert [str(k) for k in merged.asset_keys] == ["a", "b"] and merged.resources == {"x": 1}
    Definitions.validate_loadable(merged)
    with pytest.raises(DefinitionError, match="resource 'x'"):
        Definitions.merge(Definitions(resources={"x": 1}), Definitions(resources={"x": 2}))


def test_definitions_decorated_functions_are_merged_when_a_location_loads(tmp_path: Path) -> None:
    from conflux import load_definitions_from_file

    (tmp_path / "loc.py").write_text(
        "import conflux as dg\n"
        "@dg.asset\n"
        "def a() -> int:\n    return 1\n"
        "@dg.definitions\n"
        "def assets():\n    return dg.Definitions(assets=[a])\n"
        "@dg.definitions\n"
        "def resources():\n    return dg.Definitions(resources={'token': 'x'})\n"
    )
    defs = load_definitions_from_file(tmp_path / "loc.py")
    assert [str(k) for k in defs.asset_keys] == ["a"] and defs.resources == {"token": "x"}


def test_io_manager_def_resource_defs_and_non_argument_deps() -> None:
    from conflux import IOManagerDefinition, ResourceDefinition

    stored: dict[str, object] = {}

    class Memory:
        def handle_output(self, context: object, obj: object) -> None:
            stored[str(context.asset_key)] = obj  # type: ignore[attr-defined]

        def load_input(self, context: object) -> object:
            return stored[str(context.asset_key)]  # type: ignore[attr-defined]

    @asset(io_manager_def=IOManagerDefinition.hardcoded_io_manager(Memory()))
    def kept() -> int:
        return 3

    @asset(
        resource_defs={"x": ResourceDefinition.hardcoded_resource(5)},
        required_resource_keys={"x"},
        non_argument_deps=["elsewhere"],
    )
    def uses(context) -> int:  # type: ignore[no-untyped-def]
        return int(context.resources.x)

    result = materialize([kept, uses])
    assert stored == {"kept": 3} and result.output_for_node("uses") == 5
    assert [str(d.key) for d in uses.deps] == ["elsewhere"]
    with pytest.raises(DefinitionError, match="virtual assets are not supported"):

        @asset(is_virtual=True)
        def virtual() -> None: ...


def test_context_run_gives_the_run_id_and_config_as_dagster_run_does() -> None:
    from conflux import AssetExecutionContext, asset, materialize

    seen: list[tuple[str, str, dict[str, object]]] = []

    @asset
    def probe(context: AssetExecutionContext) -> int:
        seen.append((context.run.run_id, context.dagster_run.run_id, dict(context.run.run_config)))
        return 1

    config: dict[str, object] = {"ops": {"probe": {"config": {}}}}
    result = materialize([probe], run_config=config)
    assert result.success
    [(run_id, older_name, run_config)] = seen
    assert run_id == older_name == result.run_id
    assert run_config == config
