"""Cron schedules in a time zone, with every tick numbered by an integer ordinal.

Ordinals turn the questions partitions ask (how many windows, is this a window, which
windows overlap that one) into arithmetic. Hourly, daily, weekly and monthly crons get
closed forms: about a microsecond a tick instead of croniter's twenty, and counting or
finding a window costs the same for one key as for a century of them. Any other cron
goes through croniter (`_cron.py`).

Daylight saving follows Dagster's schedules. A cron that fires every hour (hour field
`*`) fires on the absolute clock: at both occurrences of a repeated hour and never in a
skipped one, so hourly ticks are one hour apart (23 on a spring-forward day, 25 on a
fall-back day). Any other cron fires at a wall-clock time that does not exist at the
first instant after the change (02:30 becomes 03:00), and at a time that occurs twice
once, at its later occurrence. Daily windows are 23 or 25 hours long on change days.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from conflux.sdk.partitions._keys import KeyFormat

HOUR = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
# How many ticks a calendar schedule remembers (a century of days) before starting over.
_TICK_MEMO = 40_000


# Dagster adjusts a schedule time for daylight saving only in these hours of the day.
DST_HOURS = frozenset({1, 2, 3})


def resolve_wall(naive: datetime, tz: ZoneInfo) -> datetime:
    """The instant a schedule fires for the wall-clock time `naive` in `tz`, as Dagster's does.

    In the hours 1 to 3 (where changes happen in most zones), an ambiguous time takes its
    later occurrence and a skipped time moves to the end of the gap. At other hours Dagster
    takes the time as written (zoneinfo's `fold=0`: the earlier occurrence, or the offset
    before a gap): midnight skipped in São Paulo fires at 01:00 but is written 00:00, so
    the result may be a wall-clock time that does not exist; its instant is right.
    """
    first = naive.replace(tzinfo=tz)
    if naive.hour not in DST_HOURS:
        return first
    second = naive.replace(tzinfo=tz, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    if before == after or before is None or after is None:
        return first
    if before > after:  # repeated by a fall-back change
        return second
    # Skipped by a spring-forward change: the change happens at some instant in
    # (naive - after, naive - before]; find it to the second.
    lo = naive.replace(tzinfo=UTC) - after
    hi = naive.replace(tzinfo=UTC) - before
    while hi - lo > _SECOND:
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0).astimezone(tz)


class Schedule(ABC):
    """The ticks of one cron expression in one time zone, numbered by ordinals.

    Ordinals are consecutive integers in tick order; where they start is each
    schedule's own business. Ticks are UTC datetimes: Python compares two datetimes of
    one zone by wall clock, ignoring `fold`, so the two occurrences of a repeated hour
    would compare equal; UTC keeps every comparison and subtraction absolute.
    """

    repeats_every_hour = False

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    @abstractmethod
    def tick(self, n: int) -> datetime:
        """The tick with ordinal `n`, in UTC."""

    @abstractmethod
    def ordinal(self, moment: datetime) -> int:
        """The ordinal of the last tick at or before `moment` (an aware datetime)."""

    def ordinal_at_or_after(self, moment: datetime) -> int:
        """The ordinal of the first tick at or after `moment`."""
        n = self.ordinal(moment)
        return n if self.tick(n) == moment.astimezone(UTC) else n + 1

    def ordinal_before(self, moment: datetime) -> int:
        """The ordinal of the last tick strictly before `moment`."""
        n = self.ordinal(moment)
        return n - 1 if self.tick(n) == moment.astimezone(UTC) else n

    def wall(self, n: int) -> datetime:
        """Tick `n` as the wall-clock time its key is written with (aware, in the zone).

        The tick itself, except where a schedule time falls in a gap outside the hours
        Dagster adjusts (see `resolve_wall`): then the time as scheduled.
        """
        return self.tick(n).astimezone(self.tz)

    def keys(self, lo: int, hi: int, fmt: KeyFormat) -> list[str]:
        """The keys of the windows starting at ticks `lo` to `hi`, both included."""
        if type(self).wall is Schedule.wall:  # the key is the tick's: `format` converts it
            tick = self.tick
            return [fmt.format(tick(n)) for n in range(lo, hi + 1)]
        return [fmt.format(self.wall(n)) for n in range(lo, hi + 1)]


@lru_cache(maxsize=4096)
def _offset_phases(tz: ZoneInfo, year: int) -> frozenset[int]:
    """The UTC offsets (seconds, modulo an hour) `tz` uses in `year`, sampled weekly."""
    phases: set[int] = set()
    for month in range(1, 13):
        for day in (1, 8, 15, 22):
            offset = datetime(year, month, day, 12, tzinfo=UTC).astimezone(tz).utcoffset()
            phases.add(int(offset.total_seconds()) % 3600 if offset is not None else 0)
    return frozenset(phases)


def _hourly_phase(tz: ZoneInfo, minute: int, years: range) -> timedelta | None:
    """Where the UTC hour grid of `M * * * *` sits, if one grid holds over `years`.

    When every offset the zone uses is the same modulo an hour (true of most zones
    since their local mean time ended), local minute M is one fixed UTC minute and the
    ticks are exactly one hour apart. Zones with half-hour daylight saving (Lord Howe)
    or an offset change of a fraction of an hour in range fall back to croniter.
    """
    phases: set[int] = set()
    for year in years:
        phases |= _offset_phases(tz, year)
    if len(phases) != 1:
        return None
    return timedelta(seconds=(minute * 60 - phases.pop()) % 3600)


class _EveryMinutes(Schedule):
    """`* * * * *` or `*/K * * * *` (K divides 60): a tick every K minutes on a UTC grid."""

    repeats_every_hour = True

    def __init__(self, tz: ZoneInfo, step_minutes: int, phase: timedelta) -> None:
        super().__init__(tz)
        self._step = timedelta(minutes=step_minutes)
        self._origin = _EPOCH + phase

    def tick(self, n: int) -> datetime:
        return self._origin + n * self._step

    def ordinal(self, moment: datetime) -> int:
        return (moment - self._origin) // self._step


def _minute_phase(tz: ZoneInfo, step: int, years: range) -> timedelta | None:
    """Where the UTC grid of every `step` minutes sits, if one grid holds over `years`."""
    phases: set[int] = set()
    for year in years:
        phases |= {p % (step * 60) for p in _offset_phases(tz, year)}
    if len(phases) != 1:
        return None
    return timedelta(seconds=-phases.pop() % (step * 60))


class _Hourly(Schedule):
    """`M * * * *`: a tick every hour on a fixed UTC grid."""

    repeats_every_hour = True

    def __init__(self, tz: ZoneInfo, phase: timedelta) -> None:
        super().__init__(tz)
        self._origin = _EPOCH + phase

    def tick(self, n: int) -> datetime:
        return self._origin + n * HOUR

    def ordinal(self, moment: datetime) -> int:
        return (moment - self._origin) // HOUR

    def keys(self, lo: int, hi: int, fmt: KeyFormat) -> list[str]:
        # The ticks left in a local day form a clean run when the run's last wall-clock
        # hour exists once and has the first's UTC offset (no change in between) and the
        # first is not a repeated hour: then one template names the whole run. Ticks
        # next to a daylight-saving change are formatted one by one.
        out: list[str] = []
        n = lo
        while n <= hi:
            first = self.tick(n).astimezone(self.tz)
            run = min(hi - n + 1, 24 - first.hour)
            last = first + (run - 1) * HOUR  # wall-clock arithmetic: same date, later hour
            if (
                run > 1
                and not (first.fold and fmt.is_repeated(first))
                and last.utcoffset() == first.utcoffset() == last.replace(fold=1).utcoffset()
            ):
                out.extend(fmt.hours_of_day(first, run))
                n += run
            else:
                out.append(fmt.format(first))
                n += 1
        return out


class _Calendar(Schedule):
    """Ticks at a fixed wall-clock time on some dates: daily, weekly, monthly."""

    def __init__(self, tz: ZoneInfo, minute: int, hour: int) -> None:
        super().__init__(tz)
        self._time = time(hour, minute)
        self._utc_ticks: dict[int, datetime] = {}  # ticks asked for, as mappings ask again

    @abstractmethod
    def date_of(self, n: int) -> date:
        """The local date of tick `n`."""

    @abstractmethod
    def floor(self, day: date) -> int:
        """The ordinal of the last tick date on or before `day`."""

    def tick(self, n: int) -> datetime:
        found = self._utc_ticks.get(n)
        if found is None:
            if len(self._utc_ticks) >= _TICK_MEMO:
                self._utc_ticks.clear()
            found = self._utc_ticks[n] = self.wall(n).astimezone(UTC)
        return found

    def wall(self, n: int) -> datetime:
        return resolve_wall(datetime.combine(self.date_of(n), self._time), self.tz)

    def ordinal(self, moment: datetime) -> int:
        n = self.floor(moment.astimezone(self.tz).date())
        return n - 1 if self.tick(n) > moment.astimezone(UTC) else n

    def keys(self, lo: int, hi: int, fmt: KeyFormat) -> list[str]:
        if not fmt.date_only:
            return super().keys(lo, hi, fmt)
        dates = [self.date_of(n) for n in range(lo, hi + 1)]
        if fmt.fmt == "%Y-%m-%d" and (not dates or dates[0].year >= 1000):
            return [d.isoformat() for d in dates]
        return [d.strftime(fmt.fmt) for d in dates]


class _Daily(_Calendar):
    """`M H * * *`: ordinal = the date's proleptic ordinal."""

    def date_of(self, n: int) -> date:
        return date.fromordinal(n)

    def floor(self, day: date) -> int:
        return day.toordinal()


class _Weekly(_Calendar):
    """`M H * * W`: ordinal = weeks since the first such weekday of year 1."""

    def __init__(self, tz: ZoneInfo, minute: int, hour: int, cron_weekday: int) -> None:
        super().__init__(tz, minute, hour)
        # date.fromordinal(1) is a Monday; cron counts 0 = Sunday, Python 0 = Monday.
        self._first = 1 + (cron_weekday - 1) % 7

    def date_of(self, n: int) -> date:
        return date.fromordinal(self._first + 7 * n)

    def floor(self, day: date) -> int:
        return (day.toordinal() - self._first) // 7


class _Monthly(_Calendar):
    """`M H D * *` with D <= 28: ordinal = year * 12 + month - 1."""

    def __init__(self, tz: ZoneInfo, minute: int, hour: int, day_of_month: int) -> None:
        super().__init__(tz, minute, hour)
        self._day = day_of_month

    def date_of(self, n: int) -> date:
        year, month = divmod(n, 12)
        return date(year, month + 1, self._day)

    def floor(self, day: date) -> int:
        n = day.year * 12 + day.month - 1
        return n - 1 if day.day < self._day else n


_N = r"(\d{1,2})"


def schedule_for(cron: str, tz: ZoneInfo, anchor: datetime, years: range) -> Schedule:
    """The fastest schedule that yields exactly the ticks of `cron` in `tz`.

    Args:
        cron: a five-field cron expression (validated; croniter's extensions allowed).
        tz: the zone the expression is read in.
        anchor: a moment near the first window; croniter schedules number from it.
        years: the years the definition spans, to check that an hourly grid holds.

    Raises:
        DefinitionError: `cron` is not a valid cron expression.
    """
    text = " ".join(cron.split())
    if (m := re.fullmatch(r"\*(?:/(\d{1,2}))? \* \* \* \*", text)) and 60 % int(m[1] or 1) == 0:
        step = int(m[1] or 1)
        minute_phase = _minute_phase(tz, step, years)
        if minute_phase is not None:
            return _EveryMinutes(tz, step, minute_phase)
    if (m := re.fullmatch(rf"{_N} \* \* \* \*", text)) and int(m[1]) < 60:
        phase = _hourly_phase(tz, int(m[1]), years)
        if phase is not None:
            return _Hourly(tz, phase)
    elif (m := re.fullmatch(rf"{_N} {_N} \* \* (?:{_N}|\*)", text)) and (
        int(m[1]) < 60 and int(m[2]) < 24
    ):
        if m[3] is None:
            return _Daily(tz, int(m[1]), int(m[2]))
        if int(m[3]) <= 7:
            return _Weekly(tz, int(m[1]), int(m[2]), int(m[3]) % 7)
    elif (m := re.fullmatch(rf"{_N} {_N} {_N} \* \*", text)) and (
        int(m[1]) < 60 and int(m[2]) < 24 and 1 <= int(m[3]) <= 28
    ):
        return _Monthly(tz, int(m[1]), int(m[2]), int(m[3]))
    from conflux.sdk.partitions._cron import CronSchedule

    return CronSchedule(tz, text, anchor)
