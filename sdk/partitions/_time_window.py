"""Partitions that are the windows between consecutive ticks of a cron schedule."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conflux.events import DefinitionError, InvalidPartitionKeyError, TimeWindowPartitionsSnapshot
from conflux.sdk.partitions._base import PartitionsDefinition
from conflux.sdk.partitions._cron_ticks import schedule_for
from conflux.sdk.partitions._keys import KeyFormat

if TYPE_CHECKING:
    from collections.abc import Sequence


# Guards the key caches of every definition (one module lock keeps definitions copyable).
_KEYS_LOCK = threading.Lock()


class TimeWindow(NamedTuple):
    """A half-open window `[start, end)` of timezone-aware datetimes in the definition's zone.

    Compare windows from different zones in UTC (`start.astimezone(UTC)`): Python never
    finds the second occurrence of a repeated wall-clock time (fold=1) equal to a
    datetime of another zone.
    """

    start: datetime
    end: datetime


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DefinitionError(
            f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from None


def _parse_bound(value: str | datetime, fmt: str, tz: ZoneInfo, what: str) -> datetime:
    """A start or end as an aware datetime: naive values are wall-clock times in `tz`."""
    if isinstance(value, datetime):
        return value.astimezone(tz) if value.tzinfo else value.replace(tzinfo=tz)
    for form in (fmt, "%Y-%m-%d") if "%z" in fmt else (fmt, fmt + "%z", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(value, form)
        except ValueError:
            continue
        return parsed.astimezone(tz) if parsed.tzinfo else parsed.replace(tzinfo=tz)
    try:
        return _parse_bound(datetime.fromisoformat(value), fmt, tz, what)
    except ValueError:
        pass
    example = datetime(2024, 1, 31, 13).strftime(fmt)
    raise DefinitionError(
        f"{what} {value!r} does not match the format {fmt!r}: write it like {example!r} "
        "(or YYYY-MM-DD, or pass a datetime)"
    )


def _wall(moment: datetime, tz: ZoneInfo) -> str:
    """ISO 8601 wall-clock time in `tz`; with its offset only when the time occurs twice."""
    local = moment.astimezone(tz)
    first, second = local.replace(fold=0).utcoffset(), local.replace(fold=1).utcoffset()
    if local.fold and first is not None and second is not None and first > second:
        return local.isoformat()
    return local.replace(tzinfo=None).isoformat()


class TimeWindowPartitionsDefinition(PartitionsDefinition):
    """One partition per window between consecutive cron ticks, keyed by the window's start.

    Dagster's semantics, which callers may rely on:

    * The first window starts at the first tick at or after `start`.
    * A partition exists once its window has ended: the last key at `current_time`
      (default now) is the last complete window. `end_offset=1` adds the window in
      progress, `end_offset=-1` drops the last complete one.
    * `end` is exclusive: only windows that end by `end` exist, whatever the time.
    * Keys are the window start formatted with `fmt` in `timezone` (default UTC).
      String bounds are read with `fmt` (or as `YYYY-MM-DD`); naive datetimes are
      wall-clock times in `timezone`, aware ones are converted to it.

    Daylight saving: windows follow the wall clock. A daily window is 23 or 25 hours
    long on a change day; an hourly schedule has 23 windows on a spring-forward day
    and 25 on a fall-back day, where the repeated hour starts two windows. Their keys
    would be equal, so the second gets its UTC offset appended, as Dagster does:
    `2024-10-27-02:00` and `2024-10-27-02:00+0100` in Europe/Berlin. Both parse back
    to their own window. A schedule time that does not exist fires at the end of the
    gap (02:30 becomes 03:00); one that occurs twice fires at its later occurrence,
    unless the schedule fires every hour.

    Listing, counting and looking up keys is arithmetic for hourly, daily, weekly and
    monthly crons: a century of hourly keys lists in well under a second, and
    `get_num_partitions` and `has_partition_key` never list keys.

    Example:
        >>> every_6h = TimeWindowPartitionsDefinition(
        ...     start="2024-01-01-00:00", fmt="%Y-%m-%d-%H:%M", cron_schedule="0 */6 * * *"
        ... )
        >>> every_6h.get_partition_keys(current_time=datetime(2024, 1, 1, 13, tzinfo=UTC))
        ['2024-01-01-00:00', '2024-01-01-06:00']
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
        self._timezone = timezone or "UTC"
        tz = _zone(self._timezone)
        self._fmt = fmt
        self._cron = cron_schedule
        self._end_offset = end_offset
        raw_start = _parse_bound(start, fmt, tz, "start")
        self._end = _parse_bound(end, fmt, tz, "end") if end is not None else None
        last_year = max(raw_start, self._end or datetime.now(UTC)).year
        years = range(max(1, raw_start.year - 1), min(9999, last_year + 3))
        self._schedule = schedule_for(cron_schedule, tz, raw_start, years)
        self._format = KeyFormat(fmt, tz, self._schedule.repeats_every_hour)
        self._lo = self._schedule.ordinal_at_or_after(raw_start)
        self._start = self._schedule.tick(self._lo).astimezone(tz)
        # The last window that ends by `end` (end is exclusive).
        self._end_hi = self._schedule.ordinal(self._end) - 1 if self._end is not None else None
        if self._end_hi is not None and self._end_hi < self._lo:
            raise DefinitionError(
                f"no window of {cron_schedule!r} fits between start {_wall(raw_start, tz)} and "
                f"end {_wall(self._end or raw_start, tz)} (end is exclusive): move end later"
            )
        first, second = (self._format.format(self._schedule.tick(self._lo + i)) for i in (0, 1))
        if first == second:
            raise DefinitionError(
                f"fmt {fmt!r} gives consecutive windows of {cron_schedule!r} the same key "
                f"{first!r}: add the missing fields (e.g. %H for hourly windows)"
            )
        self._snapshot = TimeWindowPartitionsSnapshot(
            cron_schedule=cron_schedule,
            start=_wall(self._start, tz),
            end=_wall(self._end, tz) if self._end is not None else None,
            timezone=self._timezone,
            fmt=fmt,
            end_offset=end_offset,
        )
        self._known: list[str] = []  # keys of windows self._lo, self._lo + 1, ...

    # -- what the definition says ----------------------------------------------------------

    @property
    def start(self) -> datetime:
        """Start of the first window (the first tick at or after the given start)."""
        return self._start

    @property
    def end(self) -> datetime | None:
        """The exclusive end as given (None: open-ended)."""
        return self._end

    @property
    def timezone(self) -> str:
        """IANA name of the zone the schedule and the keys are read in."""
        return self._timezone

    @property
    def fmt(self) -> str:
        """The strftime format of the keys."""
        return self._fmt

    @property
    def cron_schedule(self) -> str:
        """The cron expression whose ticks bound the windows."""
        return self._cron

    @property
    def end_offset(self) -> int:
        """Windows added past the last complete one (negative: removed)."""
        return self._end_offset

    # -- ordinals (shared with the mappings) -------------------------------------------------

    def _bounds(self, current_time: datetime | None) -> tuple[int, int]:
        """Ordinals of the first and last existing windows (last < first: none exist)."""
        now = current_time or datetime.now(UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=self._schedule.tz)
        if self._end is not None and now > self._end:
            now = self._end  # nothing past the end exists (and croniter need not go there)
        complete = self._schedule.ordinal(now) - 1  # the last window that has ended
        hi = max(complete, self._lo - 1) + max(self._end_offset, 0)
        if self._end_hi is not None:
            hi = min(hi, self._end_hi)
        hi += min(self._end_offset, 0)
        return self._lo, max(hi, self._lo - 1)

    def _ordinal_of_key(self, key: str) -> int | None:
        """The ordinal of the window `key` names, in or out of bounds (None: no window)."""
        instant = self._format.parse(key)
        if instant is None:
            return None
        try:
            n0 = self._schedule.ordinal(instant)
            for n in (n0, n0 + 1, n0 - 1, n0 + 2):
                if self._format.format(self._schedule.tick(n)) == key:
                    return n
        except (ValueError, OverflowError):  # a key near year 1 or 9999
            return None
        return None

    def _window(self, n: int) -> TimeWindow:
        tz = self._schedule.tz
        return TimeWindow(
            self._schedule.tick(n).astimezone(tz), self._schedule.tick(n + 1).astimezone(tz)
        )

    def _keys_between(self, a: int, b: int) -> list[str]:
        """Keys of windows `a` to `b` (both included), from the cache when it has them.

        The cache holds the keys of windows `_lo`, `_lo + 1`, ... and only grows at its
        end; keys are formatted outside the lock, so one long listing blocks no one.
        """
        if b < a:
            return []
        lo, known = self._lo, self._known
        with _KEYS_LOCK:
            have = len(known)
            if lo <= a and b - lo < have:
                return known[a - lo : b - lo + 1]
        if not lo <= a <= lo + have:  # far past the cached keys: leave the cache alone
            return self._schedule.keys(a, b, self._format)
        new = self._schedule.keys(lo + have, b, self._format)
        with _KEYS_LOCK:
            if len(known) < have + len(new):  # another thread may have added some meanwhile
                known.extend(new[len(known) - have :])
            return known[a - lo : b - lo + 1]

    # -- PartitionsDefinition ------------------------------------------------------------------

    def get_partition_keys(self, current_time: datetime | None = None) -> Sequence[str]:
        """Every key that exists at `current_time` (default now), oldest first."""
        return self._keys_between(*self._bounds(current_time))

    def get_num_partitions(self, current_time: datetime | None = None) -> int:
        """How many windows exist at `current_time`, without listing them."""
        lo, hi = self._bounds(current_time)
        return hi - lo + 1

    def has_partition_key(self, key: str, current_time: datetime | None = None) -> bool:
        """True when `key` names a window that exists at `current_time`, without listing keys."""
        n = self._ordinal_of_key(key)
        lo, hi = self._bounds(current_time)
        return n is not None and lo <= n <= hi

    def get_first_partition_key(self, current_time: datetime | None = None) -> str | None:
        """The first existing key (None: none exists yet)."""
        lo, hi = self._bounds(current_time)
        return self._format.format(self._schedule.tick(lo)) if hi >= lo else None

    def get_last_partition_key(self, current_time: datetime | None = None) -> str | None:
        """The last existing key (None: none exists yet)."""
        lo, hi = self._bounds(current_time)
        return self._format.format(self._schedule.tick(hi)) if hi >= lo else None

    def key_at(self, index: int, current_time: datetime | None = None) -> str:
        """The key of the `index`-th existing window (negative: from the last), by arithmetic.

        Raises:
            IndexError: fewer windows exist at `current_time`.
        """
        lo, hi = self._bounds(current_time)
        n = lo + index if index >= 0 else hi + 1 + index
        if not lo <= n <= hi:
            raise IndexError(f"partition index {index} out of range ({hi - lo + 1} windows exist)")
        return self._format.format(self._schedule.tick(n))

    def index_of(self, key: str, current_time: datetime | None = None) -> int:
        """The position of `key` among the existing windows, by arithmetic.

        Raises:
            InvalidPartitionKeyError: `key` does not exist at `current_time`.
        """
        self.validate_partition_key(key, current_time)
        n = self._ordinal_of_key(key)
        assert n is not None  # validated above
        return n - self._lo

    def get_partition_keys_in_range(
        self, start: str, end: str, current_time: datetime | None = None
    ) -> list[str]:
        """The keys from `start` to `end`, both included, without listing the others.

        Raises:
            InvalidPartitionKeyError: an end is not an existing key, or `start` is after `end`.
        """
        self.validate_partition_key(start, current_time)
        self.validate_partition_key(end, current_time)
        a, b = self._ordinal_of_key(start), self._ordinal_of_key(end)
        assert a is not None and b is not None  # validated above
        if a > b:
            raise InvalidPartitionKeyError(
                f"partition range {start}..{end} is empty: {start!r} comes after {end!r}; "
                "swap --from and --to (the start and end keys)"
            )
        return self._keys_between(a, b)

    def validate_partition_key(self, key: str, current_time: datetime | None = None) -> None:
        """Raise `InvalidPartitionKeyError` saying why `key` is not a key and what would be.

        Raises:
            InvalidPartitionKeyError: `key` does not exist at `current_time`.
        """
        n = self._ordinal_of_key(key)
        lo, hi = self._bounds(current_time)
        if n is not None and lo <= n <= hi:
            return
        first = self._format.format(self._schedule.tick(lo))
        existing = (
            f"keys now run from {first!r} to {self._format.format(self._schedule.tick(hi))!r}"
            if hi >= lo
            else f"no key exists yet (the first, {first!r}, exists once its window ends)"
        )
        instant = self._format.parse(key)
        if instant is None:
            problem = f"does not match the format {self._fmt!r}"
            fix = f"write a window's start in that format, like {first!r}"
        elif n is None:
            problem = f"is not the start of a window of {self._cron!r} in {self._timezone}"
            containing = self.get_partition_key_for_time(instant)
            fix = f"use the key of the window that contains it, {containing!r}"
        elif n < lo:
            problem = "is before the first partition"
            fix = f"use {first!r} or later, or move the definition's start earlier"
        elif self._end_hi is not None and n > self._end_hi:
            end = _wall(self._end or self._start, self._schedule.tz)
            problem = f"is at or after the end, {end} (exclusive)"
            fix = "use an earlier key, or move the definition's end later"
        else:
            problem = "does not exist yet: a partition exists once its window has ended"
            fix = "wait for the window to end, or give the definition end_offset=1"
        raise InvalidPartitionKeyError(
            f"partition key {key!r} {problem}; {self.describe_keys()}, {existing}: {fix}"
        )

    # -- windows ---------------------------------------------------------------------------------

    def time_window_for_partition_key(self, key: str) -> TimeWindow:
        """The window `[start, end)` that `key` names (whether or not it exists yet).

        Raises:
            InvalidPartitionKeyError: `key` is not the start of a window of this schedule.
        """
        n = self._ordinal_of_key(key)
        if n is None:
            raise InvalidPartitionKeyError(
                f"partition key {key!r} names no window: {self.describe_keys()}, "
                f"e.g. {self._format.format(self._start)!r}: pass a window's start in that format"
            )
        return self._window(n)

    def get_partition_key_for_time(self, moment: datetime) -> str:
        """The key of the window that contains `moment` (naive: wall-clock time in the zone).

        The window need not exist yet, nor lie within start and end.
        """
        aware = moment if moment.tzinfo else moment.replace(tzinfo=self._schedule.tz)
        return self._format.format(self._schedule.tick(self._schedule.ordinal(aware)))

    def get_first_partition_window(self, current_time: datetime | None = None) -> TimeWindow | None:
        """The window of the first existing partition (None: none exists yet)."""
        lo, hi = self._bounds(current_time)
        return self._window(lo) if hi >= lo else None

    def get_last_partition_window(self, current_time: datetime | None = None) -> TimeWindow | None:
        """The window of the last existing partition (None: none exists yet)."""
        lo, hi = self._bounds(current_time)
        return self._window(hi) if hi >= lo else None

    def describe_keys(self) -> str:
        """Format, cron, zone and bounds in one line, for messages."""
        until = f" until {_wall(self._end, self._schedule.tz)} (exclusive)" if self._end else ""
        return (
            f"keys are window starts in the format {self._fmt!r} ({self._cron!r} in "
            f"{self._timezone}) from {self._format.format(self._start)!r}{until}"
        )

    def to_snapshot(self) -> TimeWindowPartitionsSnapshot:
        """Cron, bounds (wall-clock, as the definition reads them), zone and format as data."""
        return self._snapshot

    def __repr__(self) -> str:
        s = self._snapshot
        return (
            f"{type(self).__name__}(start={s.start!r}, fmt={s.fmt!r}, end={s.end!r}, "
            f"timezone={s.timezone!r}, end_offset={s.end_offset}, "
            f"cron_schedule={s.cron_schedule!r})"
        )
