"""A shop that runs itself: schedules, a sensor, declarative automation and asset checks.

Run it with `conflux dev -f examples/automation/definitions.py`, then watch:

- `conflux schedules list` / `conflux sensors list`: `orders_job_schedule` (each day's
  orders, at 00:15 UTC for the day that just closed) and `price_feed` (a tick every 2 s,
  a new price every 10 s) run by default;
- `conflux runs`: the sensor's runs, and the automatic ones;
- `conflux materialize raw_orders --partition YESTERDAY --wait` (YESTERDAY as
  2024-01-31: eager automation keeps the latest day up to date, and leaves history to
  backfills), then `conflux why priced_orders --partition YESTERDAY`: the run that
  followed, and the condition that asked for it;
- `conflux assets`: the check results next to the assets.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from conflux import (
    AssetCheckResult,
    AssetExecutionContext,
    AutomationCondition,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    MaterializeResult,
    RunRequest,
    SensorEvaluationContext,
    asset,
    asset_check,
    build_schedule_from_partitioned_job,
    define_asset_job,
    sensor,
)

days = DailyPartitionsDefinition(start_date="2024-01-01")


@asset(partitions_def=days, group_name="sales")
def raw_orders(context: AssetExecutionContext) -> list[dict[str, float]]:
    """The day's orders, as the shop's system exports them (a seeded generator here)."""
    rng = random.Random(context.partition_key)
    return [{"amount": round(rng.uniform(5, 120), 2)} for _ in range(40)]


@asset_check(asset=raw_orders, blocking=True)
def amounts_are_positive(raw_orders: list[dict[str, float]]) -> AssetCheckResult:
    """A blocking check: downstream assets never read a day with a bad amount."""
    bad = sum(1 for order in raw_orders if order["amount"] <= 0)
    return AssetCheckResult(passed=bad == 0, metadata={"bad_orders": bad})


@asset(group_name="pricing")
def exchange_rate() -> float:
    """EUR per USD, refreshed by the `price_feed` sensor."""
    return round(0.9 + random.random() / 10, 4)


@asset(
    partitions_def=days,
    group_name="sales",
    deps=[exchange_rate],
    automation_condition=AutomationCondition.eager(),
)
def priced_orders(raw_orders: list[dict[str, float]]) -> MaterializeResult:
    """Each day's revenue, rebuilt as soon as its orders (or the exchange rate) change."""
    return MaterializeResult(metadata={"revenue": round(sum(o["amount"] for o in raw_orders), 2)})


@asset(
    group_name="reports",
    deps=[exchange_rate],
    automation_condition=AutomationCondition.on_cron("*/5 * * * *"),
)
def pricing_report() -> MaterializeResult:
    """Every five minutes, once the exchange rate updated since the last tick."""
    return MaterializeResult(metadata={"at": datetime.now(UTC).isoformat()})


orders_job = define_asset_job("orders_job", selection=[raw_orders], partitions_def=days)
daily_orders = build_schedule_from_partitioned_job(
    orders_job, minute_of_hour=15, default_status=DefaultScheduleStatus.RUNNING
)


@sensor(
    target=[exchange_rate],
    minimum_interval_seconds=2,
    default_status=DefaultSensorStatus.RUNNING,
)
def price_feed(context: SensorEvaluationContext) -> RunRequest | None:
    """A new price every ten seconds: one run per price (its run key), never twice."""
    slot = int(datetime.now(UTC).timestamp()) // 10
    if context.cursor == str(slot):
        return None
    context.update_cursor(str(slot))
    return RunRequest(run_key=f"price-{slot}")


defs = Definitions(
    assets=[raw_orders, exchange_rate, priced_orders, pricing_report],
    asset_checks=[amounts_are_positive],
    jobs=[orders_job],
    schedules=[daily_orders],
    sensors=[price_feed],
)
