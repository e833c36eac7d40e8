"""Partition mappings: which upstream partitions a downstream partition reads.

An unpartitioned side is written `None` (an unpartitioned asset has the one partition
`None`). Every mapping can say what it maps both ways and check, when definitions load,
that it can map between the two partitions definitions it joins.
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
from conflux.sdk.partitions._base import PartitionsDefinition
from conflux.sdk.partitions._static import StaticPartitionsDefinition
from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition

if TYPE_CHECKING:
    from datetime import datetime

Defn = PartitionsDefinition | None


def _all(defn: Defn, current_time: datetime | None) -> list[str | None]:
    return [None] if defn is None else list(defn.get_partition_keys(current_time))


class PartitionMapping(ABC):
    """How the partitions of a downstream asset map onto those of an upstream asset."""

    @abstractmethod
    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: Defn,
        upstream_def: Defn,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The upstream keys that `downstream_key` reads, in order."""

    @abstractmethod
    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: Defn,
        downstream_def: Defn,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The downstream keys that read `upstream_key`, in order."""

    @abstractmethod
    def to_snapshot(self) -> PartitionMappingSnapshot:
        """The data-only form published in a location's snapshot."""

    def validate(self, downstream_def: Defn, upstream_def: Defn) -> None:  # noqa: B027 - optional hook
        """Raise `IncompatiblePartitionMappingError` (with the fix) if it cannot map these."""


@dataclass(frozen=True)
class IdentityPartitionMapping(PartitionMapping):
    """Downstream partition `k` reads upstream partition `k` (the default for equal definitions)."""

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: Defn,
        upstream_def: Defn,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """`[downstream_key]` when the upstream has it, else nothing."""
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
        upstream_def: Defn,
        downstream_def: Defn,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """`[upstream_key]` when the downstream has it, else nothing."""
        if downstream_def is None:
            return [None]
        if upstream_key is not None and downstream_def.has_partition_key(
            upstream_key, current_time
        ):
            return [upstream_key]
        return []

    def validate(self, downstream_def: Defn, upstream_def: Defn) -> None:
        """Identity needs both sides partitioned alike (or both unpartitioned)."""
        if downstream_def is None or upstream_def is None:
            if downstream_def is not upstream_def:
                raise IncompatiblePartitionMappingError(
                    "IdentityPartitionMapping joins a partitioned and an unpartitioned asset: "
                    "use AllPartitionMapping or LastPartitionMapping"
                )
            return
        if downstream_def == upstream_def:
            return
        if isinstance(downstream_def, StaticPartitionsDefinition) and isinstance(
            upstream_def, StaticPartitionsDefinition
        ):
            shared = set(downstream_def.get_partition_keys()) & set(
                upstream_def.get_partition_keys()
            )
            if shared:
                return
        raise IncompatiblePartitionMappingError(
            f"IdentityPartitionMapping cannot map {downstream_def.describe_keys()} onto "
            f"{upstream_def.describe_keys()}: their keys differ; use TimeWindowPartitionMapping "
            "(two time-partitioned assets) or AllPartitionMapping"
        )

    def to_snapshot(self) -> IdentityMappingSnapshot:
        """The mapping as data."""
        return IdentityMappingSnapshot()


@dataclass(frozen=True)
class TimeWindowPartitionMapping(PartitionMapping):
    """A downstream window reads the upstream windows it overlaps.

    `start_offset` and `end_offset` shift the downstream window's start and end by that
    many downstream windows first: `start_offset=-1` also reads the previous window.

    Example:
        >>> # a daily asset reading its day's 24 hours and the last hour of the day before
        >>> AssetIn("hourly", partition_mapping=TimeWindowPartitionMapping(start_offset=-1))
    """

    start_offset: int = 0
    end_offset: int = 0

    def _windows(self, defn: Defn) -> TimeWindowPartitionsDefinition:
        assert isinstance(defn, TimeWindowPartitionsDefinition)
        return defn

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: Defn,
        upstream_def: Defn,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The existing upstream windows that overlap the (shifted) downstream window."""
        down, up = self._windows(downstream_def), self._windows(upstream_def)
        assert downstream_key is not None
        window = down.time_window_for_partition_key(downstream_key)
        start = down.shift(window.start, self.start_offset)
        end = down.shift(window.end, self.end_offset)
        keys = [up.key_for_start(w.start) for w in up.windows_overlapping(start, end)]
        return [k for k in keys if up.has_partition_key(k, current_time)]

    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: Defn,
        downstream_def: Defn,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The existing downstream windows whose (shifted) window overlaps the upstream one."""
        down, up = self._windows(downstream_def), self._windows(upstream_def)
        assert upstream_key is not None
        window = up.time_window_for_partition_key(upstream_key)
        start = down.shift(window.start, -max(self.end_offset, 0) - 1)
        end = down.shift(window.end, -min(self.start_offset, 0) + 1)
        out: list[str | None] = []
        for candidate in down.windows_overlapping(start, end):
            key = down.key_for_start(candidate.start)
            if not down.has_partition_key(key, current_time):
                continue
            if upstream_key in self.get_upstream_partition_keys(key, down, up, current_time):
                out.append(key)
        return out

    def validate(self, downstream_def: Defn, upstream_def: Defn) -> None:
        """Both sides must be partitioned by time."""
        for side, defn in (("downstream", downstream_def), ("upstream", upstream_def)):
            if not isinstance(defn, TimeWindowPartitionsDefinition):
                raise IncompatiblePartitionMappingError(
                    f"TimeWindowPartitionMapping needs time-partitioned assets, but the {side} is "
                    f"{'unpartitioned' if defn is None else defn.describe_keys()}: use "
                    "AllPartitionMapping or IdentityPartitionMapping"
                )

    def to_snapshot(self) -> TimeWindowMappingSnapshot:
        """The mapping and its offsets as data."""
        return TimeWindowMappingSnapshot(start_offset=self.start_offset, end_offset=self.end_offset)


@dataclass(frozen=True)
class AllPartitionMapping(PartitionMapping):
    """Every downstream partition reads every upstream partition."""

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: Defn,
        upstream_def: Defn,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """Every upstream key."""
        return _all(upstream_def, current_time)

    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: Defn,
        downstream_def: Defn,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """Every downstream key."""
        return _all(downstream_def, current_time)

    def to_snapshot(self) -> AllMappingSnapshot:
        """The mapping as data."""
        return AllMappingSnapshot()


@dataclass(frozen=True)
class LastPartitionMapping(PartitionMapping):
    """Every downstream partition reads the last upstream partition."""

    def get_upstream_partition_keys(
        self,
        downstream_key: str | None,
        downstream_def: Defn,
        upstream_def: Defn,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """The last upstream key (nothing if it has none yet)."""
        keys = _all(upstream_def, current_time)
        return keys[-1:]

    def get_downstream_partition_keys(
        self,
        upstream_key: str | None,
        upstream_def: Defn,
        downstream_def: Defn,
        current_time: datetime | None = None,
    ) -> list[str | None]:
        """Every downstream key if `upstream_key` is the last one, else nothing."""
        if _all(upstream_def, current_time)[-1:] == [upstream_key]:
            return _all(downstream_def, current_time)
        return []

    def to_snapshot(self) -> LastMappingSnapshot:
        """The mapping as data."""
        return LastMappingSnapshot()


def default_partition_mapping(downstream_def: Defn, upstream_def: Defn) -> PartitionMapping:
    """Dagster's default between two partitions definitions.

    Identity between equal definitions (and between static ones, over their shared keys);
    a time-window mapping between two time-partitioned assets of different cadence (a
    daily asset reads its day's hours); every upstream partition otherwise (an
    unpartitioned asset downstream of a partitioned one; an unpartitioned upstream is the
    single partition None).
    """
    if upstream_def is None or downstream_def is None:
        return AllPartitionMapping()
    if downstream_def == upstream_def:
        return IdentityPartitionMapping()
    if isinstance(downstream_def, TimeWindowPartitionsDefinition) and isinstance(
        upstream_def, TimeWindowPartitionsDefinition
    ):
        return TimeWindowPartitionMapping()
    return IdentityPartitionMapping()
