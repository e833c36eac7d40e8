"""A code location with dynamic partitions, for tests/e2e/test_cli_partitions.py."""

from __future__ import annotations

from conflux import (
    AssetExecutionContext,
    Definitions,
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
)

customers = DynamicPartitionsDefinition(name="customers")


@asset(partitions_def=customers, group_name="customers")
def customer_orders(context: AssetExecutionContext) -> list[str]:
    return [f"{context.partition_key}-order-{i}" for i in range(3)]


@asset(partitions_def=customers, group_name="customers")
def customer_total(customer_orders: list[str]) -> int:
    return len(customer_orders)


@asset(
    partitions_def=MultiPartitionsDefinition(
        {"customer": customers, "region": StaticPartitionsDefinition(["eu", "us"])}
    ),
    group_name="regional",
)
def regional_orders(context: AssetExecutionContext) -> dict[str, str]:
    key = context.partition_key  # typed `str`, as in Dagster
    assert isinstance(key, MultiPartitionKey)
    return key.keys_by_dimension


defs = Definitions(assets=[customer_orders, customer_total, regional_orders])
