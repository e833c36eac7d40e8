"""Partition mappings: which upstream partitions a downstream partition reads.

An unpartitioned side is written `None`: an unpartitioned asset has the one partition
`None`, and an unpartitioned definition is `None`. Mappings return only keys that exist
at `current_time`, in the upstream's (or downstream's) order. Each mapping checks, when
definitions load, that it can map between the two definitions it joins (`validate`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conflux.events import (
    AllMappingSnapshot,
    IdentityMappingSnapshot,
    IncompatiblePartitionMappingError,
    LastMappingSnapshot,
    PartitionMappingSnapshot,
    TimeWindowMappingSnapshot,
)
from conflux.sdk.partitions._static import StaticPartitionsDefinition
from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.sdk.partitions._base import PartitionsDefinition


def _all(defn: PartitionsDefinition | None, current_time: datetime | None) -> list[str | None]:
    return [None] if defn is None else list(defn.get_partition_keys(current_time))


def _name(defn: PartitionsDefinition | None) -> str:
    return (
        "an unpartitioned asset"
        if defn is None
        else f"{type(defn).__name__} ({defn.describe_keys()})"
    )


class PartitionMapping(ABC):
    """How the partitions of a downstream asset map onto those of an upstream asset.

    Mappings are frozen values: equal when their snapshots are, safe to share.
    """

    @abstractmethod
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

    @abstractmethod
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

    @abstractmethod
    def to_snapshot(self) -> PartitionMappingSnapshot:
        """The data-only form published in a location's snapshot."""

    def validate(  # noqa: B027 - most mappings join anything; a hook, not a requirement
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> None:
        """Raise `IncompatiblePartitionMappingError`, saying the fix, if this cannot map them.

        Raises:
            IncompatiblePartitionMappingError: the mapping cannot join these definitions.
        """


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
    previous day's windows. Upstream windows that do not exist (before the upstream's
    start, or not ended yet) are left out rather than raised.

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

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: PartitionsDefinition | None,
        upstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The existing upstream windows that overlap the (shifted) downstream window.

        Raises:
            IncompatiblePartitionMappingError: a side is not partitioned by time.
            InvalidPartitionKeyError: `downstream_key` names no downstream window.
        """
        down = _time_windows(downstream_def, "downstream")
        up = _time_windows(upstream_def, "upstream")
        n = down._ordinal_of_key(downstream_key or "")
        if n is None:
            down.time_window_for_partition_key(downstream_key or "")  # raises, naming the key
            return []
        start = down._schedule.tick(n + self.start_offset)
        end = down._schedule.tick(n + 1 + self.end_offset)
        if start >= end:
            return []
        lo, hi = up._bounds(current_time)
        first = max(up._schedule.ordinal(start), lo)  # the window containing start
        last = min(up._schedule.ordinal_before(end), hi)  # the last window starting before end
        return list(up._keys_between(first, last))

    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: PartitionsDefinition | None,
        downstream_def: PartitionsDefinition | None,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The existing downstream windows whose (shifted) window overlaps the upstream one.

        Raises:
            IncompatiblePartitionMappingError: a side is not partitioned by time.
            InvalidPartitionKeyError: `upstream_key` names no upstream window.
        """
        down = _time_windows(downstream_def, "downstream")
        up = _time_windows(upstream_def, "upstream")
        window = up.time_window_for_partition_key(upstream_key or "")
        # Downstream k reads [tick(k + start_offset), tick(k + 1 + end_offset)), which
        # overlaps [window.start, window.end) exactly when k + start_offset <= the last
        # tick before window.end and k + 1 + end_offset > the last tick at window.start.
        first = down._schedule.ordinal(window.start) - self.end_offset
        last = down._schedule.ordinal_before(window.end) - self.start_offset
        if self.start_offset > self.end_offset:
            return []
        lo, hi = down._bounds(current_time)
        return list(down._keys_between(max(first, lo), min(last, hi)))

    def validate(
        self, downstream_def: PartitionsDefinition | None, upstream_def: PartitionsDefinition | None
    ) -> None:
        """Both sides must be partitioned by time."""
        _time_windows(downstream_def, "downstream")
        _time_windows(upstream_def, "upstream")

    def to_snapshot(self) -> TimeWindowMappingSnapshot:
        """The mapping and its offsets as data."""
        return TimeWindowMappingSnapshot(start_offset=self.start_offset, end_offset=self.end_offset)


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
