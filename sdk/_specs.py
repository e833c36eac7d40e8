"""Small declarative pieces of an asset: its upstream inputs, deps, outputs and specs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.sdk._keys import AssetKey, CoercibleToAssetKey, to_asset_key

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from conflux.sdk._automation import AutomationCondition
    from conflux.sdk.partitions import PartitionMapping, PartitionsDefinition


@dataclass(frozen=True)
class AssetIn:
    """Names the upstream asset a parameter loads, and how partitions map onto it.

    Example:
        >>> @asset(ins={"hours": AssetIn("hourly_events", partition_mapping=AllPartitionMapping())})
        ... def summary(hours: dict[str, list[int]]) -> int: ...
    """

    key: CoercibleToAssetKey | None = None
    key_prefix: str | Sequence[str] | None = None
    """Prefix for the key derived from the parameter name (when `key` is not given)."""
    partition_mapping: PartitionMapping | None = None


@dataclass(frozen=True)
class AssetDep:
    """An upstream asset this asset depends on without loading its value."""

    asset: CoercibleToAssetKey | AssetSpec
    partition_mapping: PartitionMapping | None = None

    @property
    def key(self) -> AssetKey:
        """The upstream asset's key."""
        return self.asset.key if isinstance(self.asset, AssetSpec) else to_asset_key(self.asset)


@dataclass(frozen=True)
class AssetSpec:
    """An asset's description without a function.

    Used for an external (observed-only) asset, a `deps` entry, or one output of
    `@multi_asset(specs=...)`.
    """

    key: AssetKey
    deps: tuple[AssetDep, ...] = ()
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    group_name: str | None = None
    code_version: str | None = None
    partitions_def: PartitionsDefinition | None = None
    kinds: tuple[str, ...] = ()
    automation_condition: AutomationCondition | None = None

    def __init__(
        self,
        key: CoercibleToAssetKey,
        *,
        deps: Sequence[CoercibleToAssetKey | AssetSpec | AssetDep] = (),
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        group_name: str | None = None,
        code_version: str | None = None,
        partitions_def: PartitionsDefinition | None = None,
        kinds: Sequence[str] = (),
        automation_condition: AutomationCondition | None = None,
    ) -> None:
        object.__setattr__(self, "key", to_asset_key(key))
        object.__setattr__(self, "deps", tuple(coerce_dep(d) for d in deps))
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "group_name", group_name)
        object.__setattr__(self, "code_version", code_version)
        object.__setattr__(self, "partitions_def", partitions_def)
        object.__setattr__(self, "kinds", tuple(kinds))
        object.__setattr__(self, "automation_condition", automation_condition)


@dataclass(frozen=True)
class AssetOut:
    """One output of a `@multi_asset`; its key defaults to the output name."""

    key: CoercibleToAssetKey | None = None
    key_prefix: str | Sequence[str] | None = None
    description: str | None = None
    metadata: Mapping[str, str] | None = None
    group_name: str | None = None
    code_version: str | None = None
    kinds: Sequence[str] = ()
    automation_condition: AutomationCondition | None = None


def coerce_dep(dep: object) -> AssetDep:
    """An `AssetDep` from anything `deps=[...]` accepts: a key, a spec, an asset function."""
    if isinstance(dep, AssetDep):
        return dep
    if isinstance(dep, AssetSpec):
        return AssetDep(dep)
    keys = getattr(dep, "keys", None)
    if keys is not None and not isinstance(dep, str | list | tuple):
        from conflux.sdk._asset import AssetsDefinition

        if isinstance(dep, AssetsDefinition):
            if len(dep.keys) != 1:
                raise _multi_dep_error(dep.node)
            return AssetDep(dep.keys[0])
    if isinstance(dep, str | AssetKey | list | tuple):
        return AssetDep(to_asset_key(dep))
    from conflux.events import DefinitionError

    raise DefinitionError(
        f"deps entry {dep!r} is not an asset, an AssetKey, a key string or an AssetSpec"
    )


def _multi_dep_error(node: str) -> Exception:
    from conflux.events import DefinitionError

    return DefinitionError(
        f"deps=[{node}] names a multi_asset with several keys: list the keys you depend on"
    )
