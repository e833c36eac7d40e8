from __future__ import annotations

import pytest

from conflux import (
    AllPartitionMapping,
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    ConfigurableResource,
    ContextError,
    DailyPartitionsDefinition,
    DataVersion,
    FilesystemIOManager,
    HourlyPartitionsDefinition,
    InvalidPartitionKeyError,
    MaterializeResult,
    Output,
    StaticPartitionsDefinition,
    TimeWindow,
    asset,
    materialize,
    multi_asset,
)
from conflux.events import (
    AssetMaterialized,
    DefinitionError,
    MaterializationRequested,
    PartitionFailed,
    PartitionStarted,
    RunCompleted,
    RunStarted,
    WorkItemDispatched,
    WorkItemSkipped,
)

days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")


@asset(partitions_def=days)
def numbers(context: AssetExecutionContext) -> list[int]:
    return list(range(int(context.partition_key[-2:])))


@asset(partitions_def=days, code_version="2")
def total(numbers: list[int]) -> int:
    return sum(numbers)


def test_partitioned_chain_runs_in_dependency_order_with_lineage() -> None:
    result = materialize([numbers, total], partition_key="2024-01-04")
    assert result.success
    assert result.asset_value("total", "2024-01-04") == 6
    types = [type(e).__name__ for e in result.events]
    assert types[:3] == ["DefinitionsPublished", "MaterializationRequested", "RunStarted"]
    assert types[-1] == "RunCompleted"
    mats = result.materializations
    assert [(m.asset_key, m.partition_key) for m in mats] == [
        ("numbers", "2024-01-04"),
        ("total", "2024-01-04"),
    ]
    up = mats[1].upstream
    assert [(u.asset_key, u.partition_key, u.data_version, u.event_id) for u in up] == [
        ("numbers", "2024-01-04", mats[0].data_version, mats[0].event_id)
    ]
    assert mats[1].code_version == "2"
    dispatched = [e for e in result.events if isinstance(e, WorkItemDispatched)]
    assert [d.node for d in dispatched] == ["numbers", "total"]
    assert all(e.correlation_id == result.run_id for e in result.events[1:])


def test_equal_data_gets_an_equal_version() -> None:
    first = materialize([numbers], partition_key="2024-01-05").materializations[0]
    again = materialize([numbers], partition_key="2024-01-05").materializations[0]
    other = materialize([numbers], partition_key="2024-01-06").materializations[0]
    assert first.data_version == again.data_version != other.data_version


def test_failure_fails_the_run_and_skips_downstream() -> None:
    @asset
    def broken() -> int:
        raise ValueError("boom")

    @asset
    def after(broken: int) -> int:
        return broken

    with pytest.raises(ValueError, match="boom"):
        materialize([broken, after])
    result = materialize([broken, after], raise_on_error=False)
    assert not result.success
    failed = result.failures[0]
    assert (failed.asset_key, failed.error_type, failed.message) == ("broken", "ValueError", "boom")
    assert "raise ValueError" in failed.traceback
    skipped = [e for e in result.events if isinstance(e, WorkItemSkipped)]
    assert [s.asset_keys for s in skipped] == [("after",)]
    done = result.events[-1]
    assert isinstance(done, RunCompleted) and (done.status, done.failed, done.skipped) == (
        "failed",
        1,
        1,
    )


def test_materialize_result_metadata_and_version() -> None:
    @asset
    def table(context: AssetExecutionContext) -> MaterializeResult:
        context.add_output_metadata({"extra": 1})
        return MaterializeResult(metadata={"rows": 3}, data_version=DataVersion("v9"))

    @asset
    def valued() -> Output:
        return Output([1, 2], metadata={"n": 2}, data_version="dv")

    result = materialize([table, valued])
    by_key = {m.asset_key: m for m in result.materializations}
    assert by_key["table"].metadata == {"rows": 3, "extra": 1}
    assert by_key["table"].data_version == "v9"
    assert (by_key["valued"].data_version, by_key["valued"].metadata) == ("dv", {"n": 2})
    assert result.asset_value("valued") == [1, 2]


def test_multi_asset_returns_a_tuple() -> None:
    @multi_asset(outs={"a": AssetOut(), "b": AssetOut()})
    def both() -> tuple[int, int]:
        return 1, 2

    @asset
    def c(a: int, b: int) -> int:
        return a + b

    result = materialize([both, c])
    assert result.success
    assert result.asset_value("c") == 3
    started = [e for e in result.events if isinstance(e, PartitionStarted)]
    assert sorted(e.asset_key for e in started) == ["a", "b", "c"]


def test_multi_asset_with_wrong_arity_fails_the_partition() -> None:
    @multi_asset(outs={"a": AssetOut(), "b": AssetOut()})
    def bad() -> tuple[int]:
        return (1,)

    result = materialize([bad], raise_on_error=False)
    assert not result.success
    assert "returned 1 values" in result.failures[0].message


def test_resources_are_injected_and_torn_down() -> None:
    calls: list[str] = []

    class Counter(ConfigurableResource):
        start: int

        def setup_for_execution(self) -> None:
            calls.append("setup")

        def teardown_after_execution(self) -> None:
            calls.append("teardown")

    @asset
    def counted(counter: Counter) -> int:
        return counter.start + 1

    result = materialize([counted], resources={"counter": Counter(start=41)})
    assert result.asset_value("counted") == 42
    assert calls == ["setup", "teardown"]


def test_bad_partition_key_is_refused_before_anything_runs() -> None:
    with pytest.raises(InvalidPartitionKeyError, match="2023-12-31"):
        materialize([numbers], partition_key="2023-12-31")
    with pytest.raises(DefinitionError, match="partition"):
        materialize([numbers])


def test_context_partition_time_window_and_errors() -> None:
    seen: dict[str, object] = {}

    @asset(
        partitions_def=HourlyPartitionsDefinition(
            start_date="2024-03-31-00:00", timezone="Europe/Berlin", end_date="2024-04-01-00:00"
        )
    )
    def hourly(context: AssetExecutionContext) -> None:
        seen["window"] = context.partition_time_window
        seen["key"] = context.partition_key

    assert materialize([hourly], partition_key="2024-03-31-03:00").success
    window = seen["window"]
    assert isinstance(window, TimeWindow)
    assert (window.end - window.start).total_seconds() == 3600

    @asset
    def plain(context: AssetExecutionContext) -> None:
        _ = context.partition_key

    with pytest.raises(ContextError, match="not partitioned"):
        materialize([plain])


def test_all_partition_mapping_reads_what_exists_as_a_dict(tmp_path: object) -> None:
    colors = StaticPartitionsDefinition(["red", "green", "blue"])

    @asset(partitions_def=colors)
    def paint(context: AssetExecutionContext) -> str:
        return context.partition_key.upper()

    @asset(ins={"paint": AssetIn(partition_mapping=AllPartitionMapping())})
    def palette(paint: dict[str, str]) -> list[str]:
        return sorted(paint.values())

    io = FilesystemIOManager(base_dir=str(tmp_path))
    for color in ("red", "blue"):
        assert materialize([paint], partition_key=color, resources={"io_manager": io}).success
    result = materialize([paint, palette], selection=[palette], resources={"io_manager": io})
    assert result.success
    assert result.asset_value("palette") == ["BLUE", "RED"]
    request = next(e for e in result.events if isinstance(e, MaterializationRequested))
    assert request.asset_keys == ("palette",)
    assert any(isinstance(e, RunStarted) for e in result.events)
    assert all(not isinstance(e, PartitionFailed) for e in result.events)
    assert isinstance(result.events[-1], RunCompleted)
    assert all(isinstance(m, AssetMaterialized) for m in result.materializations)
