"""Partition mappings: which upstream partitions a downstream partition reads.

An unpartitioned side is written `None`: an unpartitioned asset has the one partition
`None`, and an unpartitioned definition is `None`. Mappings return only keys that exist
at `current_time`, in the upstream's (or downstream's) order. Each mapping checks, when
definitions load, that it can map between the two definitions it joins (`validate`).
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conflux.events import (
    AllMappingSnapshot,
    DefinitionError,
    IdentityMappingSnapshot,
    IncompatiblePartitionMappingError,
    LastMappingSnapshot,
    PartitionMappingSnapshot,
    TimeWindowMappingSnapshot,
)
from conflux.sdk.partitions._static import StaticPartitionsDefinition
from conflux.sdk.partitions._subset import (
    DefaultPartitionsSubset,
    PartitionsSubset,
    TimeWindowPartitionsSubset,
)
from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition
from conflux.sdk.partitions._upstream import (
    UpstreamPartitionsResult,
    bound,
    subset_of,
    unchecked_subset_of,
)

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.sdk.partitions._base import PartitionsDefinition
    from conflux.sdk.partitions._dynamic import DynamicPartitionsStore


def _all(defn: PartitionsDefinition | None, current_time: datetime | None) -> list[str | None]:
    return [None] if defn is None else list(defn.get_partition_keys(current_time))


def _name(defn: PartitionsDefinition | None) -> str:
    return (
        "an unpartitioned asset"
        if defn is None
        else f"{type(defn).__name__} ({defn.describe_keys()})"
    )


class PartitionMapping(ABC):  # noqa: B024 - abstract in intent: implement one pair (below)
    """How the partitions of a downstream asset map onto those of an upstream asset.

    Mappings are frozen values: equal when their snapshots are, safe to share. Each
    answers two ways: key by key (`get_upstream_partition_keys`, what the planner asks) and
    with subsets (`get_upstream_mapped_partitions_result_for_partitions`, Dagster's API,
    which also reports the upstream partitions required but nonexistent). A subclass
    implements one pair; each pair's default is written in terms of the other. A custom
    subclass maps in-process (`materialize`); the coordinator plans from snapshots, so
    only Conflux's own mappings can be published.
    """

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The existing upstream keys that `downstream_key` reads, in upstream order.

        `[None]` when the upstream is unpartitioned; `[]` when nothing it reads exists.
        """
        if upstream_def is None:
            return [None]
        subset = (
            None
            if downstream_def is None or downstream_key is None
            else (unchecked_subset_of(downstream_def, [downstream_key]))
        )
        result = self.get_upstream_mapped_partitions_result_for_partitions(
            subset, downstream_def, upstream_def, current_time
        )
        return _existing(upstream_def, result.partitions_subset, current_time)

    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The existing downstream keys that read `upstream_key`, in downstream order.

        `[None]` when the downstream is unpartitioned (and reads the key).
        """
        if downstream_def is None:
            return [None]
        if upstream_def is None or upstream_key is None:
            return _all(downstream_def, current_time)
        result = self.get_downstream_partitions_for_partitions(
            unchecked_subset_of(upstream_def, [upstream_key]),
            upstream_def,
            downstream_def,
            current_time,
        )
        return _existing(downstream_def, result, current_time)

    def get_upstream_mapped_partitions_result_for_partitions(
        self,
        downstream_partitions_subset: PartitionsSubset | None,
        downstream_partitions_def: PartitionsDefinition | None,
        upstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> UpstreamPartitionsResult:
        """The upstream partitions the downstream subset reads (Dagster's method).

        `None` for an unpartitioned downstream. The result holds the mapped partitions that
        exist at `current_time` and those required but nonexistent. Dynamic definitions
        answer from `dynamic_partitions_store` when one is given.
        """
        down = bound(downstream_partitions_def, dynamic_partitions_store)
        up = bound(upstream_partitions_def, dynamic_partitions_store)
        assert up is not None
        keys: list[str | None] = (
            [None]
            if downstream_partitions_subset is None
            else list(downstream_partitions_subset.get_partition_keys())
        )
        found: set[str] = set()
        for key in keys:
            found.update(
                k for k in self.get_upstream_partition_keys(key, down, up, current_time) if k
            )
        return UpstreamPartitionsResult(unchecked_subset_of(up, found), up.empty_subset())

    def get_downstream_partitions_for_partitions(
        self,
        upstream_partitions_subset: PartitionsSubset,
        upstream_partitions_def: PartitionsDefinition,
        downstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        """The downstream partitions that read the upstream subset (Dagster's method)."""
        up = bound(upstream_partitions_def, dynamic_partitions_store)
        down = bound(downstream_partitions_def, dynamic_partitions_store)
        assert down is not None
        found: set[str] = set()
        for key in upstream_partitions_subset.get_partition_keys():
            found.update(
                k for k in self.get_downstream_partition_keys(key, up, down, current_time) if k
            )
        return unchecked_subset_of(down, found)

    def validate_partition_mapping(
        self,
        upstream_partitions_def: PartitionsDefinition | None,
        downstream_partitions_def: PartitionsDefinition | None,
    ) -> None:
        """Dagster's name for `validate` (note the order: upstream first).

        Raises:
            IncompatiblePartitionMappingError: the mapping cannot join these definitions
                (a `DagsterInvalidDefinitionError`).
        """
        self.validate(downstream_partitions_def, upstream_partitions_def)

    @property
    def description(self) -> str:
        """One line on what the mapping does (Dagster shows it in its UI)."""
        doc = type(self).__doc__ or type(self).__name__
        return doc.strip().splitlines()[0]

    def to_snapshot(self) -> PartitionMappingSnapshot:
        """The data-only form published in a location's snapshot.

        Raises:
            DefinitionError: a custom mapping, which only Python code can evaluate.
        """
        raise DefinitionError(
            f"{type(self).__name__} is a custom PartitionMapping: it maps in-process "
            "(materialize), but a code location publishes its mappings as data for the "
            "coordinator, which runs no user code; use one of Conflux's mappings "
            "(StaticPartitionMapping maps arbitrary keys)"
        )

    def validate(  # noqa: B027 - most mappings join anything; a hook, not a requirement
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> None:
        """Raise `IncompatiblePartitionMappingError`, saying the fix, if this cannot map them.

        Raises:
            IncompatiblePartitionMappingError: the mapping cannot join these definitions.
        """


def _existing(
    defn: PartitionsDefinition, subset: PartitionsSubset, current_time: datetime | None
) -> list[str | None]:
    """The keys of `subset` that exist at `current_time`, in `defn`'s order."""
    if isinstance(subset, TimeWindowPartitionsSubset):
        return list(subset.existing(current_time).get_partition_keys())
    wanted = set(subset.get_partition_keys())
    if not wanted:
        return []
    return [k for k in defn.get_partition_keys(current_time) if k in wanted]


@dataclass(frozen=True)
class IdentityPartitionMapping(PartitionMapping):
    """Downstream partition `k` reads upstream partition `k`.

    The default between equal definitions. Between two static definitions it maps the
    keys they share (a key only one side has reads nothing); between two time-window
    definitions of one cron, zone and format it maps the windows both have.

    Example:
        >>> days = DailyPartitionsDefinition(start_date="2024-01-01")
        >>> IdentityPartitionMapping().get_upstream_partition_keys("2024-01-02", days, days)
        ['2024-01-02']
    """

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """`[downstream_key]` when the upstream has it, else `[]` (`[None]` if unpartitioned)."""
        if upstream_def is None:
            return [None]
        if downstream_key is not None and upstream_def.has_partition_key(
            downstream_key, current_time
        ):
            return [downstream_key]
        return []

    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """`[upstream_key]` when the downstream has it, else `[]` (`[None]` if unpartitioned)."""
        if downstream_def is None:
            return [None]
        if upstream_key is not None and downstream_def.has_partition_key(
            upstream_key, current_time
        ):
            return [upstream_key]
        return []

    def validate(
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> None:
        """Both sides partitioned alike: equal, static sharing keys, or time windows alike."""
        if downstream_def is None and upstream_def is None:
            return
        if downstream_def is None or upstream_def is None:
            raise IncompatiblePartitionMappingError(
                f"IdentityPartitionMapping cannot join {_name(downstream_def)} downstream and "
                f"{_name(upstream_def)} upstream: use AllPartitionMapping (every partition) or "
                "LastPartitionMapping (the latest one)"
            )
        if downstream_def == upstream_def:
            return
        if _same_dimensions(downstream_def, upstream_def):
            return
        if isinstance(downstream_def, StaticPartitionsDefinition) and isinstance(
            upstream_def, StaticPartitionsDefinition
        ):
            down_keys = set(downstream_def.get_partition_keys())
            if any(k in down_keys for k in upstream_def.get_partition_keys()):
                return
            raise IncompatiblePartitionMappingError(
                f"IdentityPartitionMapping joins {_name(downstream_def)} and "
                f"{_name(upstream_def)}, which share no key: give them common keys, or use "
                "AllPartitionMapping"
            )
        if isinstance(downstream_def, TimeWindowPartitionsDefinition) and isinstance(
            upstream_def, TimeWindowPartitionsDefinition
        ):
            down, up = downstream_def.to_snapshot(), upstream_def.to_snapshot()
            if (down.cron_schedule, down.timezone, down.fmt) == (
                up.cron_schedule,
                up.timezone,
                up.fmt,
            ):
                return
        raise IncompatiblePartitionMappingError(
            f"IdentityPartitionMapping cannot map {_name(downstream_def)} onto "
            f"{_name(upstream_def)}: their keys differ; use TimeWindowPartitionMapping "
            "(two time-partitioned assets) or AllPartitionMapping (every upstream partition)"
        )

    def get_upstream_mapped_partitions_result_for_partitions(
        self,
        downstream_partitions_subset: PartitionsSubset | None,
        downstream_partitions_def: PartitionsDefinition | None,
        upstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> UpstreamPartitionsResult:
        """The same keys upstream; those the upstream does not have are required but missing.

        Between equal definitions the subset maps to itself (existing or not), as in Dagster.
        """
        down = bound(downstream_partitions_def, dynamic_partitions_store)
        up = bound(upstream_partitions_def, dynamic_partitions_store)
        assert up is not None
        if downstream_partitions_subset is None:
            raise IncompatiblePartitionMappingError(
                "IdentityPartitionMapping maps partitions to partitions: the downstream asset "
                "is not partitioned; use AllPartitionMapping or LastPartitionMapping"
            )
        if down == up:
            return UpstreamPartitionsResult(downstream_partitions_subset, up.empty_subset())
        upstream_keys = set(up.get_partition_keys(current_time))
        downstream_keys = set(downstream_partitions_subset.get_partition_keys())
        return UpstreamPartitionsResult(
            subset_of(up, upstream_keys & downstream_keys, current_time),
            DefaultPartitionsSubset(downstream_keys - upstream_keys),
        )

    def get_downstream_partitions_for_partitions(
        self,
        upstream_partitions_subset: PartitionsSubset,
        upstream_partitions_def: PartitionsDefinition,
        downstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        """The same keys downstream, those the downstream has (all of them when equal)."""
        up = bound(upstream_partitions_def, dynamic_partitions_store)
        down = bound(downstream_partitions_def, dynamic_partitions_store)
        assert down is not None
        if up == down:
            return upstream_partitions_subset
        keys = set(down.get_partition_keys(current_time)) & set(
            upstream_partitions_subset.get_partition_keys()
        )
        return subset_of(down, keys, current_time)

    @property
    def description(self) -> str:
        """Dagster's description."""
        return (
            "Assumes upstream and downstream assets share the same partitions definition. "
            "Maps each partition in the downstream asset to the same partition in the upstream "
            "asset."
        )

    def to_snapshot(self) -> IdentityMappingSnapshot:
        """The mapping as data."""
        return IdentityMappingSnapshot()


def _same_dimensions(down: PartitionsDefinition, up: PartitionsDefinition) -> bool:
    """True for two multi-partitions definitions whose dimensions pair up for identity."""
    from conflux.sdk.partitions._multi import MultiPartitionsDefinition

    if not (
        isinstance(down, MultiPartitionsDefinition) and isinstance(up, MultiPartitionsDefinition)
    ):
        return False
    if down.partition_dimension_names != up.partition_dimension_names:
        return False
    try:
        for d, u in zip(down.partitions_defs, up.partitions_defs, strict=True):
            IdentityPartitionMapping().validate(d.partitions_def, u.partitions_def)
    except IncompatiblePartitionMappingError:
        return False
    return True


def _time_windows(defn: PartitionsDefinition | None, side: str) -> TimeWindowPartitionsDefinition:
    if not isinstance(defn, TimeWindowPartitionsDefinition):
        raise IncompatiblePartitionMappingError(
            f"TimeWindowPartitionMapping needs time-partitioned assets, but the {side} is "
            f"{_name(defn)}: use AllPartitionMapping, or IdentityPartitionMapping between "
            "equal definitions"
        )
    return defn


@dataclass(frozen=True)
class TimeWindowPartitionMapping(PartitionMapping):
    """A downstream window reads every upstream window that overlaps it.

    The default between two time-partitioned assets: a daily asset downstream of an
    hourly one reads that day's hours (23 or 25 on a daylight-saving change day); an
    hourly asset downstream of a daily one reads the day containing the hour.
    `start_offset` and `end_offset` move the downstream window's start and end by that
    many downstream windows first, as in Dagster: `start_offset=-1` also reads the
    previous day's windows. Offsets move the ends of a run of consecutive windows and
    stop at the upstream's existing span, as Dagster's do.

    Upstream windows that do not exist (before the upstream's start, or not ended yet)
    are not read. `get_upstream_mapped_partitions_result_for_partitions` reports them as
    required but nonexistent, unless `allow_nonexistent_upstream_partitions=True`. Both
    sides must be in the same time zone, as in Dagster.

    Example:
        >>> hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
        >>> daily = DailyPartitionsDefinition(start_date="2024-01-01")
        >>> hours = TimeWindowPartitionMapping().get_upstream_partition_keys(
        ...     "2024-01-02", daily, hourly
        ... )
        >>> len(hours), hours[0], hours[-1]
        (24, '2024-01-02-00:00', '2024-01-02-23:00')
    """

    start_offset: int = 0
    end_offset: int = 0
    allow_nonexistent_upstream_partitions: bool = False

    def get_upstream_mapped_partitions_result_for_partitions(
        self,
        downstream_partitions_subset: PartitionsSubset | None,
        downstream_partitions_def: PartitionsDefinition | None,
        upstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> UpstreamPartitionsResult:
        """The existing upstream windows the (shifted) downstream runs overlap, and the missing.

        Raises:
            IncompatiblePartitionMappingError: a side is not partitioned by time, or the
                two are in different time zones.
        """
        from conflux.sdk.partitions._time_mapping import map_windows

        down = _time_windows(downstream_partitions_def, "downstream")
        up = _time_windows(upstream_partitions_def, "upstream")
        found, missing = map_windows(
            down,
            up,
            _window_subset(down, downstream_partitions_subset),
            (self.start_offset, self.end_offset),
            downstream_to_upstream=True,
            allow_nonexistent=self.allow_nonexistent_upstream_partitions,
            current_time=current_time,
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
        """The existing downstream windows whose (shifted) windows overlap the upstream runs.

        Raises:
            IncompatiblePartitionMappingError: a side is not partitioned by time, or the
                two are in different time zones.
        """
        from conflux.sdk.partitions._time_mapping import map_windows

        down = _time_windows(downstream_partitions_def, "downstream")
        up = _time_windows(upstream_partitions_def, "upstream")
        found, _ = map_windows(
            up,
            down,
            _window_subset(up, upstream_partitions_subset),
            (-self.end_offset, -self.start_offset),
            downstream_to_upstream=False,
            allow_nonexistent=True,
            current_time=current_time,
        )
        return found

    def validate(
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> None:
        """Both sides must be partitioned by time, in the same zone."""
        from conflux.sdk.partitions._time_mapping import check_zones

        check_zones(
            _time_windows(upstream_def, "upstream"), _time_windows(downstream_def, "downstream")
        )

    @property
    def description(self) -> str:
        """Dagster's description."""
        text = (
            "Maps a downstream partition to any upstream partition with an overlapping time window."
        )
        if self.start_offset or self.end_offset:
            text += (
                " The start and end of the upstream time window is offsetted by "
                f"{self.start_offset} and {self.end_offset} partitions respectively."
            )
        return text

    def to_snapshot(self) -> TimeWindowMappingSnapshot:
        """The mapping and its offsets as data."""
        return TimeWindowMappingSnapshot(
            start_offset=self.start_offset,
            end_offset=self.end_offset,
            allow_nonexistent_upstream_partitions=self.allow_nonexistent_upstream_partitions,
        )


def _window_subset(
    defn: TimeWindowPartitionsDefinition, subset: PartitionsSubset | None
) -> TimeWindowPartitionsSubset:
    """`subset` as windows of `defn` (a key subset is read key by key, existing or not)."""
    if isinstance(subset, TimeWindowPartitionsSubset):
        return subset
    if subset is None:
        raise IncompatiblePartitionMappingError(
            "TimeWindowPartitionMapping maps windows to windows: pass the downstream subset"
        )
    runs = [(n, n) for n in (defn.ordinal_at_or_after_key(k) for k in subset.get_partition_keys())]
    return defn.empty_subset().with_ordinal_runs(runs)


@dataclass(frozen=True)
class AllPartitionMapping(PartitionMapping):
    """Every downstream partition reads every upstream partition.

    The default for an unpartitioned asset downstream of a partitioned one.

    Example:
        >>> colors = StaticPartitionsDefinition(["red", "blue"])
        >>> AllPartitionMapping().get_upstream_partition_keys(None, None, colors)
        ['red', 'blue']
    """

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """Every existing upstream key (`[None]` if the upstream is unpartitioned)."""
        return _all(upstream_def, current_time)

    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """Every existing downstream key (`[None]` if the downstream is unpartitioned)."""
        return _all(downstream_def, current_time)

    def get_upstream_mapped_partitions_result_for_partitions(
        self,
        downstream_partitions_subset: PartitionsSubset | None,
        downstream_partitions_def: PartitionsDefinition | None,
        upstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> UpstreamPartitionsResult:
        """Every upstream partition existing at `current_time`."""
        up = bound(upstream_partitions_def, dynamic_partitions_store)
        assert up is not None
        return UpstreamPartitionsResult(
            up.subset_with_all_partitions(current_time), up.empty_subset()
        )

    def get_downstream_partitions_for_partitions(
        self,
        upstream_partitions_subset: PartitionsSubset,
        upstream_partitions_def: PartitionsDefinition,
        downstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        """Every downstream partition, unless the upstream subset is empty."""
        down = bound(downstream_partitions_def, dynamic_partitions_store)
        assert down is not None
        if len(upstream_partitions_subset) == 0:
            return down.empty_subset()
        return down.subset_with_all_partitions(current_time)

    @property
    def description(self) -> str:
        """Dagster's description."""
        return "Each downstream partition depends on all partitions of the upstream asset."

    def to_snapshot(self) -> AllMappingSnapshot:
        """The mapping as data."""
        return AllMappingSnapshot()


@dataclass(frozen=True)
class LastPartitionMapping(PartitionMapping):
    """Every downstream partition reads the last existing upstream partition.

    Example:
        >>> colors = StaticPartitionsDefinition(["red", "blue"])
        >>> LastPartitionMapping().get_upstream_partition_keys(None, None, colors)
        ['blue']
    """

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The last existing upstream key (`[]` if none exists, `[None]` if unpartitioned)."""
        if upstream_def is None:
            return [None]
        last = upstream_def.get_last_partition_key(current_time)
        return [last] if last is not None else []

    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """Every existing downstream key if `upstream_key` is the last one, else `[]`."""
        if self.get_upstream_partition_keys(None, downstream_def, upstream_def, current_time) != [
            upstream_key
        ]:
            return []
        return _all(downstream_def, current_time)

    def get_upstream_mapped_partitions_result_for_partitions(
        self,
        downstream_partitions_subset: PartitionsSubset | None,
        downstream_partitions_def: PartitionsDefinition | None,
        upstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> UpstreamPartitionsResult:
        """The last upstream partition existing at `current_time` (none: empty)."""
        up = bound(upstream_partitions_def, dynamic_partitions_store)
        assert up is not None
        last = up.get_last_partition_key(current_time)
        found = up.empty_subset() if last is None else unchecked_subset_of(up, [last])
        return UpstreamPartitionsResult(found, up.empty_subset())

    def get_downstream_partitions_for_partitions(
        self,
        upstream_partitions_subset: PartitionsSubset,
        upstream_partitions_def: PartitionsDefinition,
        downstream_partitions_def: PartitionsDefinition,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        """Every downstream partition if the subset holds the last upstream one, else none."""
        up = bound(upstream_partitions_def, dynamic_partitions_store)
        down = bound(downstream_partitions_def, dynamic_partitions_store)
        assert up is not None and down is not None
        last = up.get_last_partition_key(current_time)
        if last is not None and last in upstream_partitions_subset:
            return down.subset_with_all_partitions(current_time)
        return down.empty_subset()

    @property
    def description(self) -> str:
        """Dagster's description."""
        return "Each downstream partition depends on the last partition of the upstream asset."

    def to_snapshot(self) -> LastMappingSnapshot:
        """The mapping as data."""
        return LastMappingSnapshot()


def default_partition_mapping(
    downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
) -> PartitionMapping:
    """The mapping a dependency gets when it names none (Dagster's defaults).

    * equal definitions (or both unpartitioned): identity;
    * both partitioned by time, of different cadence, zone or bounds: a time-window
      mapping (a daily asset reads its day's hours);
    * either side unpartitioned: every upstream partition (an unpartitioned upstream is
      the one partition `None`);
    * anything else, such as two different static definitions: identity over the keys
      they share. `validate` then refuses definitions that share no key (and a static
      definition joined to a time-window one), naming the mapping to write instead;
    * a multi-partitioned side (see `default_multi_mapping`): through the one dimension
      equal to a single-dimension side, or dimension by dimension between two multis.
    """
    if downstream_def is None or upstream_def is None:
        return (
            AllPartitionMapping()
            if downstream_def is not upstream_def
            else IdentityPartitionMapping()
        )
    if downstream_def == upstream_def:
        return IdentityPartitionMapping()
    if isinstance(downstream_def, TimeWindowPartitionsDefinition) and isinstance(
        upstream_def, TimeWindowPartitionsDefinition
    ):
        return TimeWindowPartitionMapping()
    from conflux.sdk.partitions._multi_mappings import default_multi_mapping  # imports this

    return default_multi_mapping(downstream_def, upstream_def) or IdentityPartitionMapping()
