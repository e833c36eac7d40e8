"""Location `reports` of the cross-location e2e test: assets that depend on `shop`'s.

`shop`'s assets are named by key and declared here as `AssetSpec`s (what this location
knows of them); `shop` defines and materializes them.
"""

from __future__ import annotations

from conflux import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    AutomationCondition,
    DailyPartitionsDefinition,
    Definitions,
    MaterializeResult,
    asset,
)

days = DailyPartitionsDefinition(start_date="2024-01-01")


@asset(partitions_def=days, deps=[AssetKey("orders")])
def order_report(context: AssetExecutionContext) -> MaterializeResult:
    return MaterializeResult(metadata={"day": context.partition_key})


@asset(deps=["clicks"], automation_condition=AutomationCondition.eager())
def click_report() -> MaterializeResult:
    return MaterializeResult(metadata={"report": "clicks"})


defs = Definitions(
    assets=[
        order_report,
        click_report,
        AssetSpec("orders", partitions_def=days),
        AssetSpec("clicks"),
    ]
)
