"""The partitions definition interface shared by static and time-window partitions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from conflux.events import InvalidPartitionKeyError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from conflux.events import PartitionsSnapshot


class PartitionsDefinition(ABC):
    """A set of partition keys an asset is split into (Dagster's `PartitionsDefinition`).

    Two definitions are equal when their snapshots are equal, so a definition rebuilt
    from a snapshot (as the coordinator does) equals the user's.
    """

    @abstractmethod
    def get_partition_keys(self, current_time: datetime | None = None) -> Sequence[str]:
        """Every key that exists at `current_time` (default: now), in order."""

    @abstractmethod
    def to_snapshot(self) -> PartitionsSnapshot:
        """The data-only form published in a location's snapshot."""

    @abstractmethod
    def describe_keys(self) -> str:
        """A one-line description of the valid keys, for error messages."""

    def has_partition_key(self, key: str, current_time: datetime | None = None) -> bool:
        """True when `key` exists at `current_time`."""
        return key in set(self.get_partition_keys(current_time))

    def get_num_partitions(self, current_time: datetime | None = None) -> int:
        """How many keys exist at `current_time`."""
        return len(self.get_partition_keys(current_time))

    def validate_partition_key(self, key: str, current_time: datetime | None = None) -> None:
        """Raise `InvalidPartitionKeyError` (naming the key and the valid form) unless it exists."""
        if not self.has_partition_key(key, current_time):
            raise InvalidPartitionKeyError(
                f"partition key {key!r} is not in the partitions definition "
                f"({self.describe_keys()}): pass one of its keys"
            )

    def get_partition_keys_in_range(
        self, start: str, end: str, current_time: datetime | None = None
    ) -> list[str]:
        """The keys from `start` to `end`, both included, in order.

        Raises:
            InvalidPartitionKeyError: an end is not a key, or `start` comes after `end`.
        """
        self.validate_partition_key(start, current_time)
        self.validate_partition_key(end, current_time)
        keys = self.get_partition_keys(current_time)
        lo, hi = self._index(keys, start), self._index(keys, end)
        if lo > hi:
            raise InvalidPartitionKeyError(
                f"partition range {start}..{end} is empty: {start!r} comes after {end!r}; "
                "swap --from and --to"
            )
        return list(keys[lo : hi + 1])

    def _index(self, keys: Sequence[str], key: str) -> int:
        return list(keys).index(key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PartitionsDefinition) and other.to_snapshot() == self.to_snapshot()

    def __hash__(self) -> int:
        return hash(self.to_snapshot())
