"""Dagster's fixed-cadence time partitions: hourly, daily, weekly, monthly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition

if TYPE_CHECKING:
    from datetime import datetime


class HourlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per hour, keyed `YYYY-MM-DD-HH:MM` by default.

    Example:
        >>> hours = HourlyPartitionsDefinition(
        ...     start_date="2024-01-01-00:00", timezone="Europe/Berlin"
        ... )
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
    """One partition per day, keyed `YYYY-MM-DD` by default.

    Example:
        >>> days = DailyPartitionsDefinition(start_date="2024-01-01", timezone="America/New_York")
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
    """One partition per week, starting on Sunday (`day_offset=0`) like Dagster's."""

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
    """One partition per month, starting on day `day_offset` (default the 1st)."""

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
