"""A location whose dynamic keys differ only in `/` vs `%2F`: see test_cli_storage_keys.py."""

from __future__ import annotations

from conflux import AssetExecutionContext, Definitions, DynamicPartitionsDefinition, asset

files = DynamicPartitionsDefinition(name="files")


@asset(partitions_def=files)
def dyn_up(context: AssetExecutionContext) -> str:
    return f"up[{context.partition_key}]"


@asset(partitions_def=files)
def dyn_down(context: AssetExecutionContext, dyn_up: str) -> dict[str, str]:
    return {"key": context.partition_key, "read": dyn_up}


defs = Definitions(assets=[dyn_up, dyn_down])
