"""Where `FilesystemIOManager` keeps a value: one file per asset partition, one name per key.

The file name of a partition is an injective, length-bounded function of its key::

    <base_dir>/<asset key path>/<readable>-<hash>      a partition
    <base_dir>/<asset key path>/__all__                an unpartitioned asset

`<hash>` is 32 hex digits of the SHA-256 of the key (UTF-8), which makes two keys two
names (`a/b` and `a%2Fb`, `A` and `a` on a case-insensitive disk); `<readable>` is up to
48 characters of the key with everything but `A-Z a-z 0-9 _ - .` turned into `_` and
leading dots and dashes dropped, so that a person can find `2024-01-31` in a listing but
the name is never `.`, `..`, hidden, empty or longer than 81 characters, whatever the
key (10,000 characters, `..`, `/`, NUL, emoji). Asset key parts `.` and `..` (which
`AssetKey` allows) become `%2E` and `%2E%2E`: `%` cannot occur in an asset key part.

Each file starts with a header line naming the asset and the partition key it holds
(`#conflux ["asset/key","2024-01-31"]`), checked on every read: a hash collision, a file
copied from another asset, or a file some other program put there is an error that names
the file, never another key's value.

Files written before this layout (the key as the file name with `/` as `%2F`, no
header) are still read, but only where that old name has exactly one key that could
have written it (a key with neither `/` nor `%2F`) and only when there is no file in the
new layout: reading an ambiguous old name is the very bug this layout removes. A new
write never updates an old file; the new file wins from then on.

Dagster's `UPathIOManager` (behind its `FilesystemIOManager`, 1.13) joins the key onto
the asset's folder as a relative path: `/` in a key makes sub-folders, a multi-partition
key becomes its dimension keys sorted by name and joined with `/`, and only a leading
`/` (as `%2F`) and whole `..` segments (as `%2E%2E`) are escaped. So in Dagster the
keys `..` and `%2E%2E` (or `/x` and `%2Fx`) share one file, the key `a` is a file where
the key `a/b` needs a folder, and a key longer than the file system's name limit cannot
be stored. Conflux keeps Dagster's folder per asset key part and departs for the
partition's file name on purpose: dynamic keys are typed by people and
scripts, and two keys sharing stored data would give silently wrong results.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from conflux.sdk._io_contexts import IOManagerError

if TYPE_CHECKING:
    from conflux.sdk._keys import AssetKey

UNPARTITIONED = "__all__"
"""The file name of an unpartitioned asset's value (as before, and as Dagster has none)."""
READABLE_CHARS = 48
"""At most this many characters of the key show in its file name."""
HASH_CHARS = 32
"""Hex digits of the key's SHA-256 in its file name (128 bits)."""
HEADER = b"#conflux "
"""How a value file starts; the JSON `[asset, partition key]` follows, then a newline."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def partition_file_name(partition_key: str | None) -> str:
    """The file name that holds `partition_key`'s value (`__all__` for None).

    Example:
        >>> partition_file_name("2024-01-31")
        '2024-01-31-253cc68f602792c897da18d783813611'
        >>> partition_file_name("..")[:2]
        '_-'
    """
    if partition_key is None:
        return UNPARTITIONED
    digest = hashlib.sha256(partition_key.encode("utf-8", "surrogatepass")).hexdigest()
    readable = _UNSAFE.sub("_", partition_key[: READABLE_CHARS * 2]).lstrip(".-")
    return f"{readable[:READABLE_CHARS] or '_'}-{digest[:HASH_CHARS]}"


def asset_folder(base_dir: str, asset_key: AssetKey) -> Path:
    """The folder of `asset_key`'s values: one folder per key part, as in Dagster."""
    parts = (p.replace(".", "%2E") if p in {".", ".."} else p for p in asset_key.path)
    return Path(base_dir, *parts)


def legacy_file_name(partition_key: str) -> str | None:
    """The pre-hash file name of `partition_key`, when only this key could have written it.

    The old name was the key with `/` as `%2F`: `a/b` and `a%2Fb` both wrote `a%2Fb`, so
    a key holding either has no old name it can trust. None also where the old name could
    not have been a file (`.`, `..`, too long, NUL).
    """
    if "/" in partition_key or "%2F" in partition_key or "\0" in partition_key:
        return None
    if partition_key in {"", ".", ".."} or len(partition_key.encode()) > 255:
        return None
    return partition_key


def _header(asset_key: AssetKey, partition_key: str | None) -> bytes:
    return HEADER + json.dumps([asset_key.to_user_string(), partition_key]).encode() + b"\n"


def write_value(
    folder: Path, asset_key: AssetKey, partition_key: str | None, payload: bytes
) -> Path:
    """Write `payload` with its header atomically (temp file, then rename); return the path.

    A failed write removes its temp file, so no `.tmp-*` file is left behind.

    Raises:
        IOManagerError: the folder cannot be made or the file cannot be written.
    """
    path = folder / partition_file_name(partition_key)
    where = _describe(asset_key, partition_key)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    except OSError as exc:
        raise IOManagerError(
            f"cannot store {where} under {folder}: {exc.strerror or exc}; make the folder "
            "writable, or give FilesystemIOManager another base_dir"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_header(asset_key, partition_key))
            fh.write(payload)
        os.replace(tmp, path)
    except OSError as exc:
        raise IOManagerError(
            f"cannot store {where} at {path}: {exc.strerror or exc}; free the path "
            "(remove what is there) or give FilesystemIOManager another base_dir"
        ) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # gone after a successful rename; a leftover after a failure
    return path


def read_value(folder: Path, asset_key: AssetKey, partition_key: str | None) -> bytes | None:
    """The payload stored for `partition_key`, or None when nothing is stored.

    Reads the new layout first, then an old-layout file where that is unambiguous (see
    the module docstring).

    Raises:
        IOManagerError: the file holds another asset or key (a hash collision or a
            foreign file), or has no header where one is required.
    """
    path = folder / partition_file_name(partition_key)
    raw = _read(path)
    if raw is not None:
        legacy_ok = partition_key is None  # `__all__` is both the old and the new name
        return _checked(raw, path, asset_key, partition_key, legacy_ok=legacy_ok)
    if partition_key is None:
        return None
    old = legacy_file_name(partition_key)
    if old is None:
        return None
    raw = _read(folder / old)
    if raw is None or raw.startswith(HEADER):
        return None  # nothing there, or a new-layout file of another key that has this name
    return raw


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _checked(
    raw: bytes, path: Path, asset_key: AssetKey, partition_key: str | None, *, legacy_ok: bool
) -> bytes:
    where = _describe(asset_key, partition_key)
    if not raw.startswith(HEADER):
        if legacy_ok:
            return raw
        raise IOManagerError(
            f"{path} should hold {where} but has no '#conflux' header: it was not written by "
            "FilesystemIOManager; remove it and materialize again"
        )
    line, sep, payload = raw[len(HEADER) :].partition(b"\n")
    try:
        held = json.loads(line) if sep else None
    except ValueError:
        held = None
    if held != [asset_key.to_user_string(), partition_key]:
        raise IOManagerError(
            f"{path} should hold {where} but its header says {line[:200]!r}: a file copied "
            "from elsewhere or a hash collision; remove it and materialize again"
        )
    return payload


def _describe(asset_key: AssetKey, partition_key: str | None) -> str:
    if partition_key is None:
        return f"{asset_key.to_user_string()}"
    shown = partition_key if len(partition_key) <= 60 else f"{partition_key[:57]}..."
    return f"{asset_key.to_user_string()} partition {shown!r}"
