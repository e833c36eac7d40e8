"""What mappings answer with subsets: `UpstreamPartitionsResult` and the helpers they share.

Dagster's mappings take and return `PartitionsSubset`s. Upstream of a subset there are two
answers: the upstream partitions that exist (`partitions_subset`), and those the mapping
asks for that do not exist (`required_but_nonexistent_subset`), e.g. the day before an
upstream's first day. Conflux's planner asks key by key (`get_upstream_partition_keys`);
both views come from the same mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from conflux.sdk.partitions._base import PartitionsDefinition
    from conflux.sdk.partitions._dynamic import DynamicPartitionsStore
    from conflux.sdk.partitions._subset import PartitionsSubset


@dataclass(frozen=True)
class UpstreamPartitionsResult:
    """The upstream partitions a downstream subset maps to (Dagster's `UpstreamPartitionsResult`).

    Attributes:
        partitions_subset: the mapped upstream partitions that exist.
        required_but_nonexistent_subset: the mapped upstream partitions that do not exist
            (before the upstream's start, past its end, not ended yet). A run that needs
            them cannot load its inputs; `TimeWindowPartitionMapping(
            allow_nonexistent_upstream_partitions=True)` leaves them out instead.

    Example:
        >>> up = DailyPartitionsDefinition(start_date="2024-01-05")
        >>> down = DailyPartitionsDefinition(start_date="2024-01-01")
        >>> mapping = TimeWindowPartitionMapping()
        >>> result = mapping.get_upstream_mapped_partitions_result_for_partitions(
        ...     down.subset_with_partition_keys(["2024-01-04", "2024-01-05"]), down, up
        ... )
        >>> result.partitions_subset.get_partition_keys()
        ['2024-01-05']
        >>> result.required_but_nonexistent_partition_keys
        ['2024-01-04']
    """

    partitions_subset: PartitionsSubset
    required_but_nonexistent_subset: PartitionsSubset

    @property
    def required_but_nonexistent_partition_keys(self) -> list[str]:
        """The keys of `required_but_nonexistent_subset`, as a list."""
        return list(self.required_but_nonexistent_subset.get_partition_keys())


def bound(
    defn: PartitionsDefinition | None, store: DynamicPartitionsStore | None
) -> PartitionsDefinition | None:
    """`defn` with its dynamic parts bound to `store`'s current keys (unchanged without a store)."""
    if defn is None or store is None:
        return defn
    from conflux.events import DynamicPartitionsSnapshot, MultiPartitionsSnapshot
    from conflux.sdk.partitions._snapshots import partitions_from_snapshot

    snapshot = defn.to_snapshot()
    if isinstance(snapshot, DynamicPartitionsSnapshot):
        names = [snapshot.name]
    elif isinstance(snapshot, MultiPartitionsSnapshot):
        names = [d.name for _, d in snapshot.dimensions if isinstance(d, DynamicPartitionsSnapshot)]
    else:
        return defn
    keys = {name: list(store.get_dynamic_partitions(name)) for name in names}
    return partitions_from_snapshot(snapshot, keys)


def subset_of(
    defn: PartitionsDefinition, keys: Iterable[str], current_time: datetime | None = None
) -> PartitionsSubset:
    """The subset of `defn` holding `keys` (time windows: those existing at `current_time`)."""
    from conflux.sdk.partitions._subset import TimeWindowPartitionsSubset

    empty = defn.empty_subset()
    if isinstance(empty, TimeWindowPartitionsSubset):
        return empty.with_partition_keys(keys, current_time)
    return empty.with_partition_keys(keys)


def unchecked_subset_of(defn: PartitionsDefinition, keys: Iterable[str]) -> PartitionsSubset:
    """The subset of `defn` holding `keys`, existing or not (they must name windows)."""
    from conflux.sdk.partitions._subset import TimeWindowPartitionsSubset

    empty = defn.empty_subset()
    if isinstance(empty, TimeWindowPartitionsSubset):
        ordinals = [empty.partitions_def.ordinal_at_or_after_key(k) for k in keys]
        return empty.with_ordinal_runs((n, n) for n in ordinals)
    return empty.with_partition_keys(keys)
