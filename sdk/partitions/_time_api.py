"""Dagster's conveniences on time-window partitions: cadence, offsets, neighbours, descriptions.

`TimeWindowPartitionsDefinition` exposes these as methods and properties with Dagster's
names (`schedule_type`, `get_cron_schedule`, `get_next_partition_window`, ...); they live
here, as functions of the definition, so that the definition's module keeps to keys and
bounds.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING

from conflux.events import InvalidInvocationError, InvalidPartitionKeyError

if TYPE_CHECKING:
    from conflux.sdk.partitions._time_window import TimeWindow, TimeWindowPartitionsDefinition


class ScheduleType(Enum):
    """The cadence of a time-window definition (Dagster's `ScheduleType`)."""

    HOURLY = "HOURLY"
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


_CADENCES = (
    (ScheduleType.HOURLY, r"\d+ \* \* \* \*"),
    (ScheduleType.DAILY, r"\d+ \d+ \* \* \*"),
    (ScheduleType.WEEKLY, r"\d+ \d+ \* \* \d+"),
    (ScheduleType.MONTHLY, r"\d+ \d+ \d+ \* \*"),
)


def schedule_type(defn: TimeWindowPartitionsDefinition) -> ScheduleType | None:
    """Hourly, daily, weekly or monthly, read from the cron as Dagster reads it (else None)."""
    for cadence, pattern in _CADENCES:
        if re.fullmatch(pattern, defn.cron_schedule):
            return cadence
    return None


def _cron_field(defn: TimeWindowPartitionsDefinition, index: int, what: str) -> int:
    fields = defn.cron_schedule.split()
    if len(fields) != 5 or not fields[index].isdigit():
        raise InvalidInvocationError(
            f"cron_schedule {defn.cron_schedule!r} has no {what}: it is defined for crons "
            "with a number in that field (hourly, daily, weekly, monthly)"
        )
    return int(fields[index])


def minute_offset(defn: TimeWindowPartitionsDefinition) -> int:
    """The minute of the hour at which windows start."""
    return _cron_field(defn, 0, "minute offset")


def hour_offset(defn: TimeWindowPartitionsDefinition) -> int:
    """The hour of the day at which windows start."""
    return _cron_field(defn, 1, "hour offset")


def day_offset(defn: TimeWindowPartitionsDefinition) -> int:
    """The day of the week (weekly, 0 = Sunday) or month (monthly) at which windows start."""
    cadence = schedule_type(defn)
    if cadence is ScheduleType.WEEKLY:
        return _cron_field(defn, 4, "day offset")
    if cadence is ScheduleType.MONTHLY:
        return _cron_field(defn, 2, "day offset")
    raise InvalidInvocationError(
        f"Unsupported schedule type for day_offset: {cadence}: only weekly and monthly "
        "definitions have a day offset"
    )


def cron_for(cadence: ScheduleType, minute: int, hour: int, day: int | None) -> str:
    """The cron of a cadence with offsets, as Dagster builds it."""
    if cadence is ScheduleType.HOURLY:
        return f"{minute} * * * *"
    if cadence is ScheduleType.DAILY:
        return f"{minute} {hour} * * *"
    if cadence is ScheduleType.WEEKLY:
        return f"{minute} {hour} * * {day if day is not None else 0}"
    return f"{minute} {hour} {day if day is not None else 1} * *"


def get_cron_schedule(
    defn: TimeWindowPartitionsDefinition,
    minute_of_hour: int | None = None,
    hour_of_day: int | None = None,
    day_of_week: int | None = None,
    day_of_month: int | None = None,
) -> str:
    """The definition's cadence with some offsets replaced (Dagster's `get_cron_schedule`).

    Raises:
        InvalidInvocationError: an offset is given for a cron that is not hourly, daily,
            weekly or monthly, or one that the cadence has no field for.
    """
    if minute_of_hour is hour_of_day is day_of_week is day_of_month is None:
        return defn.cron_schedule
    cadence = schedule_type(defn)
    if cadence is None:
        raise InvalidInvocationError(
            f"{defn.cron_schedule} does not support minute_of_hour/hour_of_day/day_of_week/"
            "day_of_month arguments: write the schedule's cron yourself"
        )
    minute = minute_offset(defn) if minute_of_hour is None else minute_of_hour
    if cadence is ScheduleType.HOURLY and hour_of_day is not None:
        raise InvalidInvocationError("Cannot set hour parameter with hourly partitions.")
    hour = 0 if cadence is ScheduleType.HOURLY else hour_offset(defn)
    hour = hour if hour_of_day is None else hour_of_day
    if cadence is ScheduleType.DAILY and (day_of_week is not None or day_of_month is not None):
        raise InvalidInvocationError(
            "Cannot set day of week or month parameter with daily partitions."
        )
    day: int | None = None
    if cadence is ScheduleType.MONTHLY:
        day = day_of_month if day_of_month is not None else (day_offset(defn) or 1)
    elif cadence is ScheduleType.WEEKLY:
        day = day_of_week if day_of_week is not None else (day_offset(defn) or 0)
    return cron_for(cadence, minute, hour, day)


def describe(defn: TimeWindowPartitionsDefinition) -> str:
    """Dagster's `str()` of a time-window definition (`Daily, starting 2024-01-01 UTC.`)."""
    cadence = schedule_type(defn)
    what = cadence.value.capitalize() if cadence else defn.cron_schedule
    text = f"{what}, starting {defn.key_for_instant(defn.start)} {defn.timezone}."
    if defn.end_offset:
        plural = "" if defn.end_offset == 1 else "s"
        text += f" End offsetted by {defn.end_offset} partition{plural}."
    return text


def unique_identifier(defn: TimeWindowPartitionsDefinition) -> str:
    """A stable hash of what the definition says (equal definitions hash alike)."""
    import hashlib

    return hashlib.sha1(defn.to_snapshot().model_dump_json().encode()).hexdigest()


def next_partition_window(
    defn: TimeWindowPartitionsDefinition,
    end_dt: datetime,
    respect_bounds: bool = True,
    current_time: datetime | None = None,
) -> TimeWindow | None:
    """The first window starting at or after `end_dt` (None: past the last one, if bounded)."""
    aware = end_dt if end_dt.tzinfo else end_dt.replace(tzinfo=defn.tick(0).tzinfo)
    n = defn.next_included_ordinal(defn.ordinal_at_or_after_time(aware))
    if respect_bounds:
        last = defn.get_last_partition_window(current_time)
        if last is None or defn.tick(n) >= last.end:
            return None
    return defn.window_of_ordinal(n)


def prev_partition_window(
    defn: TimeWindowPartitionsDefinition,
    start_dt: datetime,
    respect_bounds: bool = True,
    current_time: datetime | None = None,
) -> TimeWindow | None:
    """The last window ending at or before `start_dt` (None: before the first one, if bounded)."""
    aware = start_dt if start_dt.tzinfo else start_dt.replace(tzinfo=defn.tick(0).tzinfo)
    n = defn.prev_included_ordinal(defn.ordinal_of_time(aware) - 1)
    if respect_bounds:
        first = defn.get_first_partition_window(current_time)
        if first is None or defn.tick(n) < first.start:
            return None
    return defn.window_of_ordinal(n)


def next_partition_key(
    defn: TimeWindowPartitionsDefinition, key: str, current_time: datetime | None = None
) -> str | None:
    """The key after `key` (None: `key` is the last existing one)."""
    n = defn.ordinal_at_or_after_key(key)
    following = defn.next_included_ordinal(n + 1)
    last = defn.get_last_partition_window(current_time)
    if last is None or defn.tick(following) >= last.end:
        return None
    return defn.key_of_ordinal(following)


def partition_key_for_timestamp(
    defn: TimeWindowPartitionsDefinition, timestamp: float, end_closed: bool = False
) -> str:
    """The key of the window containing `timestamp` (UTC seconds); `end_closed`: (start, end]."""
    moment = datetime.fromtimestamp(timestamp, defn.tick(0).tzinfo)
    n = defn.ordinal_of_time(moment)
    if end_closed and defn.tick(n) == moment:
        n -= 1
    return defn.key_of_ordinal(defn.prev_included_ordinal(n))


def keys_between_indexes(
    defn: TimeWindowPartitionsDefinition,
    start_idx: int,
    end_idx: int,
    current_time: datetime | None = None,
) -> list[str]:
    """The existing keys at positions `start_idx` (included) to `end_idx` (excluded)."""
    count = defn.get_num_partitions(current_time)
    return [defn.key_at(i, current_time) for i in range(max(start_idx, 0), min(end_idx, count))]


def partition_key(
    defn: TimeWindowPartitionsDefinition,
    key: str | date | datetime,
    current_time: datetime | None = None,
) -> str:
    """`key` (a key, a date or a datetime formatted with the definition's `fmt`), checked.

    Raises:
        InvalidPartitionKeyError: the key does not exist (a `ValueError`, as in Dagster).
    """
    text = key.strftime(defn.fmt) if isinstance(key, date) else key
    if not isinstance(text, str) or not defn.has_partition_key(text, current_time):
        raise InvalidPartitionKeyError(
            f"Got invalid partition key {text!r}: {defn.describe_keys()}"
        )
    return text
