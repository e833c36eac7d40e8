"""Contexts for unit tests that call an asset or op function directly (Dagster's builders).

`build_asset_context()` makes an `AssetExecutionContext` that is bound to an asset when
the asset is called with it (`my_asset(context)`), as Dagster's direct invocation does:
the asset's keys and partitions definition fill in then.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from conflux.sdk._context import AssetExecutionContext

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from conflux.sdk.partitions import PartitionKeyRange

UNBOUND_RUN_ID = "EPHEMERAL"


def build_asset_context(
    resources: Mapping[str, Any] | None = None,
    resources_config: Mapping[str, Any] | None = None,
    asset_config: Mapping[str, Any] | None = None,
    instance: object = None,
    partition_key: str | None = None,
    partition_key_range: PartitionKeyRange | None = None,
    run_tags: Mapping[str, str] | None = None,
    event_loop: object = None,
) -> AssetExecutionContext:
    """A context to pass when calling an asset function in a test (Dagster's name).

    Example:
        >>> context = build_asset_context(partition_key="2024-08-16")
        >>> assert loaded_file(context) == "Contents for August 16th, 2024"
    """
    del resources_config, instance, event_loop
    from conflux.sdk._io_manager import _Resources

    range_keys: tuple[str, ...] | None = None
    if partition_key_range is not None:
        range_keys = (partition_key_range.start, partition_key_range.end)
    return AssetExecutionContext(
        run_id=UNBOUND_RUN_ID,
        asset_keys=(),
        partition_key_or_none=partition_key,
        partitions_def=None,
        log=logging.getLogger("conflux.asset.test"),
        range_keys=range_keys,
        op_config=dict(asset_config) if asset_config is not None else None,
        resources=_Resources(dict(resources or {})),
        run_tags=dict(run_tags or {}),
    )


def bind_context(
    context: AssetExecutionContext, asset_keys: tuple[Any, ...], partitions_def: object
) -> AssetExecutionContext:
    """A built context bound to the asset it is passed to (its keys and partitions)."""
    import dataclasses

    if context.asset_keys:
        return context
    range_keys = context.range_keys
    if range_keys is not None and partitions_def is not None and len(range_keys) == 2:
        from conflux.sdk.partitions import keys_in_key_range

        range_keys = tuple(keys_in_key_range(partitions_def, range_keys[0], range_keys[1]))  # type: ignore[arg-type]
    return dataclasses.replace(
        context,
        asset_keys=asset_keys,
        partitions_def=partitions_def,  # type: ignore[arg-type]
        range_keys=range_keys,
    )


def build_op_context(
    resources: Mapping[str, Any] | None = None,
    op_config: Any = None,
    resources_config: Mapping[str, Any] | None = None,
    instance: object = None,
    config: Any = None,
    partition_key: str | None = None,
    partition_key_range: PartitionKeyRange | None = None,
    mapping_key: str | None = None,
    run_tags: Mapping[str, str] | None = None,
    event_loop: object = None,
) -> AssetExecutionContext:
    """A context to pass when calling an op in a test (Dagster's name).

    An op runs inside an asset in Conflux, so this is an `AssetExecutionContext`, with
    `op_config` from `op_config` (or `config`).
    """
    del mapping_key
    return build_asset_context(
        resources=resources,
        resources_config=resources_config,
        asset_config=op_config if op_config is not None else config,
        instance=instance,
        partition_key=partition_key,
        partition_key_range=partition_key_range,
        run_tags=run_tags,
        event_loop=event_loop,
    )


def build_init_resource_context(
    config: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    instance: object = None,
) -> Any:
    """An `InitResourceContext` for testing a `@resource` function (Dagster's name)."""
    from conflux.sdk._io_manager import _Resources
    from conflux.sdk._resources import InitResourceContext

    return InitResourceContext(
        resource_config=dict(config) if config is not None else None,
        resources=_Resources(dict(resources or {})),
        instance=instance,
    )


@contextlib.contextmanager
def build_resources(
    resources: Mapping[str, Any],
    instance: object = None,
    resource_config: Mapping[str, Any] | None = None,
    dagster_run: object = None,
    log_manager: object = None,
    event_loop: object = None,
) -> Iterator[Any]:
    """The resources as assets would receive them, by attribute (Dagster's name).

    Example:
        >>> with build_resources({"db": Database(url="...")}) as resources:
        ...     resources.db.query("select 1")
    """
    from conflux.sdk._definitions import Definitions
    from conflux.sdk._io_manager import InMemoryIOManager
    from conflux.sdk._resources_runtime import ResourceSet

    run_config = (
        {"resources": {k: {"config": v} for k, v in resource_config.items()}}
        if resource_config
        else None
    )
    built = ResourceSet(Definitions(resources=resources), default_io_manager=InMemoryIOManager())
    try:
        yield built.namespace(run_config)  # type: ignore[arg-type]
    finally:
        built.close()
