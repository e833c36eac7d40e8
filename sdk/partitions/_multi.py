"""Multi-dimensional partitions: the product of named static, dynamic or time-window dimensions.

Dagster's `MultiPartitionsDefinition` has exactly two dimensions; this one has any number
from one up, with the same key format: one key per dimension, joined with `|` in
dimension-name order (`2024-01-01|eu` for dimensions `date` and `region`). Counting and
indexing use mixed-radix arithmetic over the dimensions (the first dimension by name is
the most significant digit), so a space of a million keys is never listed to be counted,
indexed or searched.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from typing import TYPE_CHECKING, NamedTuple

from conflux.events import DefinitionError, InvalidPartitionKeyError, MultiPartitionsSnapshot
from conflux.sdk.partitions._base import PartitionsDefinition
from conflux.sdk.partitions._dynamic import DynamicPartitionsDefinition
from conflux.sdk.partitions._range import PartitionKeyRange
from conflux.sdk.partitions._static import StaticPartitionsDefinition
from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

DELIMITER = "|"
"""Joins the dimensions' keys of a multi-partition key (Dagster's delimiter)."""

INVALID_STATIC_KEY_CHARACTERS = frozenset("|,[]")
"""Characters Dagster refuses in a static dimension's keys (they join and list keys)."""


class MultiPartitionKey(str):
    """A multi-partition key: the string `a|b|...`, which also knows its dimensions.

    It is a `str` equal to the joined key, so it goes wherever a key goes (events, IO
    managers, `materialize(partition_key=...)`); `keys_by_dimension` splits it back.

    Example:
        >>> key = MultiPartitionKey({"region": "eu", "date": "2024-01-01"})
        >>> key, key.keys_by_dimension["region"]
        ('2024-01-01|eu', 'eu')
    """

    _dimension_names: tuple[str, ...]

    def __new__(cls, keys_by_dimension: Mapping[str, str]) -> MultiPartitionKey:
        names = tuple(sorted(keys_by_dimension))
        for name in names:
            value = keys_by_dimension[name]
            if not value or DELIMITER in value:
                raise InvalidPartitionKeyError(
                    f"dimension {name!r} of a multi-partition key is {value!r}: give each "
                    f"dimension a non-empty key without {DELIMITER!r}"
                )
        return cls._join(DELIMITER.join(keys_by_dimension[n] for n in names), names)

    @classmethod
    def _join(cls, joined: str, names: tuple[str, ...]) -> MultiPartitionKey:
        """The key `joined` of dimensions `names`, trusted (no checks: the fast path)."""
        key = str.__new__(cls, joined)
        key._dimension_names = names
        return key

    def __getnewargs__(self) -> tuple[dict[str, str]]:  # type: ignore[override]
        return (self.keys_by_dimension,)  # pickle and copy rebuild from the dimensions

    @property
    def keys_by_dimension(self) -> dict[str, str]:
        """Each dimension's key, by dimension name (a new dict: callers may change it)."""
        return dict(zip(self._dimension_names, self.split(DELIMITER), strict=True))

    @property
    def dimension_names(self) -> tuple[str, ...]:
        """The dimension names, sorted (the order of the parts of the key)."""
        return self._dimension_names


class PartitionDimensionDefinition(NamedTuple):
    """One named dimension of a `MultiPartitionsDefinition`."""

    name: str
    partitions_def: PartitionsDefinition


def _check_dimension(name: str, defn: PartitionsDefinition) -> None:
    if not name or DELIMITER in name or name != name.strip():
        raise DefinitionError(
            f"multi-partition dimension name {name!r} is empty, has surrounding spaces or "
            f"contains {DELIMITER!r}: name it like 'date' or 'region'"
        )
    if isinstance(defn, StaticPartitionsDefinition):
        if any(INVALID_STATIC_KEY_CHARACTERS & set(key) for key in defn.get_partition_keys()):
            raise DefinitionError(
                f"Invalid character in partition key for dimension {name}. A multi-partitions "
                "definition cannot contain partition keys with the following characters: |, [, "
                "], , (they join and list multi-partition keys): rename those keys"
            )
    elif isinstance(defn, TimeWindowPartitionsDefinition):
        if DELIMITER in defn.fmt:
            raise DefinitionError(
                f"dimension {name!r} formats its keys with {defn.fmt!r}, which contains "
                f"{DELIMITER!r}, the multi-partition delimiter: use another fmt"
            )
    elif not isinstance(defn, StaticPartitionsDefinition | DynamicPartitionsDefinition):
        raise DefinitionError(
            f"dimension {name!r} is a {type(defn).__name__}: each dimension of a "
            "MultiPartitionsDefinition is static, dynamic or time-window partitioned; list "
            "every dimension in one MultiPartitionsDefinition instead of nesting them"
        )


class MultiPartitionsDefinition(PartitionsDefinition):
    """The product of named dimensions, each static, dynamic or time-window partitioned.

    What callers may rely on (Dagster's semantics, with N >= 1 dimensions instead of 2):

    * dimensions are ordered by name, whatever order the mapping gave;
    * a key is one key per dimension joined with `|` in that order, and keys are
      listed dimension by dimension (the first by name varying slowest), each
      dimension in its own order;
    * a key exists when each of its parts exists in its dimension at `current_time`;
    * `get_num_partitions`, `has_partition_key`, `key_at` and `index_of` never list
      keys: they combine the dimensions' answers;
    * a range `a..b` is the box of keys whose every part lies in that dimension's
      range between the parts of `a` and `b` (as in Dagster), not a slice of the list.

    Example:
        >>> multi = MultiPartitionsDefinition(
        ...     {"region": StaticPartitionsDefinition(["eu", "us"]),
        ...      "color": StaticPartitionsDefinition(["red", "blue"])}
        ... )
        >>> multi.get_partition_keys()
        ['red|eu', 'red|us', 'blue|eu', 'blue|us']
        >>> multi.get_partition_keys()[-1].keys_by_dimension
        {'color': 'blue', 'region': 'us'}

    Raises:
        DefinitionError: no dimension is given, a name is empty or contains `|`, or a
            dimension is neither static, dynamic nor time-window partitioned.
    """

    def __init__(self, partitions_defs: Mapping[str, PartitionsDefinition]) -> None:
        if not partitions_defs:
            raise DefinitionError(
                "MultiPartitionsDefinition has no dimension: pass at least one, e.g. "
                '{"date": DailyPartitionsDefinition(...), "region": '
                "StaticPartitionsDefinition([...])}"
            )
        for name, defn in partitions_defs.items():
            _check_dimension(name, defn)
        self._dims = tuple(
            PartitionDimensionDefinition(name, partitions_defs[name])
            for name in sorted(partitions_defs)
        )
        self._names = tuple(d.name for d in self._dims)
        self._snapshot = MultiPartitionsSnapshot(
            dimensions=tuple((d.name, d.partitions_def.to_snapshot()) for d in self._dims)
        )

    # -- dimensions -------------------------------------------------------------------------

    @property
    def partitions_defs(self) -> Sequence[PartitionDimensionDefinition]:
        """The dimensions, sorted by name."""
        return self._dims

    @property
    def partition_dimension_names(self) -> list[str]:
        """The dimension names, sorted."""
        return list(self._names)

    def get_partitions_def_for_dimension(self, dimension_name: str) -> PartitionsDefinition:
        """The partitions definition of one dimension.

        Raises:
            DefinitionError: there is no dimension of that name.
        """
        for dim in self._dims:
            if dim.name == dimension_name:
                return dim.partitions_def
        raise DefinitionError(
            f"no dimension {dimension_name!r} in this MultiPartitionsDefinition: use one of "
            f"{', '.join(self._names)}"
        )

    def get_partition_key_from_str(self, partition_key_str: str) -> MultiPartitionKey:
        """The `MultiPartitionKey` a joined key string names (its parts are not checked).

        Raises:
            InvalidPartitionKeyError: the string has not one part per dimension.
        """
        if (
            isinstance(partition_key_str, MultiPartitionKey)
            and partition_key_str.dimension_names == self._names
        ):
            return partition_key_str
        parts = partition_key_str.split(DELIMITER)
        if len(parts) != len(self._dims):
            raise self._shape_error(partition_key_str, len(parts))
        return MultiPartitionKey._join(partition_key_str, self._names)

    def get_multipartition_keys_with_dimension_value(
        self,
        dimension_name: str,
        dimension_partition_key: str,
        current_time: datetime | None = None,
    ) -> list[MultiPartitionKey]:
        """The existing keys whose `dimension_name` part is `dimension_partition_key`, in order.

        Raises:
            DefinitionError: there is no dimension of that name.
        """
        self.get_partitions_def_for_dimension(dimension_name)  # raises on a wrong name
        return self._product(
            [
                [dimension_partition_key]
                if d.name == dimension_name
                else d.partitions_def.get_partition_keys(current_time)
                for d in self._dims
            ]
        )

    # -- PartitionsDefinition ---------------------------------------------------------------

    def _product(self, parts: Sequence[Sequence[str]]) -> list[MultiPartitionKey]:
        join, names = MultiPartitionKey._join, self._names
        return [join(DELIMITER.join(p), names) for p in itertools.product(*parts)]

    def get_partition_keys(self, current_time: datetime | None = None) -> list[MultiPartitionKey]:
        """Every existing key, the first dimension by name varying slowest.

        This lists the whole product; prefer `get_num_partitions`, `key_at` and
        `index_of`, which do not.
        """
        return self._product(
            [d.partitions_def.get_partition_keys(current_time) for d in self._dims]
        )

    def get_num_partitions(self, current_time: datetime | None = None) -> int:
        """The product of the dimensions' counts (no key is listed)."""
        return math.prod(d.partitions_def.get_num_partitions(current_time) for d in self._dims)

    def __len__(self) -> int:
        """`get_num_partitions()` at the current time."""
        return self.get_num_partitions()

    def __bool__(self) -> bool:
        """Always true: a definition is not "empty" when no key exists yet."""
        return True

    def has_partition_key(self, key: str, current_time: datetime | None = None) -> bool:
        """True when `key` has one part per dimension and each part exists in its dimension."""
        parts = key.split(DELIMITER)
        return len(parts) == len(self._dims) and all(
            d.partitions_def.has_partition_key(p, current_time)
            for d, p in zip(self._dims, parts, strict=True)
        )

    def key_at(self, index: int, current_time: datetime | None = None) -> MultiPartitionKey:
        """The `index`-th existing key (negative: from the end), by mixed-radix arithmetic.

        Raises:
            IndexError: fewer keys exist at `current_time`.
        """
        sizes = [d.partitions_def.get_num_partitions(current_time) for d in self._dims]
        total = math.prod(sizes)
        n = index + total if index < 0 else index
        if not 0 <= n < total:
            raise IndexError(f"partition index {index} out of range ({total} keys exist)")
        parts: list[str] = []
        for dim, size in zip(reversed(self._dims), reversed(sizes), strict=True):
            n, digit = divmod(n, size)
            parts.append(dim.partitions_def.key_at(digit, current_time))
        return MultiPartitionKey._join(DELIMITER.join(reversed(parts)), self._names)

    def index_of(self, key: str, current_time: datetime | None = None) -> int:
        """The position of `key` among the existing keys, by mixed-radix arithmetic.

        Raises:
            InvalidPartitionKeyError: `key` does not exist; the message names the dimension.
        """
        self.validate_partition_key(key, current_time)
        index = 0
        for dim, part in zip(self._dims, key.split(DELIMITER), strict=True):
            size = dim.partitions_def.get_num_partitions(current_time)
            index = index * size + dim.partitions_def.index_of(part, current_time)
        return index

    def get_first_partition_key(self, current_time: datetime | None = None) -> str | None:
        """The first existing key (None: some dimension has no key yet)."""
        return self.key_at(0, current_time) if self.get_num_partitions(current_time) else None

    def get_last_partition_key(self, current_time: datetime | None = None) -> str | None:
        """The last existing key (None: some dimension has no key yet)."""
        return self.key_at(-1, current_time) if self.get_num_partitions(current_time) else None

    def validate_partition_key(self, key: str, current_time: datetime | None = None) -> None:
        """Return if `key` exists, else name the part (and dimension) that does not.

        Raises:
            InvalidPartitionKeyError: `key` has the wrong number of parts, or a part is
                not a key of its dimension; the message names the dimension and the fix.
        """
        parts = key.split(DELIMITER)
        if len(parts) != len(self._dims):
            raise self._shape_error(key, len(parts))
        for dim, part in zip(self._dims, parts, strict=True):
            try:
                dim.partitions_def.validate_partition_key(part, current_time)
            except InvalidPartitionKeyError as exc:
                raise InvalidPartitionKeyError(
                    f"multi-partition key {key!r}: dimension {dim.name!r} has no key {part!r}: "
                    f"{exc}"
                ) from exc

    def _shape_error(self, key: str, found: int) -> InvalidPartitionKeyError:
        example = DELIMITER.join(f"<{n}>" for n in self._names)
        return InvalidPartitionKeyError(
            f"multi-partition key {key!r} has {found} part(s) but the definition has "
            f"{len(self._dims)} dimension(s) ({', '.join(self._names)}): join one key per "
            f"dimension with {DELIMITER!r} in dimension-name order, like {example!r}"
        )

    def get_partition_keys_in_range(
        self,
        start: str | PartitionKeyRange,
        end: str | None = None,
        current_time: datetime | None = None,
    ) -> list[str]:
        """The box of keys whose every part lies between the parts of `start` and `end`.

        `2024-01-01|eu..2024-01-03|us` is the three days times the regions from `eu` to
        `us`, as in Dagster.

        Raises:
            InvalidPartitionKeyError: an end is not a key, or a part of `start` comes
                after the same dimension's part of `end`.
        """
        if isinstance(start, PartitionKeyRange):
            return self._box(start.start, start.end, current_time)
        if end is None:
            raise InvalidPartitionKeyError(
                "get_partition_keys_in_range needs a PartitionKeyRange or two keys"
            )
        self.validate_partition_key(start, current_time)
        self.validate_partition_key(end, current_time)
        ranges: list[Sequence[str]] = []
        for dim, a, b in zip(self._dims, start.split(DELIMITER), end.split(DELIMITER), strict=True):
            try:
                ranges.append(dim.partitions_def.get_partition_keys_in_range(a, b, current_time))
            except InvalidPartitionKeyError as exc:
                raise InvalidPartitionKeyError(
                    f"multi-partition range {start}..{end}, dimension {dim.name!r}: {exc}"
                ) from exc
        return list(self._product(ranges))

    def _box(self, start: str, end: str, current_time: datetime | None) -> list[str]:
        """Dagster's range: each dimension's `PartitionKeyRange` between the parts, crossed."""
        parts = [
            dim.partitions_def.get_partition_keys_in_range(
                PartitionKeyRange(a, b), None, current_time
            )
            for dim, a, b in zip(
                self._dims,
                self.get_partition_key_from_str(start).split(DELIMITER),
                self.get_partition_key_from_str(end).split(DELIMITER),
                strict=True,
            )
        ]
        return list(self._product(parts))

    def primary_and_secondary_dimension(
        self,
    ) -> tuple[PartitionDimensionDefinition, PartitionDimensionDefinition]:
        """Dagster's primary dimension (the one time dimension, else the first) and another.

        Raises:
            DefinitionError: the definition has one dimension (Dagster's always have two).
        """
        if len(self._dims) < 2:
            raise DefinitionError(
                "a MultiPartitionsDefinition with one dimension has no secondary dimension: "
                "give it a second dimension"
            )
        times = [
            d for d in self._dims if isinstance(d.partitions_def, TimeWindowPartitionsDefinition)
        ]
        primary = times[0] if len(times) == 1 else self._dims[0]
        secondary = next(d for d in self._dims if d is not primary)
        return primary, secondary

    @property
    def primary_dimension(self) -> PartitionDimensionDefinition:
        """The time dimension if there is exactly one, else the first by name (Dagster's)."""
        return self.primary_and_secondary_dimension()[0]

    @property
    def secondary_dimension(self) -> PartitionDimensionDefinition:
        """The dimension that is not the primary one (of the first two)."""
        return self.primary_and_secondary_dimension()[1]

    def get_serializable_unique_identifier(self) -> str:
        """A hash of each dimension's name and identifier (Dagster's)."""
        ids = {d.name: d.partitions_def.get_serializable_unique_identifier() for d in self._dims}
        return hashlib.sha1(str(ids).encode("utf-8")).hexdigest()

    def __str__(self) -> str:
        dims = " \n".join(f"{d.name.capitalize()}: {d.partitions_def}" for d in self._dims)
        return f"Multi-partitioned, with dimensions: \n{dims}"

    def describe_keys(self) -> str:
        """The key shape and each dimension's keys, in one line."""
        shape = DELIMITER.join(self._names)
        each = "; ".join(f"{d.name}: {d.partitions_def.describe_keys()}" for d in self._dims)
        return f"multi-partition keys '{shape}' (one key per dimension joined with '|'; {each})"

    def to_snapshot(self) -> MultiPartitionsSnapshot:
        """Each dimension's name and snapshot, sorted by name."""
        return self._snapshot

    def __repr__(self) -> str:
        dims = ", ".join(f"{d.name!r}: {d.partitions_def!r}" for d in self._dims)
        return f"MultiPartitionsDefinition({{{dims}}})"
