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
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from conflux.sdk._config import EnvVarModel
from conflux.sdk._io_contexts import (
    InputContext,
    IOManagerError,
    OutputContext,
    _Resources,
    build_input_context,
    build_output_context,
)
from conflux.sdk._resources import ConfigurableResource, InitResourceContext
from conflux.sdk._value_files import asset_folder, partition_file_name, read_value, write_value

if TYPE_CHECKING:
    from pathlib import Path

    from conflux.sdk._keys import AssetKey

__all__ = [
    "ConfigurableIOManager",
    "ConfigurableIOManagerFactory",
    "FilesystemIOManager",
    "IOManager",
    "IOManagerDefinition",
    "IOManagerError",
    "InMemoryIOManager",
    "InputContext",
    "InputManager",
    "OutputContext",
    "_Resources",
    "build_input_context",
    "build_output_context",
    "fs_io_manager",
    "input_manager",
    "io_manager",
    "mem_io_manager",
    "resolve_io_manager",
]


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
    """Stores values as files: `<base_dir>/<asset/key>/<partition file or __all__>`.

    A partition's file name is a readable prefix of its key plus a hash of the whole key,
    and the file names the asset and key it holds, checked on read: two keys never share
    a file, and any key can be stored whatever its length or characters (see
    `conflux.sdk._value_files` for the layout, and why it differs from Dagster's).
    Writes are atomic (temp file + rename, the temp file removed if the write fails), so
    a reader never sees half a value. A `None` value is stored too (as JSON null), so a
    downstream asset loads it, as in Dagster; an asset annotated `-> None` stores
    nothing. Without `base_dir`, a worker uses its storage folder and `materialize` a
    temporary one.
    """

    base_dir: str | None = None

    def _folder(self, asset_key: AssetKey) -> Path:
        if self.base_dir is None:
            raise IOManagerError(
                "FilesystemIOManager() has no base_dir here: pass base_dir=..., or let the "
                "worker (or materialize) choose its storage folder"
            )
        return asset_folder(self.base_dir, asset_key)

    def _path(self, asset_key: AssetKey, partition_key: str | None) -> Path:
        """The file that holds `partition_key`'s value of `asset_key`."""
        return self._folder(asset_key) / partition_file_name(partition_key)

    def handle_output(self, context: OutputContext, obj: object) -> str | None:
        """Store `obj` atomically; return the sha256 of what was written (None for None)."""
        data = _encode(obj)
        write_value(
            self._folder(context.asset_key), context.asset_key, context._partition_key, data
        )
        if obj is None:
            return None  # no value, no fingerprint: the version derives from code and inputs
        return hashlib.sha256(data).hexdigest()[:16]

    def load_input(self, context: InputContext) -> object:
        """Load one partition's value, or a dict of them for a multi-partition read."""
        if context.multi_partition:
            folder = self._folder(context.asset_key)
            found = {}
            for key in context.partition_keys:
                raw = read_value(folder, context.asset_key, key)
                if raw is not None:
                    found[key] = _decode(raw)
            return found
        return self._load(context.asset_key, context._partition_key, context)

    def _load(
        self, asset_key: AssetKey, partition_key: str | None, context: InputContext
    ) -> object:
        raw = read_value(self._folder(asset_key), asset_key, partition_key)
        if raw is None:
            where = f" partition {partition_key!r}" if partition_key is not None else ""
            raise IOManagerError(
                f"{context.downstream_asset_key} reads {asset_key}{where}, which has no stored "
                f"value at {self._path(asset_key, partition_key)}: materialize {asset_key} "
                "first (or include it in the selection)"
            )
        return _decode(raw)


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
