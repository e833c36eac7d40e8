"""A small project for the browser tests of the web UI (tests/e2e/test_ui_browser.py).

Two groups: `sales` (a daily-partitioned asset, its downstream, a report over all days)
and `ops` (a multi-partitioned asset, an asset that always fails, a check that fails),
plus a schedule and a sensor, both stopped, for the automation page.
"""

from __future__ import annotations

import time

from conflux import (
    AllPartitionMapping,
    AssetCheckResult,
    AssetExecutionContext,
    AssetIn,
    DailyPartitionsDefinition,
    Definitions,
    MaterializeResult,
    MultiPartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    StaticPartitionsDefinition,
    asset,
    asset_check,
    sensor,
)

days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-03-01")
regions = MultiPartitionsDefinition(
    {
        "date": DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-15"),
        "region": StaticPartitionsDefinition(["eu", "us", "apac"]),
    }
)


@asset(partitions_def=days, group_name="sales", description="Orders as the shop exports them.")
def raw_orders(context: AssetExecutionContext) -> int:
    time.sleep(0.05)  # long enough for the run page to show some progress
    return len(context.partition_key)


@asset(partitions_def=days, group_name="sales")
def daily_revenue(raw_orders: int) -> MaterializeResult:
    return MaterializeResult(metadata={"revenue": raw_orders * 10, "currency": "EUR"})


@asset(group_name="sales", ins={"daily_revenue": AssetIn(partition_mapping=AllPartitionMapping())})
def sales_report(daily_revenue: dict[str, object]) -> MaterializeResult:
    return MaterializeResult(metadata={"days": len(daily_revenue)})


@asset(partitions_def=regions, group_name="ops")
def regional_stock(context: AssetExecutionContext) -> str:
    return context.partition_key


@asset(group_name="ops")
def flaky_export() -> None:
    raise RuntimeError("the export server said no")


@asset(group_name="ops")
def inventory() -> int:
    return 3


@asset_check(asset=inventory)
def inventory_is_positive(inventory: int) -> AssetCheckResult:
    return AssetCheckResult(passed=inventory < 0, metadata={"value": inventory})


nightly = ScheduleDefinition(
    name="nightly", cron_schedule="0 2 * * *", target=[inventory], execution_timezone="UTC"
)


@sensor(target=[inventory], minimum_interval_seconds=1)
def inbox(context: SensorEvaluationContext) -> RunRequest:
    return RunRequest(run_key="the-one-file")


defs = Definitions(
    assets=[raw_orders, daily_revenue, sales_report, regional_stock, flaky_export, inventory],
    asset_checks=[inventory_is_positive],
    schedules=[nightly],
    sensors=[inbox],
)
