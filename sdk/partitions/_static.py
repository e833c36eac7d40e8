"""Partitions named by a fixed list of keys."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from conflux.events import (
    DefinitionError,
    InvalidPartitionKeyError,
    StaticPartitionsSnapshot,
    partition_key_length_problem,
)
from conflux.sdk.partitions._base import PartitionsDefinition
from conflux.sdk.partitions._range import PartitionKeyRange

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime


# Dagster's: "..." separates range ends in its UI; the rest do not display.
INVALID_SUBSTRINGS = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")


def _check_keys(keys: Sequence[str]) -> None:
    seen: set[str] = set()
    duplicates: list[str] = []
    for key in keys:
        if not isinstance(key, str):
            raise DefinitionError(
                f"static partition key {key!r} is a {type(key).__name__}: keys are strings; "
                f"write {str(key)!r}"
            )
        if not key:
            raise DefinitionError("a static partition key is empty: give every key a name")
        if "|" in key:
            raise DefinitionError(
                f"static partition key {key!r} contains '|', which joins the dimensions of "
                "multi-partition keys: use another character, e.g. '-'"
            )
        too_long = partition_key_length_problem(key, kind="static")
        if too_long is not None:
            raise DefinitionError(too_long)  # Dagster has no bound: see MAX_PARTITION_KEY_LENGTH
        found = [bad for bad in INVALID_SUBSTRINGS if bad in key]
        if found:
            raise DefinitionError(
                f"{found} are invalid substrings in a partition key: {key!r} contains "
                "'...' (the range separator) or a control character; keys are shown on one "
                "line and typed on command lines, so remove it"
            )
        if key in seen and key not in duplicates:
            duplicates.append(key)
        seen.add(key)
    if duplicates:
        raise DefinitionError(
            "Partition keys must be unique. Duplicate instances of partition keys: "
            f"{duplicates}. List each key once."
        )


class StaticPartitionsDefinition(PartitionsDefinition):
    """A fixed, ordered list of partition keys that never changes with time.

    Keys keep the order given; `current_time` is accepted everywhere and ignored.
    Lookups (`has_partition_key`, ranges) cost one dictionary access.

    Example:
        >>> regions = StaticPartitionsDefinition(["eu", "us", "apac"])
        >>> regions.get_partition_keys()
        ['eu', 'us', 'apac']
        >>> regions.get_partition_keys_in_range("us", "apac")
        ['us', 'apac']

    As in Dagster, a string passed as the keys is the sequence of its characters
    (`StaticPartitionsDefinition("abc")` has the keys "a", "b" and "c"), and
    `get_partition_keys()` returns that string.

    Raises:
        DefinitionError: a key is not a string, is empty, contains `|`, `...` or a control
            character (Dagster refuses the last two, and accepts the first two), is longer
            than `MAX_PARTITION_KEY_LENGTH` (1,024) characters (Dagster has no bound), or
            is listed twice.
    """

    def __init__(self, partition_keys: Sequence[str]) -> None:
        _check_keys(partition_keys)
        self._keys = tuple(partition_keys)
        # Dagster takes a string as the sequence of its characters and hands the string
        # back from get_partition_keys(); both are kept for that.
        self._given: str | None = partition_keys if isinstance(partition_keys, str) else None
        self._positions = {key: i for i, key in enumerate(self._keys)}

    def get_partition_keys(self, current_time: datetime | None = None) -> Sequence[str]:
        """The keys, in the order given (a string given as the keys comes back as that string)."""
        return self._given if self._given is not None else list(self._keys)

    def has_partition_key(self, key: str, current_time: datetime | None = None) -> bool:
        """True when `key` is one of the keys."""
        return key in self._positions

    def get_num_partitions(self, current_time: datetime | None = None) -> int:
        """The number of keys."""
        return len(self._keys)

    def key_at(self, index: int, current_time: datetime | None = None) -> str:
        """The key at `index` in the order given (negative: from the end).

        Raises:
            IndexError: there are not that many keys.
        """
        return self._keys[index]

    def index_of(self, key: str, current_time: datetime | None = None) -> int:
        """The position of `key` in the order given.

        Raises:
            InvalidPartitionKeyError: `key` is not one of the keys.
        """
        self.validate_partition_key(key)
        return self._positions[key]

    def validate_partition_key(self, key: str, current_time: datetime | None = None) -> None:
        """Return if `key` is one of the keys, else name the closest ones.

        Raises:
            InvalidPartitionKeyError: `key` is not one of the keys.
        """
        if key in self._positions:
            return
        close = difflib.get_close_matches(key, self._keys, n=3)
        hint = f" (did you mean {', '.join(repr(k) for k in close)}?)" if close else ""
        raise InvalidPartitionKeyError(
            f"partition key {key!r} is not one of the static keys{hint}; "
            f"{self.describe_keys()}: pass one of them (keys are case-sensitive)"
        )

    def get_partition_keys_in_range(
        self,
        start: str | PartitionKeyRange,
        end: str | None = None,
        current_time: datetime | None = None,
    ) -> list[str]:
        """The keys from `start` to `end`, both included, in the order given.

        Raises:
            InvalidPartitionKeyError: an end is not a key, or `start` comes after `end`.
        """
        if isinstance(start, PartitionKeyRange) or end is None:
            return super().get_partition_keys_in_range(start, end, current_time)
        self.validate_partition_key(start)
        self.validate_partition_key(end)
        lo, hi = self._positions[start], self._positions[end]
        if lo > hi:
            raise InvalidPartitionKeyError(
                f"partition range {start}..{end} is empty: {start!r} comes after {end!r} "
                "in the definition's order; swap --from and --to (the start and end keys)"
            )
        return list(self._keys[lo : hi + 1])

    def describe_keys(self) -> str:
        """The keys, abbreviated past ten."""
        shown = ", ".join(self._keys[:10])
        more = f", ... ({len(self._keys)} keys)" if len(self._keys) > 10 else ""
        return f"static keys {shown}{more}"

    def to_snapshot(self) -> StaticPartitionsSnapshot:
        """The keys as data."""
        return StaticPartitionsSnapshot(keys=self._keys)

    def __repr__(self) -> str:
        return f"StaticPartitionsDefinition({list(self._keys)!r})"
