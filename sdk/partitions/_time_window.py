"""Partitions that are the windows between consecutive ticks of a cron schedule."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conflux.events import DefinitionError, InvalidPartitionKeyError, TimeWindowPartitionsSnapshot
from conflux.sdk.partitions import _time_api
from conflux.sdk.partitions._base import PartitionsDefinition
from conflux.sdk.partitions._cron_ticks import schedule_for
from conflux.sdk.partitions._exclusions import Exclusions
from conflux.sdk.partitions._keys import KeyFormat
from conflux.sdk.partitions._range import PartitionKeyRange

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conflux.sdk.partitions._subset import TimeWindowPartitionsSubset


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
      progress, `end_offset=-1` drops the last complete one. As in Dagster, a positive
      offset counts from the window starting at or after `current_time`: with
      `end_offset=1` the first key exists from the start of the window before it, and
      none exists earlier.
    * `end` is exclusive: only windows that end by `end` exist, whatever the time; a
      negative `end_offset` counts back from the current time, not from `end`.
    * `exclusions` (cron strings and datetimes) leave windows out: an excluded window has
      no key, and offsets count the windows that are left.
    * Keys are the window start formatted with `fmt` in `timezone` (default UTC).
      String bounds are read with `fmt` (or as `YYYY-MM-DD`); naive datetimes are
      wall-clock times in `timezone`, aware ones are converted to it (Dagster relabels
      an aware datetime's wall clock with `timezone` instead).

    Daylight saving: windows follow the wall clock. A daily window is 23 or 25 hours
    long on a change day; an hourly schedule has 23 windows on a spring-forward day
    and 25 on a fall-back day, where the repeated hour starts two windows. Their keys
    would be equal, so the second gets its UTC offset appended, as Dagster does:
    `2024-10-27-02:00` and `2024-10-27-02:00+0100` in Europe/Berlin (a `fmt` with `%z`
    carries the offset in every key). Both parse back to their own window. A schedule
    time that does not exist fires at the end of the gap (02:30 becomes 03:00); one that
    occurs twice fires at its later occurrence, unless the schedule fires every hour.

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
        exclusions: Sequence[str | datetime] | None = None,
    ) -> None:
        self._timezone = timezone or "UTC"
        tz = _zone(self._timezone)
        self._fmt = fmt
        self._cron = cron_schedule
        self._end_offset = end_offset
        raw_start = _parse_bound(start, fmt, tz, "start")
        self._raw_start = raw_start
        self._end = _parse_bound(end, fmt, tz, "end") if end is not None else None
        last_year = max(raw_start, self._end or datetime.now(UTC)).year
        years = range(max(1, raw_start.year - 1), min(9999, last_year + 3))
        self._schedule = schedule_for(cron_schedule, tz, raw_start, years)
        self._format = KeyFormat(fmt, tz, self._schedule.repeats_every_hour)
        self._exclusions = Exclusions(exclusions or (), tz, years)
        self._lo = self._next_included(self._schedule.ordinal_at_or_after(raw_start))
        self._bounds_memo: tuple[datetime, tuple[int, int]] | None = None
        self._start = self._schedule.tick(self._lo).astimezone(tz)
        # The last window that ends by `end` (end is exclusive).
        self._end_hi = (
            self._prev_included(self._schedule.ordinal(self._end) - 1)
            if self._end is not None
            else None
        )
        if self._end_hi is not None and self._end_hi < self._lo:
            raise DefinitionError(
                f"no window of {cron_schedule!r} fits between start {_wall(raw_start, tz)} and "
                f"end {_wall(self._end or raw_start, tz)} (end is exclusive): move end later"
            )
        first, second = (self._format.format(self._schedule.wall(self._lo + i)) for i in (0, 1))
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
            exclusions=self._exclusions.crons,
            excluded_instants=tuple(self._exclusions.iso_instants()),
        )
        self._known: list[str] = []  # keys of windows self._lo, self._lo + 1, ...

    # -- what the definition says ----------------------------------------------------------

    @property
    def start(self) -> datetime:
        """The start as given (Dagster's `start`); the first window starts at or after it."""
        return self._raw_start

    @property
    def first_window_start(self) -> datetime:
        """Start of the first window (the first tick at or after `start` not excluded)."""
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

    @property
    def exclusions(self) -> Sequence[str | datetime] | None:
        """The excluded crons and instants (None: none), as Dagster's attribute."""
        if not self._exclusions:
            return None
        tz = self._schedule.tz
        instants = sorted(i.astimezone(tz) for i in self._exclusions.instants)
        return [*self._exclusions.crons, *instants]

    # -- ordinals (shared with the mappings and subsets) ---------------------------------------

    def is_ordinal_excluded(self, n: int) -> bool:
        """True when window `n` is left out by `exclusions`."""
        return bool(self._exclusions) and self._exclusions.excludes(self._schedule.tick(n))

    def _next_included(self, n: int) -> int:
        while self.is_ordinal_excluded(n):
            n += 1
        return n

    def _prev_included(self, n: int) -> int:
        while self.is_ordinal_excluded(n):
            n -= 1
        return n

    def next_included_ordinal(self, n: int) -> int:
        """`n`, or the first window after it that is not excluded."""
        return self._next_included(n)

    def prev_included_ordinal(self, n: int) -> int:
        """`n`, or the last window before it that is not excluded."""
        return self._prev_included(n)

    def _step(self, n: int, count: int) -> int:
        """The window `count` windows that are not excluded after (before, if < 0) `n`."""
        for _ in range(abs(count)):
            n = self._next_included(n + 1) if count > 0 else self._prev_included(n - 1)
        return n

    def _now(self, current_time: datetime | None) -> datetime:
        now = current_time or datetime.now(UTC)
        return now.replace(tzinfo=self._schedule.tz) if now.tzinfo is None else now

    def _bounds(self, current_time: datetime | None) -> tuple[int, int]:
        """Ordinals of the first and last existing windows (last < first: none exist).

        Dagster's rules, window by window (see the class docstring). The last answer for
        an explicit `current_time` is kept: mapping a partition asks several times.
        """
        memo = self._bounds_memo
        if (
            memo is not None
            and current_time is not None
            and memo[0] == current_time
            and memo[0].fold == current_time.fold  # equal wall clocks in one zone
        ):
            return memo[1]
        bounds = self._compute_bounds(current_time)
        if current_time is not None:
            self._bounds_memo = (current_time, bounds)
        return bounds

    def _compute_bounds(self, current_time: datetime | None) -> tuple[int, int]:
        now = self._now(current_time)
        lo, k = self._lo, self._end_offset
        c = self._schedule.ordinal(now)  # the last tick at or before now
        if k == 0:
            exists = lo + 1 <= c
        elif k > 0:
            at_or_after = c if self._schedule.tick(c) == now.astimezone(UTC) else c + 1
            exists = lo + 1 <= self._step(self._next_included(at_or_after), k)
        else:
            exists = lo + 1 <= self._step(self._prev_included(c - 1), k + 1)
        if not exists:
            return lo, lo - 1
        if k == 0:
            hi = self._prev_included(c - 1)
            if self._end_hi is not None:
                hi = min(hi, self._end_hi)
            return lo, hi
        zero = self._prev_included(c - 1)  # the last window that has ended
        current = self._step(zero, k) if k < 0 else self._step(self._next_included(zero + 1), k - 1)
        if self._end_hi is not None and self._end_hi <= current:
            return lo, self._end_hi
        return lo, max(current, lo)

    def ordinal_bounds(self, current_time: datetime | None) -> tuple[int, int]:
        """The first and last windows existing at `current_time` (last < first: none)."""
        return self._bounds(current_time)

    def tick(self, n: int) -> datetime:
        """The start of window `n`, an aware datetime in the definition's zone."""
        return self._schedule.tick(n).astimezone(self._schedule.tz)

    def utc_tick(self, n: int) -> datetime:
        """The start of window `n`, in UTC (compares as an instant, even in a repeated hour)."""
        return self._schedule.tick(n)

    def ordinal_of_time(self, moment: datetime) -> int:
        """The ordinal of the window containing `moment` (excluded or not)."""
        return self._schedule.ordinal(moment)

    def ordinal_at_or_after_time(self, moment: datetime) -> int:
        """The ordinal of the first window starting at or after `moment` (excluded or not)."""
        return self._schedule.ordinal_at_or_after(moment)

    def window_of_ordinal(self, n: int) -> TimeWindow:
        """Window `n`, `[tick(n), tick(n + 1))`."""
        return self._window(n)

    def key_for_instant(self, moment: datetime) -> str:
        """`moment` formatted with `fmt` in the zone (the repeated hour gets its offset)."""
        return self._format.format(moment)

    def _ordinal_of_key(self, key: str) -> int | None:
        """The ordinal of the window `key` names, in or out of bounds (None: no window)."""
        instant = self._format.parse(key)
        if instant is None:
            return None
        try:
            n0 = self._schedule.ordinal(instant)
            for n in (n0, n0 + 1, n0 - 1, n0 + 2):
                if self._format.format(self._schedule.wall(n)) == key:
                    return None if self.is_ordinal_excluded(n) else n
        except (ValueError, OverflowError):  # a key near year 1 or 9999
            return None
        return None

    def ordinal_at_or_after_key(self, key: str) -> int:
        """The first window (not excluded) starting at or after the instant `key` names.

        Dagster's reading of a key: a key that is not a window start names the next window.

        Raises:
            InvalidPartitionKeyError: `key` does not parse with the definition's format.
        """
        n = self._ordinal_of_key(key)
        if n is not None:
            return n
        instant = self._format.parse(key)
        if instant is None:
            raise InvalidPartitionKeyError(
                f"partition key {key!r} does not match the format {self._fmt!r}: "
                f"{self.describe_keys()}"
            )
        return self._next_included(self._schedule.ordinal_at_or_after(instant))

    def ordinal_run_of_timestamps(self, start: float, end: float) -> tuple[int, int]:
        """The windows (first, last) starting in `[start, end)`, UTC seconds."""
        first = self._schedule.ordinal_at_or_after(datetime.fromtimestamp(start, UTC))
        last = self._schedule.ordinal_before(datetime.fromtimestamp(end, UTC))
        return first, last

    def key_of_ordinal(self, n: int) -> str:
        """The key of window `n`."""
        return self._format.format(self._schedule.wall(n))

    def keys_of_ordinals(self, a: int, b: int) -> list[str]:
        """The keys of windows `a` to `b` (both included) that are not excluded."""
        keys = self._keys_between(a, b)
        if not self._exclusions:
            return keys
        return [
            k for n, k in zip(range(a, b + 1), keys, strict=True) if not self.is_ordinal_excluded(n)
        ]

    def count_ordinals(self, a: int, b: int) -> int:
        """How many of windows `a` to `b` are not excluded."""
        if b < a:
            return 0
        if not self._exclusions:
            return b - a + 1
        return sum(not self.is_ordinal_excluded(n) for n in range(a, b + 1))

    def trim_excluded(self, a: int, b: int) -> tuple[int, int]:
        """`(a, b)` narrowed to start and end on windows that are not excluded."""
        if not self._exclusions or b < a:
            return a, b
        while a <= b and self.is_ordinal_excluded(a):
            a += 1
        while b >= a and self.is_ordinal_excluded(b):
            b -= 1
        return a, b

    def only_excluded_between(self, a: int, b: int) -> bool:
        """True when every window strictly between `a` and `b` is excluded."""
        return bool(self._exclusions) and all(self.is_ordinal_excluded(n) for n in range(a + 1, b))

    def _window(self, n: int) -> TimeWindow:
        return TimeWindow(self.tick(n), self.tick(n + 1))

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
        return self.keys_of_ordinals(*self._bounds(current_time))

    def get_num_partitions(self, current_time: datetime | None = None) -> int:
        """How many windows exist at `current_time`, without listing them."""
        return self.count_ordinals(*self._bounds(current_time))

    def has_partition_key(self, key: str, current_time: datetime | None = None) -> bool:
        """True when `key` names a window that exists at `current_time`, without listing keys."""
        n = self._ordinal_of_key(key)
        lo, hi = self._bounds(current_time)
        return n is not None and lo <= n <= hi

    def get_first_partition_key(self, current_time: datetime | None = None) -> str | None:
        """The first existing key (None: none exists yet)."""
        lo, hi = self._bounds(current_time)
        return self.key_of_ordinal(lo) if hi >= lo else None

    def get_last_partition_key(self, current_time: datetime | None = None) -> str | None:
        """The last existing key (None: none exists yet)."""
        lo, hi = self._bounds(current_time)
        return self.key_of_ordinal(hi) if hi >= lo else None

    def key_at(self, index: int, current_time: datetime | None = None) -> str:
        """The key of the `index`-th existing window (negative: from the last), by arithmetic.

        Raises:
            IndexError: fewer windows exist at `current_time`.
        """
        if self._exclusions:
            return self.get_partition_keys(current_time)[index]
        lo, hi = self._bounds(current_time)
        n = lo + index if index >= 0 else hi + 1 + index
        if not lo <= n <= hi:
            raise IndexError(f"partition index {index} out of range ({hi - lo + 1} windows exist)")
        return self.key_of_ordinal(n)

    def index_of(self, key: str, current_time: datetime | None = None) -> int:
        """The position of `key` among the existing windows, by arithmetic.

        Raises:
            InvalidPartitionKeyError: `key` does not exist at `current_time`.
        """
        self.validate_partition_key(key, current_time)
        n = self._ordinal_of_key(key)
        assert n is not None  # validated above
        return self.count_ordinals(self._lo, n) - 1

    def get_partition_keys_in_range(
        self,
        start: str | PartitionKeyRange,
        end: str | None = None,
        current_time: datetime | None = None,
    ) -> list[str]:
        """The keys from `start` to `end`, both included, without listing the others.

        With a `PartitionKeyRange` (Dagster's form) the keys need not exist yet: they must
        lie within the definition's start and end, and a reversed range is empty. With two
        keys (Conflux's form, used by `--from/--to`) both must exist at `current_time`.

        Raises:
            InvalidPartitionKeyError: an end is not an existing key (or, for a range,
                names a window outside the definition), or `start` is after `end`.
        """
        if isinstance(start, PartitionKeyRange):
            return self._keys_in_key_range(start)
        if end is None:
            raise InvalidPartitionKeyError(
                "get_partition_keys_in_range needs a PartitionKeyRange or two keys"
            )
        self.validate_partition_key(start, current_time)
        self.validate_partition_key(end, current_time)
        a, b = self._ordinal_of_key(start), self._ordinal_of_key(end)
        assert a is not None and b is not None  # validated above
        if a > b:
            raise InvalidPartitionKeyError(
                f"partition range {start}..{end} is empty: {start!r} comes after {end!r}; "
                "swap --from and --to (the start and end keys)"
            )
        return self.keys_of_ordinals(a, b)

    def _keys_in_key_range(self, key_range: PartitionKeyRange) -> list[str]:
        a = self.ordinal_at_or_after_key(key_range.start)
        b = self.ordinal_at_or_after_key(key_range.end)
        if self.tick(a) < self._raw_start:
            raise InvalidPartitionKeyError(
                f"Partition key range start {key_range.start} is before the partitions "
                f"definition start time {self._raw_start}: start the range at "
                f"{self.key_of_ordinal(self._lo)!r} or later"
            )
        if self._end is not None and self.tick(b + 1) > self._end:
            raise InvalidPartitionKeyError(
                f"Partition key range end {key_range.end} is after the partitions definition "
                f"end time {self._end}: end the range before it"
            )
        return self.keys_of_ordinals(a, b)

    def validate_partition_key(self, key: str, current_time: datetime | None = None) -> None:
        """Raise `InvalidPartitionKeyError` saying why `key` is not a key and what would be.

        Raises:
            InvalidPartitionKeyError: `key` does not exist at `current_time`.
        """
        n = self._ordinal_of_key(key)
        lo, hi = self._bounds(current_time)
        if n is not None and lo <= n <= hi:
            return
        first = self.key_of_ordinal(lo)
        existing = (
            f"keys now run from {first!r} to {self.key_of_ordinal(hi)!r}"
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
            if self._exclusions and self._format.parse(containing) == instant:
                problem = "names a window that `exclusions` leaves out"
                fix = "use another window's key"
            else:
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

        As in Dagster, a key that parses but is not a window's start (`2024-05-01` for
        monthly windows starting on the 12th) names the first window starting at or after
        it; `validate_partition_key` says whether a key is one of the keys.

        Raises:
            InvalidPartitionKeyError: `key` does not parse with the definition's format.
        """
        n = self._ordinal_of_key(key)
        if n is None and self._format.parse(key) is None:
            raise InvalidPartitionKeyError(
                f"partition key {key!r} names no window: {self.describe_keys()}, "
                f"e.g. {self._format.format(self._start)!r}: pass a window's start in that format"
            )
        return self._window(self.ordinal_at_or_after_key(key) if n is None else n)

    def get_partition_key_for_time(self, moment: datetime) -> str:
        """The key of the window that contains `moment` (naive: wall-clock time in the zone).

        The window need not exist yet, nor lie within start and end.
        """
        aware = moment if moment.tzinfo else moment.replace(tzinfo=self._schedule.tz)
        return self.key_of_ordinal(self._schedule.ordinal(aware))

    def get_first_partition_window(self, current_time: datetime | None = None) -> TimeWindow | None:
        """The window of the first existing partition (None: none exists yet)."""
        lo, hi = self._bounds(current_time)
        return self._window(lo) if hi >= lo else None

    def get_last_partition_window(self, current_time: datetime | None = None) -> TimeWindow | None:
        """The window of the last existing partition (None: none exists yet)."""
        lo, hi = self._bounds(current_time)
        return self._window(hi) if hi >= lo else None

    # -- subsets ---------------------------------------------------------------------------------

    def empty_subset(self) -> TimeWindowPartitionsSubset:
        """A subset of this definition's windows with none in it."""
        from conflux.sdk.partitions._subset import TimeWindowPartitionsSubset

        return TimeWindowPartitionsSubset(self)

    def subset_with_all_partitions(
        self, current_time: datetime | None = None
    ) -> TimeWindowPartitionsSubset:
        """Every window existing at `current_time` (default now), as one run."""
        from conflux.sdk.partitions._subset import TimeWindowPartitionsSubset

        lo, hi = self._bounds(current_time)
        return TimeWindowPartitionsSubset(self, [(lo, hi)] if hi >= lo else [])

    def subset_in_time_window(self, window: TimeWindow) -> TimeWindowPartitionsSubset:
        """The windows starting within `window`, whether or not they exist now."""
        from conflux.sdk.partitions._subset import TimeWindowPartitionsSubset

        first = self._schedule.ordinal_at_or_after(window.start)
        last = self._schedule.ordinal_before(window.end)
        return TimeWindowPartitionsSubset(self, [(first, last)] if first <= last else [])

    def deserialize_subset(self, serialized: str) -> TimeWindowPartitionsSubset:
        """The subset `serialized` describes (see `PartitionsSubset.serialize`).

        Raises:
            UnreadableSubsetError: another version, or not a window subset.
        """
        from conflux.sdk.partitions._subset import TimeWindowPartitionsSubset

        return TimeWindowPartitionsSubset.from_serialized(self, serialized)

    def get_partition_keys_in_time_window(self, time_window: TimeWindow) -> list[str]:
        """The keys of the windows starting within `time_window` (Dagster's method)."""
        return self.subset_in_time_window(time_window).get_partition_keys()

    # -- Dagster's conveniences (see _time_api.py) ------------------------------------------------

    @property
    def schedule_type(self) -> _time_api.ScheduleType | None:
        """HOURLY, DAILY, WEEKLY or MONTHLY when the cron is one of those (Dagster's reading)."""
        return _time_api.schedule_type(self)

    @property
    def minute_offset(self) -> int:
        """The minute of the hour at which windows start."""
        return _time_api.minute_offset(self)

    @property
    def hour_offset(self) -> int:
        """The hour of the day at which windows start."""
        return _time_api.hour_offset(self)

    @property
    def day_offset(self) -> int:
        """The day of the week (0 = Sunday) or of the month at which windows start."""
        return _time_api.day_offset(self)

    @property
    def is_basic_daily(self) -> bool:
        """True for `0 0 * * *` without exclusions."""
        return not self._exclusions and " ".join(self._cron.split()) == "0 0 * * *"

    @property
    def is_basic_hourly(self) -> bool:
        """True for `0 * * * *` without exclusions."""
        return not self._exclusions and " ".join(self._cron.split()) == "0 * * * *"

    def get_cron_schedule(
        self,
        minute_of_hour: int | None = None,
        hour_of_day: int | None = None,
        day_of_week: int | None = None,
        day_of_month: int | None = None,
    ) -> str:
        """The cron of this cadence with offsets replaced (e.g. to run at 2 am a job of days).

        Raises:
            InvalidInvocationError: the cron is not hourly, daily, weekly or monthly, or an
                offset is given that the cadence has no field for.
        """
        return _time_api.get_cron_schedule(
            self, minute_of_hour, hour_of_day, day_of_week, day_of_month
        )

    def get_next_partition_window(
        self, end_dt: datetime, respect_bounds: bool = True, current_time: datetime | None = None
    ) -> TimeWindow | None:
        """The window starting at or after `end_dt`; None past the last existing one."""
        return _time_api.next_partition_window(self, end_dt, respect_bounds, current_time)

    def get_prev_partition_window(
        self, start_dt: datetime, respect_bounds: bool = True, current_time: datetime | None = None
    ) -> TimeWindow | None:
        """The window ending at or before `start_dt`; None before the first existing one."""
        return _time_api.prev_partition_window(self, start_dt, respect_bounds, current_time)

    def get_next_partition_key(
        self, partition_key: str, current_time: datetime | None = None
    ) -> str | None:
        """The key after `partition_key`; None when it is the last existing one."""
        return _time_api.next_partition_key(self, partition_key, current_time)

    def get_partition_key_for_timestamp(self, timestamp: float, end_closed: bool = False) -> str:
        """The key of the window containing `timestamp` (UTC seconds since the epoch)."""
        return _time_api.partition_key_for_timestamp(self, timestamp, end_closed)

    def start_time_for_partition_key(self, partition_key: str) -> datetime:
        """The start of the window `partition_key` names (or of the next one, as in Dagster)."""
        return self.tick(self.ordinal_at_or_after_key(partition_key))

    def end_time_for_partition_key(self, partition_key: str) -> datetime:
        """The end of the window `partition_key` names (or of the next one, as in Dagster)."""
        return self.tick(self.ordinal_at_or_after_key(partition_key) + 1)

    def get_partition_keys_between_indexes(
        self, start_idx: int, end_idx: int, current_time: datetime | None = None
    ) -> list[str]:
        """The existing keys at positions `start_idx` (included) to `end_idx` (excluded)."""
        return _time_api.keys_between_indexes(self, start_idx, end_idx, current_time)

    def get_partition_key(
        self, key: str | date | datetime, current_time: datetime | None = None
    ) -> str:
        """`key` (or a date or datetime, formatted with `fmt`) when it exists.

        Raises:
            InvalidPartitionKeyError: it does not exist (a `ValueError`).
        """
        return _time_api.partition_key(self, key, current_time)

    def equal_except_for_start_or_end(self, other: TimeWindowPartitionsDefinition) -> bool:
        """True when only start and end differ (zone, format, cron, offset and exclusions match)."""
        mine, theirs = self._snapshot, other._snapshot
        fields = (
            "timezone",
            "fmt",
            "cron_schedule",
            "end_offset",
            "exclusions",
            "excluded_instants",
        )
        return all(getattr(mine, f) == getattr(theirs, f) for f in fields)

    def get_serializable_unique_identifier(self) -> str:
        """A hash of what the definition says (equal definitions give equal identifiers)."""
        return _time_api.unique_identifier(self)

    def __str__(self) -> str:
        return _time_api.describe(self)

    # -- description -----------------------------------------------------------------------------

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
        excluded = f", exclusions={self.exclusions!r}" if self._exclusions else ""
        return (
            f"{type(self).__name__}(start={s.start!r}, fmt={s.fmt!r}, end={s.end!r}, "
            f"timezone={s.timezone!r}, end_offset={s.end_offset}, "
            f"cron_schedule={s.cron_schedule!r}{excluded})"
        )
