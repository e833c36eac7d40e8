"""The contexts an IO manager receives, with Dagster's attributes, and their test builders.

`OutputContext` (storing a value) and `InputContext` (loading one) say which asset and
partition(s), which output or input, the definition's metadata and the resources;
`build_output_context` / `build_input_context` make them for unit tests of an IO manager.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import ConfluxError
from conflux.sdk._keys import AssetKey, CoercibleToAssetKey, to_asset_key

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from conflux.sdk.partitions import PartitionKeyRange, PartitionsDefinition, TimeWindow


class IOManagerError(ConfluxError):
    """An IO manager could not store or load a value."""


def _key_or_none(value: CoercibleToAssetKey | None) -> AssetKey | None:
    return None if value is None else to_asset_key(value)


class _PartitionsMixin:
    """Partition attributes shared by both contexts."""

    _partition_key: str | None
    _partition_keys: tuple[str | None, ...]
    partitions_def: PartitionsDefinition | None

    @property
    def has_partition_key(self) -> bool:
        """True when one partition is stored or loaded."""
        return self._partition_key is not None

    def _typed(self, key: str) -> str:
        """A multi-partitioned asset's key as a `MultiPartitionKey` (a `str`), as in Dagster."""
        from conflux.sdk.partitions import MultiPartitionsDefinition

        pdef = self.partitions_def
        if isinstance(pdef, MultiPartitionsDefinition):
            return pdef.get_partition_key_from_str(key)
        return key

    @property
    def partition_key(self) -> str:
        """The partition (raises when there is none, as in Dagster).

        For a multi-partitioned asset it is a `MultiPartitionKey`, as the asset's context's.
        """
        if self._partition_key is None:
            raise IOManagerError("this IO manager call is not for one partition")
        return self._typed(self._partition_key)

    @property
    def asset_partition_key(self) -> str:
        """The one partition of the asset stored or loaded (raises when there is not one)."""
        if self._partition_key is None:
            raise IOManagerError("this IO manager call is not for one partition")
        return self._typed(self._partition_key)

    @property
    def has_asset_partitions(self) -> bool:
        """True when the call is for partitions (one or several)."""
        return any(k is not None for k in self._partition_keys)

    @property
    def asset_partition_keys(self) -> list[str]:
        """Every partition of the call, in order."""
        return [self._typed(k) for k in self._partition_keys if k is not None]

    @property
    def asset_partition_key_range(self) -> PartitionKeyRange:
        """First and last partition of the call."""
        from conflux.sdk.partitions import PartitionKeyRange

        keys = self.asset_partition_keys
        if not keys:
            raise IOManagerError("this IO manager call is not for partitions")
        return PartitionKeyRange(keys[0], keys[-1])

    @property
    def asset_partitions_time_window(self) -> TimeWindow:
        """The time window the call's partitions span."""
        from conflux.sdk.partitions import TimeWindow, TimeWindowPartitionsDefinition

        pdef = self.partitions_def
        keys = self.asset_partition_keys
        if not isinstance(pdef, TimeWindowPartitionsDefinition) or not keys:
            raise IOManagerError("this IO manager call is not for time-window partitions")
        first = pdef.time_window_for_partition_key(keys[0])
        last = pdef.time_window_for_partition_key(keys[-1])
        return TimeWindow(first.start, last.end)

    @property
    def asset_partitions_def(self) -> PartitionsDefinition | None:
        """The asset's partitions definition."""
        return self.partitions_def


class OutputContext(_PartitionsMixin):
    """What an IO manager knows when it stores a value (Dagster's `OutputContext`)."""

    def __init__(
        self,
        asset_key: CoercibleToAssetKey | None = None,
        partition_key: str | None = None,
        run_id: str = "",
        *,
        name: str = "result",
        step_key: str | None = None,
        definition_metadata: Mapping[str, object] | None = None,
        output_metadata: Mapping[str, object] | None = None,
        partitions_def: PartitionsDefinition | None = None,
        partition_keys: Sequence[str | None] | None = None,
        resources: object = None,
        resource_config: object = None,
        config: object = None,
        log: logging.Logger | None = None,
        dagster_type: object = None,
        op_def: object = None,
        version: str | None = None,
    ) -> None:
        self._asset_key = _key_or_none(asset_key)
        self._partition_key = partition_key
        self._partition_keys = tuple(
            partition_keys if partition_keys is not None else (partition_key,)
        )
        self.run_id = run_id
        self.name = name
        self.step_key = step_key
        self.definition_metadata: dict[str, object] = dict(definition_metadata or {})
        self.output_metadata: dict[str, object] = dict(output_metadata or {})
        self.partitions_def = partitions_def
        self.resources = resources
        self.resource_config = resource_config
        self.config = config
        self.log = log or logging.getLogger("conflux.io_manager")
        self.dagster_type = dagster_type
        self.op_def = op_def
        self.version = version
        self._added: dict[str, object] = {}

    @property
    def asset_key(self) -> AssetKey:
        """The asset being stored."""
        if self._asset_key is None:
            raise IOManagerError("this OutputContext is not for an asset (no asset_key given)")
        return self._asset_key

    @property
    def has_asset_key(self) -> bool:
        """True when the output is an asset's."""
        return self._asset_key is not None

    @property
    def metadata(self) -> dict[str, object]:
        """The output's definition metadata (Dagster's older name)."""
        return self.definition_metadata

    def add_output_metadata(self, metadata: Mapping[str, object]) -> None:
        """Attach metadata to the materialization event of this output."""
        self._added.update(metadata)

    def get_logged_metadata(self) -> dict[str, object]:
        """What `add_output_metadata` attached."""
        return dict(self._added)

    def get_identifier(self) -> list[str]:
        """A path that names this output: the asset key's path (or run, step and name)."""
        if self._asset_key is not None:
            path = list(self._asset_key.path)
            return [*path, self._partition_key] if self._partition_key else path
        return [self.run_id, self.step_key or "", self.name]

    def get_asset_identifier(self) -> list[str]:
        """The asset key's path, then the partition key when there is one."""
        return self.get_identifier()

    def log_event(self, event: object) -> None:
        """Accepted for Dagster compatibility; the event is logged, not recorded."""
        self.log.info("io manager event: %r", event)

    def __enter__(self) -> OutputContext:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class InputContext(_PartitionsMixin):
    """What an IO manager knows when it loads an upstream value (Dagster's `InputContext`).

    `multi_partition` is True when the mapping reads several upstream partitions: load a
    dict key -> value, leaving out partitions that hold no value yet (a report over the
    days built so far); a single-partition read of a missing value is an error.
    """

    def __init__(
        self,
        asset_key: CoercibleToAssetKey | None = None,
        partition_key: str | None = None,
        partition_keys: Sequence[str | None] | None = None,
        downstream_asset_key: str = "",
        multi_partition: bool = False,
        *,
        name: str | None = None,
        upstream_output: OutputContext | None = None,
        definition_metadata: Mapping[str, object] | None = None,
        partitions_def: PartitionsDefinition | None = None,
        resources: object = None,
        resource_config: object = None,
        config: object = None,
        log: logging.Logger | None = None,
        dagster_type: object = None,
        op_def: object = None,
        downstream_partition_key: str | None = None,
    ) -> None:
        self._asset_key = _key_or_none(asset_key)
        self._partition_key = partition_key
        self._partition_keys = tuple(
            partition_keys if partition_keys is not None else (partition_key,)
        )
        self._downstream_partition_key = downstream_partition_key
        self.downstream_asset_key = downstream_asset_key
        self.multi_partition = multi_partition
        self.name = name
        self.upstream_output = upstream_output
        self.definition_metadata: dict[str, object] = dict(definition_metadata or {})
        self.partitions_def = partitions_def
        self.resources = resources
        self.resource_config = resource_config
        self.config = config
        self.log = log or logging.getLogger("conflux.io_manager")
        self.dagster_type = dagster_type
        self.op_def = op_def

    @property
    def asset_key(self) -> AssetKey:
        """The upstream asset being loaded."""
        if self._asset_key is None:
            if self.upstream_output is not None and self.upstream_output.has_asset_key:
                return self.upstream_output.asset_key
            raise IOManagerError("this InputContext is not for an asset (no asset_key given)")
        return self._asset_key

    @property
    def has_asset_key(self) -> bool:
        """True when the input is an asset's value."""
        return self._asset_key is not None or (
            self.upstream_output is not None and self.upstream_output.has_asset_key
        )

    @property
    def partition_keys(self) -> tuple[str | None, ...]:
        """Every upstream partition the downstream partition reads."""
        return self._partition_keys

    @property
    def has_partition_key(self) -> bool:
        """True when the run is for one partition (of the downstream asset), as in Dagster."""
        return self._downstream_partition_key is not None or self._partition_key is not None

    @property
    def partition_key(self) -> str:
        """The partition of the run that loads the input, as in Dagster (the downstream's).

        The upstream partitions it reads are `asset_partition_key(s)`. A context built
        without the downstream's (`build_input_context(partition_key=...)`) answers the
        given key.
        """
        if self._downstream_partition_key is not None:
            return self._downstream_partition_key
        return super().partition_key

    @property
    def metadata(self) -> dict[str, object]:
        """The input's definition metadata (Dagster's older name)."""
        return self.definition_metadata

    def get_identifier(self) -> list[str]:
        """The upstream asset key's path (and partition, when there is one)."""
        path = list(self.asset_key.path)
        return [*path, self._partition_key] if self._partition_key else path

    def get_asset_identifier(self) -> list[str]:
        """Same as `get_identifier`."""
        return self.get_identifier()

    def __enter__(self) -> InputContext:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def build_output_context(
    step_key: str | None = None,
    name: str | None = None,
    definition_metadata: Mapping[str, object] | None = None,
    run_id: str | None = None,
    mapping_key: str | None = None,
    config: object = None,
    dagster_type: object = None,
    version: str | None = None,
    resource_config: object = None,
    resources: Mapping[str, object] | None = None,
    op_def: object = None,
    asset_key: CoercibleToAssetKey | None = None,
    partition_key: str | None = None,
    asset_partitions_def: PartitionsDefinition | None = None,
    asset_partition_key_range: PartitionKeyRange | None = None,
    instance: object = None,
    asset_spec: object = None,
    metadata: Mapping[str, object] | None = None,
    output_metadata: Mapping[str, object] | None = None,
) -> OutputContext:
    """An `OutputContext` for testing an IO manager's `handle_output` (Dagster's name).

    Example:
        >>> context = build_output_context(name="abc", step_key="123")
        >>> manager.handle_output(context, 5)
    """
    del mapping_key, instance, asset_spec
    keys: list[str | None] = [partition_key]
    if asset_partition_key_range is not None and asset_partitions_def is not None:
        from conflux.sdk.partitions import keys_in_key_range

        keys = list(
            keys_in_key_range(
                asset_partitions_def, asset_partition_key_range.start, asset_partition_key_range.end
            )
        )
    return OutputContext(
        asset_key=asset_key,
        partition_key=partition_key if len(keys) == 1 else None,
        partition_keys=keys,
        output_metadata=output_metadata,
        run_id=run_id or "EPHEMERAL",
        name=name or "result",
        step_key=step_key,
        definition_metadata={**(metadata or {}), **(definition_metadata or {})},
        partitions_def=asset_partitions_def,
        resources=_Resources(resources or {}),
        resource_config=resource_config,
        config=config,
        dagster_type=dagster_type,
        op_def=op_def,
        version=version,
    )


def build_input_context(
    name: str | None = None,
    config: object = None,
    definition_metadata: Mapping[str, object] | None = None,
    upstream_output: OutputContext | None = None,
    dagster_type: object = None,
    resource_config: object = None,
    resources: Mapping[str, object] | None = None,
    op_def: object = None,
    step_context: object = None,
    asset_key: CoercibleToAssetKey | None = None,
    partition_key: str | None = None,
    asset_partition_key_range: PartitionKeyRange | None = None,
    asset_partitions_def: PartitionsDefinition | None = None,
    instance: object = None,
    *,
    metadata: Mapping[str, object] | None = None,
) -> InputContext:
    """An `InputContext` for testing an IO manager's `load_input` (Dagster's name).

    Example:
        >>> context = build_input_context(upstream_output=build_output_context(name="abc"))
        >>> manager.load_input(context)
    """
    del step_context, instance
    keys: list[str | None] = [partition_key]
    if asset_partition_key_range is not None and asset_partitions_def is not None:
        from conflux.sdk.partitions import keys_in_key_range

        keys = list(
            keys_in_key_range(
                asset_partitions_def, asset_partition_key_range.start, asset_partition_key_range.end
            )
        )
    return InputContext(
        asset_key=asset_key,
        partition_key=partition_key if len(keys) == 1 else None,
        partition_keys=keys,
        multi_partition=len(keys) > 1,
        name=name,
        upstream_output=upstream_output,
        definition_metadata={**(metadata or {}), **(definition_metadata or {})},
        partitions_def=asset_partitions_def,
        resources=_Resources(resources or {}),
        resource_config=resource_config,
        config=config,
        dagster_type=dagster_type,
        op_def=op_def,
    )


@dataclass
class _Resources:
    """`context.resources`: resources by attribute (Dagster's resources namespace)."""

    by_key: Mapping[str, object] = field(default_factory=dict)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__") or name == "by_key":
            raise AttributeError(name)
        try:
            value = self.by_key[name]
        except KeyError:
            raise AttributeError(f"no resource {name!r} here") from None
        from conflux.sdk._resources import ResourceDefinition

        return value.build() if isinstance(value, ResourceDefinition) else value
