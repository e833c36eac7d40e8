"""Any cron expression, through croniter, with ordinals over a cached run of ticks.

croniter walks the wall clock (naive datetimes), where it is reliable; this module turns
each wall-clock match into instants by the daylight-saving rules in `_cron_ticks.py`.
(croniter's own time-zone mode drops or keeps the second occurrence of a repeated hour
depending on where an iteration started, so it is not used.)
"""

from __future__ import annotations

import heapq
import threading
from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from conflux.events import DefinitionError
from conflux.sdk.partitions._cron_ticks import DST_HOURS, Schedule, resolve_wall

if TYPE_CHECKING:
    from collections.abc import Iterator
    from zoneinfo import ZoneInfo

# Every UTC offset in the time-zone database lies within +-16 hours, so a wall-clock
# time w is never more than this far from its instants: once croniter is past w, every
# instant before w - _SLACK (as UTC) is final.
_SLACK = timedelta(hours=16)
# Guards the tick caches of every cron schedule (a module lock keeps schedules copyable).
_LOCK = threading.RLock()
# How far back to look for earlier ticks before giving up.
_MAX_LOOKBACK = timedelta(days=366 * 30)


class CronSchedule(Schedule):
    """Ticks of any cron expression; ordinal 0 is the first tick at or after the anchor.

    croniter steps one tick at a time (about 20 µs a tick), so the ticks found so far are
    kept in a list that grows in either direction as callers ask for them.
    """

    def __init__(self, tz: ZoneInfo, expression: str, anchor: datetime) -> None:
        super().__init__(tz)
        from croniter import CroniterError, croniter

        if not croniter.is_valid(expression):
            raise DefinitionError(
                f"Found invalid cron schedule {expression!r}: cron_schedule {expression!r} is "
                "not a valid cron expression: write five fields, e.g. '0 0 * * *' for daily "
                "at midnight"
            )
        fields = croniter.expand(expression)[0]
        if len(fields) != 5:
            raise DefinitionError(
                f"cron_schedule {expression!r} has {len(fields)} fields: write five "
                "(minute hour day-of-month month day-of-week)"
            )
        self.expression = expression
        self.repeats_every_hour = fields[1] == ["*"]
        try:
            first = next(self._forward(anchor.astimezone(UTC) - timedelta(microseconds=1)))
        except CroniterError as exc:  # e.g. '0 0 30 2 *' (February 30th)
            raise DefinitionError(
                f"cron_schedule {expression!r} never fires: pick a date that exists"
            ) from exc
        self._ticks: list[datetime] = [first]  # UTC, ascending, consecutive
        self._base = 0  # ordinal of self._ticks[0]

    def _instants(self, wall: datetime) -> list[datetime]:
        """When the wall-clock match `wall` fires, in UTC (none, one or two instants)."""
        first = wall.replace(tzinfo=self.tz)
        second = wall.replace(tzinfo=self.tz, fold=1)
        before, after = first.utcoffset(), second.utcoffset()
        if before == after or before is None or after is None:
            return [first.astimezone(UTC)]
        if self.repeats_every_hour:
            # Fires every hour in absolute time: at both occurrences of a repeated hour,
            # never in a skipped one (the hour before and after still fire).
            return [first.astimezone(UTC), second.astimezone(UTC)] if before > after else []
        return [resolve_wall(wall, self.tz).astimezone(UTC)]

    def _forward(self, after: datetime) -> Iterator[datetime]:
        """Ticks strictly after `after` (UTC), in order."""
        from croniter import croniter

        wall = after.astimezone(self.tz).replace(tzinfo=None) - 2 * _SLACK
        it = croniter(self.expression, wall)
        pending: list[datetime] = []
        last = after
        while True:
            match: datetime = it.get_next(datetime)
            for instant in self._instants(match):
                heapq.heappush(pending, instant)
            final = match.replace(tzinfo=UTC) - _SLACK
            while pending and pending[0] < final:
                tick = heapq.heappop(pending)
                if tick > last:  # several skipped wall times can fire at one instant
                    last = tick
                    yield tick

    def _extend_forward(self, moment: datetime) -> None:
        """Grow the cached ticks until the last one is after `moment`."""
        if self._ticks[-1] > moment:
            return
        found: list[datetime] = []
        for tick in self._forward(self._ticks[-1]):
            found.append(tick)
            if tick > moment:
                break
        self._ticks.extend(found)

    def _extend_backward(self, moment: datetime) -> None:
        """Grow the cached ticks until the first one is at or before `moment`."""
        span = timedelta(days=7)
        while self._ticks[0] > moment:
            start = min(moment, self._ticks[0] - span) - timedelta(microseconds=1)
            found: list[datetime] = []
            for tick in self._forward(start):
                if tick >= self._ticks[0]:
                    break
                found.append(tick)
            if found:
                self._ticks[:0] = found
                self._base -= len(found)
            elif span > _MAX_LOOKBACK:
                raise DefinitionError(
                    f"cron_schedule {self.expression!r} has no tick before {moment.isoformat()}"
                )
            span *= 2

    def tick(self, n: int) -> datetime:
        with _LOCK:
            while n < self._base:
                self._extend_backward(self._ticks[0] - timedelta(days=1))
            while n - self._base >= len(self._ticks):
                self._extend_forward(self._ticks[-1] + (self._ticks[-1] - self._ticks[0]))
            return self._ticks[n - self._base]

    def wall(self, n: int) -> datetime:
        """Tick `n` as written in its key.

        A schedule time skipped by a change outside Dagster's hours 1 to 3 keeps its own
        wall-clock time (see `resolve_wall`).
        """
        tick = self.tick(n)
        local = tick.astimezone(self.tz)
        before = (tick - timedelta(seconds=1)).astimezone(self.tz).utcoffset()
        if before is None or before == local.utcoffset():
            return local
        written = (tick + before).replace(tzinfo=None)  # the wall clock before the change
        if written.hour in DST_HOURS or written == local.replace(tzinfo=None):
            return local
        from croniter import croniter

        if croniter.match(self.expression, written):
            return written.replace(tzinfo=self.tz)
        return local

    def ordinal(self, moment: datetime) -> int:
        utc = moment.astimezone(UTC)
        with _LOCK:
            self._extend_backward(utc)
            self._extend_forward(utc)
            return self._base + bisect_right(self._ticks, utc) - 1
