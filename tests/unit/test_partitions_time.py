"""Time-window partitions: existence, offsets, bounds, formats, cadences, DST, speed."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, date, datetime, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

import pytest

from conflux.events import DefinitionError, InvalidPartitionKeyError
from conflux.sdk.partitions import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    TimeWindow,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from conflux.sdk.partitions._cron import CronSchedule

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
JAN = [f"2024-01-{d:02d}" for d in range(1, 32)]
# The four daylight-saving days of 2024 the suite checks, with their length in hours.
DST_DAYS = [
    ("Europe/Berlin", "2024-03-31", 23),
    ("Europe/Berlin", "2024-10-27", 25),
    ("America/New_York", "2024-03-10", 23),
    ("America/New_York", "2024-11-03", 25),
]
# The two keys on either side of each change.
AROUND_CHANGE = {
    "2024-03-31": ["2024-03-31-01:00", "2024-03-31-03:00"],
    "2024-10-27": ["2024-10-27-02:00", "2024-10-27-02:00+0100"],
    "2024-03-10": ["2024-03-10-01:00", "2024-03-10-03:00"],
    "2024-11-03": ["2024-11-03-01:00", "2024-11-03-01:00-0500"],
}


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def hours(window: TimeWindow) -> float:
    return (window.end.astimezone(UTC) - window.start.astimezone(UTC)).total_seconds() / 3600


# -- which partitions exist -------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "count"),  # the window ending exactly now has ended
    [(at(2024, 1, 1, 9), 0), (at(2024, 1, 2, 23, 59), 1), (at(2024, 1, 3), 2), (at(2024, 1, 4), 3)],
)
def test_a_day_exists_once_it_has_ended(now: datetime, count: int) -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01")
    assert days.get_partition_keys(now) == JAN[:count]
    assert days.get_num_partitions(now) == count
    assert days.get_last_partition_key(now) == (JAN[count - 1] if count else None)


@pytest.mark.parametrize(
    ("start", "end_offset", "expected"),
    [
        *[("2024-01-01", offset, JAN[: max(2 + offset, 0)]) for offset in (1, 2, -1, -5)],
        ("2024-01-05", 0, []),
        # Dagster counts a positive offset from the window starting at or after now
        # (01-04 at noon on 01-03): one window on is 01-05, which has not begun ...
        ("2024-01-05", 1, []),
        # ... two windows on, 01-05 is reached and is the first and last key.
        ("2024-01-05", 2, ["2024-01-05"]),
    ],
)
def test_end_offset_adds_or_removes_windows(
    start: str, end_offset: int, expected: list[str]
) -> None:
    days = DailyPartitionsDefinition(start_date=start, end_offset=end_offset)
    assert days.get_partition_keys(at(2024, 1, 3, 12)) == expected
    assert days.get_num_partitions(at(2024, 1, 3, 12)) == len(expected)


def test_end_date_is_exclusive_and_caps_the_offset() -> None:
    january = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")
    keys = january.get_partition_keys()
    assert (len(keys), keys[0], keys[-1]) == (31, "2024-01-01", "2024-01-31")
    assert not january.has_partition_key("2024-02-01")
    early = at(2024, 1, 2, 12)
    capped = DailyPartitionsDefinition("2024-01-01", end_date="2024-01-05", end_offset=10)
    assert capped.get_partition_keys(early) == JAN[:4]
    # A negative offset counts back from now, not from `end` (Dagster's rule).
    fewer = DailyPartitionsDefinition("2024-01-01", end_date="2024-01-05", end_offset=-1)
    assert fewer.get_partition_keys() == JAN[:4]
    assert fewer.get_partition_keys(at(2024, 1, 3, 12)) == JAN[:1]
    # A window must end by `end`: the day of 01-10 ends on 01-11, after noon of 01-10.
    mid_day = DailyPartitionsDefinition(start_date="2024-01-01", end_date=datetime(2024, 1, 10, 12))
    assert mid_day.get_last_partition_key() == "2024-01-09"


def test_naive_current_time_is_wall_clock_in_the_zone() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", timezone="America/New_York")
    assert days.get_num_partitions(datetime(2024, 1, 3, 0, 30)) == 2  # 00:30 in New York
    assert days.get_num_partitions(at(2024, 1, 3, 0, 30)) == 1  # 19:30 on 01-02 in New York


def test_an_earlier_time_after_a_later_one_sees_fewer_keys() -> None:
    days = DailyPartitionsDefinition("2024-01-01")
    assert len(days.get_partition_keys(at(2024, 3, 1))) == 60  # cached, then sliced
    listed = days.get_partition_keys(at(2024, 1, 11))
    assert isinstance(listed, list) and len(listed) == 10
    listed.clear()  # callers get their own list
    assert len(days.get_partition_keys(at(2024, 1, 11))) == 10


def test_first_and_last_windows_and_repr() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", timezone="Europe/Berlin")
    now = at(2024, 1, 10, 12)
    first, last = days.get_first_partition_window(now), days.get_last_partition_window(now)
    assert first == TimeWindow(*(datetime(2024, 1, d, tzinfo=BERLIN) for d in (1, 2)))
    assert last == TimeWindow(*(datetime(2024, 1, d, tzinfo=BERLIN) for d in (9, 10)))
    assert days.get_last_partition_window(at(2024, 1, 1, 12)) is None
    assert repr(DailyPartitionsDefinition("2024-01-01", timezone="Europe/Berlin")) == (
        "DailyPartitionsDefinition(start='2024-01-01T00:00:00', fmt='%Y-%m-%d', end=None, "
        "timezone='Europe/Berlin', end_offset=0, cron_schedule='0 0 * * *')"
    )


# -- cadences, formats and start parsing --------------------------------------------------


def test_hourly_keys_and_minute_offset() -> None:
    now = at(2024, 1, 1, 2, 30)
    assert HourlyPartitionsDefinition(start_date="2024-01-01-00:00").get_partition_keys(now) == [
        "2024-01-01-00:00",
        "2024-01-01-01:00",
    ]
    half = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", minute_offset=30)
    assert half.get_partition_keys(now) == ["2024-01-01-00:30", "2024-01-01-01:30"]


def test_weekly_weeks_start_on_sunday_unless_day_offset_says_otherwise() -> None:
    sundays = WeeklyPartitionsDefinition(start_date="2024-01-01", end_date="2024-03-01")
    assert sundays.get_partition_keys() == [
        f"2024-{md}" for md in ("01-07", "01-14", "01-21", "01-28", "02-04", "02-11", "02-18")
    ]
    mondays = WeeklyPartitionsDefinition("2024-01-01", end_date="2024-03-01", day_offset=1)
    assert mondays.get_partition_keys()[:2] == ["2024-01-01", "2024-01-08"]
    assert mondays.get_partition_keys()[-1] == "2024-02-19"
    assert hours(sundays.time_window_for_partition_key("2024-01-14")) == 7 * 24
    year = WeeklyPartitionsDefinition(start_date="2024-01-01", end_date="2025-01-01")
    assert year.get_num_partitions() == 51  # Sundays 01-07 .. 12-22; 12-29's week ends in 2025


def test_monthly_keys_day_offset_and_format() -> None:
    months = MonthlyPartitionsDefinition(start_date="2024-01-01", end_date="2025-01-01")
    assert months.get_partition_keys() == [f"2024-{m:02d}-01" for m in range(1, 13)]
    assert hours(months.time_window_for_partition_key("2024-02-01")) == 29 * 24  # leap year
    mid = MonthlyPartitionsDefinition(start_date="2024-01-01", end_date="2024-05-01", day_offset=15)
    assert mid.get_partition_keys() == ["2024-01-15", "2024-02-15", "2024-03-15"]
    short = MonthlyPartitionsDefinition(
        start_date="2024-01-01", end_date="2024-05-01", day_offset=15, fmt="%Y-%m"
    )
    assert short.get_partition_keys() == ["2024-01", "2024-02", "2024-03"]
    assert short.time_window_for_partition_key("2024-02").start == datetime(2024, 2, 15, tzinfo=UTC)
    # Like cron, the 31st skips the months without one, so those windows span two months.
    last_day = MonthlyPartitionsDefinition("2024-01-01", end_date="2025-01-01", day_offset=31)
    assert last_day.get_partition_keys() == [f"2024-{m:02d}-31" for m in (1, 3, 5, 7, 8, 10)]


def test_custom_crons_go_through_croniter() -> None:
    six = TimeWindowPartitionsDefinition(
        "2024-01-01-00:00", "%Y-%m-%d-%H:%M", "2024-01-02-00:00", cron_schedule="0 */6 * * *"
    )
    assert six.get_partition_keys() == [f"2024-01-01-{h}:00" for h in ("00", "06", "12", "18")]
    weekdays = TimeWindowPartitionsDefinition(
        start="2024-01-05", fmt="%Y-%m-%d %H:%M", end="2024-01-10", cron_schedule="15 9 * * 1-5"
    )
    assert weekdays.get_partition_keys() == ["2024-01-05 09:15", "2024-01-08 09:15"]
    assert hours(weekdays.time_window_for_partition_key("2024-01-05 09:15")) == 72  # Fri to Mon
    assert weekdays.has_partition_key("2024-01-08 09:15")
    assert not weekdays.has_partition_key("2024-01-06 09:15")  # a Saturday


def test_start_parsing() -> None:
    assert HourlyPartitionsDefinition("2024-01-01") == HourlyPartitionsDefinition(
        "2024-01-01-00:00"
    )
    assert DailyPartitionsDefinition(datetime(2024, 1, 1)) == DailyPartitionsDefinition(
        "2024-01-01"
    )
    iso = DailyPartitionsDefinition("2024-01-01T00:00:00")
    assert iso.start == datetime(2024, 1, 1, tzinfo=UTC)
    custom = DailyPartitionsDefinition(start_date="20240101", end_date="20240103", fmt="%Y%m%d")
    assert custom.get_partition_keys() == ["20240101", "20240102"]
    # Aware datetimes are converted to the zone (midnight UTC is 19:00 in New York) ...
    aware = datetime(2024, 1, 1, tzinfo=UTC)
    ny_hours = HourlyPartitionsDefinition(start_date=aware, timezone="America/New_York")
    assert ny_hours.get_first_partition_key(at(2024, 2, 1)) == "2023-12-31-19:00"
    # ... and a start between ticks moves up to the next tick (`start` is the start given).
    ny_days = DailyPartitionsDefinition(start_date=aware, timezone="America/New_York")
    assert ny_days.start == aware
    assert ny_days.first_window_start == datetime(2024, 1, 1, tzinfo=NEW_YORK)
    unaligned = DailyPartitionsDefinition(start_date=datetime(2024, 1, 1, 5))
    assert unaligned.get_first_partition_key(at(2024, 2, 1)) == "2024-01-02"


class DailyOptions(TypedDict, total=False):
    """The `DailyPartitionsDefinition` arguments the refusals below get wrong."""

    start_date: str
    end_date: str
    timezone: str
    fmt: str


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"start_date": "01/02/2024"}, "does not match the format '%Y-%m-%d'"),
        ({"timezone": "Mars/Base"}, "unknown time zone"),
        ({"end_date": "2023-12-31"}, "no window"),
        ({"end_date": "2024-01-01T12:00"}, "no window"),
        ({"fmt": "%Y-%m"}, "the same key"),
    ],
)
def test_bad_definitions_are_refused_with_the_fix(kwargs: DailyOptions, complaint: str) -> None:
    options: DailyOptions = {"start_date": "2024-01-01", **kwargs}
    with pytest.raises(DefinitionError, match=complaint):
        DailyPartitionsDefinition(**options)


@pytest.mark.parametrize(
    ("cron", "complaint"), [("daily", "not a valid cron"), ("0 0 30 2 *", "never")]
)
def test_bad_crons_are_refused(cron: str, complaint: str) -> None:
    with pytest.raises(DefinitionError, match=complaint):
        TimeWindowPartitionsDefinition("2024-01-01", "%Y-%m-%d", cron_schedule=cron)


# -- key validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "problem", "fix"),
    [
        ("2024/01/05", "does not match the format '%Y-%m-%d'", "like '2024-01-01'"),
        ("2024-1-5", "is not the start of a window", "'2024-01-05'"),
        ("2023-12-31", "before the first partition", "use '2024-01-01' or later"),
        ("2024-01-10", "does not exist yet", "end_offset=1"),
    ],
)
def test_invalid_keys_say_why_and_what_would_do(key: str, problem: str, fix: str) -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01")
    now = at(2024, 1, 10, 12)
    assert not days.has_partition_key(key, now)
    with pytest.raises(InvalidPartitionKeyError) as info:
        days.validate_partition_key(key, now)
    message = str(info.value)
    assert repr(key) in message and problem in message and fix in message
    assert "keys now run from '2024-01-01' to '2024-01-09'" in message


def test_keys_past_the_end_and_off_the_hour_are_explained() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")
    with pytest.raises(InvalidPartitionKeyError, match=r"after the end, 2024-02-01T00:00:00 \("):
        days.validate_partition_key("2024-02-01")
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", end_date="2024-01-02-00:00")
    with pytest.raises(InvalidPartitionKeyError, match="contains it, '2024-01-01-00:00'"):
        hourly.validate_partition_key("2024-01-01-00:30")
    with pytest.raises(InvalidPartitionKeyError, match="names no window"):
        hourly.time_window_for_partition_key("tomorrow")


def test_ranges_are_inclusive_and_ordered() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")
    assert days.get_partition_keys_in_range("2024-01-30", "2024-01-31") == JAN[-2:]
    with pytest.raises(InvalidPartitionKeyError, match="comes after"):
        days.get_partition_keys_in_range("2024-01-31", "2024-01-30")
    with pytest.raises(InvalidPartitionKeyError, match="'2024-02-01'"):
        days.get_partition_keys_in_range("2024-01-30", "2024-02-01")


# -- daylight saving --------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "day", "count"), DST_DAYS)
def test_hourly_partitions_on_dst_days(zone: str, day: str, count: int) -> None:
    midnight = date.fromisoformat(day)
    hourly = HourlyPartitionsDefinition(
        start_date=f"{day}-00:00", end_date=f"{midnight + timedelta(days=1)}-00:00", timezone=zone
    )
    keys = hourly.get_partition_keys()
    assert len(keys) == count == hourly.get_num_partitions()
    assert len(set(keys)) == count  # unique, even in the repeated hour
    first_change = 2 if zone == "Europe/Berlin" and count == 25 else 1
    assert keys[first_change : first_change + 2] == AROUND_CHANGE[day]
    windows = [hourly.time_window_for_partition_key(k) for k in keys]
    assert all(hours(w) == 1 for w in windows)
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert windows[0].start == datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone))
    assert windows[-1].end == windows[0].start + timedelta(days=1)  # wall-clock arithmetic
    assert all(hourly.has_partition_key(k) for k in keys)
    assert [hourly.get_partition_key_for_time(w.start) for w in windows] == keys
    late = [w.start.astimezone(UTC) + timedelta(minutes=59) for w in windows]  # absolute time
    assert [hourly.get_partition_key_for_time(t) for t in late] == keys


def test_the_repeated_hour_parses_back_to_its_own_window() -> None:
    hourly = HourlyPartitionsDefinition(start_date="2024-10-27-00:00", timezone="Europe/Berlin")
    first = hourly.time_window_for_partition_key("2024-10-27-02:00")
    second = hourly.time_window_for_partition_key("2024-10-27-02:00+0100")
    assert first.start.astimezone(UTC) == at(2024, 10, 27, 0)
    assert second.start.astimezone(UTC) == at(2024, 10, 27, 1)
    assert hourly.get_partition_key_for_time(at(2024, 10, 27, 1, 30)) == "2024-10-27-02:00+0100"
    ny = HourlyPartitionsDefinition(start_date="2024-11-03-00:00", timezone="America/New_York")
    in_range = ny.get_partition_keys_in_range(
        "2024-11-03-00:00", "2024-11-03-02:00", at(2024, 12, 1)
    )
    assert in_range == ["2024-11-03-00:00", *AROUND_CHANGE["2024-11-03"], "2024-11-03-02:00"]
    assert not ny.has_partition_key("2024-11-03-02:00-0500", at(2024, 12, 1))  # not doubled


@pytest.mark.parametrize(("zone", "day", "length"), DST_DAYS)
def test_daily_windows_are_23_or_25_hours_on_dst_days(zone: str, day: str, length: int) -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2025-01-01", timezone=zone)
    assert days.get_num_partitions() == 366
    assert hours(days.time_window_for_partition_key(day)) == length
    before, after = (str(date.fromisoformat(day) + timedelta(days=d)) for d in (-1, 1))
    assert hours(days.time_window_for_partition_key(before)) == 24
    assert hours(days.time_window_for_partition_key(after)) == 24


def test_day_starts_inside_a_change_follow_dagster() -> None:
    # 02:00 does not exist on 2024-03-10 in New York: that day starts at 03:00 EDT.
    two_am = DailyPartitionsDefinition("2024-03-01", hour_offset=2, timezone="America/New_York")
    window = two_am.time_window_for_partition_key("2024-03-10")
    assert window.start.astimezone(UTC) == at(2024, 3, 10, 7)  # 03:00 EDT
    assert hours(window) == 23
    assert hours(two_am.time_window_for_partition_key("2024-03-09")) == 24  # 02:00 EST to 03:00 EDT
    # 01:00 occurs twice on 2024-11-03: the day starts at the later one (01:00 EST).
    one_am = DailyPartitionsDefinition("2024-11-01", hour_offset=1, timezone="America/New_York")
    # (Python never finds the later 01:00 equal to a time in another zone: compare in UTC.)
    assert one_am.time_window_for_partition_key("2024-11-03").start.astimezone(UTC) == at(
        2024, 11, 3, 6
    )
    assert hours(one_am.time_window_for_partition_key("2024-11-02")) == 25


def test_half_hour_daylight_saving_uses_croniter() -> None:
    # Lord Howe Island moves its clocks by 30 minutes; on 2024-04-07 02:00 +11 becomes
    # 01:30 +10:30, so the 01:00 window lasts 90 minutes.
    hourly = HourlyPartitionsDefinition(
        start_date="2024-04-07-00:00", end_date="2024-04-08-00:00", timezone="Australia/Lord_Howe"
    )
    assert isinstance(hourly._schedule, CronSchedule)
    assert hourly.get_num_partitions() == 24
    assert hours(hourly.time_window_for_partition_key("2024-04-07-01:00")) == 1.5


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "America/Havana"])
@pytest.mark.parametrize(
    "cron", ["0 * * * *", "45 * * * *", "0 0 * * *", "30 2 * * *", "30 1 * * 0", "0 3 1 * *"]
)
def test_fast_paths_tick_exactly_like_croniter(zone: str, cron: str) -> None:
    """The arithmetic schedules agree with croniter read by Dagster's DST rules.

    Hourly crons are compared over the weeks of both 2024 changes (croniter costs tens of
    microseconds a tick), the others over all of 2024.
    """
    tz = ZoneInfo(zone)
    hourly = cron.endswith("* * * *")
    changes = [datetime.fromisoformat(day) for z, day, _ in DST_DAYS if z == zone] or [
        datetime(2024, 3, 10),  # Havana changes with New York
        datetime(2024, 11, 3),
    ]
    starts = [c - timedelta(days=2) for c in changes] if hourly else [datetime(2024, 1, 1)]
    for start in starts:  # naive: wall-clock time in the zone
        defn = TimeWindowPartitionsDefinition(start, "%F %R%z", timezone=zone, cron_schedule=cron)
        assert not isinstance(defn._schedule, CronSchedule)
        slow = CronSchedule(tz, cron, defn.start)
        fast = [defn._schedule.tick(defn._lo + i) for i in range(4 * 24 if hourly else 366)]
        assert fast == [slow.tick(i) for i in range(len(fast))]


# -- speed ------------------------------------------------------------------------------


def test_a_century_of_hourly_keys_is_fast() -> None:
    for zone in ("UTC", "Europe/Berlin"):
        now = datetime(2024, 1, 1, tzinfo=ZoneInfo(zone))
        hourly = HourlyPartitionsDefinition(start_date="1924-01-01-00:00", timezone=zone)
        began = time.perf_counter()
        assert hourly.get_num_partitions(now) == 876_600  # 36,525 days; both ends in winter time
        assert hourly.has_partition_key("1999-12-31-23:00", now)
        assert time.perf_counter() - began < 0.05  # arithmetic, no listing
        began = time.perf_counter()
        keys = hourly.get_partition_keys(now)
        assert time.perf_counter() - began < 5  # about 0.5 s on a laptop
        assert (keys[0], keys[-1], len(keys)) == ("1924-01-01-00:00", "2023-12-31-23:00", 876_600)
    assert len(set(keys)) == len(keys)


def test_daily_keys_since_1900() -> None:
    now = at(2024, 6, 1)
    days = DailyPartitionsDefinition(start_date="1900-01-01")
    began = time.perf_counter()
    keys = days.get_partition_keys(now)
    assert time.perf_counter() - began < 1
    assert len(keys) == (date(2024, 6, 1) - date(1900, 1, 1)).days
    assert keys[0] == "1900-01-01" and keys[-1] == "2024-05-31"
    assert days.get_partition_keys_in_range("1999-12-31", "2000-01-02", now) == [
        "1999-12-31", "2000-01-01", "2000-01-02",
    ]  # fmt: skip
