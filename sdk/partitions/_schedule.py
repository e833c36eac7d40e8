"""Cron schedules as tick sequences in a time zone, with fast paths for fixed cadences.

Hourly, daily, weekly and monthly crons step by calendar arithmetic (about a microsecond
a tick) instead of croniter (about twenty); any other cron goes through croniter. Every
tick is a timezone-aware datetime in the schedule's zone. Daily and longer cadences step
in wall-clock days, so a day is 23 or 25 hours long across a daylight-saving change;
hourly steps in absolute hours, so the repeated hour of a fall-back day is two ticks.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)


class Schedule(ABC):
    """Ticks of one cron expression in one time zone."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    @abstractmethod
    def first_at_or_after(self, moment: datetime) -> datetime:
        """The first tick at or after `moment`."""

    @abstractmethod
    def next_after(self, tick: datetime) -> datetime:
        """The first tick strictly after `tick`."""

    @abstractmethod
    def is_tick(self, moment: datetime) -> bool:
        """True when `moment` is a tick."""

    def last_at_or_before(self, moment: datetime) -> datetime:
        """The last tick at or before `moment` (by stepping back a generous span)."""
        back = moment - timedelta(days=1)
        while True:
            tick = self.first_at_or_after(back)
            if tick <= moment:
                break
            back -= timedelta(days=40)
        nxt = self.next_after(tick)
        while nxt <= moment:
            tick, nxt = nxt, self.next_after(nxt)
        return tick

    def ticks(self, start: datetime) -> Iterator[datetime]:
        """Every tick from the first at or after `start`."""
        tick = self.first_at_or_after(start)
        while True:
            yield tick
            tick = self.next_after(tick)


class _Hourly(Schedule):
    def __init__(self, tz: ZoneInfo, minute: int) -> None:
        super().__init__(tz)
        self.minute = minute

    def first_at_or_after(self, moment: datetime) -> datetime:
        utc = moment.astimezone(UTC)
        local = utc.astimezone(self.tz)
        shift = (self.minute - local.minute) % 60
        candidate = (utc + timedelta(minutes=shift)).replace(second=0, microsecond=0)
        if candidate < moment:
            candidate += HOUR
        return candidate.astimezone(self.tz)

    def next_after(self, tick: datetime) -> datetime:
        return (tick.astimezone(UTC) + HOUR).astimezone(self.tz)

    def is_tick(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        return local.minute == self.minute and local.second == 0 and local.microsecond == 0


class _Calendar(Schedule):
    """Daily, weekly or monthly ticks at a wall-clock time."""

    def __init__(self, tz: ZoneInfo, minute: int, hour: int) -> None:
        super().__init__(tz)
        self.minute = minute
        self.hour = hour

    @abstractmethod
    def _matches(self, day: date) -> bool: ...

    @abstractmethod
    def _next_day(self, day: date) -> date: ...

    def _at(self, day: date) -> datetime:
        naive = datetime(day.year, day.month, day.day, self.hour, self.minute)
        # A wall time skipped by a spring-forward change resolves as zoneinfo does (fold=0):
        # normalise through UTC so that every tick is a real instant in the zone.
        return naive.replace(tzinfo=self.tz).astimezone(UTC).astimezone(self.tz)

    def first_at_or_after(self, moment: datetime) -> datetime:
        day = moment.astimezone(self.tz).date() - timedelta(days=1)
        while not self._matches(day):
            day += timedelta(days=1)
        tick = self._at(day)
        while tick < moment:
            day = self._next_day(day)
            tick = self._at(day)
        return tick

    def next_after(self, tick: datetime) -> datetime:
        day = tick.astimezone(self.tz).date()
        if not self._matches(day):
            return self.first_at_or_after(tick + timedelta(seconds=1))
        return self._at(self._next_day(day))

    def is_tick(self, moment: datetime) -> bool:
        day = moment.astimezone(self.tz).date()
        return self._matches(day) and self._at(day) == moment


class _Daily(_Calendar):
    def _matches(self, day: date) -> bool:
        return True

    def _next_day(self, day: date) -> date:
        return day + timedelta(days=1)


class _Weekly(_Calendar):
    def __init__(self, tz: ZoneInfo, minute: int, hour: int, cron_weekday: int) -> None:
        super().__init__(tz, minute, hour)
        self.weekday = (cron_weekday - 1) % 7  # cron: 0 = Sunday; Python: 0 = Monday

    def _matches(self, day: date) -> bool:
        return day.weekday() == self.weekday

    def _next_day(self, day: date) -> date:
        return day + timedelta(days=7)


class _Monthly(_Calendar):
    def __init__(self, tz: ZoneInfo, minute: int, hour: int, day_of_month: int) -> None:
        super().__init__(tz, minute, hour)
        self.day_of_month = day_of_month

    def _matches(self, day: date) -> bool:
        return day.day == self.day_of_month

    def _next_day(self, day: date) -> date:
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        while True:
            try:
                return date(year, month, self.day_of_month)
            except ValueError:  # e.g. the 31st of a 30-day month: cron skips that month
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)


class _Cron(Schedule):
    """Any cron expression, through croniter."""

    def __init__(self, tz: ZoneInfo, expression: str) -> None:
        super().__init__(tz)
        self.expression = expression

    def _iter(self, start: datetime) -> object:
        from croniter import croniter

        return croniter(self.expression, start.astimezone(self.tz))

    def first_at_or_after(self, moment: datetime) -> datetime:
        it = self._iter(moment - timedelta(seconds=1))
        tick: datetime = it.get_next(datetime)  # type: ignore[attr-defined]
        return tick.astimezone(self.tz)

    def next_after(self, tick: datetime) -> datetime:
        it = self._iter(tick)
        nxt: datetime = it.get_next(datetime)  # type: ignore[attr-defined]
        return nxt.astimezone(self.tz)

    def is_tick(self, moment: datetime) -> bool:
        return self.first_at_or_after(moment) == moment


_N = r"(\d{1,2})"


def schedule_for(cron: str, tz: ZoneInfo) -> Schedule:
    """The fastest schedule that yields exactly the ticks of `cron` in `tz`."""
    parts = cron.split()
    text = " ".join(parts)
    if m := re.fullmatch(rf"{_N} \* \* \* \*", text):
        return _Hourly(tz, int(m[1]))
    if m := re.fullmatch(rf"{_N} {_N} \* \* \*", text):
        return _Daily(tz, int(m[1]), int(m[2]))
    if m := re.fullmatch(rf"{_N} {_N} \* \* ([0-7])", text):
        return _Weekly(tz, int(m[1]), int(m[2]), int(m[3]) % 7)
    if m := re.fullmatch(rf"{_N} {_N} {_N} \* \*", text):
        return _Monthly(tz, int(m[1]), int(m[2]), int(m[3]))
    from croniter import croniter

    if not croniter.is_valid(text):
        from conflux.events import DefinitionError

        raise DefinitionError(f"cron_schedule {cron!r} is not a valid cron expression")
    return _Cron(tz, text)
