"""Dagster's fixed-cadence time partitions: hourly, daily, weekly, monthly.

Each is a `TimeWindowPartitionsDefinition` with the cron Dagster uses, so it equals (and
round-trips through its snapshot as) the generic definition with that cron.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition

if TYPE_CHECKING:
    from datetime import datetime


class HourlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per hour (cron `{minute_offset} * * * *`), keyed `YYYY-MM-DD-HH:MM`.

    An hour exists once it has ended. In a zone with daylight saving a spring-forward
    day has 23 hours and a fall-back day 25; the second occurrence of the repeated hour
    is keyed with its UTC offset appended (`2024-10-27-02:00+0100` in Europe/Berlin).

    Args:
        start_date: the first hour, as `fmt` (or `YYYY-MM-DD` for midnight) or a datetime.
        end_date: the first hour not included (exclusive), or None for open-ended.
        minute_offset: the minute past the hour at which windows start.
        timezone: IANA zone the hours are read in (default UTC).
        fmt: key format (default `%Y-%m-%d-%H:%M`).
        end_offset: windows past the last complete hour to include (negative: fewer).

    Example:
        >>> hours = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
        >>> hours.get_partition_keys(current_time=datetime(2024, 1, 1, 2, 30, tzinfo=UTC))
        ['2024-01-01-00:00', '2024-01-01-01:00']
    """

    def __init__(
        self,
        start_date: str | datetime,
        end_date: str | datetime | None = None,
        minute_offset: int = 0,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(
            start=start_date,
            fmt=fmt or "%Y-%m-%d-%H:%M",
            end=end_date,
            timezone=timezone,
            end_offset=end_offset,
            cron_schedule=f"{minute_offset} * * * *",
        )


class DailyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per day (cron `{minute_offset} {hour_offset} * * *`), keyed `YYYY-MM-DD`.

    A day exists once it has ended; on a daylight-saving change day the window is 23 or
    25 hours long.

    Args:
        start_date: the first day, as `fmt` or a datetime.
        end_date: the first day not included (exclusive), or None for open-ended.
        minute_offset: minute of the hour at which days start.
        hour_offset: hour of the day at which days start.
        timezone: IANA zone the days are read in (default UTC).
        fmt: key format (default `%Y-%m-%d`).
        end_offset: windows past the last complete day to include (negative: fewer).

    Example:
        >>> days = DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1)
        >>> days.get_partition_keys(current_time=datetime(2024, 1, 3, 12, tzinfo=UTC))
        ['2024-01-01', '2024-01-02', '2024-01-03']
    """

    def __init__(
        self,
        start_date: str | datetime,
        end_date: str | datetime | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(
            start=start_date,
            fmt=fmt or "%Y-%m-%d",
            end=end_date,
            timezone=timezone,
            end_offset=end_offset,
            cron_schedule=f"{minute_offset} {hour_offset} * * *",
        )


class WeeklyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per week, keyed by its first day; weeks start on Sunday by default.

    The cron is `{minute_offset} {hour_offset} * * {day_offset}` (0 = Sunday, as in cron
    and Dagster), so the first key is the first such day on or after `start_date`.

    Args:
        start_date: the first week's start (rounded up to the next `day_offset` day).
        end_date: the first week not included (exclusive), or None for open-ended.
        minute_offset: minute of the hour at which weeks start.
        hour_offset: hour of the day at which weeks start.
        day_offset: day of the week at which weeks start, 0 = Sunday ... 6 = Saturday.
        timezone: IANA zone the weeks are read in (default UTC).
        fmt: key format (default `%Y-%m-%d`).
        end_offset: windows past the last complete week to include (negative: fewer).

    Example:
        >>> weeks = WeeklyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-22")
        >>> weeks.get_partition_keys()
        ['2024-01-07', '2024-01-14']
    """

    def __init__(
        self,
        start_date: str | datetime,
        end_date: str | datetime | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int = 0,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(
            start=start_date,
            fmt=fmt or "%Y-%m-%d",
            end=end_date,
            timezone=timezone,
            end_offset=end_offset,
            cron_schedule=f"{minute_offset} {hour_offset} * * {day_offset}",
        )


class MonthlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per month, keyed by its first day (`day_offset`, default the 1st).

    The cron is `{minute_offset} {hour_offset} {day_offset} * *`. Days 29 to 31 follow
    cron and skip the months that lack them, so those windows span two months.

    Args:
        start_date: the first month's start (rounded up to the next `day_offset` day).
        end_date: the first month not included (exclusive), or None for open-ended.
        minute_offset: minute of the hour at which months start.
        hour_offset: hour of the day at which months start.
        day_offset: day of the month at which months start.
        timezone: IANA zone the months are read in (default UTC).
        fmt: key format (default `%Y-%m-%d`).
        end_offset: windows past the last complete month to include (negative: fewer).

    Example:
        >>> months = MonthlyPartitionsDefinition(start_date="2024-01-01", end_date="2024-04-01")
        >>> months.get_partition_keys()
        ['2024-01-01', '2024-02-01', '2024-03-01']
    """

    def __init__(
        self,
        start_date: str | datetime,
        end_date: str | datetime | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int = 1,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(
            start=start_date,
            fmt=fmt or "%Y-%m-%d",
            end=end_date,
            timezone=timezone,
            end_offset=end_offset,
            cron_schedule=f"{minute_offset} {hour_offset} {day_offset} * *",
        )
