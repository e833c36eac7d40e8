"""Location `shop` of the cross-location e2e test: the upstream assets."""

from __future__ import annotations

import time

from conflux import (
    AssetExecutionContext,
    DailyPartitionsDefinition,
    Definitions,
    MaterializeResult,
    asset,
)

days = DailyPartitionsDefinition(start_date="2024-01-01")


@asset(partitions_def=days)
def orders(context: AssetExecutionContext) -> MaterializeResult:
    time.sleep(0.2)  # long enough that a dependent started too early would show
    return MaterializeResult(metadata={"day": context.partition_key})


@asset
def clicks() -> MaterializeResult:
    return MaterializeResult(metadata={"clicks": 3})


defs = Definitions(assets=[orders, clicks])
