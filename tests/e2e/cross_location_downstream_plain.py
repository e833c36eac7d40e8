"""Location `reports`, variant of the cross-location e2e test with plain keys only.

It names `shop`'s assets by key in `deps` and declares nothing else about them (no
`AssetSpec`): as in Dagster, such keys become external assets of this location, and the
location that defines them (`shop`) owns them in the shared graph.
"""

from __future__ import annotations

from conflux import (
    AssetExecutionContext,
    AutomationCondition,
    DailyPartitionsDefinition,
    Definitions,
    MaterializeResult,
    asset,
)

days = DailyPartitionsDefinition(start_date="2024-01-01")


@asset(partitions_def=days, deps=["orders"])
def order_report(context: AssetExecutionContext) -> MaterializeResult:
    return MaterializeResult(metadata={"day": context.partition_key})


@asset(deps=["clicks"], automation_condition=AutomationCondition.eager())
def click_report() -> MaterializeResult:
    return MaterializeResult(metadata={"report": "clicks"})


defs = Definitions(assets=[order_report, click_report])
