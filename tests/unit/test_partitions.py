from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from conflux import (
    AllPartitionMapping,
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    IncompatiblePartitionMappingError,
    InvalidPartitionKeyError,
    LastPartitionMapping,
    MonthlyPartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from conflux.events import DefinitionError
from conflux.sdk.partitions import (
    default_partition_mapping,
    mapping_from_snapshot,
    partitions_from_snapshot,
)


def hours(window: object) -> float:
    start, end = window  # type: ignore[misc]
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600


# -- static ------------------------------------------------------------------------------


def test_static_keys_and_validation() -> None:
    colors = StaticPartitionsDefinition(["red", "green", "blue"])
    assert colors.get_partition_keys() == ["red", "green", "blue"]
    assert colors.get_num_partitions() == 3
    assert colors.has_partition_key("green") and not colors.has_partition_key("pink")
    assert colors.get_partition_keys_in_range("green", "blue") == ["green", "blue"]
    with pytest.raises(InvalidPartitionKeyError, match="pink"):
        colors.validate_partition_key("pink")
    with pytest.raises(InvalidPartitionKeyError, match="comes after"):
        colors.get_partition_keys_in_range("blue", "red")
    for bad in (["a", "a"], ["a|b"], [""]):
        with pytest.raises(DefinitionError):
            StaticPartitionsDefinition(bad)


# -- calendar cadences ----------------------------------------------------------------------


def test_daily_exists_once_the_day_has_ended_and_end_offset_adds_days() -> None:
    now = datetime(2024, 1, 3, 12, tzinfo=UTC)
    assert DailyPartitionsDefinition(start_date="2024-01-01").get_partition_keys(now) == [
        "2024-01-01",
        "2024-01-02",
    ]
    assert (
        DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1).get_partition_keys(now)[-1]
        == "2024-01-03"
    )
    assert DailyPartitionsDefinition(start_date="2024-01-01", end_offset=-1).get_partition_keys(
        now
    ) == ["2024-01-01"]
    assert DailyPartitionsDefinition(start_date="2024-01-05").get_partition_keys(now) == []


def test_end_date_is_exclusive() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")
    keys = days.get_partition_keys()
    assert (len(keys), keys[0], keys[-1]) == (31, "2024-01-01", "2024-01-31")
    assert days.get_partition_keys_in_range("2024-01-30", "2024-01-31") == [
        "2024-01-30",
        "2024-01-31",
    ]
    assert not days.has_partition_key("2024-02-01")


def test_hourly_weekly_monthly_keys_and_formats() -> None:
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", end_date="2024-01-01-03:00")
    assert hourly.get_partition_keys() == [
        "2024-01-01-00:00",
        "2024-01-01-01:00",
        "2024-01-01-02:00",
    ]
    assert (
        HourlyPartitionsDefinition(
            start_date="2024-01-01", end_date="2024-01-01-02:00"
        ).get_num_partitions()
        == 2
    )
    weekly = WeeklyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")
    # Sundays; the week of 01-28 ends after end_date (exclusive), so it is not included
    assert weekly.get_partition_keys() == ["2024-01-07", "2024-01-14", "2024-01-21"]
    monthly = MonthlyPartitionsDefinition(start_date="2024-01-01", end_date="2024-04-01")
    assert monthly.get_partition_keys() == ["2024-01-01", "2024-02-01", "2024-03-01"]
    custom = DailyPartitionsDefinition(start_date="20240101", end_date="20240103", fmt="%Y%m%d")
    assert custom.get_partition_keys() == ["20240101", "20240102"]
    six = TimeWindowPartitionsDefinition(
        cron_schedule="0 */6 * * *",
        start="2024-01-01-00:00",
        fmt="%Y-%m-%d-%H:%M",
        end="2024-01-02-00:00",
    )
    assert six.get_partition_keys() == [
        "2024-01-01-00:00",
        "2024-01-01-06:00",
        "2024-01-01-12:00",
        "2024-01-01-18:00",
    ]


def test_bad_definitions_are_refused() -> None:
    with pytest.raises(DefinitionError, match="format"):
        DailyPartitionsDefinition(start_date="01/02/2024")
    with pytest.raises(DefinitionError, match="time zone"):
        DailyPartitionsDefinition(start_date="2024-01-01", timezone="Mars/Olympus")
    with pytest.raises(DefinitionError, match="no window"):
        DailyPartitionsDefinition(start_date="2024-01-02", end_date="2024-01-01")
    with pytest.raises(DefinitionError, match="cron"):
        TimeWindowPartitionsDefinition(
            cron_schedule="every day", start="2024-01-01", fmt="%Y-%m-%d"
        )


def test_key_validation_names_the_valid_form() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")
    for bad in ("2024-1-5", "2023-12-31", "2024-02-01", "yesterday"):
        with pytest.raises(InvalidPartitionKeyError) as info:
            days.validate_partition_key(bad)
        assert bad in str(info.value) and "%Y-%m-%d" in str(info.value)


# -- daylight saving ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "count"),
    [
        ("Europe/Berlin", "2024-03-31", 23),
        ("Europe/Berlin", "2024-10-27", 25),
        ("America/New_York", "2024-03-10", 23),
        ("America/New_York", "2024-11-03", 25),
        ("Europe/Berlin", "2024-06-01", 24),
    ],
)
def test_hourly_partitions_across_dst_changes(zone: str, day: str, count: int) -> None:
    start = datetime.fromisoformat(day)
    hourly = HourlyPartitionsDefinition(
        start_date=f"{day}-00:00",
        end_date=(start + timedelta(days=1)).strftime("%Y-%m-%d-00:00"),
        timezone=zone,
    )
    keys = hourly.get_partition_keys()
    assert len(keys) == count
    assert len(set(keys)) == count  # unique, even in the repeated hour
    windows = [hourly.time_window_for_partition_key(k) for k in keys]
    assert all(hours(w) == 1 for w in windows)
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert all(hourly.has_partition_key(k) for k in keys)


def test_repeated_hour_keys_round_trip() -> None:
    hourly = HourlyPartitionsDefinition(
        start_date="2024-11-03-00:00", end_date="2024-11-04-00:00", timezone="America/New_York"
    )
    keys = hourly.get_partition_keys()
    assert keys[1:4] == ["2024-11-03-01:00", "2024-11-03-01:00-0500", "2024-11-03-02:00"]
    first, second = (hourly.time_window_for_partition_key(k) for k in keys[1:3])
    assert second.start.astimezone(UTC) - first.start.astimezone(UTC) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("zone", "day", "length"),
    [
        ("Europe/Berlin", "2024-03-31", 23),
        ("Europe/Berlin", "2024-10-27", 25),
        ("America/New_York", "2024-03-10", 23),
        ("America/New_York", "2024-11-03", 25),
    ],
)
def test_daily_windows_are_23_or_25_hours_on_dst_days(zone: str, day: str, length: int) -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2025-01-01", timezone=zone)
    assert hours(days.time_window_for_partition_key(day)) == length
    assert days.get_num_partitions() == 366
    hourly = HourlyPartitionsDefinition(
        start_date="2024-01-01-00:00", end_date="2025-01-01-00:00", timezone=zone
    )
    read = TimeWindowPartitionMapping().get_upstream_partition_keys(day, days, hourly)
    assert len(read) == length
    assert read[0] == f"{day}-00:00"


# -- mappings -------------------------------------------------------------------------------


def test_identity_and_defaults() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-10")
    hours_def = HourlyPartitionsDefinition(
        start_date="2024-01-01-00:00", end_date="2024-01-10-00:00"
    )
    assert isinstance(default_partition_mapping(days, days), IdentityPartitionMapping)
    assert isinstance(default_partition_mapping(days, hours_def), TimeWindowPartitionMapping)
    assert isinstance(default_partition_mapping(None, days), AllPartitionMapping)
    assert default_partition_mapping(days, None).get_upstream_partition_keys(
        "2024-01-02", days, None
    ) == [None]
    assert IdentityPartitionMapping().get_upstream_partition_keys("2024-01-02", days, days) == [
        "2024-01-02"
    ]
    assert IdentityPartitionMapping().get_downstream_partition_keys("2024-01-02", days, days) == [
        "2024-01-02"
    ]


def test_time_window_offsets_both_ways() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-10")
    previous = TimeWindowPartitionMapping(start_offset=-1)
    assert previous.get_upstream_partition_keys("2024-01-03", days, days) == [
        "2024-01-02",
        "2024-01-03",
    ]
    assert previous.get_upstream_partition_keys("2024-01-01", days, days) == ["2024-01-01"]
    assert previous.get_downstream_partition_keys("2024-01-03", days, days) == [
        "2024-01-03",
        "2024-01-04",
    ]
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", end_date="2024-01-10-00:00")
    assert TimeWindowPartitionMapping().get_downstream_partition_keys(
        "2024-01-02-13:00", hourly, days
    ) == ["2024-01-02"]


def test_all_and_last() -> None:
    colors = StaticPartitionsDefinition(["r", "g", "b"])
    assert AllPartitionMapping().get_upstream_partition_keys(None, None, colors) == ["r", "g", "b"]
    assert LastPartitionMapping().get_upstream_partition_keys(None, None, colors) == ["b"]
    assert LastPartitionMapping().get_downstream_partition_keys("b", colors, colors) == [
        "r",
        "g",
        "b",
    ]
    assert LastPartitionMapping().get_downstream_partition_keys("r", colors, colors) == []


def test_incompatible_mappings_are_refused_with_a_fix() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01")
    colors = StaticPartitionsDefinition(["r"])
    with pytest.raises(IncompatiblePartitionMappingError, match="TimeWindowPartitionMapping"):
        IdentityPartitionMapping().validate(days, colors)
    with pytest.raises(IncompatiblePartitionMappingError, match="AllPartitionMapping"):
        IdentityPartitionMapping().validate(None, colors)
    with pytest.raises(IncompatiblePartitionMappingError, match="time-partitioned"):
        TimeWindowPartitionMapping().validate(days, colors)
    IdentityPartitionMapping().validate(StaticPartitionsDefinition(["r", "x"]), colors)


# -- snapshots ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "defn",
    [
        StaticPartitionsDefinition(["a", "b"]),
        DailyPartitionsDefinition(start_date="2024-01-01", timezone="Europe/Berlin", end_offset=1),
        HourlyPartitionsDefinition(
            start_date="2024-01-01-00:00", end_date="2024-02-01-00:00", minute_offset=30
        ),
        WeeklyPartitionsDefinition(start_date="2024-01-01", day_offset=1),
        MonthlyPartitionsDefinition(start_date="2024-01-01", fmt="%Y-%m"),
    ],
    ids=lambda d: type(d).__name__,
)
def test_snapshot_round_trip(defn: object) -> None:
    snap = defn.to_snapshot()  # type: ignore[attr-defined]
    back = partitions_from_snapshot(snap)
    assert back == defn
    now = datetime(2024, 3, 1, tzinfo=UTC)
    assert list(back.get_partition_keys(now)) == list(defn.get_partition_keys(now))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "mapping",
    [
        IdentityPartitionMapping(),
        TimeWindowPartitionMapping(-1, 2),
        AllPartitionMapping(),
        LastPartitionMapping(),
    ],
)
def test_mapping_snapshot_round_trip(mapping: object) -> None:
    assert mapping_from_snapshot(mapping.to_snapshot()) == mapping  # type: ignore[attr-defined]
