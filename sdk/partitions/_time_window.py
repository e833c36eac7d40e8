"""Partitions that are the windows between consecutive ticks of a cron schedule."""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conflux.events import DefinitionError, InvalidPartitionKeyError, TimeWindowPartitionsSnapshot
from conflux.sdk.partitions._base import PartitionsDefinition
from conflux.sdk.partitions._schedule import Schedule, schedule_for

if TYPE_CHECKING:
    from collections.abc import Sequence

_TINY = timedelta(microseconds=1)


class TimeWindow(NamedTuple):
    """A half-open window `[start, end)` of timezone-aware datetimes."""

    start: datetime
    end: datetime


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise DefinitionError(
            f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from None


def _parse_bound(value: str | datetime, fmt: str, tz: ZoneInfo, what: str) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(tz) if value.tzinfo else value.replace(tzinfo=tz)
    for form in (fmt, "%Y-%m-%d", "%Y-%m-%d-%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            parsed = datetime.strptime(value, form)
        except ValueError:
            continue
        return parsed.replace(tzinfo=tz)
    raise DefinitionError(
        f"{what} {value!r} does not match the format {fmt!r} (or YYYY-MM-DD): write e.g. "
        f"{datetime(2024, 1, 1).strftime(fmt)!r}"
    )


class TimeWindowPartitionsDefinition(PartitionsDefinition):
    """One partition per window between consecutive cron ticks, keyed by the window's start.

    A partition exists once its window has ended (`end_offset` adds windows past the last
    complete one, or removes them when negative); `end` (exclusive) stops the set.

    Daylight saving: keys are formatted in `timezone`. On a fall-back day an hourly
    schedule has two windows that start at the same wall-clock time; the second gets its
    UTC offset appended (e.g. `2024-10-27-02:00+0100`), so every key is unique and parses
    back to its window. Daily windows are 23 or 25 hours long on those days.

    Example:
        >>> every_6h = TimeWindowPartitionsDefinition(
        ...     cron_schedule="0 */6 * * *", start="2024-01-01-00:00", fmt="%Y-%m-%d-%H:%M"
        ... )
    """

    def __init__(
        self,
        start: str | datetime,
        fmt: str,
        end: str | datetime | None = None,
        timezone: str | None = None,
        end_offset: int = 0,
        *,
        cron_schedule: str,
    ) -> None:
        self.timezone = timezone or "UTC"
        self.tz = _zone(self.timezone)
        self.fmt = fmt
        self.cron_schedule = cron_schedule
        self.end_offset = end_offset
        self._schedule: Schedule = schedule_for(cron_schedule, self.tz)
        self.start = self._schedule.first_at_or_after(_parse_bound(start, fmt, self.tz, "start"))
        self.end = _parse_bound(end, fmt, self.tz, "end") if end is not None else None
        if self.end is not None and self.end <= self.start:
            raise DefinitionError(
                f"end {self.end.isoformat()} is not after start {self.start.isoformat()}: "
                "move end_date later"
            )
        self._cache: tuple[datetime | None, list[str], list[datetime]] | None = None

    # -- keys and windows -----------------------------------------------------------------

    def _key(self, start: datetime) -> str:
        local = start.astimezone(self.tz)
        key = local.strftime(self.fmt)
        if local.fold == 1 and "%z" not in self.fmt:
            earlier = local.replace(fold=0)
            if earlier.utcoffset() != local.utcoffset():
                key += local.strftime("%z")
        return key

    def _start_of(self, key: str) -> datetime | None:
        try:
            return datetime.strptime(key, self.fmt).replace(tzinfo=self.tz)
        except ValueError:
            pass
        if "%z" not in self.fmt:
            try:
                return datetime.strptime(key, self.fmt + "%z").astimezone(self.tz)
            except ValueError:
                return None
        return None

    def _last_start(self, current_time: datetime | None) -> datetime | None:
        """Start of the last window that exists at `current_time` (None: none does)."""
        now = (current_time or datetime.now(UTC)).astimezone(self.tz)
        last: datetime | None = None
        if now > self.start:
            complete_end = self._schedule.last_at_or_before(now)
            if complete_end > self.start:
                last = self._schedule.last_at_or_before(complete_end - _TINY)
        if last is None:
            if self.end_offset <= 0:
                return None
            last = self.shift(self.start, self.end_offset - 1)
        else:
            last = self.shift(last, self.end_offset)
        if self.end is not None and last >= self.end:
            last = self._schedule.last_at_or_before(self.end - _TINY)
        return last if last >= self.start else None

    def _windows(self, current_time: datetime | None) -> tuple[list[str], list[datetime]]:
        last = self._last_start(current_time)
        if self._cache is not None and self._cache[0] == last:
            return self._cache[1], self._cache[2]
        keys: list[str] = []
        starts: list[datetime] = []
        if last is not None:
            for tick in self._schedule.ticks(self.start):
                if tick > last:
                    break
                starts.append(tick)
                keys.append(self._key(tick))
        self._cache = (last, keys, starts)
        return keys, starts

    def get_partition_keys(self, current_time: datetime | None = None) -> Sequence[str]:
        """Every key that exists at `current_time` (default: now), oldest first."""
        return list(self._windows(current_time)[0])

    def get_num_partitions(self, current_time: datetime | None = None) -> int:
        """How many windows exist at `current_time`."""
        return len(self._windows(current_time)[0])

    def has_partition_key(self, key: str, current_time: datetime | None = None) -> bool:
        """True when `key` names an existing window (without listing every key)."""
        start = self._start_of(key)
        if start is None or start < self.start or not self._schedule.is_tick(start):
            return False
        if self._key(start) != key:
            return False
        last = self._last_start(current_time)
        return last is not None and start <= last

    def _index(self, keys: Sequence[str], key: str) -> int:
        start = self._start_of(key)
        assert start is not None
        _, starts = self._windows(None)
        return bisect_left(starts, start)

    def get_partition_keys_in_range(
        self, start: str, end: str, current_time: datetime | None = None
    ) -> list[str]:
        """The keys from `start` to `end`, both included."""
        self.validate_partition_key(start, current_time)
        self.validate_partition_key(end, current_time)
        keys, starts = self._windows(current_time)
        first, last = self._start_of(start), self._start_of(end)
        assert first is not None and last is not None  # validated above
        lo, hi = bisect_left(starts, first), bisect_left(starts, last)
        if lo > hi:
            raise InvalidPartitionKeyError(
                f"partition range {start}..{end} is empty: {start!r} comes after {end!r}; "
                "swap --from and --to"
            )
        return keys[lo : hi + 1]

    def time_window_for_partition_key(self, key: str) -> TimeWindow:
        """The window `[start, end)` that `key` names.

        Raises:
            InvalidPartitionKeyError: `key` is not the start of a window of this schedule.
        """
        start = self._start_of(key)
        if start is None or not self._schedule.is_tick(start) or start < self.start:
            raise InvalidPartitionKeyError(
                f"partition key {key!r} is not a window of this definition ({self.describe_keys()})"
            )
        return TimeWindow(start, self._schedule.next_after(start))

    def get_partition_key_for_time(self, moment: datetime) -> str | None:
        """The key of the window that contains `moment` (None before the first window)."""
        aware = moment if moment.tzinfo else moment.replace(tzinfo=self.tz)
        if aware < self.start:
            return None
        return self._key(self._schedule.last_at_or_before(aware))

    def windows_overlapping(self, start: datetime, end: datetime) -> list[TimeWindow]:
        """Every window of this schedule (existing or not) that overlaps `[start, end)`."""
        out: list[TimeWindow] = []
        first = start if start <= self.start else self._schedule.last_at_or_before(start)
        for tick in self._schedule.ticks(max(first, self.start)):
            if tick >= end or (self.end is not None and tick >= self.end):
                break
            nxt = self._schedule.next_after(tick)
            if nxt > start:
                out.append(TimeWindow(tick, nxt))
        return out

    def shift(self, moment: datetime, windows: int) -> datetime:
        """`moment` (a tick) moved by `windows` ticks, forward or back."""
        for _ in range(max(0, windows)):
            moment = self._schedule.next_after(moment)
        for _ in range(max(0, -windows)):
            moment = self._schedule.last_at_or_before(moment - _TINY)
        return moment

    def key_for_start(self, start: datetime) -> str:
        """The key of the window starting at `start`."""
        return self._key(start)

    def get_last_partition_window(self, current_time: datetime | None = None) -> TimeWindow | None:
        """The window of the last existing partition."""
        last = self._last_start(current_time)
        return TimeWindow(last, self._schedule.next_after(last)) if last is not None else None

    def describe_keys(self) -> str:
        """The key format, the first key and the bound, e.g. for error messages."""
        until = f" to before {self._key(self.end)}" if self.end else ""
        return (
            f"keys formatted {self.fmt!r} from {self._key(self.start)}{until}, "
            f"cron {self.cron_schedule!r} in {self.timezone}"
        )

    def to_snapshot(self) -> TimeWindowPartitionsSnapshot:
        """Cron, bounds, zone and format as data."""

        def wall(moment: datetime) -> str:
            return moment.astimezone(self.tz).replace(tzinfo=None).isoformat()

        return TimeWindowPartitionsSnapshot(
            cron_schedule=self.cron_schedule,
            start=wall(self.start),
            end=wall(self.end) if self.end is not None else None,
            timezone=self.timezone,
            fmt=self.fmt,
            end_offset=self.end_offset,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe_keys()})"
