"""The partitions definition interface shared by static and time-window partitions."""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from conflux.events import InvalidPartitionKeyError
from conflux.sdk.partitions._range import PartitionKeyRange

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from conflux.events import PartitionsSnapshot
    from conflux.sdk.partitions._subset import PartitionsSubset


class PartitionsDefinition(ABC):
    """The set of partition keys an asset is split into (Dagster's `PartitionsDefinition`).

    Keys are ordered; which keys exist may depend on the time (time windows exist once
    they have ended), so every question takes a `current_time` (default: now). A
    definition is pure data: two definitions are equal, and hash alike, exactly when
    their snapshots are equal, so the definition the coordinator rebuilds from a
    snapshot event equals the one the user wrote.

    Subclasses implement `get_partition_keys`, `to_snapshot` and `describe_keys`; the
    other methods derive from them and are overridden where a faster way exists.
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
        return key in self.get_partition_keys(current_time)

    def get_num_partitions(self, current_time: datetime | None = None) -> int:
        """How many keys exist at `current_time`."""
        return len(self.get_partition_keys(current_time))

    def get_first_partition_key(self, current_time: datetime | None = None) -> str | None:
        """The first key that exists at `current_time` (None: no key exists)."""
        keys = self.get_partition_keys(current_time)
        return keys[0] if keys else None

    def get_last_partition_key(self, current_time: datetime | None = None) -> str | None:
        """The last key that exists at `current_time` (None: no key exists)."""
        keys = self.get_partition_keys(current_time)
        return keys[-1] if keys else None

    def key_at(self, index: int, current_time: datetime | None = None) -> str:
        """The key at position `index` of the keys existing at `current_time`.

        Negative indexes count from the end, as for a list. Static and time-window
        definitions answer by arithmetic, without listing keys; multi-dimensional ones
        compose their dimensions' answers.

        Raises:
            IndexError: no key exists at that position.
        """
        keys = self.get_partition_keys(current_time)
        return keys[index]

    def index_of(self, key: str, current_time: datetime | None = None) -> int:
        """The position of `key` among the keys existing at `current_time` (from 0).

        `key_at(index_of(k)) == k` for every existing key.

        Raises:
            InvalidPartitionKeyError: `key` does not exist at `current_time`.
        """
        self.validate_partition_key(key, current_time)
        return list(self.get_partition_keys(current_time)).index(key)

    def validate_partition_key(self, key: str, current_time: datetime | None = None) -> None:
        """Return if `key` exists at `current_time`, else say which keys would do.

        Raises:
            InvalidPartitionKeyError: `key` does not exist; the message names it, the
                valid keys and the closest matches.
        """
        if self.has_partition_key(key, current_time):
            return
        close = difflib.get_close_matches(key, self.get_partition_keys(current_time), n=3)
        hint = f" (did you mean {', '.join(repr(k) for k in close)}?)" if close else ""
        raise InvalidPartitionKeyError(
            f"partition key {key!r} is not a key of this definition{hint}; "
            f"{self.describe_keys()}: pass one of its keys"
        )

    def get_partition_keys_in_range(
        self,
        start: str | PartitionKeyRange,
        end: str | None = None,
        current_time: datetime | None = None,
    ) -> list[str]:
        """The keys from `start` to `end`, both included, in order.

        Takes Dagster's `PartitionKeyRange` (a reversed range is empty, as in Dagster) or
        two keys (Conflux's form: a reversed range is an error).

        Raises:
            InvalidPartitionKeyError: an end is not a key, or (two keys) `start` comes
                after `end`. It is also an `InvalidInvocationError`, Dagster's
                `DagsterInvalidInvocationError`.
        """
        if isinstance(start, PartitionKeyRange):
            first, last = start.start, start.end
            self.validate_partition_key(first, current_time)
            self.validate_partition_key(last, current_time)
            keys = list(self.get_partition_keys(current_time))
            return keys[keys.index(first) : keys.index(last) + 1]
        if end is None:
            raise InvalidPartitionKeyError(
                "get_partition_keys_in_range needs a PartitionKeyRange or two keys"
            )
        self.validate_partition_key(start, current_time)
        self.validate_partition_key(end, current_time)
        keys = list(self.get_partition_keys(current_time))
        lo, hi = keys.index(start), keys.index(end)
        if lo > hi:
            raise InvalidPartitionKeyError(
                f"partition range {start}..{end} is empty: {start!r} comes after {end!r}; "
                "swap --from and --to (the start and end keys)"
            )
        return keys[lo : hi + 1]

    # -- subsets (Dagster's API) ------------------------------------------------------------

    def empty_subset(self) -> PartitionsSubset:
        """A subset of this definition's keys with none in it."""
        from conflux.sdk.partitions._subset import DefaultPartitionsSubset

        return DefaultPartitionsSubset()

    def subset_with_partition_keys(self, partition_keys: Iterable[str]) -> PartitionsSubset:
        """The subset holding `partition_keys` (a time-window subset keeps those existing now)."""
        return self.empty_subset().with_partition_keys(partition_keys)

    def subset_with_all_partitions(self, current_time: datetime | None = None) -> PartitionsSubset:
        """Every key existing at `current_time` (default now)."""
        return self.subset_with_partition_keys(self.get_partition_keys(current_time))

    def deserialize_subset(self, serialized: str) -> PartitionsSubset:
        """The subset `serialized` describes (`PartitionsSubset.serialize`, or Dagster's).

        Raises:
            UnreadableSubsetError: another version, or not a subset of this kind.
        """
        from conflux.sdk.partitions._subset import DefaultPartitionsSubset

        return DefaultPartitionsSubset.from_serialized(serialized)

    def get_serializable_unique_identifier(self) -> str:
        """A hash of the keys (Dagster's): it changes when the keys change."""
        import hashlib
        import json

        keys = json.dumps(list(self.get_partition_keys()))
        return hashlib.sha1(keys.encode("utf-8")).hexdigest()

    def __str__(self) -> str:
        return ", ".join(f"'{key}'" for key in self.get_partition_keys())

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        return isinstance(other, PartitionsDefinition) and other.to_snapshot() == self.to_snapshot()

    def __hash__(self) -> int:
        return hash(self.to_snapshot())
