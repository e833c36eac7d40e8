"""Asset keys: a path of names, written `a/b` on the wire and in the CLI."""

from __future__ import annotations

import re
from collections.abc import Sequence

from conflux.events import DefinitionError

_NAME = re.compile(r"^[A-Za-z0-9_\-.]+$")


class AssetKey:
    """The identity of an asset: a non-empty path of names (Dagster's `AssetKey`).

    Example:
        >>> AssetKey(["raw", "events"]).to_user_string()
        'raw/events'
        >>> AssetKey.from_user_string("raw/events") == AssetKey(["raw", "events"])
        True
    """

    __slots__ = ("_path",)

    def __init__(self, path: str | Sequence[str]) -> None:
        parts = [path] if isinstance(path, str) else list(path)
        if not parts:
            raise DefinitionError("an asset key needs at least one name")
        for part in parts:
            if not isinstance(part, str) or not _NAME.match(part):
                raise DefinitionError(
                    f"invalid asset key part {part!r}: use letters, digits, '_', '-' or '.'"
                )
        self._path: tuple[str, ...] = tuple(parts)

    @property
    def path(self) -> list[str]:
        """The names of the key, in order (a list, as in Dagster)."""
        return list(self._path)

    @classmethod
    def from_user_string(cls, value: str) -> AssetKey:
        """Parse the `a/b` form."""
        return cls(value.split("/"))

    def to_user_string(self) -> str:
        """The `a/b` form used on the wire, in the CLI and in the archive."""
        return "/".join(self._path)

    def to_string(self) -> str:
        """Dagster's JSON-list form: `["a", "b"]`."""
        import json

        return json.dumps(list(self._path))

    def to_python_identifier(self, suffix: str | None = None) -> str:
        """The key as a Python identifier: `a__b` (Dagster's helper)."""
        name = "__".join(self._path).replace("-", "_").replace(".", "_")
        return f"{name}_{suffix}" if suffix else name

    @staticmethod
    def from_coercible(value: CoercibleToAssetKey) -> AssetKey:
        """An `AssetKey` from a key, an `a/b` string or a path (Dagster's name)."""
        return to_asset_key(value)

    def with_prefix(self, prefix: str | Sequence[str]) -> AssetKey:
        """This key under `prefix`."""
        head = [prefix] if isinstance(prefix, str) else list(prefix)
        return AssetKey([*head, *self._path])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AssetKey) and other._path == self._path

    def __hash__(self) -> int:
        return hash(self._path)

    def __lt__(self, other: AssetKey) -> bool:
        return self._path < other._path

    def __repr__(self) -> str:
        return f"AssetKey({list(self._path)!r})"

    def __str__(self) -> str:
        return self.to_user_string()


CoercibleToAssetKey = AssetKey | str | Sequence[str]


def to_asset_key(value: CoercibleToAssetKey) -> AssetKey:
    """An `AssetKey` from a key, an `a/b` string, or a path of names."""
    if isinstance(value, AssetKey):
        return value
    if isinstance(value, str):
        return AssetKey.from_user_string(value)
    return AssetKey(value)
