"""IO managers: how asset values are stored and loaded between assets.

The default, `FilesystemIOManager`, stores each asset partition as a JSON file under a
base folder (the state folder's `storage/` in `conflux dev`). No pickle (rule 8): values
must be JSON-serializable, pydantic models, `bytes` or `str`; anything else asks for an
IO manager of your own.

The contexts an IO manager receives (`OutputContext`, `InputContext`) have Dagster's
attributes (`asset_key` is an `AssetKey`, `name`, `step_key`, `has_partition_key`,
`asset_partition_key`, `upstream_output`, `definition_metadata`, ...); the forms Dagster
users write (`ConfigurableIOManager`, `ConfigurableIOManagerFactory`, `@io_manager`,
`IOManagerDefinition`, `InputManager`) are accepted as resources and resolved per node
by `resolve_io_manager`. `build_output_context` / `build_input_context` make contexts
for unit tests.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from conflux.events import ConfluxError
from conflux.sdk._config import EnvVarModel
from conflux.sdk._keys import AssetKey, CoercibleToAssetKey, to_asset_key
from conflux.sdk._resources import ConfigurableResource, InitResourceContext

if TYPE_CHECKING:
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

    @property
    def partition_key(self) -> str:
        """The partition (raises when there is none, as in Dagster)."""
        if self._partition_key is None:
            raise IOManagerError("this IO manager call is not for one partition")
        return self._partition_key

    @property
    def asset_partition_key(self) -> str:
        """Dagster's name for `partition_key`."""
        return self.partition_key

    @property
    def has_asset_partitions(self) -> bool:
        """True when the call is for partitions (one or several)."""
        return any(k is not None for k in self._partition_keys)

    @property
    def asset_partition_keys(self) -> list[str]:
        """Every partition of the call, in order."""
        return [k for k in self._partition_keys if k is not None]

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
    ) -> None:
        self._asset_key = _key_or_none(asset_key)
        self._partition_key = partition_key
        self._partition_keys = tuple(
            partition_keys if partition_keys is not None else (partition_key,)
        )
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


class IOManager(ABC):
    """Stores asset values and loads them for downstream assets.

    `handle_output` may return a content fingerprint; it becomes the data version of the
    materialization unless the asset gave one.
    """

    @abstractmethod
    def handle_output(self, context: OutputContext, obj: Any) -> Any:
        """Store `obj` for `context.asset_key` / `context.partition_key`."""

    @abstractmethod
    def load_input(self, context: InputContext) -> Any:
        """Load an upstream value. With several upstream partitions, a dict key -> value."""


class InputManager(ABC):
    """Loads inputs only (Dagster's `InputManager`, used through `input_manager_key`)."""

    @abstractmethod
    def load_input(self, context: InputContext) -> Any:
        """Load an input value."""


class ConfigurableIOManager(ConfigurableResource, IOManager):
    """An IO manager configured like a resource (put it in `resources={"io_manager": ...}`)."""


class ConfigurableIOManagerFactory(EnvVarModel):
    """A configured model that builds the IO manager (Dagster's name).

    Example:
        >>> class ParquetIOManager(ConfigurableIOManagerFactory):
        ...     base_path: str
        ...     def create_io_manager(self, context: InitResourceContext) -> IOManager:
        ...         return MyParquetIOManager(self.base_path)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    def create_io_manager(self, context: InitResourceContext) -> IOManager:
        """Build the IO manager (once per worker, or per `materialize`)."""
        raise NotImplementedError(f"{type(self).__name__} must define create_io_manager()")


@dataclass(frozen=True)
class IOManagerDefinition:
    """An IO manager made by a function (Dagster's `@io_manager` / `IOManagerDefinition`)."""

    resource_fn: Callable[..., object]
    config_schema: object = None
    description: str | None = None
    input_config_schema: object = None

    @staticmethod
    def hardcoded_io_manager(value: object, description: str | None = None) -> IOManagerDefinition:
        """An IO manager that is always `value`."""
        return IOManagerDefinition(lambda *_: value, description=description)

    def configured(self, config: Mapping[str, object]) -> IOManagerDefinition:
        """This IO manager with fixed config."""
        fn = self.resource_fn

        def configured_fn(context: InitResourceContext) -> object:
            context.resource_config = dict(config)
            return _call(fn, context)

        return IOManagerDefinition(configured_fn, description=self.description)

    def build(self, config: object = None) -> object:
        """The IO manager this definition makes."""
        return _call(self.resource_fn, InitResourceContext(resource_config=config))


def _call(fn: Callable[..., object], context: InitResourceContext) -> object:
    import inspect

    try:
        takes = len(inspect.signature(fn).parameters) > 0
    except (TypeError, ValueError):
        takes = True
    return fn(context) if takes else fn()


def io_manager(
    fn: Callable[..., object] | None = None,
    *,
    config_schema: object = None,
    description: str | None = None,
    required_resource_keys: set[str] | None = None,
    input_config_schema: object = None,
    output_config_schema: object = None,
) -> Any:
    """Declare an IO manager as a function of its init context (Dagster's `@io_manager`).

    Example:
        >>> @io_manager
        ... def warehouse_io_manager() -> IOManager:
        ...     return WarehouseIOManager()
    """
    del required_resource_keys, output_config_schema

    def wrap(f: Callable[..., object]) -> IOManagerDefinition:
        return IOManagerDefinition(
            f,
            config_schema=config_schema,
            description=description,
            input_config_schema=input_config_schema,
        )

    return wrap(fn) if fn is not None else wrap


input_manager = io_manager
"""Dagster's `@input_manager`: an IO manager used only to load (`input_manager_key=`)."""


def _encode(obj: object) -> bytes:
    if isinstance(obj, bytes):
        return b"b" + obj
    if isinstance(obj, str):
        return b"s" + obj.encode()
    if isinstance(obj, BaseModel):
        return b"j" + obj.model_dump_json().encode()
    try:
        return b"j" + json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    except TypeError as exc:
        raise IOManagerError(
            f"cannot store a value of type {type(obj).__name__} as JSON: return JSON-able data "
            "(dicts, lists, numbers, strings), bytes, a pydantic model, or a MaterializeResult, "
            "or set resources={'io_manager': YourIOManager()}"
        ) from exc


def _decode(raw: bytes) -> object:
    tag, body = raw[:1], raw[1:]
    if tag == b"b":
        return body
    if tag == b"s":
        return body.decode()
    return json.loads(body)


class FilesystemIOManager(ConfigurableIOManager):
    """Stores values as files: `<base_dir>/<asset/key>/<partition or __all__>`.

    Writes are atomic (temp file + rename), so a reader never sees half a value. A `None`
    value is stored too (as JSON null), so a downstream asset loads it, as in Dagster; an
    asset annotated `-> None` stores nothing. Without `base_dir`, a worker uses its storage
    folder and `materialize` a temporary one.
    """

    base_dir: str | None = None

    def _path(self, asset_key: AssetKey, partition_key: str | None) -> Path:
        if self.base_dir is None:
            raise IOManagerError(
                "FilesystemIOManager() has no base_dir here: pass base_dir=..., or let the "
                "worker (or materialize) choose its storage folder"
            )
        name = "__all__" if partition_key is None else partition_key.replace("/", "%2F")
        return Path(self.base_dir, *asset_key.path, name)

    def handle_output(self, context: OutputContext, obj: object) -> str | None:
        """Store `obj` atomically; return the sha256 of what was written (None for None)."""
        data = _encode(obj)
        path = self._path(context.asset_key, context._partition_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        if obj is None:
            return None  # no value, no fingerprint: the version derives from code and inputs
        return hashlib.sha256(data).hexdigest()[:16]

    def load_input(self, context: InputContext) -> object:
        """Load one partition's value, or a dict of them for a multi-partition read."""
        if context.multi_partition:
            found = {}
            for key in context.partition_keys:
                path = self._path(context.asset_key, key)
                if path.exists():
                    found[key] = _decode(path.read_bytes())
            return found
        return self._load(context.asset_key, context._partition_key, context)

    def _load(
        self, asset_key: AssetKey, partition_key: str | None, context: InputContext
    ) -> object:
        path = self._path(asset_key, partition_key)
        try:
            return _decode(path.read_bytes())
        except FileNotFoundError as exc:
            where = f" partition {partition_key!r}" if partition_key is not None else ""
            raise IOManagerError(
                f"{context.downstream_asset_key} reads {asset_key}{where}, which has no stored "
                f"value at {path}: materialize {asset_key} first (or include it in the selection)"
            ) from exc


class InMemoryIOManager(IOManager):
    """Keeps values in a dict; for `materialize()` in tests."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str | None], object] = {}

    def handle_output(self, context: OutputContext, obj: object) -> str | None:
        """Keep `obj`; fingerprint it when it is encodable (None has no fingerprint)."""
        self.values[(context.asset_key.to_user_string(), context._partition_key)] = obj
        if obj is None:
            return None
        try:
            return hashlib.sha256(_encode(obj)).hexdigest()[:16]
        except IOManagerError:
            return None

    def load_input(self, context: InputContext) -> object:
        """Return the kept value(s)."""
        asset = context.asset_key.to_user_string()

        def one(key: str | None) -> object:
            try:
                return self.values[(asset, key)]
            except KeyError:
                raise IOManagerError(
                    f"{context.downstream_asset_key} reads {asset}"
                    f"{'' if key is None else f' partition {key!r}'}, which has no value in "
                    "memory: include it in the selection"
                ) from None

        if context.multi_partition:
            return {
                key: self.values[(asset, key)]
                for key in context.partition_keys
                if (asset, key) in self.values
            }
        return one(context._partition_key)


fs_io_manager = IOManagerDefinition(
    lambda context: FilesystemIOManager(
        base_dir=(context.resource_config or {}).get("base_dir")
        if isinstance(context.resource_config, Mapping)
        else None
    ),
    description="Dagster's fs_io_manager: a FilesystemIOManager",
)
mem_io_manager = IOManagerDefinition(lambda *_: InMemoryIOManager(), description="in memory")


def resolve_io_manager(value: object, *, storage_dir: str | None) -> object:
    """The object that stores and loads for resource `value` (an IO manager in any form).

    A `FilesystemIOManager` without `base_dir` gets `storage_dir`.
    """
    if isinstance(value, ConfigurableIOManagerFactory):
        value = value.create_io_manager(InitResourceContext(resource_config=value.model_dump()))
    elif isinstance(value, IOManagerDefinition):
        value = value.build()
    if isinstance(value, FilesystemIOManager) and value.base_dir is None:
        value = FilesystemIOManager(base_dir=storage_dir or tempfile.mkdtemp(prefix="conflux-"))
    return value


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
