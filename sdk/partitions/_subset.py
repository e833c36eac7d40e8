"""Subsets of a partitions definition's keys, with Dagster's names, operators and formats.

Mappings answer with subsets (`get_upstream_mapped_partitions_result_for_partitions`,
`get_downstream_partitions_for_partitions`); a definition makes them (`empty_subset`,
`subset_with_partition_keys`, `deserialize_subset`). Two kinds, as in Dagster:

* `DefaultPartitionsSubset`, a set of keys (static, dynamic and multi-partitioned
  definitions); `get_partition_keys()` is that set, unordered;
* `TimeWindowPartitionsSubset`, runs of consecutive windows of one time-window definition,
  kept as ordinals; `get_partition_keys()` lists them in time order.

`serialize()` writes Dagster's JSON (`{"version": 1, "subset": [...]}` and `{"version": 1,
"time_windows": [[start, end], ...], "num_partitions": n}`) and `deserialize_subset` reads
it and the older forms, so a subset stored by either library reads back in the other.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from conflux.events import InvalidInvocationError
from conflux.sdk.partitions._range import PartitionKeyRange

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence, Set as AbstractSet
    from datetime import datetime

    from conflux.sdk.partitions._base import PartitionsDefinition
    from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition

SERIALIZATION_VERSION = 1
"""The subset formats' version, Dagster's (a newer one is refused, not misread)."""


class UnreadableSubsetError(InvalidInvocationError, ValueError):
    """A serialized subset is of a version or shape this definition cannot read."""


class PartitionsSubset(ABC):
    """Some of the keys of one partitions definition (Dagster's `PartitionsSubset`).

    Subsets are values: operations return new subsets. `|`, `&` and `-` combine two
    subsets of the same definition.
    """

    @abstractmethod
    def get_partition_keys(self) -> Iterable[str]:
        """The keys in the subset (a set for key subsets, a time-ordered list for windows)."""

    @abstractmethod
    def with_partition_keys(self, partition_keys: Iterable[str]) -> PartitionsSubset:
        """This subset plus `partition_keys`."""

    @abstractmethod
    def get_partition_keys_not_in_subset(
        self, partitions_def: PartitionsDefinition
    ) -> Iterable[str]:
        """The keys of `partitions_def` that exist now and are not in the subset, in order."""

    @abstractmethod
    def get_partition_key_ranges(
        self, partitions_def: PartitionsDefinition
    ) -> Sequence[PartitionKeyRange]:
        """The subset as ranges of consecutive keys of `partitions_def`."""

    @abstractmethod
    def empty_subset(self) -> PartitionsSubset:
        """An empty subset of the same kind (and definition)."""

    @abstractmethod
    def serialize(self) -> str:
        """Dagster's JSON form; equal subsets serialize to equal strings."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __contains__(self, value: object) -> bool: ...

    @property
    def is_empty(self) -> bool:
        """True when the subset holds no key."""
        return len(self) == 0

    def with_partition_key_range(
        self, partitions_def: PartitionsDefinition, partition_key_range: PartitionKeyRange
    ) -> PartitionsSubset:
        """This subset plus the keys of `partition_key_range` in `partitions_def`."""
        return self.with_partition_keys(
            partitions_def.get_partition_keys_in_range(partition_key_range)
        )

    def __or__(self, other: PartitionsSubset) -> PartitionsSubset:
        if self is other or other.is_empty:
            return self
        return self.with_partition_keys(other.get_partition_keys())

    def __and__(self, other: PartitionsSubset) -> PartitionsSubset:
        if self is other:
            return self
        if other.is_empty:
            return other
        return self.empty_subset().with_partition_keys(
            set(self.get_partition_keys()) & set(other.get_partition_keys())
        )

    def __sub__(self, other: PartitionsSubset) -> PartitionsSubset:
        if self is other:
            return self.empty_subset()
        if other.is_empty:
            return self
        return self.empty_subset().with_partition_keys(
            set(self.get_partition_keys()) - set(other.get_partition_keys())
        )


class DefaultPartitionsSubset(PartitionsSubset):
    """A set of keys (Dagster's `DefaultPartitionsSubset`): any definition that is not time windows.

    Example:
        >>> colors = StaticPartitionsDefinition(["red", "green", "blue"])
        >>> subset = colors.subset_with_partition_keys(["red", "blue"])
        >>> sorted(subset.get_partition_keys())
        ['blue', 'red']
        >>> list(subset.get_partition_keys_not_in_subset(colors))
        ['green']
    """

    def __init__(self, subset: AbstractSet[str] | None = None) -> None:
        self._subset = frozenset(subset or ())

    @property
    def subset(self) -> AbstractSet[str]:
        """The keys."""
        return self._subset

    def get_partition_keys(self) -> set[str]:
        """The keys, as a set (as Dagster's)."""
        return set(self._subset)

    def with_partition_keys(self, partition_keys: Iterable[str]) -> DefaultPartitionsSubset:
        """This subset plus `partition_keys` (not checked against a definition, as in Dagster)."""
        return DefaultPartitionsSubset(self._subset | set(partition_keys))

    def get_partition_keys_not_in_subset(self, partitions_def: PartitionsDefinition) -> list[str]:
        """The existing keys of `partitions_def` outside the subset, in its order."""
        return [k for k in partitions_def.get_partition_keys() if k not in self._subset]

    def get_partition_key_ranges(
        self, partitions_def: PartitionsDefinition
    ) -> list[PartitionKeyRange]:
        """Runs of consecutive keys of `partitions_def` that are in the subset.

        For a multi-partitioned definition, as in Dagster, one dimension is held constant per
        run: the one (primary or secondary) with fewer distinct values in the subset.
        """
        from conflux.sdk.partitions._multi import MultiPartitionsDefinition

        if not isinstance(partitions_def, MultiPartitionsDefinition):
            return _runs_of(self._subset, list(partitions_def.get_partition_keys()))
        primary, secondary = partitions_def.primary_and_secondary_dimension()
        values: dict[str, set[str]] = {primary.name: set(), secondary.name: set()}
        for key in self._subset:
            parts = partitions_def.get_partition_key_from_str(key).keys_by_dimension
            for name, value_set in values.items():
                value_set.add(parts[name])
        grouping = (
            primary if len(values[primary.name]) <= len(values[secondary.name]) else secondary
        )
        ranges: list[PartitionKeyRange] = []
        for value in values[grouping.name]:
            keys = partitions_def.get_multipartition_keys_with_dimension_value(grouping.name, value)
            ranges.extend(_runs_of(self._subset, list(keys)))
        return ranges

    def empty_subset(self) -> DefaultPartitionsSubset:
        """An empty key subset."""
        return DefaultPartitionsSubset()

    def serialize(self) -> str:
        """`{"version": 1, "subset": [sorted keys]}`."""
        return json.dumps({"version": SERIALIZATION_VERSION, "subset": sorted(self._subset)})

    @classmethod
    def from_serialized(cls, serialized: str) -> DefaultPartitionsSubset:
        """Read `serialize()`'s form or Dagster's older bare list of keys.

        Raises:
            UnreadableSubsetError: another version, or not a key subset.
        """
        data = json.loads(serialized)
        if isinstance(data, list):
            return cls({str(k) for k in data})
        if not isinstance(data, dict) or data.get("version") != SERIALIZATION_VERSION:
            version = data.get("version") if isinstance(data, dict) else None
            raise UnreadableSubsetError(
                f"Attempted to deserialize partition subset with version {version}, but only "
                f"version {SERIALIZATION_VERSION} is supported: serialize it again with this "
                "definition's subset"
            )
        return cls({str(k) for k in data.get("subset") or ()})

    def __or__(self, other: PartitionsSubset) -> PartitionsSubset:
        if isinstance(other, DefaultPartitionsSubset):
            return DefaultPartitionsSubset(self._subset | other._subset)
        return super().__or__(other)

    def __and__(self, other: PartitionsSubset) -> PartitionsSubset:
        if isinstance(other, DefaultPartitionsSubset):
            return DefaultPartitionsSubset(self._subset & other._subset)
        return super().__and__(other)

    def __sub__(self, other: PartitionsSubset) -> PartitionsSubset:
        if isinstance(other, DefaultPartitionsSubset):
            return DefaultPartitionsSubset(self._subset - other._subset)
        return super().__sub__(other)

    def __len__(self) -> int:
        return len(self._subset)

    def __contains__(self, value: object) -> bool:
        return value in self._subset

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DefaultPartitionsSubset) and self._subset == other._subset

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, as Dagster's

    def __repr__(self) -> str:
        return f"DefaultPartitionsSubset(subset={set(self._subset)})"


def _runs_of(subset: AbstractSet[str], ordered_keys: Sequence[str]) -> list[PartitionKeyRange]:
    """Runs of consecutive `ordered_keys` that are in `subset`."""
    ranges: list[PartitionKeyRange] = []
    start: str | None = None
    end: str | None = None
    for key in ordered_keys:
        if key in subset:
            start = key if start is None else start
            end = key
        elif start is not None and end is not None:
            ranges.append(PartitionKeyRange(start, end))
            start = end = None
    if start is not None and end is not None:
        ranges.append(PartitionKeyRange(start, end))
    return ranges


Run = tuple[int, int]
"""First and last ordinal (both included) of consecutive windows."""


class TimeWindowPartitionsSubset(PartitionsSubset):
    """Windows of one time-window definition (Dagster's `TimeWindowPartitionsSubset`).

    Held as sorted, disjoint runs of window ordinals, merged where only excluded windows (or
    nothing) lie between two runs; a run starts and ends on a window that is not excluded.
    Windows need not exist now (keys before the start or not ended yet may be held, as in
    Dagster); `with_partition_keys` only adds keys that exist now, as Dagster's does.

    Example:
        >>> days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-10")
        >>> subset = days.subset_with_partition_keys(["2024-01-03", "2024-01-02", "2024-01-07"])
        >>> subset.get_partition_keys()
        ['2024-01-02', '2024-01-03', '2024-01-07']
        >>> [tuple(r) for r in subset.get_partition_key_ranges(days)]
        [('2024-01-02', '2024-01-03'), ('2024-01-07', '2024-01-07')]
    """

    def __init__(self, partitions_def: TimeWindowPartitionsDefinition, runs: Iterable[Run] = ()):
        self._def = partitions_def
        self._runs = _normalized(partitions_def, runs)

    @property
    def partitions_def(self) -> TimeWindowPartitionsDefinition:
        """The definition whose windows these are."""
        return self._def

    @property
    def runs(self) -> tuple[Run, ...]:
        """The runs of ordinals, in order."""
        return self._runs

    @property
    def included_time_windows(self) -> list[tuple[object, object]]:
        """Each run as one window `(start, end)` of aware datetimes (Dagster's attribute)."""
        from conflux.sdk.partitions._time_window import TimeWindow

        return [TimeWindow(self._def.tick(a), self._def.tick(b + 1)) for a, b in self._runs]

    def get_partition_keys(self) -> list[str]:
        """The keys of the windows, oldest first."""
        keys: list[str] = []
        for a, b in self._runs:
            keys.extend(self._def.keys_of_ordinals(a, b))
        return keys

    def with_partition_keys(
        self, partition_keys: Iterable[str], current_time: datetime | None = None
    ) -> TimeWindowPartitionsSubset:
        """This subset plus the windows of `partition_keys` that exist (others are dropped).

        Existing at `current_time`, default now. A key that is not a window start names the
        window starting at or after it (Dagster's reading).

        Raises:
            InvalidPartitionKeyError: a key does not parse with the definition's format.
        """
        lo, hi = self._def.ordinal_bounds(current_time)
        ordinals = {self._def.ordinal_at_or_after_key(k) for k in partition_keys}
        added = [(n, n) for n in ordinals if lo <= n <= hi]
        return TimeWindowPartitionsSubset(self._def, (*self._runs, *added))

    def existing(self, current_time: datetime | None = None) -> TimeWindowPartitionsSubset:
        """The windows of the subset that exist at `current_time` (default now)."""
        lo, hi = self._def.ordinal_bounds(current_time)
        runs = [(max(a, lo), min(b, hi)) for a, b in self._runs]
        return TimeWindowPartitionsSubset(self._def, [r for r in runs if r[0] <= r[1]])

    def with_ordinal_runs(self, runs: Iterable[Run]) -> TimeWindowPartitionsSubset:
        """This subset plus the windows of `runs`, whether or not they exist now."""
        return TimeWindowPartitionsSubset(self._def, (*self._runs, *runs))

    def get_partition_keys_not_in_subset(
        self, partitions_def: PartitionsDefinition, current_time: datetime | None = None
    ) -> list[str]:
        """The keys existing at `current_time` (default now) not in the subset, oldest first."""
        lo, hi = self._def.ordinal_bounds(current_time)
        missing: list[str] = []
        cursor = lo
        for a, b in self._runs:
            if a > cursor:
                missing.extend(self._def.keys_of_ordinals(cursor, min(a - 1, hi)))
            cursor = max(cursor, b + 1)
        missing.extend(self._def.keys_of_ordinals(cursor, hi))
        return missing

    def get_partition_key_ranges(
        self, partitions_def: PartitionsDefinition
    ) -> list[PartitionKeyRange]:
        """One range per run of consecutive windows."""
        return [
            PartitionKeyRange(self._def.key_of_ordinal(a), self._def.key_of_ordinal(b))
            for a, b in self._runs
        ]

    def empty_subset(self) -> TimeWindowPartitionsSubset:
        """An empty subset of the same definition."""
        return TimeWindowPartitionsSubset(self._def)

    def serialize(self) -> str:
        """`{"version": 1, "time_windows": [[start, end], ...], "num_partitions": n}`.

        Window bounds are UTC seconds since the epoch, as in Dagster.
        """
        return json.dumps(
            {
                "version": SERIALIZATION_VERSION,
                "time_windows": [
                    (self._def.tick(a).timestamp(), self._def.tick(b + 1).timestamp())
                    for a, b in self._runs
                ],
                "num_partitions": len(self),
            }
        )

    @classmethod
    def from_serialized(
        cls, partitions_def: TimeWindowPartitionsDefinition, serialized: str
    ) -> TimeWindowPartitionsSubset:
        """Read `serialize()`'s form, or Dagster's older list of `[start, end]` timestamps.

        Raises:
            UnreadableSubsetError: another version, or not a window subset.
        """
        data = json.loads(serialized)
        if isinstance(data, dict) and data.get("version", SERIALIZATION_VERSION) == (
            SERIALIZATION_VERSION
        ):
            windows = data.get("time_windows")
        elif isinstance(data, list):
            windows = data
        else:
            version = data.get("version") if isinstance(data, dict) else None
            raise UnreadableSubsetError(
                f"Attempted to deserialize partition subset with version {version}, but only "
                f"version {SERIALIZATION_VERSION} is supported: serialize it again with this "
                "definition's subset"
            )
        if not isinstance(windows, list):
            raise UnreadableSubsetError(
                "serialized time-window subset has no list of time windows: pass what "
                "TimeWindowPartitionsSubset.serialize() wrote"
            )
        runs = [partitions_def.ordinal_run_of_timestamps(float(s), float(e)) for s, e in windows]
        return cls(partitions_def, [r for r in runs if r[0] <= r[1]])

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        try:
            n = self._def.ordinal_at_or_after_key(value)
        except ValueError:
            return False
        return any(a <= n <= b for a, b in self._runs) and not self._def.is_ordinal_excluded(n)

    def __len__(self) -> int:
        return sum(self._def.count_ordinals(a, b) for a, b in self._runs)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TimeWindowPartitionsSubset)
            and self._def == other._def
            and self._runs == other._runs
        )

    __hash__ = None  # type: ignore[assignment]  # as Dagster's

    def __repr__(self) -> str:
        return f"TimeWindowPartitionsSubset({self.get_partition_key_ranges(self._def)})"


def _normalized(defn: TimeWindowPartitionsDefinition, runs: Iterable[Run]) -> tuple[Run, ...]:
    """Sorted, merged runs that start and end on windows that are not excluded."""
    trimmed: list[Run] = []
    for a, b in runs:
        a, b = defn.trim_excluded(a, b)
        if a <= b:
            trimmed.append((a, b))
    trimmed.sort()
    merged: list[Run] = []
    for a, b in trimmed:
        if merged and (a <= merged[-1][1] + 1 or defn.only_excluded_between(merged[-1][1], a)):
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return tuple(merged)
