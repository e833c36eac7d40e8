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
    metadata: Mapping[str, object] | None = None
    key_prefix: str | Sequence[str] | None = None
    """Prefix for the key derived from the parameter name (when `key` is not given)."""
    input_manager_key: str | None = None
    """The resource (an IO manager) that loads this input instead of the upstream's own."""
    partition_mapping: PartitionMapping | None = None
    dagster_type: object = None
    """Accepted for Dagster compatibility; Conflux does not check value types."""

    def __init__(
        self,
        key: CoercibleToAssetKey | None = None,
        metadata: Mapping[str, object] | None = None,
        key_prefix: str | Sequence[str] | None = None,
        input_manager_key: str | None = None,
        partition_mapping: PartitionMapping | None = None,
        dagster_type: object = None,
        *,
        asset_key: CoercibleToAssetKey | None = None,
    ) -> None:
        object.__setattr__(self, "key", key if key is not None else asset_key)
        object.__setattr__(self, "metadata", metadata)
        object.__setattr__(self, "key_prefix", key_prefix)
        object.__setattr__(self, "input_manager_key", input_manager_key)
        object.__setattr__(self, "partition_mapping", partition_mapping)
        object.__setattr__(self, "dagster_type", dagster_type)


@dataclass(frozen=True)
class AssetDep:
    """An upstream asset this asset depends on without loading its value.

    `asset` is a key (`AssetKey`, `a/b` string, path), an `AssetSpec` or an asset
    (`AssetsDefinition` of one key), as in Dagster.
    """

    asset: object
    partition_mapping: PartitionMapping | None = None

    def __post_init__(self) -> None:
        self.key  # noqa: B018 - an asset of several keys or a non-key fails here, at declaration

    @property
    def key(self) -> AssetKey:
        """The upstream asset's key."""
        if isinstance(self.asset, AssetSpec):
            return self.asset.key
        keys = getattr(self.asset, "keys", None)
        if keys is not None and not isinstance(self.asset, str | list | tuple | AssetKey):
            if len(keys) != 1:
                raise _multi_dep_error(str(getattr(self.asset, "node", self.asset)))
            key: AssetKey = keys[0]
            return key
        if isinstance(self.asset, str | AssetKey | list | tuple):
            return to_asset_key(self.asset)
        from conflux.events import DefinitionError

        raise DefinitionError(
            f"AssetDep({self.asset!r}): pass an asset, an AssetSpec, an AssetKey or a key string"
        )

    @property
    def asset_key(self) -> AssetKey:
        """Dagster's name for `key`."""
        return self.key

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, AssetDep)
            and other.key == self.key
            and other.partition_mapping == self.partition_mapping
        )

    def __hash__(self) -> int:
        return hash(self.key)


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
    tags: Mapping[str, str] = field(default_factory=dict)
    owners: tuple[str, ...] = ()
    skippable: bool = False
    """In a `@multi_asset(specs=...)`: the function may leave this asset out."""
    io_manager_key: str | None = None
    """The resource that loads this asset's value for downstream assets (and stores it)."""
    freshness_policy: object = None
    """Dagster's `freshness_policy=`, kept on the spec."""

    def __init__(
        self,
        key: CoercibleToAssetKey,
        *,
        deps: Sequence[object] = (),
        description: str | None = None,
        metadata: Mapping[str, object] | None = None,
        group_name: str | None = None,
        code_version: str | None = None,
        partitions_def: PartitionsDefinition | None = None,
        kinds: Sequence[str] | None = (),
        automation_condition: AutomationCondition | None = None,
        tags: Mapping[str, str] | None = None,
        owners: Sequence[str] | None = None,
        skippable: bool = False,
        io_manager_key: str | None = None,
        freshness_policy: object = None,
    ) -> None:
        object.__setattr__(self, "key", to_asset_key(key))
        object.__setattr__(self, "deps", coerce_deps(deps, to_asset_key(key).to_user_string()))
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "group_name", group_name)
        object.__setattr__(self, "code_version", code_version)
        object.__setattr__(self, "partitions_def", partitions_def)
        object.__setattr__(self, "kinds", tuple(kinds or ()))
        object.__setattr__(self, "automation_condition", automation_condition)
        object.__setattr__(self, "tags", dict(tags or {}))
        object.__setattr__(self, "owners", tuple(owners or ()))
        object.__setattr__(self, "skippable", skippable)
        object.__setattr__(self, "io_manager_key", io_manager_key)
        object.__setattr__(self, "freshness_policy", freshness_policy)

    def _fields(self) -> dict[str, object]:
        return {
            "deps": self.deps,
            "description": self.description,
            "metadata": self.metadata,
            "group_name": self.group_name,
            "code_version": self.code_version,
            "partitions_def": self.partitions_def,
            "kinds": self.kinds,
            "automation_condition": self.automation_condition,
            "tags": self.tags,
            "owners": self.owners,
            "skippable": self.skippable,
            "io_manager_key": self.io_manager_key,
            "freshness_policy": self.freshness_policy,
        }

    def replace_attributes(self, **changes: object) -> AssetSpec:
        """A copy with some attributes replaced (Dagster's `replace_attributes`)."""
        fields = self._fields()
        key = changes.pop("key", self.key)
        fields.update(changes)
        return AssetSpec(key, **fields)  # type: ignore[arg-type]

    def merge_attributes(
        self,
        *,
        deps: Sequence[object] = (),
        metadata: Mapping[str, object] | None = None,
        owners: Sequence[str] = (),
        tags: Mapping[str, str] | None = None,
        kinds: Sequence[str] = (),
    ) -> AssetSpec:
        """A copy with more deps, metadata, owners, tags or kinds (Dagster's `merge_attributes`)."""
        return self.replace_attributes(
            deps=(*self.deps, *deps),
            metadata={**self.metadata, **(metadata or {})},
            owners=(*self.owners, *owners),
            tags={**self.tags, **(tags or {})},
            kinds=(*self.kinds, *kinds),
        )

    def with_io_manager_key(self, io_manager_key: str) -> AssetSpec:
        """A copy whose value is loaded by the IO manager `io_manager_key`."""
        return self.replace_attributes(io_manager_key=io_manager_key)


@dataclass(frozen=True)
class AssetOut:
    """One output of a `@multi_asset`; its key defaults to the output name.

    The fields are in Dagster's order (`AssetOut("prefix")` is a key prefix, as there).
    """

    key_prefix: str | Sequence[str] | None = None
    key: CoercibleToAssetKey | None = None
    dagster_type: object = None
    """Accepted for Dagster compatibility; Conflux does not check value types."""
    description: str | None = None
    is_required: bool = True
    """False: the function may leave this output out."""
    io_manager_key: str | None = None
    """The resource that stores this output (None: `io_manager`)."""
    metadata: Mapping[str, object] | None = None
    group_name: str | None = None
    code_version: str | None = None
    automation_condition: AutomationCondition | None = None
    backfill_policy: object = None
    owners: Sequence[str] | None = None
    tags: Mapping[str, str] | None = None
    kinds: Sequence[str] | None = ()
    freshness_policy: object = None
    """Dagster's `freshness_policy=`, kept on the output."""


def coerce_dep(dep: object) -> AssetDep:
    """An `AssetDep` from one `deps=[...]` entry of one key: a key, a spec, an asset."""
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
    spec_keys = getattr(dep, "key", None)
    if isinstance(spec_keys, AssetKey):  # a SourceAsset-like object with a key
        return AssetDep(spec_keys)
    from conflux.events import DefinitionError

    raise DefinitionError(
        f"deps entry {dep!r} is not an asset, an AssetKey, a key string or an AssetSpec"
    )


def coerce_deps(deps: Sequence[object], owner: str) -> tuple[AssetDep, ...]:
    """Every `AssetDep` a `deps=[...]` list names, as Dagster reads it.

    An asset of several keys (a `@multi_asset`) stands for all its keys. The same upstream
    named twice alike counts once; named twice with different partition mappings is an
    error (Dagster: "Cannot set a dependency on asset ... more than once").

    Raises:
        ConflictingDependencyError: two entries name one upstream with different mappings
            (a `DefinitionError`, and Dagster's `DagsterInvariantViolationError`).
    """
    from conflux.sdk._asset import AssetsDefinition

    found: dict[AssetKey, AssetDep] = {}
    for entry in deps:
        items: list[AssetDep]
        if isinstance(entry, AssetsDefinition) and len(entry.keys) != 1:
            items = [AssetDep(k) for k in entry.keys]
        else:
            items = [coerce_dep(entry)]
        for dep in items:
            previous = found.get(dep.key)
            if previous is not None and previous.partition_mapping != dep.partition_mapping:
                from conflux.events import ConflictingDependencyError

                raise ConflictingDependencyError(
                    f"Cannot set a dependency on asset {dep.key} more than once per asset "
                    f"({owner}: {previous.partition_mapping!r} and {dep.partition_mapping!r}): "
                    "an asset depends on another once; keep one AssetDep",
                    asset_key=owner,
                )
            found.setdefault(dep.key, dep)
    return tuple(found.values())


def _multi_dep_error(node: str) -> Exception:
    from conflux.events import DefinitionError

    return DefinitionError(
        f"deps=[{node}] names a multi_asset with several keys: list the keys you depend on"
    )
