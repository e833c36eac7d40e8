"""A plain `deps=["orders"]` on another location's asset works like an `AssetSpec`.

The location that only names the key publishes it as an external asset (Dagster's
behaviour for a deps key no asset defines); the location that defines it keeps it, so a
run spans both locations in dependency order, with the defining location's partitions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conflux import DailyPartitionsDefinition, Definitions, asset, build_location_snapshot
from conflux.coordinator import plan_run
from conflux.events import DefinitionsPublished, MaterializationRequested, PartitionRange
from conflux.projections.folds import DefinitionsProjection

T0 = datetime(2024, 5, 1, tzinfo=UTC)
days = DailyPartitionsDefinition(start_date="2024-01-01")


@asset(partitions_def=days)
def orders() -> None: ...


@asset(partitions_def=days, deps=["orders"])
def order_report() -> None: ...


@asset(deps=["clicks"])
def click_report() -> None: ...


def _published(location: str, defs: Definitions, minutes: int) -> DefinitionsPublished:
    snapshot = build_location_snapshot(defs, location)
    return DefinitionsPublished(
        time=T0 + timedelta(minutes=minutes),
        location=location,
        snapshot_id=f"{location}-{minutes}",
        snapshot=snapshot,
    )


@pytest.mark.parametrize("shop_first", [True, False])
def test_the_defining_location_owns_a_plainly_named_upstream(shop_first: bool) -> None:
    shop = _published("shop", Definitions(assets=[orders]), 1 if shop_first else 2)
    reports = _published(
        "reports", Definitions(assets=[order_report, click_report]), 2 if shop_first else 1
    )
    declared = {a.key: a for a in reports.snapshot.assets}
    assert declared["orders"].is_external and declared["clicks"].is_external
    graph = DefinitionsProjection()
    for event in (shop, reports) if shop_first else (reports, shop):
        graph.apply(event)
    assert graph.location_of("orders") == "shop" and not graph.assets["orders"].is_external
    assert graph.location_of("order_report") == "reports"
    assert graph.location_of("clicks") == "reports" and graph.assets["clicks"].is_external

    request = MaterializationRequested(
        run_id="run",
        selection="orders*",
        asset_keys=("order_report", "orders"),
        partition_range=PartitionRange(start="2024-01-01", end="2024-01-02"),
    )
    plan = plan_run(request, graph)
    located = [(i.location, i.node, i.partition_key) for i in plan.items]
    assert located == [
        ("shop", "orders", "2024-01-01"),
        ("shop", "orders", "2024-01-02"),
        ("reports", "order_report", "2024-01-01"),
        ("reports", "order_report", "2024-01-02"),
    ]
    report = plan.items[2]
    assert report.upstream == (("orders", "2024-01-01"),)  # the defining location's days
    assert report.depends_on == (plan.items[0].work_item_id,)
