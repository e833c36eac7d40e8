"""IO managers in Dagster's forms and the contexts they get; the testing builders.

`io_manager_key` on `@asset` and `AssetOut`, `ConfigurableIOManagerFactory`, `@io_manager`,
`with_resources`, typed metadata values, and `build_asset_context` /
`build_output_context` / `build_input_context` for unit tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from conflux import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetSpec,
    ConfigurableIOManager,
    ConfigurableIOManagerFactory,
    DailyPartitionsDefinition,
    Definitions,
    InputContext,
    IOManager,
    MaterializeResult,
    MetadataValue,
    OutputContext,
    TableColumn,
    TableSchema,
    asset,
    asset_check,
    build_asset_context,
    build_input_context,
    build_output_context,
    io_manager,
    materialize,
    multi_asset,
    with_resources,
)
from conflux.events import DefinitionError

STORE: dict[str, Any] = {}


class DictIOManager(ConfigurableIOManager):
    """Stores by asset path in `STORE`, recording what it saw."""

    name: str

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        key = "/".join(context.asset_key.path)
        STORE[f"{self.name}:{key}"] = (obj, context.name, context.step_key)
        context.add_output_metadata({"stored_by": self.name})

    def load_input(self, context: InputContext) -> Any:
        key = "/".join(context.asset_key.path)
        assert context.upstream_output is not None
        return STORE[f"{self.name}:{key}"][0]


def test_io_manager_key_routes_storage_and_loading() -> None:
    @asset(io_manager_key="warehouse")
    def upstream() -> list[int]:
        return [1, 2, 3]

    @asset
    def downstream(upstream: list[int]) -> list[int]:
        return [*upstream, 4]

    STORE.clear()
    result = materialize([upstream, downstream], resources={"warehouse": DictIOManager(name="w")})
    assert STORE["w:upstream"] == ([1, 2, 3], "result", "upstream")
    assert result.asset_value("downstream") == [1, 2, 3, 4]
    assert result.asset_value("upstream") == [1, 2, 3]  # read back through its own manager
    mat = next(m for m in result.materializations if m.asset_key == "upstream")
    assert mat.metadata["stored_by"] == "w"


def test_asset_out_io_manager_key_and_a_missing_one_is_refused() -> None:
    @multi_asset(outs={"a": AssetOut(io_manager_key="w"), "b": AssetOut()})
    def pair() -> tuple[int, int]:
        return 1, 2

    STORE.clear()
    materialize([pair], resources={"w": DictIOManager(name="w")})
    assert STORE["w:a"][0] == 1 and "w:b" not in STORE
    with pytest.raises(DefinitionError, match="io_manager_key='w'"):
        Definitions(assets=[pair])


def test_factories_io_manager_functions_and_with_resources() -> None:
    class Factory(ConfigurableIOManagerFactory):
        name: str

        def create_io_manager(self, context: object) -> IOManager:
            return DictIOManager(name=self.name)

    @io_manager
    def legacy() -> IOManager:
        return DictIOManager(name="legacy")

    @asset(io_manager_key="f")
    def one() -> int:
        return 1

    @asset(io_manager_key="l")
    def two() -> int:
        return 2

    STORE.clear()
    assets = with_resources([one, two], {"f": Factory(name="made"), "l": legacy})
    assert materialize(assets).success
    assert STORE["made:one"][0] == 1 and STORE["legacy:two"][0] == 2


def test_an_asset_spec_loaded_through_its_io_manager() -> None:
    class Warehouse(IOManager):
        def handle_output(self, context: OutputContext, obj: Any) -> None: ...

        def load_input(self, context: InputContext) -> Any:
            return [1, 2, 3]

    @io_manager
    def warehouse_io_manager() -> IOManager:
        return Warehouse()

    daily_sales = AssetSpec("daily_sales").with_io_manager_key("warehouse")

    @asset
    def enriched(daily_sales: list[int]) -> list[int]:
        return [x * 2 for x in daily_sales]

    result = materialize([daily_sales, enriched], resources={"warehouse": warehouse_io_manager})
    assert result.asset_value("enriched") == [2, 4, 6]


def test_typed_metadata_is_stored_as_plain_json() -> None:
    @asset(metadata={"docs": MetadataValue.url("https://x")})
    def described() -> MaterializeResult:
        schema = TableSchema(columns=[TableColumn("name", "string")])
        return MaterializeResult(
            metadata={"rows": MetadataValue.int(3), "dagster/column_schema": schema}
        )

    mat = materialize([described]).materializations[0]
    assert mat.metadata["rows"] == 3
    assert mat.metadata["dagster/column_schema"] == {
        "columns": [{"name": "name", "type": "string", "description": None}]
    }


def test_build_asset_context_binds_to_the_asset_it_is_passed_to() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01")

    @asset(partitions_def=days)
    def windowed(context: AssetExecutionContext) -> str:
        return f"{context.asset_key}:{context.partition_time_window.start:%Y-%m-%d}"

    context = build_asset_context(partition_key="2024-08-16")
    assert windowed(context) == "windowed:2024-08-16"
    assert build_asset_context(resources={"x": 1}).resources.x == 1


def test_build_output_and_input_context_drive_an_io_manager() -> None:
    class StepIOManager(IOManager):
        def __init__(self) -> None:
            self.storage: dict[tuple[str | None, str | None], Any] = {}

        def handle_output(self, context: OutputContext, obj: Any) -> None:
            self.storage[(context.step_key, context.name)] = obj

        def load_input(self, context: InputContext) -> Any:
            assert context.upstream_output is not None
            return self.storage[(context.upstream_output.step_key, context.upstream_output.name)]

    manager = StepIOManager()
    manager.handle_output(build_output_context(name="abc", step_key="123"), 5)
    upstream = build_output_context(name="abc", step_key="123")
    assert manager.load_input(build_input_context(upstream_output=upstream)) == 5
    keyed = build_output_context(asset_key=AssetKey(["a", "b"]), partition_key="p")
    assert keyed.asset_key.path == ["a", "b"] and keyed.has_partition_key
    assert keyed.asset_partition_key == "p" and keyed.get_identifier() == ["a", "b", "p"]


def test_asset_in_input_manager_key_loads_with_that_manager() -> None:
    @asset
    def source() -> int:
        return 1

    class Tenfold(IOManager):
        def handle_output(self, context: OutputContext, obj: Any) -> None: ...

        def load_input(self, context: InputContext) -> Any:
            return 10

    @asset(ins={"source": AssetIn(input_manager_key="tenfold")})
    def reads(source: int) -> int:
        return source

    result = materialize([source, reads], resources={"tenfold": Tenfold()})
    assert result.asset_value("reads") == 10


def test_a_check_reads_its_asset_through_the_io_manager_that_stores_it() -> None:
    """A check's parameter named after its asset loads through the asset's `io_manager_key`."""
    stored: dict[str, object] = {}

    class Store(IOManager):
        def handle_output(self, context: OutputContext, obj: Any) -> None:
            stored[context.asset_key.to_user_string()] = obj

        def load_input(self, context: InputContext) -> Any:
            return stored[context.asset_key.to_user_string()]

    @asset(io_manager_key="store")
    def rows() -> list[int]:
        return [1, 2, 3]

    @asset_check(asset=rows)
    def three_rows(rows: list[int]) -> AssetCheckResult:
        return AssetCheckResult(passed=len(rows) == 3)

    result = materialize([rows, three_rows], resources={"store": Store()})
    [evaluation] = result.check_evaluations
    assert stored == {"rows": [1, 2, 3]} and evaluation.passed
