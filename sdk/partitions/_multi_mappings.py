"""Partition mappings to and from multi-partitioned assets (Dagster's names and semantics).

`MultiPartitionMapping` joins two multi-partitioned assets dimension by dimension;
`MultiToSingleDimensionPartitionMapping` joins a multi-partitioned asset and a
single-dimension one through one dimension, in either direction.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conflux.events import (
    DimensionMappingSnapshot,
    IncompatiblePartitionMappingError,
    MultiMappingSnapshot,
    MultiToSingleDimensionMappingSnapshot,
)
from conflux.sdk.partitions._mappings import PartitionMapping, _name
from conflux.sdk.partitions._multi import DELIMITER, MultiPartitionKey, MultiPartitionsDefinition

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from conflux.sdk.partitions._base import PartitionsDefinition


def _multi(defn: PartitionsDefinition | None, side: str, mapping: str) -> MultiPartitionsDefinition:
    if not isinstance(defn, MultiPartitionsDefinition):
        raise IncompatiblePartitionMappingError(
            f"{mapping} needs a multi-partitioned {side}, but it is {_name(defn)}: use "
            "MultiToSingleDimensionPartitionMapping between a multi-partitioned and a "
            "single-dimension asset, or a mapping for single-dimension assets"
        )
    return defn


def _join(parts: Sequence[Sequence[str | None]], names: tuple[str, ...]) -> list[str | None]:
    return [
        MultiPartitionKey._join(DELIMITER.join(p), names)  # type: ignore[arg-type]
        for p in itertools.product(*parts)
    ]


def _parts(defn: MultiPartitionsDefinition, key: str | None) -> dict[str, str]:
    return defn.get_partition_key_from_str(key or "").keys_by_dimension


@dataclass(frozen=True)
class DimensionPartitionMapping:
    """The downstream dimension an upstream dimension corresponds to, and how they map.

    Attributes:
        dimension_name: the downstream `MultiPartitionsDefinition`'s dimension.
        partition_mapping: the mapping between the two dimensions (e.g.
            `IdentityPartitionMapping()`, `TimeWindowPartitionMapping(start_offset=-1)`).
    """

    dimension_name: str
    partition_mapping: PartitionMapping


@dataclass(frozen=True, init=False)
class MultiPartitionMapping(PartitionMapping):
    """Maps two multi-partitioned assets dimension by dimension.

    Keys are upstream dimension names; each value names the downstream dimension it
    corresponds to and the mapping between them. As in Dagster, an upstream dimension
    left out is read whole (every key of it), and a downstream dimension no upstream
    dimension maps to does not narrow what is read.

    Example:
        >>> down = MultiPartitionsDefinition({
        ...     "day": DailyPartitionsDefinition(start_date="2024-01-01"),
        ...     "region": StaticPartitionsDefinition(["eu", "us"])})
        >>> up = MultiPartitionsDefinition({
        ...     "date": DailyPartitionsDefinition(start_date="2024-01-01"),
        ...     "region": StaticPartitionsDefinition(["eu", "us"])})
        >>> yesterday_and_today = TimeWindowPartitionMapping(start_offset=-1)
        >>> mapping = MultiPartitionMapping({
        ...     "date": DimensionPartitionMapping("day", yesterday_and_today),
        ...     "region": DimensionPartitionMapping("region", IdentityPartitionMapping())})
        >>> mapping.get_upstream_partition_keys("2024-01-03|us", down, up)
        ['2024-01-02|us', '2024-01-03|us']
    """

    downstream_mappings_by_upstream_dimension: Mapping[str, DimensionPartitionMapping]

    def __init__(
        self, downstream_mappings_by_upstream_dimension: Mapping[str, DimensionPartitionMapping]
    ) -> None:
        items = sorted(downstream_mappings_by_upstream_dimension.items())
        object.__setattr__(self, "downstream_mappings_by_upstream_dimension", dict(items))

    def __hash__(self) -> int:
        return hash(self.to_snapshot())

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The product, over upstream dimensions, of what each reads of `downstream_key`.

        Raises:
            IncompatiblePartitionMappingError: a side is not multi-partitioned.
        """
        down = _multi(downstream_def, "downstream", "MultiPartitionMapping")
        up = _multi(upstream_def, "upstream", "MultiPartitionMapping")
        down_parts = _parts(down, downstream_key)
        per_dim: list[Sequence[str | None]] = []
        for dim in up.partitions_defs:
            spec = self.downstream_mappings_by_upstream_dimension.get(dim.name)
            if spec is None:
                per_dim.append(dim.partitions_def.get_partition_keys(current_time))
                continue
            per_dim.append(
                spec.partition_mapping.get_upstream_partition_keys(
                    down_parts[spec.dimension_name],
                    down.get_partitions_def_for_dimension(spec.dimension_name),
                    dim.partitions_def,
                    current_time,
                )
            )
        return _join(per_dim, tuple(up.partition_dimension_names))

    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The product, over downstream dimensions, of what reads each part of `upstream_key`.

        Raises:
            IncompatiblePartitionMappingError: a side is not multi-partitioned.
        """
        down = _multi(downstream_def, "downstream", "MultiPartitionMapping")
        up = _multi(upstream_def, "upstream", "MultiPartitionMapping")
        up_parts = _parts(up, upstream_key)
        by_down = {
            spec.dimension_name: (up_dim, spec.partition_mapping)
            for up_dim, spec in self.downstream_mappings_by_upstream_dimension.items()
        }
        per_dim: list[Sequence[str | None]] = []
        for dim in down.partitions_defs:
            if dim.name not in by_down:
                per_dim.append(dim.partitions_def.get_partition_keys(current_time))
                continue
            up_dim, mapping = by_down[dim.name]
            per_dim.append(
                mapping.get_downstream_partition_keys(
                    up_parts[up_dim],
                    up.get_partitions_def_for_dimension(up_dim),
                    dim.partitions_def,
                    current_time,
                )
            )
        return _join(per_dim, tuple(down.partition_dimension_names))

    def validate(
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> None:
        """Both sides multi-partitioned, every named dimension present, each mapping valid."""
        down = _multi(downstream_def, "downstream", "MultiPartitionMapping")
        up = _multi(upstream_def, "upstream", "MultiPartitionMapping")
        seen: dict[str, str] = {}
        for up_dim, spec in self.downstream_mappings_by_upstream_dimension.items():
            if up_dim not in up.partition_dimension_names:
                raise IncompatiblePartitionMappingError(
                    f"MultiPartitionMapping maps upstream dimension {up_dim!r}, which the "
                    f"upstream does not have: use one of {', '.join(up.partition_dimension_names)}"
                )
            if spec.dimension_name not in down.partition_dimension_names:
                raise IncompatiblePartitionMappingError(
                    f"MultiPartitionMapping maps {up_dim!r} to downstream dimension "
                    f"{spec.dimension_name!r}, which the downstream does not have: use one of "
                    f"{', '.join(down.partition_dimension_names)}"
                )
            if spec.dimension_name in seen:
                raise IncompatiblePartitionMappingError(
                    f"MultiPartitionMapping maps both {seen[spec.dimension_name]!r} and "
                    f"{up_dim!r} to downstream dimension {spec.dimension_name!r}: map each "
                    "downstream dimension from one upstream dimension at most"
                )
            seen[spec.dimension_name] = up_dim
            try:
                spec.partition_mapping.validate(
                    down.get_partitions_def_for_dimension(spec.dimension_name),
                    up.get_partitions_def_for_dimension(up_dim),
                )
            except IncompatiblePartitionMappingError as exc:
                raise IncompatiblePartitionMappingError(
                    f"MultiPartitionMapping, upstream dimension {up_dim!r} -> downstream "
                    f"dimension {spec.dimension_name!r}: {exc}"
                ) from exc

    def to_snapshot(self) -> MultiMappingSnapshot:
        """Each mapped dimension pair and its mapping, sorted by upstream dimension."""
        return MultiMappingSnapshot(
            dimensions=tuple(
                DimensionMappingSnapshot(
                    upstream_dimension=up_dim,
                    downstream_dimension=spec.dimension_name,
                    partition_mapping=spec.partition_mapping.to_snapshot(),
                )
                for up_dim, spec in self.downstream_mappings_by_upstream_dimension.items()
            )
        )


@dataclass(frozen=True)
class MultiToSingleDimensionPartitionMapping(PartitionMapping):
    """Joins a multi-partitioned asset and a single-dimension one through one dimension.

    Either side may be the multi-partitioned one. A single-dimension key `k` corresponds
    to every multi key whose `partition_dimension_name` part is `k`. Without a name, the
    dimension is the one whose partitions definition equals the single side's (as in
    Dagster; there must be exactly one).

    Example:
        >>> regions = StaticPartitionsDefinition(["eu", "us"])
        >>> multi = MultiPartitionsDefinition(
        ...     {"color": StaticPartitionsDefinition(["red", "blue"]), "region": regions})
        >>> MultiToSingleDimensionPartitionMapping().get_upstream_partition_keys(
        ...     "eu", regions, multi)
        ['red|eu', 'blue|eu']
    """

    partition_dimension_name: str | None = None

    def _sides(
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> tuple[MultiPartitionsDefinition, PartitionsDefinition, str]:
        """(the multi side, the single side, the dimension joining them)."""
        down_multi = isinstance(downstream_def, MultiPartitionsDefinition)
        up_multi = isinstance(upstream_def, MultiPartitionsDefinition)
        if down_multi == up_multi or downstream_def is None or upstream_def is None:
            raise IncompatiblePartitionMappingError(
                "MultiToSingleDimensionPartitionMapping joins one multi-partitioned and one "
                f"single-dimension asset, not {_name(downstream_def)} downstream and "
                f"{_name(upstream_def)} upstream: use MultiPartitionMapping between two "
                "multi-partitioned assets, AllPartitionMapping with an unpartitioned one"
            )
        multi, single = (
            (downstream_def, upstream_def) if down_multi else (upstream_def, downstream_def)
        )
        assert isinstance(multi, MultiPartitionsDefinition)
        names = multi.partition_dimension_names
        if self.partition_dimension_name is not None:
            if self.partition_dimension_name not in names:
                raise IncompatiblePartitionMappingError(
                    f"MultiToSingleDimensionPartitionMapping names dimension "
                    f"{self.partition_dimension_name!r}, which the multi-partitioned side does "
                    f"not have: use one of {', '.join(names)}"
                )
            return multi, single, self.partition_dimension_name
        matching = [d.name for d in multi.partitions_defs if d.partitions_def == single]
        if len(matching) != 1:
            found = "none" if not matching else f"{', '.join(matching)}"
            raise IncompatiblePartitionMappingError(
                f"MultiToSingleDimensionPartitionMapping cannot tell which dimension of "
                f"{', '.join(names)} is {_name(single)} (matching: {found}): pass "
                "partition_dimension_name=..."
            )
        return multi, single, matching[0]

    def _to_single(
        self,
        multi: MultiPartitionsDefinition,
        key: str | None,
        single: PartitionsDefinition,
        dim: str,
        current_time: datetime | None,
    ) -> list[str | None]:
        part = _parts(multi, key)[dim]
        return [part] if single.has_partition_key(part, current_time) else []

    def _to_multi(
        self,
        multi: MultiPartitionsDefinition,
        key: str | None,
        dim: str,
        current_time: datetime | None,
    ) -> list[str | None]:
        dim_def = multi.get_partitions_def_for_dimension(dim)
        if key is None or not dim_def.has_partition_key(key, current_time):
            return []
        return list(multi.get_multipartition_keys_with_dimension_value(dim, key, current_time))

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The upstream keys sharing `downstream_key`'s value in the joining dimension.

        Raises:
            IncompatiblePartitionMappingError: the sides are not one multi, one single.
        """
        multi, single, dim = self._sides(downstream_def, upstream_def)
        if multi is downstream_def:
            return self._to_single(multi, downstream_key, single, dim, current_time)
        return self._to_multi(multi, downstream_key, dim, current_time)

    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The downstream keys sharing `upstream_key`'s value in the joining dimension.

        Raises:
            IncompatiblePartitionMappingError: the sides are not one multi, one single.
        """
        multi, single, dim = self._sides(downstream_def, upstream_def)
        if multi is upstream_def:
            return self._to_single(multi, upstream_key, single, dim, current_time)
        return self._to_multi(multi, upstream_key, dim, current_time)

    def validate(
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> None:
        """One side multi, one single, the joining dimension found and keyed like the single."""
        from conflux.sdk.partitions._mappings import IdentityPartitionMapping

        multi, single, dim = self._sides(downstream_def, upstream_def)
        try:
            IdentityPartitionMapping().validate(multi.get_partitions_def_for_dimension(dim), single)
        except IncompatiblePartitionMappingError as exc:
            raise IncompatiblePartitionMappingError(
                f"MultiToSingleDimensionPartitionMapping through dimension {dim!r}: {exc}"
            ) from exc

    def to_snapshot(self) -> MultiToSingleDimensionMappingSnapshot:
        """The dimension name as given (None: inferred where used)."""
        return MultiToSingleDimensionMappingSnapshot(
            partition_dimension_name=self.partition_dimension_name
        )


def default_multi_mapping(
    downstream_def: PartitionsDefinition, upstream_def: PartitionsDefinition
) -> PartitionMapping | None:
    """The default between different definitions where one side is multi, else None.

    * one multi and one single side, with exactly one dimension equal to the single
      side: `MultiToSingleDimensionPartitionMapping()` (Dagster's inference);
    * two multis with the same dimension names: `MultiPartitionMapping` of each
      dimension's own default (daily `date` downstream of hourly `date` reads its hours).
    """
    from conflux.sdk.partitions._mappings import default_partition_mapping

    down_multi = isinstance(downstream_def, MultiPartitionsDefinition)
    up_multi = isinstance(upstream_def, MultiPartitionsDefinition)
    if down_multi != up_multi:
        multi, single = (
            (downstream_def, upstream_def) if down_multi else (upstream_def, downstream_def)
        )
        assert isinstance(multi, MultiPartitionsDefinition)
        if sum(d.partitions_def == single for d in multi.partitions_defs) == 1:
            return MultiToSingleDimensionPartitionMapping()
        return None
    if not (isinstance(downstream_def, MultiPartitionsDefinition) and up_multi):
        return None
    assert isinstance(upstream_def, MultiPartitionsDefinition)
    names = downstream_def.partition_dimension_names
    if names != upstream_def.partition_dimension_names:
        return None
    return MultiPartitionMapping(
        {
            name: DimensionPartitionMapping(
                name,
                default_partition_mapping(
                    downstream_def.get_partitions_def_for_dimension(name),
                    upstream_def.get_partitions_def_for_dimension(name),
                ),
            )
            for name in names
        }
    )
