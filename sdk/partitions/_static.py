"""Partitions named by a fixed list of keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux.events import DefinitionError, StaticPartitionsSnapshot
from conflux.sdk.partitions._base import PartitionsDefinition

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime


class StaticPartitionsDefinition(PartitionsDefinition):
    """A fixed, ordered list of partition keys.

    Example:
        >>> regions = StaticPartitionsDefinition(["eu", "us", "apac"])
        >>> regions.get_partition_keys()
        ['eu', 'us', 'apac']
    """

    def __init__(self, partition_keys: Sequence[str]) -> None:
        keys = list(partition_keys)
        seen: set[str] = set()
        for key in keys:
            if not isinstance(key, str) or not key:
                raise DefinitionError(f"static partition key {key!r} must be a non-empty string")
            if "|" in key:
                raise DefinitionError(
                    f"static partition key {key!r} contains '|', which joins multi-partition keys: "
                    "use another character"
                )
            if key in seen:
                raise DefinitionError(f"static partition key {key!r} is listed twice: list it once")
            seen.add(key)
        self._keys = keys
        self._positions = {key: i for i, key in enumerate(keys)}

    def get_partition_keys(self, current_time: datetime | None = None) -> Sequence[str]:
        """The keys, in the order given."""
        return list(self._keys)

    def has_partition_key(self, key: str, current_time: datetime | None = None) -> bool:
        """True when `key` is one of the keys."""
        return key in self._positions

    def get_num_partitions(self, current_time: datetime | None = None) -> int:
        """The number of keys."""
        return len(self._keys)

    def _index(self, keys: Sequence[str], key: str) -> int:
        return self._positions[key]

    def describe_keys(self) -> str:
        """The keys, abbreviated past ten."""
        shown = ", ".join(self._keys[:10])
        more = f", ... ({len(self._keys)} keys)" if len(self._keys) > 10 else ""
        return f"static keys {shown}{more}"

    def to_snapshot(self) -> StaticPartitionsSnapshot:
        """The keys as data."""
        return StaticPartitionsSnapshot(keys=tuple(self._keys))

    def __repr__(self) -> str:
        return f"StaticPartitionsDefinition({self._keys!r})"
