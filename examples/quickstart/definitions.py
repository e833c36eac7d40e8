"""A small shop's assets: daily raw orders, daily revenue, and a report over January.

Run it with `conflux dev -f examples/quickstart/definitions.py`, then
`conflux materialize '*' --from 2024-01-01 --to 2024-01-07 --wait`.
"""

from __future__ import annotations

import random

from conflux import (
    AllPartitionMapping,
    AssetExecutionContext,
    AssetIn,
    ConfigurableResource,
    DailyPartitionsDefinition,
    Definitions,
    MaterializeResult,
    asset,
)

january = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")


class Shop(ConfigurableResource):
    """Where orders come from (here: a seeded random generator)."""

    name: str
    orders_per_day: int = 50


@asset(partitions_def=january, group_name="sales", code_version="1")
def raw_orders(context: AssetExecutionContext, shop: Shop) -> list[dict[str, float]]:
    """The day's orders, as the shop's system exports them."""
    rng = random.Random(f"{shop.name}:{context.partition_key}")
    orders = [{"amount": round(rng.uniform(5, 120), 2)} for _ in range(shop.orders_per_day)]
    context.log.info("%d orders on %s", len(orders), context.partition_key)
    return orders


@asset(partitions_def=january, group_name="sales", code_version="1")
def daily_revenue(raw_orders: list[dict[str, float]]) -> float:
    """Revenue per day."""
    return round(sum(order["amount"] for order in raw_orders), 2)


@asset(
    group_name="reports",
    ins={"daily_revenue": AssetIn(partition_mapping=AllPartitionMapping())},
)
def january_report(daily_revenue: dict[str, float]) -> MaterializeResult:
    """Revenue over every materialized day of January (partitions not yet built are skipped)."""
    total = round(sum(daily_revenue.values()), 2)
    return MaterializeResult(metadata={"days": len(daily_revenue), "revenue": total})


defs = Definitions(
    assets=[raw_orders, daily_revenue, january_report],
    resources={"shop": Shop(name="conflux-coffee")},
)
