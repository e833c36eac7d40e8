"""Mappings by explicit keys: `StaticPartitionMapping` and `SpecificPartitionsPartitionMapping`.

Both are data (keys), so they travel in a location's snapshot and the coordinator plans
with them like any other mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import (
    IncompatiblePartitionMappingError,
    SpecificPartitionsMappingSnapshot,
    StaticMappingSnapshot,
)
from conflux.sdk.partitions._mappings import PartitionMapping, _name
from conflux.sdk.partitions._static import StaticPartitionsDefinition
from conflux.sdk.partitions._upstream import UpstreamPartitionsResult, bound, subset_of

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence
    from datetime import datetime

    from conflux.sdk.partitions._base import PartitionsDefinition
    from conflux.sdk.partitions._dynamic import DynamicPartitionsStore
    from conflux.sdk.partitions._subset import PartitionsSubset


class StaticMappingKeyError(IncompatiblePartitionMappingError, ValueError):
    """A `StaticPartitionMapping` names a key its definitions do not have.

    A `ValueError` too, as Dagster's is.
    """


def _static(defn: PartitionsDefinition | None, side: str) -> StaticPartitionsDefinition:
    if not isinstance(defn, StaticPartitionsDefinition):
        raise IncompatiblePartitionMappingError(
            f"{side.capitalize()} partitions definition must be a StaticPartitionsDefinition "
            f"for a StaticPartitionMapping, not {_name(defn)}: use IdentityPartitionMapping or "
            "AllPartitionMapping"
        )
    return defn


@dataclass(frozen=True, init=False)
class StaticPartitionMapping(PartitionMapping):
    """Maps upstream static keys to downstream static keys by a table (Dagster's class).

    Each upstream key maps to one downstream key or a collection of them; a downstream key
    reads every upstream key that maps to it. Keys the table does not name map to nothing.
    Both sides must be `StaticPartitionsDefinition`s holding every key the table names.

    Example:
        >>> regions = StaticPartitionsDefinition(["eu", "us"])
        >>> countries = StaticPartitionsDefinition(["de", "fr", "us"])
        >>> by_region = StaticPartitionMapping({"de": "eu", "fr": "eu", "us": "us"})
        >>> by_region.get_upstream_partition_keys("eu", regions, countries)
        ['de', 'fr']
    """

    downstream_partition_keys_by_upstream_partition_key: Mapping[str, str | Collection[str]]
    _mapping: Mapping[str, frozenset[str]] = field(compare=False, repr=False)
    _inverse: Mapping[str, frozenset[str]] = field(compare=False, repr=False)

    def __init__(
        self,
        downstream_partition_keys_by_upstream_partition_key: Mapping[str, str | Collection[str]],
    ) -> None:
        mapping: dict[str, frozenset[str]] = {}
        for upstream, downstream in downstream_partition_keys_by_upstream_partition_key.items():
            mapping[upstream] = frozenset(
                [downstream] if isinstance(downstream, str) else downstream
            )
        inverse: dict[str, set[str]] = {}
        for upstream, downstreams in mapping.items():
            for downstream in downstreams:
                inverse.setdefault(downstream, set()).add(upstream)
        object.__setattr__(
            self,
            "downstream_partition_keys_by_upstream_partition_key",
            dict(downstream_partition_keys_by_upstream_partition_key),
        )
        object.__setattr__(self, "_mapping", mapping)
        object.__setattr__(self, "_inverse", {k: frozenset(v) for k, v in inverse.items()})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StaticPartitionMapping) and self._mapping == other._mapping

    def __hash__(self) -> int:
        return hash(self.to_snapshot())

    def _check_upstream(
        self, upstream_def: PartitionsDefinition | None
    ) -> StaticPartitionsDefinition:
        up = _static(upstream_def, "upstream")
        extra = set(self._mapping).difference(up.get_partition_keys())
        if extra:
            raise StaticMappingKeyError(
                f"mapping source partitions not in the upstream partitions definition: {extra}; "
                "map only keys the upstream has"
            )
        return up

    def _check_downstream(
        self, downstream_def: PartitionsDefinition | None
    ) -> StaticPartitionsDefinition:
        down = _static(downstream_def, "downstream")
        extra = set(self._inverse).difference(down.get_partition_keys())
        if extra:
            raise StaticMappingKeyError(
                f"mapping target partitions not in the downstream partitions definition: {extra}; "
                "map only to keys the downstream has"
            )
        return down

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The upstream keys mapped to `downstream_key`, in upstream order."""
        up = self._check_upstream(upstream_def)
        wanted = self._inverse.get(downstream_key or "", frozenset())
        return [k for k in up.get_partition_keys() if k in wanted]

    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The downstream keys `upstream_key` maps to, in downstream order."""
        down = self._check_downstream(downstream_def)
        wanted = self._mapping.get(upstream_key or "", frozenset())
        return [k for k in down.get_partition_keys() if k in wanted]

    def get_upstream_mapped_partitions_result_for_partitions(
        self,
        downstream_partitions_subset: PartitionsSubset | None,
        downstream_partitions_def: PartitionsDefinition | None,
        upstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> UpstreamPartitionsResult:
        """Every upstream key mapped to a key of the subset.

        Raises:
            StaticMappingKeyError: the table names a key the upstream does not have.
        """
        up = self._check_upstream(upstream_partitions_def)
        keys: set[str] = set()
        if downstream_partitions_subset is not None:
            for key in downstream_partitions_subset.get_partition_keys():
                keys.update(self._inverse.get(key, ()))
        return UpstreamPartitionsResult(
            up.empty_subset().with_partition_keys(keys), up.empty_subset()
        )

    def get_downstream_partitions_for_partitions(
        self,
        upstream_partitions_subset: PartitionsSubset,
        upstream_partitions_def: PartitionsDefinition,
        downstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        """Every downstream key a key of the subset maps to.

        Raises:
            StaticMappingKeyError: the table names a key the downstream does not have.
        """
        down = self._check_downstream(downstream_partitions_def)
        keys: set[str] = set()
        for key in upstream_partitions_subset.get_partition_keys():
            keys.update(self._mapping.get(key, ()))
        return down.empty_subset().with_partition_keys(keys)

    def validate(
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> None:
        """Both sides static, holding every key the table names.

        Raises:
            IncompatiblePartitionMappingError: a side is not static.
            StaticMappingKeyError: the table names a key a side does not have.
        """
        _static(upstream_def, "upstream")
        _static(downstream_def, "downstream")
        self._check_upstream(upstream_def)
        self._check_downstream(downstream_def)

    @property
    def description(self) -> str:
        """Dagster's description."""
        return (
            "Maps upstream partitions to their downstream dependencies according to the "
            f"following mapping: \n{self.downstream_partition_keys_by_upstream_partition_key}"
        )

    def to_snapshot(self) -> StaticMappingSnapshot:
        """The table as data, sorted."""
        return StaticMappingSnapshot(
            downstream_keys_by_upstream_key=tuple(
                (up, tuple(sorted(downs))) for up, downs in sorted(self._mapping.items())
            )
        )


@dataclass(frozen=True)
class SpecificPartitionsPartitionMapping(PartitionMapping):
    """Every downstream partition reads the same named upstream partitions (Dagster's class).

    A downstream asset (partitioned or not) reads `partition_keys` of the upstream, those
    that exist. Any of them materializing concerns every downstream partition.

    Example:
        >>> letters = StaticPartitionsDefinition(["a", "b", "c"])
        >>> SpecificPartitionsPartitionMapping(["c", "a"]).get_upstream_partition_keys(
        ...     None, None, letters)
        ['a', 'c']
    """

    partition_keys: Sequence[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "partition_keys", tuple(self.partition_keys))

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The named keys that exist upstream, in upstream order."""
        if upstream_def is None:
            return [None]
        named = set(self.partition_keys)
        return [k for k in upstream_def.get_partition_keys(current_time) if k in named]

    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """Every downstream key if `upstream_key` is one of the named keys, else none."""
        if upstream_key not in self.partition_keys:
            return []
        if downstream_def is None:
            return [None]
        return list(downstream_def.get_partition_keys(current_time))

    def get_upstream_mapped_partitions_result_for_partitions(
        self,
        downstream_partitions_subset: PartitionsSubset | None,
        downstream_partitions_def: PartitionsDefinition | None,
        upstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> UpstreamPartitionsResult:
        """The named keys (for time windows: those that exist), whatever the subset."""
        up = bound(upstream_partitions_def, dynamic_partitions_store)
        assert up is not None
        return UpstreamPartitionsResult(
            subset_of(up, self.partition_keys, current_time), up.empty_subset()
        )

    def get_downstream_partitions_for_partitions(
        self,
        upstream_partitions_subset: PartitionsSubset,
        upstream_partitions_def: PartitionsDefinition,
        downstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        """Every downstream partition if the subset holds a named key, else none."""
        down = bound(downstream_partitions_def, dynamic_partitions_store)
        assert down is not None
        if any(key in upstream_partitions_subset for key in self.partition_keys):
            return down.subset_with_all_partitions(current_time)
        return down.empty_subset()

    def validate(
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> None:
        """The upstream must be partitioned (the downstream may be anything)."""
        if upstream_def is None:
            raise IncompatiblePartitionMappingError(
                "SpecificPartitionsPartitionMapping names upstream partitions, but the upstream "
                "is not partitioned: drop the mapping"
            )

    @property
    def description(self) -> str:
        """Dagster's description."""
        return (
            "Each downstream partition depends on the following upstream partitions: "
            f"{list(self.partition_keys)}"
        )

    def to_snapshot(self) -> SpecificPartitionsMappingSnapshot:
        """The named keys as data."""
        return SpecificPartitionsMappingSnapshot(partition_keys=tuple(self.partition_keys))
