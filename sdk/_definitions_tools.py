"""Helpers Dagster users write around their definitions.

`@definitions` (a function that returns the location's `Definitions`),
`with_resources`, `file_relative_path`, `with_source_code_references`, the exceptions an
asset raises to ask for a retry or to fail with metadata (`RetryRequested`, `Failure`),
partitioned run config (`PartitionedConfig`, `static_partitioned_config`), the asset
loaders (`load_assets_from_modules`, ...), `map_asset_specs`, `get_dagster_logger` and
`materialize_to_memory`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from conflux.sdk._specs import AssetSpec

if TYPE_CHECKING:
    import types
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from conflux.sdk._asset import AssetsDefinition
    from conflux.sdk._definitions import Definitions
    from conflux.sdk._keys import AssetKey
    from conflux.sdk.partitions import PartitionsDefinition

T = TypeVar("T")


class LazyDefinitions:
    """A function that builds a location's `Definitions` when the location loads.

    Made by `@definitions`; calling it returns the `Definitions`. A location file may hold
    several (and a `Definitions` too): the loader merges them, as Dagster does.
    """

    def __init__(self, load_fn: Callable[..., Definitions]) -> None:
        self.load_fn = load_fn
        self.__name__ = getattr(load_fn, "__name__", "definitions")
        self.__doc__ = load_fn.__doc__

    def __call__(self) -> Definitions:
        return self.load_fn()

    def __repr__(self) -> str:
        return f"LazyDefinitions({self.__name__})"


def definitions(fn: Callable[..., Definitions]) -> LazyDefinitions:
    """Declare a function that returns the location's `Definitions` (Dagster's `@definitions`).

    Example:
        >>> @definitions
        ... def resources() -> Definitions:
        ...     return Definitions(resources={"warehouse": Warehouse(url="...")})
    """
    return LazyDefinitions(fn)


def file_relative_path(dunderfile: str, relative_path: str) -> str:
    """A path relative to the folder of `dunderfile` (pass `__file__`), as Dagster's helper."""
    return os.path.join(os.path.dirname(dunderfile), relative_path)


def with_resources(
    definitions: Sequence[T],
    resource_defs: Mapping[str, object],
    resource_config_by_key: Mapping[str, Any] | None = None,
) -> Sequence[T]:
    """Attach resources to assets (Dagster's `with_resources`).

    Conflux binds resources per location, so the resources travel with the assets: a
    `Definitions` (or `materialize`) given these assets gets these resources unless it
    gives its own for the same key.
    """
    del resource_config_by_key
    from conflux.sdk._asset import AssetsDefinition

    out: list[T] = []
    for item in definitions:
        if isinstance(item, AssetsDefinition):
            merged = {**dict(item.resource_defs), **dict(resource_defs)}
            item = dataclasses.replace(item, resource_defs=merged)
        out.append(item)
    return out


def with_source_code_references(assets: Sequence[T]) -> Sequence[T]:
    """Dagster's helper that links assets to their source: the assets, unchanged.

    Conflux shows no code links; kept so that code calling it ports as is.
    """
    return list(assets)


class RetryRequested(Exception):
    """Raised by an asset to be retried (Dagster's `RetryRequested`).

    The failed attempt is retried up to `max_retries` times, after `seconds_to_wait`,
    even when the asset has no `RetryPolicy` (a policy with more retries wins).

    Example:
        >>> try:
        ...     rows = fetch()
        ... except TimeoutError as exc:
        ...     raise RetryRequested(max_retries=3, seconds_to_wait=10) from exc
    """

    def __init__(self, max_retries: int | None = 1, seconds_to_wait: float | None = None) -> None:
        super().__init__(
            f"retry requested (up to {max_retries} retries"
            + (f", after {seconds_to_wait} s)" if seconds_to_wait else ")")
        )
        self.max_retries = 1 if max_retries is None else int(max_retries)
        self.seconds_to_wait = seconds_to_wait


class Failure(Exception):
    """Raised by an asset to fail with a description and metadata (Dagster's `Failure`).

    `allow_retries=False` is recorded in the message; a `RetryPolicy` still applies.
    """

    def __init__(
        self,
        description: str | None = None,
        metadata: Mapping[str, object] | None = None,
        allow_retries: bool | None = None,
    ) -> None:
        super().__init__(description or "asset failed")
        self.description = description
        self.metadata = dict(metadata or {})
        self.allow_retries = True if allow_retries is None else allow_retries


@dataclass(frozen=True)
class PartitionedConfig:
    """Run config per partition key (Dagster's `PartitionedConfig`).

    Give it to `materialize(run_config=config.get_run_config_for_partition_key(key))`;
    `define_asset_job(config=...)` accepts it, and runs the coordinator starts for the job
    do not get it (the coordinator runs no user code): give their requests a `run_config`.
    """

    partitions_def: PartitionsDefinition
    run_config_for_partition_key_fn: Callable[[str], Mapping[str, Any]]
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None

    def get_run_config_for_partition_key(self, partition_key: str) -> Mapping[str, Any]:
        """The run config for one partition."""
        return self.run_config_for_partition_key_fn(partition_key)

    def get_tags_for_partition_key(self, partition_key: str) -> Mapping[str, str]:
        """The run tags for one partition."""
        fn = self.tags_for_partition_key_fn
        return dict(fn(partition_key)) if fn is not None else {}


def static_partitioned_config(
    partition_keys: Sequence[str],
    tags_for_partition_fn: Callable[[str], Mapping[str, str]] | None = None,
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[str], Mapping[str, Any]]], PartitionedConfig]:
    """Run config per static partition key, from a function of the key (Dagster's decorator).

    Example:
        >>> @static_partitioned_config(partition_keys=["eu", "us"])
        ... def region_config(partition_key: str) -> dict[str, object]:
        ...     return {"ops": {"sales": {"config": {"region": partition_key}}}}
    """
    from conflux.sdk.partitions import StaticPartitionsDefinition

    def wrap(fn: Callable[[str], Mapping[str, Any]]) -> PartitionedConfig:
        return PartitionedConfig(
            partitions_def=StaticPartitionsDefinition(list(partition_keys)),
            run_config_for_partition_key_fn=fn,
            tags_for_partition_key_fn=tags_for_partition_key_fn or tags_for_partition_fn,
        )

    return wrap


def get_dagster_logger(name: str | None = None) -> logging.Logger:
    """A logger for user code (Dagster's `get_dagster_logger`): `conflux.user[.name]`.

    Its records go where the worker's (or the test's) logging sends them.
    """
    return logging.getLogger(f"conflux.user.{name}" if name else "conflux.user")


def map_asset_specs(func: Callable[[AssetSpec], AssetSpec], iterable: Iterable[T]) -> list[T]:
    """Apply `func` to every `AssetSpec` (and to the specs of every asset) (Dagster's helper).

    An asset keeps its function; what `func` changes of its specs (group, tags, owners,
    metadata, description, code version, kinds, automation condition, added deps) is
    applied to its outputs.
    """
    from conflux.sdk._asset import AssetsDefinition

    out: list[T] = []
    for item in iterable:
        if isinstance(item, AssetSpec):
            out.append(func(item))  # type: ignore[arg-type]
        elif isinstance(item, AssetsDefinition):
            out.append(_map_outputs(item, func))  # type: ignore[arg-type]
        else:
            out.append(item)
    return out


def _map_outputs(
    node: AssetsDefinition, func: Callable[[AssetSpec], AssetSpec]
) -> AssetsDefinition:
    outputs = []
    for output in node.outputs:
        spec = func(node.get_asset_spec(output.key))
        if spec.key != output.key:
            from conflux.events import DefinitionError

            raise DefinitionError(
                f"map_asset_specs changed the key of {output.key} to {spec.key}: keys of an "
                "asset with a function cannot change this way",
                asset_key=output.key.to_user_string(),
            )
        known = {d.key for d in (*node.deps, *output.deps)} | {i.key for i in node.inputs}
        outputs.append(
            dataclasses.replace(
                output,
                description=spec.description,
                metadata=dict(spec.metadata),
                group_name=spec.group_name or "default",
                code_version=spec.code_version,
                kinds=tuple(spec.kinds),
                automation_condition=spec.automation_condition,
                tags=dict(spec.tags),
                owners=tuple(spec.owners),
                deps=(*output.deps, *(d for d in spec.deps if d.key not in known)),
            )
        )
    return dataclasses.replace(node, outputs=tuple(outputs))


def load_assets_from_modules(
    modules: Iterable[types.ModuleType],
    group_name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    *,
    include_specs: bool = False,
    **ignored: object,
) -> list[object]:
    """The assets defined at the top level of `modules` (Dagster's loader).

    `group_name` and `key_prefix` apply to every asset found (a prefix also to the keys
    its inputs and deps name, when those are assets found here).
    """
    del ignored
    from conflux.sdk._asset import AssetsDefinition
    from conflux.sdk._checks import AssetChecksDefinition

    found: dict[int, object] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, AssetChecksDefinition):
                continue
            if isinstance(value, AssetsDefinition) or (
                include_specs and isinstance(value, AssetSpec)
            ):
                found.setdefault(id(value), value)
            elif (
                isinstance(value, list | tuple)
                and value
                and all(isinstance(v, AssetsDefinition) for v in value)
            ):
                for v in value:
                    found.setdefault(id(v), v)
    assets = list(found.values())
    if group_name is not None:
        assets = map_asset_specs(lambda s: s.replace_attributes(group_name=group_name), assets)
    if key_prefix:
        assets = _prefixed(assets, key_prefix)
    return assets


def _prefixed(assets: list[object], key_prefix: str | Sequence[str]) -> list[object]:
    """Prefix every key of `assets`, and the keys they read from each other."""
    from conflux.sdk._asset import AssetsDefinition

    prefix = [key_prefix] if isinstance(key_prefix, str) else list(key_prefix)
    own = {k for a in assets if isinstance(a, AssetsDefinition) for k in a.keys}

    def move(key: AssetKey) -> AssetKey:
        return key.with_prefix(prefix) if key in own else key

    out: list[object] = []
    for item in assets:
        if not isinstance(item, AssetsDefinition):
            out.append(item)
            continue
        out.append(
            dataclasses.replace(
                item,
                outputs=tuple(
                    dataclasses.replace(
                        o,
                        key=o.key.with_prefix(prefix),
                        deps=tuple(dataclasses.replace(d, asset=move(d.key)) for d in o.deps),
                    )
                    for o in item.outputs
                ),
                inputs=tuple(dataclasses.replace(i, key=move(i.key)) for i in item.inputs),
                deps=tuple(dataclasses.replace(d, asset=move(d.key)) for d in item.deps),
            )
        )
    return out


def load_assets_from_current_module(
    group_name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    *,
    include_specs: bool = False,
    **ignored: object,
) -> list[object]:
    """The assets of the calling module (Dagster's loader)."""
    import inspect

    frame = inspect.stack()[1]
    module = inspect.getmodule(frame[0])
    if module is None:
        raise ImportError("load_assets_from_current_module: cannot tell the calling module")
    del ignored
    return load_assets_from_modules([module], group_name, key_prefix, include_specs=include_specs)


def load_assets_from_package_module(
    package_module: types.ModuleType,
    group_name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    *,
    include_specs: bool = False,
    **ignored: object,
) -> list[object]:
    """The assets of a package and all its submodules (Dagster's loader)."""
    del ignored
    return load_assets_from_modules(
        _walk(package_module), group_name, key_prefix, include_specs=include_specs
    )


def load_assets_from_package_name(
    package_name: str,
    group_name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    **ignored: object,
) -> list[object]:
    """The assets of the package named `package_name` and its submodules."""
    import importlib

    del ignored
    return load_assets_from_package_module(
        importlib.import_module(package_name), group_name, key_prefix
    )


def _walk(package: types.ModuleType) -> list[types.ModuleType]:
    import importlib
    import pkgutil

    modules = [package]
    for info in pkgutil.walk_packages(getattr(package, "__path__", []), package.__name__ + "."):
        modules.append(importlib.import_module(info.name))
    return modules


def materialize_to_memory(
    assets: Sequence[object],
    run_config: object = None,
    instance: object = None,
    resources: Mapping[str, object] | None = None,
    partition_key: str | None = None,
    raise_on_error: bool = True,
    tags: Mapping[str, str] | None = None,
    selection: object = None,
) -> object:
    """`materialize` with values kept in memory (Dagster's name; Conflux's default anyway).

    Raises:
        DefinitionError: `resources` gives an `io_manager` (this keeps values in memory).
    """
    from conflux.sdk._materialize import materialize

    if resources and "io_manager" in resources:
        from conflux.events import DefinitionError

        raise DefinitionError(
            "materialize_to_memory keeps values in memory: drop resources['io_manager'], or "
            "call materialize(...)"
        )
    return materialize(
        assets,  # type: ignore[arg-type]
        run_config=run_config,
        instance=instance,
        resources=resources,
        partition_key=partition_key,
        raise_on_error=raise_on_error,
        tags=tags,
        selection=selection,  # type: ignore[arg-type]
    )
