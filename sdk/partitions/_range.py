"""Ranges of consecutive partition keys: what one ranged work item (a `BackfillPolicy`) covers."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from conflux.events import InvalidPartitionKeyError

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.sdk.partitions._base import PartitionsDefinition


class PartitionKeyRange(NamedTuple):
    """The first and last key (both included) of consecutive partitions (Dagster's name).

    `context.partition_key_range` in an asset that a `BackfillPolicy` runs over several
    partitions at once; a single-partition run has the range `(key, key)`.
    """

    start: str
    end: str


def keys_in_key_range(
    pdef: PartitionsDefinition, start: str, end: str, current_time: datetime | None = None
) -> list[str]:
    """The keys from `start` to `end`, both included, in the definition's key order.

    Positions `index_of(start)` to `index_of(end)`: for one-dimensional definitions the same
    keys as `get_partition_keys_in_range`; for a `MultiPartitionsDefinition` the keys between
    the two in key order (the first dimension varying slowest), not the box of dimension
    ranges that `get_partition_keys_in_range` (and `--from/--to`) reads.

    Raises:
        InvalidPartitionKeyError: an end is not a key, or `start` comes after `end`.
    """
    from conflux.sdk.partitions._multi import MultiPartitionsDefinition

    if not isinstance(pdef, MultiPartitionsDefinition):
        return list(pdef.get_partition_keys_in_range(start, end, current_time))
    lo, hi = pdef.index_of(start, current_time), pdef.index_of(end, current_time)
    if lo > hi:
        raise InvalidPartitionKeyError(
            f"partition range {start}..{end} is empty: {start!r} comes after {end!r}"
        )
    return [pdef.key_at(i, current_time) for i in range(lo, hi + 1)]
