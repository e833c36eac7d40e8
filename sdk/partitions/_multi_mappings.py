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
from conflux.sdk.partitions._multi import (
    DELIMITER,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    PartitionDimensionDefinition,
)
from conflux.sdk.partitions._subset import DefaultPartitionsSubset
from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition
from conflux.sdk.partitions._upstream import UpstreamPartitionsResult, bound, subset_of

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from conflux.sdk.partitions._base import PartitionsDefinition
    from conflux.sdk.partitions._dynamic import DynamicPartitionsStore
    from conflux.sdk.partitions._subset import PartitionsSubset


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

    def _dependencies(self) -> list[DimensionDependency]:
        return [
            DimensionDependency(spec.partition_mapping, up_dim, spec.dimension_name)
            for up_dim, spec in self.downstream_mappings_by_upstream_dimension.items()
        ]

    def get_upstream_mapped_partitions_result_for_partitions(
        self,
        downstream_partitions_subset: PartitionsSubset | None,
        downstream_partitions_def: PartitionsDefinition | None,
        upstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> UpstreamPartitionsResult:
        """Each mapped dimension mapped on its own, crossed with the unmapped ones' keys.

        Raises:
            IncompatiblePartitionMappingError: a side is not multi-partitioned, or a named
                dimension is missing.
        """
        down = bound(downstream_partitions_def, dynamic_partitions_store)
        up = bound(upstream_partitions_def, dynamic_partitions_store)
        self._check_dimensions(down, up)
        assert down is not None and up is not None and downstream_partitions_subset is not None
        found, missing = map_by_dimension(
            self._dependencies(), down, downstream_partitions_subset, up, False, current_time
        )
        return UpstreamPartitionsResult(found, missing)

    def get_downstream_partitions_for_partitions(
        self,
        upstream_partitions_subset: PartitionsSubset,
        upstream_partitions_def: PartitionsDefinition,
        downstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        """Each mapped dimension mapped on its own, crossed with the unmapped ones' keys.

        Raises:
            IncompatiblePartitionMappingError: a side is not multi-partitioned, or a named
                dimension is missing.
        """
        up = bound(upstream_partitions_def, dynamic_partitions_store)
        down = bound(downstream_partitions_def, dynamic_partitions_store)
        self._check_dimensions(down, up)
        assert down is not None and up is not None
        found, _ = map_by_dimension(
            self._dependencies(), up, upstream_partitions_subset, down, True, current_time
        )
        return found

    @property
    def description(self) -> str:
        """Each mapped dimension pair and its mapping, one per line (Dagster's wording)."""
        return "\n ".join(
            f"Upstream dimension '{up_dim}' mapped to downstream dimension "
            f"'{spec.dimension_name}' using {type(spec.partition_mapping).__name__}."
            for up_dim, spec in self.downstream_mappings_by_upstream_dimension.items()
        )

    def _check_dimensions(
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> None:
        down = _multi(downstream_def, "downstream", "MultiPartitionMapping")
        up = _multi(upstream_def, "upstream", "MultiPartitionMapping")
        for up_dim, spec in self.downstream_mappings_by_upstream_dimension.items():
            if up_dim not in up.partition_dimension_names:
                raise IncompatiblePartitionMappingError(
                    "Dimension mapping has an upstream dimension name that is not in the "
                    f"upstream partitions def: {up_dim!r}; use one of "
                    f"{', '.join(up.partition_dimension_names)}"
                )
            if spec.dimension_name not in down.partition_dimension_names:
                raise IncompatiblePartitionMappingError(
                    "Dimension mapping has a downstream dimension name that is not in the "
                    f"downstream partitions def: {spec.dimension_name!r}; use one of "
                    f"{', '.join(down.partition_dimension_names)}"
                )

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
class DimensionDependency:
    """One dimension of one side read through a mapping from one dimension of the other.

    `None` names the whole side when it is not multi-partitioned.
    """

    mapping: PartitionMapping
    upstream_dimension: str | None
    downstream_dimension: str | None


def _dimension_def(defn: PartitionsDefinition, dimension: str | None) -> PartitionsDefinition:
    if dimension is None:
        return defn
    assert isinstance(defn, MultiPartitionsDefinition)
    return defn.get_partitions_def_for_dimension(dimension)


def map_by_dimension(
    deps: Sequence[DimensionDependency],
    a_def: PartitionsDefinition,
    a_subset: PartitionsSubset,
    b_def: PartitionsDefinition,
    a_upstream_of_b: bool,
    current_time: datetime | None,
) -> tuple[PartitionsSubset, PartitionsSubset]:
    """Map a subset of `a_def` to `b_def` dimension by dimension (Dagster's algorithm).

    Each key of `a` is split into its dimensions' keys; each mapped dimension's key is
    mapped on its own, unmapped dimensions of `b` contribute all their keys, and the
    results are crossed. Returns (mapped subset of `b`, keys required but nonexistent);
    the second is empty when `a` is upstream of `b`.
    """
    a_multi = isinstance(a_def, MultiPartitionsDefinition)
    by_a: dict[str | None, tuple[str | None, PartitionMapping]] = {
        (dep.upstream_dimension if a_upstream_of_b else dep.downstream_dimension): (
            dep.downstream_dimension if a_upstream_of_b else dep.upstream_dimension,
            dep.mapping,
        )
        for dep in deps
    }
    a_keys = list(a_subset.get_partition_keys())
    values: dict[str | None, set[str]] = {name: set() for name in by_a}
    split: list[dict[str | None, str]] = []
    for key in a_keys:
        parts: dict[str | None, str] = (
            dict(_parts(a_def, key)) if a_multi else {None: key}  # type: ignore[arg-type]
        )
        split.append(parts)
        for name in by_a:
            values[name].add(parts[name])
    mapped: dict[str | None, dict[str, list[str]]] = {name: {} for name in by_a}
    missing: set[str] = set()
    for a_dim, (b_dim, mapping) in by_a.items():
        a_dim_def, b_dim_def = _dimension_def(a_def, a_dim), _dimension_def(b_def, b_dim)
        for value in values[a_dim]:
            single = subset_of(a_dim_def, [value], current_time)
            if a_upstream_of_b:
                out = mapping.get_downstream_partitions_for_partitions(
                    single, a_dim_def, b_dim_def, current_time
                )
                mapped[a_dim][value] = list(out.get_partition_keys())
            else:
                result = mapping.get_upstream_mapped_partitions_result_for_partitions(
                    single, a_dim_def, b_dim_def, current_time
                )
                mapped[a_dim][value] = list(result.partitions_subset.get_partition_keys())
                missing.update(result.required_but_nonexistent_subset.get_partition_keys())
    b_dims: list[str | None] = (
        list(b_def.partition_dimension_names)
        if isinstance(b_def, MultiPartitionsDefinition)
        else [None]
    )
    mapped_b = [b for b, _ in by_a.values()]
    unmapped_b = [name for name in b_dims if name not in mapped_b]
    unmapped_keys = [
        list(_dimension_def(b_def, n).get_partition_keys(current_time)) for n in unmapped_b
    ]
    names = [*mapped_b, *unmapped_b]
    b_keys: set[str] = set()
    for parts in split:
        choices = [mapped[a_dim][parts[a_dim]] for a_dim in by_a]
        for combo in itertools.product(*choices, *unmapped_keys):
            if len(combo) > 1:
                b_keys.add(
                    MultiPartitionKey({str(n): k for n, k in zip(names, combo, strict=True)})
                )
            elif combo:
                b_keys.add(combo[0])
    return subset_of(b_def, b_keys, current_time), DefaultPartitionsSubset(missing)


@dataclass(frozen=True)
class MultiToSingleDimensionPartitionMapping(PartitionMapping):
    """Joins a multi-partitioned asset and a single-dimension one through one dimension.

    Either side may be the multi-partitioned one. A single-dimension key `k` corresponds
    to every multi key whose joining dimension's part is `k` (through a
    `TimeWindowPartitionMapping` when the joining dimension is partitioned by time but
    differently from the single side). Which dimension joins, as in Dagster: the one
    whose partitions definition equals the single side's, else, when the single side is
    partitioned by time, the multi side's one time dimension. `partition_dimension_name`
    narrows the choice to that dimension (Dagster accepts the argument but then infers
    anyway; Conflux uses it).

    Example:
        >>> regions = StaticPartitionsDefinition(["eu", "us"])
        >>> multi = MultiPartitionsDefinition(
        ...     {"color": StaticPartitionsDefinition(["red", "blue"]), "region": regions})
        >>> MultiToSingleDimensionPartitionMapping().get_upstream_partition_keys(
        ...     "eu", regions, multi)
        ['red|eu', 'blue|eu']
    """

    partition_dimension_name: str | None = None

    def dimension_dependency(
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> DimensionDependency:
        """The joining dimension and how its keys map to the single side's.

        Raises:
            IncompatiblePartitionMappingError: the sides are not one multi and one single,
                or no dimension (or more than one) joins them.
        """
        from conflux.sdk.partitions._mappings import (
            IdentityPartitionMapping,
            TimeWindowPartitionMapping,
        )

        down_multi = isinstance(downstream_def, MultiPartitionsDefinition)
        up_multi = isinstance(upstream_def, MultiPartitionsDefinition)
        if down_multi == up_multi or downstream_def is None or upstream_def is None:
            raise IncompatiblePartitionMappingError(
                "Can only use MultiToSingleDimensionPartitionMapping when upstream asset is "
                "multipartitioned and the downstream asset is single dimensional, or vice "
                f"versa; not {_name(downstream_def)} downstream and {_name(upstream_def)} "
                "upstream: use MultiPartitionMapping between two multi-partitioned assets, "
                "AllPartitionMapping with an unpartitioned one"
            )
        multi, single = (
            (downstream_def, upstream_def) if down_multi else (upstream_def, downstream_def)
        )
        assert isinstance(multi, MultiPartitionsDefinition)
        dims = list(multi.partitions_defs)
        if self.partition_dimension_name is not None:
            dims = [d for d in dims if d.name == self.partition_dimension_name]
            if not dims:
                raise IncompatiblePartitionMappingError(
                    f"Provided partition dimension name {self.partition_dimension_name} not found "
                    f"in the multi-partitioned side: use one of "
                    f"{', '.join(multi.partition_dimension_names)}"
                )
        matching = [d for d in dims if d.partitions_def == single]
        chosen: PartitionDimensionDefinition | None = None
        mapping: PartitionMapping | None = None
        if len(matching) == 1:
            chosen, mapping = matching[0], IdentityPartitionMapping()
        elif len(matching) > 1:
            raise IncompatiblePartitionMappingError(
                "partition dimension name must be specified when multiple dimensions of the "
                f"MultiPartitionsDefinition match the single dimension partitions def "
                f"({', '.join(d.name for d in matching)}): pass partition_dimension_name=..."
            )
        else:
            times = [
                d for d in dims if isinstance(d.partitions_def, TimeWindowPartitionsDefinition)
            ]
            if len(times) == 1 and isinstance(single, TimeWindowPartitionsDefinition):
                chosen, mapping = times[0], TimeWindowPartitionMapping()
            elif self.partition_dimension_name is not None:
                # Named, and neither rule applies: the keys the two share (validated).
                chosen, mapping = dims[0], IdentityPartitionMapping()
        if chosen is None or mapping is None:
            raise IncompatiblePartitionMappingError(
                "MultiToSingleDimensionPartitionMapping can only be used when: (a) The single "
                "dimensional partitions definition is a dimension of the "
                "MultiPartitionsDefinition. "
                "(b) The single dimensional partitions definition is a "
                "TimeWindowPartitionsDefinition and the MultiPartitionsDefinition has a single "
                f"time dimension. Neither holds for {_name(single)} and the dimensions "
                f"{', '.join(multi.partition_dimension_names)}: pass partition_dimension_name=... "
                "naming the dimension that carries the single side's keys"
            )
        return DimensionDependency(
            mapping,
            upstream_dimension=chosen.name if up_multi else None,
            downstream_dimension=chosen.name if down_multi else None,
        )

    def get_upstream_mapped_partitions_result_for_partitions(
        self,
        downstream_partitions_subset: PartitionsSubset | None,
        downstream_partitions_def: PartitionsDefinition | None,
        upstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> UpstreamPartitionsResult:
        """The upstream keys sharing each downstream key's value in the joining dimension.

        Raises:
            IncompatiblePartitionMappingError: the sides are not one multi, one single.
        """
        down = bound(downstream_partitions_def, dynamic_partitions_store)
        up = bound(upstream_partitions_def, dynamic_partitions_store)
        assert up is not None
        dep = self.dimension_dependency(down, up)
        if downstream_partitions_subset is None or down is None:
            raise IncompatiblePartitionMappingError(
                "MultiToSingleDimensionPartitionMapping: the downstream asset is not partitioned"
            )
        found, missing = map_by_dimension(
            [dep], down, downstream_partitions_subset, up, False, current_time
        )
        return UpstreamPartitionsResult(found, missing)

    def get_downstream_partitions_for_partitions(
        self,
        upstream_partitions_subset: PartitionsSubset,
        upstream_partitions_def: PartitionsDefinition,
        downstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        """The downstream keys sharing each upstream key's value in the joining dimension.

        Raises:
            IncompatiblePartitionMappingError: the sides are not one multi, one single.
        """
        up = bound(upstream_partitions_def, dynamic_partitions_store)
        down = bound(downstream_partitions_def, dynamic_partitions_store)
        assert up is not None and down is not None
        dep = self.dimension_dependency(down, up)
        found, _ = map_by_dimension([dep], up, upstream_partitions_subset, down, True, current_time)
        return found

    def validate(
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> None:
        """One side multi, one single, and a joining dimension found (see the class)."""
        dep = self.dimension_dependency(downstream_def, upstream_def)
        try:
            dep.mapping.validate(
                _dimension_def(downstream_def, dep.downstream_dimension),  # type: ignore[arg-type]
                _dimension_def(upstream_def, dep.upstream_dimension),  # type: ignore[arg-type]
            )
        except IncompatiblePartitionMappingError as exc:
            dimension = dep.upstream_dimension or dep.downstream_dimension
            raise IncompatiblePartitionMappingError(
                f"MultiToSingleDimensionPartitionMapping through dimension {dimension!r}: {exc}"
            ) from exc

    @property
    def description(self) -> str:
        """Dagster's description."""
        return (
            "Assumes that the single-dimension partitions definition is a dimension of the "
            "multi-partitions definition. For a single-dimension partition key X, any "
            "multi-partition key with X in the matching dimension is a dependency."
        )

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
