"""Helpers Dagster users write around their definitions.

`with_resources`, `with_source_code_references`, the exceptions an asset raises to ask
for a retry or to fail with metadata (`RetryRequested`, `Failure`), the asset loaders
(`load_assets_from_modules`, ...), `map_asset_specs` and `get_dagster_logger`. (`@definitions`
is in `_lazy_definitions.py`, `file_relative_path` in `_loading.py`, partitioned config in
`partitions/`, `materialize_to_memory` beside `materialize` in `conflux/_materialize.py`.)
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any, TypeVar

from conflux.sdk._specs import AssetSpec

if TYPE_CHECKING:
    import types
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from conflux.sdk._asset import AssetsDefinition
    from conflux.sdk._keys import AssetKey

T = TypeVar("T")


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
