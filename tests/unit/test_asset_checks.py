"""Asset checks: declared, validated, run after their asset, gating dependents, shown, archived."""

from __future__ import annotations

import random
import tempfile
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from coordinator_builders import T0, materialized, published, request, snap

from conflux import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    ConfigurableResource,
    DailyPartitionsDefinition,
    DefinitionError,
    Definitions,
    DuplicateCheckNameError,
    MaterializeResult,
    Output,
    UnknownCheckTargetError,
    asset,
    asset_check,
    build_location_snapshot,
    materialize,
)
from conflux.cli._assets import _checks_cell, _print_checks
from conflux.coordinator import CoordinatorState, decide, work_item_id
from conflux.events import (
    AssetCheckEvaluated,
    AssetCheckSnapshot,
    DefinitionsPublished,
    LocationSnapshot,
    RunCompleted,
    WorkItemDispatched,
    WorkItemSkipped,
    encode_event,
)
from conflux.projections.archive import ArchiveSink, ChdbStore, RawRecord
from conflux.projections.projector import ReadModel
from conflux.sdk._checks import ExternalCheckTargetWarning
from conflux.sdk._snapshot import snapshot_id

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conflux import AssetChecksDefinition
    from conflux.events import AnyEvent

DAYS = DailyPartitionsDefinition(start_date="2024-01-01")


@asset
def orders() -> list[int | None]:
    return [1, None, 3]


@asset
def report(orders: list[int | None]) -> int:
    return len(orders)


def nulls_check(
    *, blocking: bool, severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
) -> AssetChecksDefinition:
    @asset_check(asset=orders, blocking=blocking)
    def no_nulls(orders: list[int | None]) -> AssetCheckResult:
        nulls = sum(1 for o in orders if o is None)
        return AssetCheckResult(passed=nulls == 0, metadata={"nulls": nulls}, severity=severity)

    return no_nulls


# -- the SDK ---------------------------------------------------------------------------------


def test_a_failed_blocking_check_skips_the_downstream_and_fails_the_run() -> None:
    result = materialize([orders, report, nulls_check(blocking=True)])
    [check] = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed, check.blocking, check.metadata) == (
        "no_nulls",
        False,
        True,
        {"nulls": 1},
    )
    [mat] = result.materializations
    assert check.materialization_event_id == mat.event_id and check.causation_id == mat.event_id
    assert result.events.index(check) == result.events.index(mat) + 1
    [skip] = [e for e in result.events if isinstance(e, WorkItemSkipped)]
    assert skip.reason == "blocking check no_nulls on orders failed"
    assert skip.causation_id == check.event_id and skip.asset_keys == ("report",)
    assert not result.success


@pytest.mark.parametrize(
    ("blocking", "severity"), [(False, AssetCheckSeverity.ERROR), (True, AssetCheckSeverity.WARN)]
)
def test_a_non_blocking_or_warning_failure_lets_the_downstream_run(
    blocking: bool, severity: AssetCheckSeverity
) -> None:
    result = materialize([orders, report, nulls_check(blocking=blocking, severity=severity)])
    assert result.success and [m.asset_key for m in result.materializations] == [
        "orders",
        "report",
    ]
    assert [c.severity for c in result.check_evaluations] == [severity.value]


def test_checks_run_per_partition_with_the_partition_and_the_value() -> None:
    @asset(partitions_def=DAYS)
    def daily(context: AssetExecutionContext) -> str:
        return context.partition_key

    seen: list[tuple[str, str]] = []

    @asset_check(asset=daily, blocking=True)
    def matches(context: AssetExecutionContext, value: str) -> bool:
        seen.append((context.partition_key, value))
        return value == context.partition_key

    for day in ("2024-01-02", "2024-01-03"):
        result = materialize([daily, matches], partition_key=day)
        [check] = result.check_evaluations
        assert (check.partition_key, check.passed, check.asset_key) == (day, True, "daily")
    assert seen == [("2024-01-02", "2024-01-02"), ("2024-01-03", "2024-01-03")]


def test_a_raising_check_fails_with_its_error_and_raise_on_error_raises_it() -> None:
    @asset_check(asset=orders)
    def broken() -> AssetCheckResult:
        raise RuntimeError("no connection")

    with pytest.raises(RuntimeError, match="no connection"):
        materialize([orders, broken])
    result = materialize([orders, report, broken], raise_on_error=False)
    [check] = result.check_evaluations
    assert (check.passed, check.error_type, check.message) == (
        False,
        "RuntimeError",
        "no connection",
    )
    assert result.success  # not blocking: report ran


def test_a_check_that_returns_no_result_fails_and_names_the_fix() -> None:
    @asset_check(asset=orders)
    def vague() -> object:
        return "fine"

    [check] = materialize([orders, vague], raise_on_error=False).check_evaluations
    assert not check.passed and "return AssetCheckResult(passed=...)" in (check.message or "")


def test_an_asset_yields_its_own_check_results_with_check_specs() -> None:
    specs = [
        AssetCheckSpec("positive", asset="sales", blocking=True),
        AssetCheckSpec("forgotten", asset="sales"),
    ]

    @asset(check_specs=specs)
    def sales() -> Iterator[object]:
        yield Output([5, -1])
        yield AssetCheckResult(passed=False, check_name="positive", metadata={"bad": 1})

    @asset
    def sales_report(sales: list[int]) -> int:
        return sum(sales)

    result = materialize([sales, sales_report])
    by_name = {c.check_name: c for c in result.check_evaluations}
    assert by_name["positive"].metadata == {"bad": 1} and by_name["positive"].blocking
    assert by_name["forgotten"].error_type == "MissingCheckResult"
    assert [m.asset_key for m in result.materializations] == ["sales"]
    assert result.asset_value("sales") == [5, -1]  # the output was stored without the results
    snapshot = build_location_snapshot(Definitions([sales, sales_report]), "loc")
    assert [(c.name, c.blocking) for c in snapshot.asset_checks] == [
        ("forgotten", False),
        ("positive", True),
    ]


def test_resources_reach_checks_by_name_and_type() -> None:
    class Limits(ConfigurableResource):
        max_rows: int

    @asset_check(asset=orders)
    def small(orders: list[int], limits: Limits, threshold: int) -> bool:
        return len(orders) <= limits.max_rows + threshold

    result = materialize([orders, small], resources={"limits": Limits(max_rows=2), "threshold": 1})
    assert [c.passed for c in result.check_evaluations] == [True]


def test_materialize_result_assets_can_be_checked_without_a_value() -> None:
    @asset
    def table() -> MaterializeResult:
        return MaterializeResult(metadata={"rows": 3})

    @asset_check(asset=table)
    def has_rows(context: AssetExecutionContext) -> AssetCheckResult:
        return AssetCheckResult(passed=True, description=f"run {context.run_id[:4]}")

    [check] = materialize([table, has_rows]).check_evaluations
    assert check.passed and (check.description or "").startswith("run ")


def test_definitions_refuse_bad_checks_with_the_fix() -> None:
    @asset_check(asset="ordrs")
    def typo() -> bool:
        return True

    # Dagster accepts a check of an asset defined elsewhere (it becomes external); Conflux
    # runs checks with their asset, so it says this one never runs (and names a near key).
    with pytest.warns(ExternalCheckTargetWarning, match=r"did you mean orders\?"):
        defs = Definitions([orders], asset_checks=[typo])
    assert defs.node_for("ordrs").is_external
    with pytest.raises(DuplicateCheckNameError, match="another name"):
        Definitions(
            [orders], asset_checks=[nulls_check(blocking=True), nulls_check(blocking=False)]
        )

    @asset_check(asset=orders)
    def two_values(a: int, b: int) -> bool:
        return True

    with pytest.raises(DefinitionError, match="receives one value"):
        Definitions([orders], asset_checks=[two_values])
    with pytest.raises(DefinitionError, match="needs the asset it checks"):
        asset_check(lambda: True)

    @asset(check_specs=[AssetCheckSpec("c", asset="elsewhere")])
    def wrong_target() -> int:
        return 1

    with pytest.raises(UnknownCheckTargetError, match="does not compute"):
        Definitions([wrong_target, orders])


def test_the_snapshot_carries_the_checks_and_its_id_changes_with_them() -> None:
    plain = build_location_snapshot(Definitions([orders]), "loc")
    checked = build_location_snapshot(
        Definitions([orders], asset_checks=[nulls_check(blocking=True)]), "loc"
    )
    assert checked.asset_checks == (
        AssetCheckSnapshot(name="no_nulls", asset_key="orders", blocking=True),
    )
    assert snapshot_id(plain) != snapshot_id(checked)


# -- the coordinator's gate --------------------------------------------------------------------

NOW = T0 + timedelta(hours=1)
CHECKS = (
    AssetCheckSnapshot(name="no_nulls", asset_key="a", blocking=True),
    AssetCheckSnapshot(name="rows", asset_key="a", blocking=True),
    AssetCheckSnapshot(name="style", asset_key="a"),
)
GRAPH = DefinitionsPublished(
    event_id="defs",
    time=T0,
    location="loc",
    snapshot_id="s",
    snapshot=LocationSnapshot(
        location="loc", assets=(snap("a"), snap("b", "a")), asset_checks=CHECKS
    ),
    producer="test",
)


def fold(events: list[AnyEvent]) -> tuple[CoordinatorState, list[AnyEvent]]:
    """Fold `events` and decide until quiet; returns the state and every decision."""
    state = CoordinatorState()
    out: list[AnyEvent] = []
    for event in events:
        state.apply(event)
    while decisions := decide(state, NOW):
        for d in decisions:
            state.apply(d)
        out += decisions
    return state, out


def dispatch_of_a() -> WorkItemDispatched:
    _, decided = fold([GRAPH, request("a", "b")])
    return next(d for d in decided if isinstance(d, WorkItemDispatched))


def result(item: WorkItemDispatched, name: str, passed: bool, n: int = 0) -> AssetCheckEvaluated:
    return AssetCheckEvaluated(
        event_id=f"check-{name}-{item.attempt}-{n}",
        time=T0 + timedelta(seconds=2),
        asset_key="a",
        check_name=name,
        passed=passed,
        blocking=True,
        run_id=item.run_id,
        work_item_id=item.work_item_id,
        attempt=item.attempt,
        producer="test",
    )


def test_dependents_wait_for_every_blocking_result_in_any_order() -> None:
    a = dispatch_of_a()
    base: list[AnyEvent] = [GRAPH, request("a", "b"), a]
    _, decided = fold([*base, materialized(a), result(a, "no_nulls", True)])
    assert not [d for d in decided if isinstance(d, WorkItemDispatched)]  # `rows` is missing
    outcomes: list[AnyEvent] = [
        materialized(a),
        result(a, "no_nulls", True),
        result(a, "rows", True),
    ]
    for seed in range(6):
        shuffled = random.Random(seed).sample(outcomes, len(outcomes))
        _, decided = fold([*base, *shuffled, *shuffled])  # duplicates change nothing
        assert [d.node for d in decided if isinstance(d, WorkItemDispatched)] == ["b"]


def test_a_failed_blocking_check_skips_dependents_whatever_arrives_first() -> None:
    a = dispatch_of_a()
    failing = result(a, "rows", False)
    outcomes: list[AnyEvent] = [materialized(a), result(a, "no_nulls", True), failing]
    for seed in range(6):
        shuffled = random.Random(seed).sample(outcomes, len(outcomes))
        state, decided = fold([GRAPH, request("a", "b"), a, *shuffled])
        [skip] = [d for d in decided if isinstance(d, WorkItemSkipped)]
        assert (skip.reason, skip.causation_id) == (
            "blocking check rows on a failed",
            failing.event_id,
        )
        [done] = [d for d in decided if isinstance(d, RunCompleted)]
        assert (done.status, done.materialized, done.skipped) == ("failed", 1, 1)
        assert state.runs["run-1"].completed is not None


def test_only_results_of_the_accepted_attempt_count() -> None:
    a = dispatch_of_a()
    later = a.model_copy(update={"attempt": 2, "event_id": "dispatch-2"})
    stale = result(later, "no_nulls", False)  # from an attempt that did not materialize
    _, decided = fold([GRAPH, request("a", "b"), a, materialized(a), stale])
    assert not [d for d in decided if isinstance(d, WorkItemSkipped | WorkItemDispatched)]
    passing = [result(a, "no_nulls", True), result(a, "rows", True)]
    _, decided = fold([GRAPH, request("a", "b"), a, materialized(a), stale, *passing])
    assert [d.node for d in decided if isinstance(d, WorkItemDispatched)] == ["b"]


def test_assets_without_checks_are_not_held() -> None:
    state, decided = fold([published(snap("a"), snap("b", "a")), request("a", "b")])
    a = next(d for d in decided if isinstance(d, WorkItemDispatched))
    state.apply(materialized(a))
    [dispatch_b] = decide(state, NOW)
    assert isinstance(dispatch_b, WorkItemDispatched)
    assert dispatch_b.work_item_id == work_item_id("run-1", "b", None)


# -- the read side and the archive ---------------------------------------------------------------


def evaluation(partition: str, passed: bool, second: int, name: str = "c") -> AssetCheckEvaluated:
    return AssetCheckEvaluated(
        event_id=f"e-{name}-{partition}-{second}",
        time=T0 + timedelta(seconds=second),
        asset_key="a",
        partition_key=partition,
        check_name=name,
        passed=passed,
        severity="WARN" if name == "w" else "ERROR",
        metadata={"n": second},
        producer="test",
    )


def test_the_read_model_counts_each_partitions_newest_result() -> None:
    events = [
        evaluation("p1", False, 1),
        evaluation("p1", True, 3),  # p1 passed since
        evaluation("p2", False, 2),
        evaluation("p3", True, 0),
        evaluation("p1", False, 2),  # late and older: changes nothing
        evaluation("p2", False, 5, name="w"),
    ]
    for seed in range(4):
        model = ReadModel()
        model.apply(GRAPH)
        for event in [*random.Random(seed).sample(events, len(events)), *events]:
            model.apply(event)
        summary = model.asset_summary("a")
        checks = {c.name: c for c in summary.checks}
        assert set(checks) == {"c", "no_nulls", "rows", "style", "w"}
        c = checks["c"]
        assert (c.passed, c.failed, c.status, c.defined) == (2, 1, "passed", False)
        assert c.last_result is not None and c.last_result.partition_key == "p1"
        assert (checks["w"].status, checks["no_nulls"].status) == ("warning", "not_evaluated")
        assert checks["no_nulls"].blocking and checks["no_nulls"].defined
    assert _checks_cell(summary) == "1 passed, 1 failed, 3 not run"


def test_conflux_assets_prints_one_line_per_check(capsys: pytest.CaptureFixture[str]) -> None:
    model = ReadModel()
    model.apply(GRAPH)
    model.apply(evaluation("p1", False, 1, name="rows"))
    _print_checks(model.asset_summary("a"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["CHECK", "BLOCKING", "STATUS"]
    assert lines[3].split()[:3] == ["rows", "yes", "failed"] and "n=1" in lines[3]


def test_the_archive_stores_each_result_once() -> None:
    events = [evaluation("p1", False, 1), evaluation("p2", True, 2)]
    records = [RawRecord(encode_event(e), "c.assets", 0, i) for i, e in enumerate(events)]
    with tempfile.TemporaryDirectory() as folder, ChdbStore(folder) as store:
        store.create_schema()
        sink = ArchiveSink(store, batch_size=10)
        try:
            sink.add(records)
            sink.add(records)  # again: at-least-once delivery
            sink.flush()
        finally:
            sink.close()
        assert store.count("check_results") == 2
        [row] = store.check_results("a", "p1")
        assert (row.check_name, row.passed, row.severity, row.metadata) == (
            "c",
            False,
            "ERROR",
            '{"n":1}',
        )
        assert store.check_results("a", "p2", check_name="other") == []


def test_an_archive_with_the_first_check_results_shape_gains_the_new_columns() -> None:
    with tempfile.TemporaryDirectory() as folder, ChdbStore(folder) as store:
        store.execute(
            "CREATE TABLE check_results (asset_key String, partition_key String,"
            " check_name String, passed Bool, severity LowCardinality(String), run_id String,"
            " event_id String, time DateTime64(6, 'UTC'), metadata String)"
            " ENGINE = ReplacingMergeTree ORDER BY (asset_key, partition_key, check_name, event_id)"
        )
        store.create_schema()
        store.create_schema()
        sink = ArchiveSink(store, batch_size=10)
        try:
            sink.add([RawRecord(encode_event(evaluation("p", True, 1)), "c.assets", 0, 0)])
            sink.flush()
        finally:
            sink.close()
        [row] = store.check_results("a", "p")
        assert row.passed and not row.blocking
