"""IO managers: how asset values are stored and loaded between assets.

The default, `FilesystemIOManager`, stores each asset partition as a JSON file under a
base folder (the state folder's `storage/` in `conflux dev`). No pickle (rule 8): values
must be JSON-serializable, pydantic models, `bytes` or `str`; anything else asks for an
IO manager of your own.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from conflux.events import ConfluxError
from conflux.sdk._resources import ConfigurableResource


class IOManagerError(ConfluxError):
    """An IO manager could not store or load a value."""


@dataclass(frozen=True)
class OutputContext:
    """What an IO manager knows when it stores a value."""

    asset_key: str
    partition_key: str | None
    run_id: str


@dataclass(frozen=True)
class InputContext:
    """What an IO manager knows when it loads an upstream value."""

    asset_key: str
    """The upstream asset being loaded."""
    partition_key: str | None
    """The upstream partition, for a single-partition read."""
    partition_keys: tuple[str | None, ...]
    """Every upstream partition the downstream partition reads (several under a mapping)."""
    downstream_asset_key: str
    multi_partition: bool = False
    """True when the mapping reads several upstream partitions: load a dict key -> value,
    leaving out the partitions that hold no value yet (a report over the days built so
    far); a single-partition read of a missing value is an error."""


class IOManager(ABC):
    """Stores asset values and loads them for downstream assets.

    `handle_output` may return a content fingerprint; it becomes the data version of the
    materialization unless the asset gave one.
    """

    @abstractmethod
    def handle_output(self, context: OutputContext, obj: object) -> str | None:
        """Store `obj` for `context.asset_key` / `context.partition_key`."""

    @abstractmethod
    def load_input(self, context: InputContext) -> object:
        """Load an upstream value. With several upstream partitions, a dict key -> value."""


class ConfigurableIOManager(ConfigurableResource, IOManager):
    """An IO manager configured like a resource (put it in `resources={"io_manager": ...}`)."""


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

    Writes are atomic (temp file + rename), so a reader never sees half a value.
    """

    base_dir: str

    def _path(self, asset_key: str, partition_key: str | None) -> Path:
        name = "__all__" if partition_key is None else partition_key.replace("/", "%2F")
        return Path(self.base_dir, *asset_key.split("/"), name)

    def handle_output(self, context: OutputContext, obj: object) -> str | None:
        """Store `obj` atomically; return the sha256 of what was written."""
        if obj is None:
            return None
        data = _encode(obj)
        path = self._path(context.asset_key, context.partition_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
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
        return self._load(context.asset_key, context.partition_key, context)

    def _load(self, asset_key: str, partition_key: str | None, context: InputContext) -> object:
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
        """Keep `obj`; fingerprint it when it is encodable."""
        self.values[(context.asset_key, context.partition_key)] = obj
        try:
            return hashlib.sha256(_encode(obj)).hexdigest()[:16]
        except IOManagerError:
            return None

    def load_input(self, context: InputContext) -> object:
        """Return the kept value(s)."""

        def one(key: str | None) -> object:
            try:
                return self.values[(context.asset_key, key)]
            except KeyError:
                raise IOManagerError(
                    f"{context.downstream_asset_key} reads {context.asset_key}"
                    f"{'' if key is None else f' partition {key!r}'}, which has no value in "
                    "memory: include it in the selection"
                ) from None

        if context.multi_partition:
            return {
                key: self.values[(context.asset_key, key)]
                for key in context.partition_keys
                if (context.asset_key, key) in self.values
            }
        return one(context.partition_key)
