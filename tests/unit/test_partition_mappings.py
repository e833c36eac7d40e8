"""Partition mappings, Dagster's defaults, validation, and snapshot round trips."""

from __future__ import annotations

import copy
import doctest
from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter

import conflux.sdk.partitions as partitions
from conflux.events import (
    DynamicPartitionsSnapshot,
    IncompatiblePartitionMappingError,
    InvalidPartitionKeyError,
    PartitionMappingSnapshot,
    PartitionsSnapshot,
    TimeWindowMappingSnapshot,
)
from conflux.sdk.partitions import (
    AllPartitionMapping,
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    LastPartitionMapping,
    MonthlyPartitionsDefinition,
    PartitionMapping,
    PartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
    default_partition_mapping,
    mapping_from_snapshot,
    partitions_from_snapshot,
)

NOW = datetime(2024, 2, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)  # after every bounded definition here
HOURLY = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
DAILY = DailyPartitionsDefinition(start_date="2024-01-01")


def day_hours(day: str) -> list[str | None]:
    return [f"{day}-{h:02d}:00" for h in range(24)]


# -- identity ---------------------------------------------------------------------------


def test_identity_maps_a_key_to_itself_when_it_exists() -> None:
    identity = IdentityPartitionMapping()
    assert identity.get_upstream_partition_keys("2024-01-02", DAILY, DAILY, NOW) == ["2024-01-02"]
    assert identity.get_downstream_partition_keys("2024-01-02", DAILY, DAILY, NOW) == ["2024-01-02"]
    assert identity.get_upstream_partition_keys("2024-03-01", DAILY, DAILY, NOW) == []  # not yet
    assert identity.get_upstream_partition_keys(None, None, None) == [None]
    later = DailyPartitionsDefinition(start_date="2024-01-10")  # same cadence, later start
    identity.validate(DAILY, later)
    assert identity.get_upstream_partition_keys("2024-01-05", DAILY, later, NOW) == []


def test_identity_between_static_definitions_maps_the_shared_keys() -> None:
    down = StaticPartitionsDefinition(["b", "c", "d"])
    up = StaticPartitionsDefinition(["a", "b", "c"])
    IdentityPartitionMapping().validate(down, up)
    assert IdentityPartitionMapping().get_upstream_partition_keys("b", down, up) == ["b"]
    assert IdentityPartitionMapping().get_upstream_partition_keys("d", down, up) == []
    assert IdentityPartitionMapping().get_downstream_partition_keys("a", up, down) == []


@pytest.mark.parametrize(
    ("down", "up", "complaint"),
    [
        (DAILY, StaticPartitionsDefinition(["r"]), "TimeWindowPartitionMapping .* or AllPartition"),
        (DAILY, HOURLY, "their keys differ"),
        (StaticPartitionsDefinition(["x"]), StaticPartitionsDefinition(["y"]), "share no key"),
        (None, DAILY, "use AllPartitionMapping .* or LastPartitionMapping"),
        (DAILY, None, "unpartitioned asset upstream"),
    ],
)  # fmt: skip
def test_identity_refuses_definitions_it_cannot_join(
    down: PartitionsDefinition | None, up: PartitionsDefinition | None, complaint: str
) -> None:
    with pytest.raises(IncompatiblePartitionMappingError, match=complaint):
        IdentityPartitionMapping().validate(down, up)


# -- time windows -----------------------------------------------------------------------

Defn = PartitionsDefinition | None


def up_keys(
    mapping: PartitionMapping, key: str | None, down: Defn, up: Defn, now: datetime = NOW
) -> list[str | None]:
    return mapping.get_upstream_partition_keys(key, down, up, now)


def down_keys(
    mapping: PartitionMapping, key: str, up: Defn, down: Defn, now: datetime = NOW
) -> list[str | None]:
    return mapping.get_downstream_partition_keys(key, up, down, now)


def test_a_day_reads_its_hours_and_an_hour_its_day() -> None:
    tw = TimeWindowPartitionMapping()
    tw.validate(DAILY, HOURLY)
    assert up_keys(tw, "2024-01-02", DAILY, HOURLY) == day_hours("2024-01-02")
    assert up_keys(tw, "2024-01-02-13:00", HOURLY, DAILY) == ["2024-01-02"]
    assert down_keys(tw, "2024-01-02-13:00", HOURLY, DAILY) == ["2024-01-02"]
    assert down_keys(tw, "2024-01-02", DAILY, HOURLY) == day_hours("2024-01-02")


def test_offsets_are_in_downstream_windows() -> None:
    previous = TimeWindowPartitionMapping(start_offset=-1)
    two_days = day_hours("2024-01-01") + day_hours("2024-01-02")
    assert up_keys(previous, "2024-01-02", DAILY, HOURLY) == two_days  # 48 hours, as Dagster
    assert up_keys(previous, "2024-01-03", DAILY, DAILY) == ["2024-01-02", "2024-01-03"]
    assert down_keys(previous, "2024-01-03", DAILY, DAILY) == ["2024-01-03", "2024-01-04"]
    assert down_keys(previous, "2024-01-02-05:00", HOURLY, DAILY) == ["2024-01-02", "2024-01-03"]
    following = TimeWindowPartitionMapping(end_offset=1)
    assert up_keys(following, "2024-01-02", DAILY, DAILY) == ["2024-01-02", "2024-01-03"]
    shifted = TimeWindowPartitionMapping(start_offset=-2, end_offset=-2)
    assert up_keys(shifted, "2024-01-05", DAILY, DAILY) == ["2024-01-03"]
    assert up_keys(TimeWindowPartitionMapping(1, 0), "2024-01-05", DAILY, DAILY) == []


def test_windows_that_do_not_exist_are_left_out() -> None:
    tw, previous = TimeWindowPartitionMapping(), TimeWindowPartitionMapping(start_offset=-1)
    assert up_keys(previous, "2024-01-01", DAILY, DAILY) == ["2024-01-01"]
    noon = datetime(2024, 1, 2, 12, tzinfo=UTC)
    assert up_keys(tw, "2024-01-02", DAILY, HOURLY, noon) == day_hours("2024-01-02")[:12]
    assert down_keys(tw, "2024-01-02-05:00", HOURLY, DAILY, noon) == []
    with pytest.raises(InvalidPartitionKeyError, match="'2024-13-01'"):
        up_keys(tw, "2024-13-01", DAILY, HOURLY)


def test_coarser_and_finer_cadences() -> None:
    weekly = WeeklyPartitionsDefinition(start_date="2024-01-01")
    monthly = MonthlyPartitionsDefinition(start_date="2024-01-01")
    tw = TimeWindowPartitionMapping()
    assert up_keys(tw, "2024-01-07", weekly, DAILY) == [f"2024-01-{d:02d}" for d in range(7, 14)]
    april = datetime(2024, 4, 1, tzinfo=UTC)
    assert len(up_keys(tw, "2024-02-01", monthly, DAILY, april)) == 29
    assert up_keys(tw, "2024-01-20", DAILY, monthly) == ["2024-01-01"]
    assert down_keys(tw, "2024-01-09", DAILY, weekly) == ["2024-01-07"]


def test_time_windows_in_different_zones_are_refused_as_dagster_does() -> None:
    new_york = HourlyPartitionsDefinition(
        start_date="2024-01-01-00:00", timezone="America/New_York"
    )
    with pytest.raises(
        IncompatiblePartitionMappingError, match="Timezones America/New_York and UTC"
    ):
        TimeWindowPartitionMapping().validate(DAILY, new_york)
    with pytest.raises(IncompatiblePartitionMappingError, match="don't match"):
        up_keys(TimeWindowPartitionMapping(), "2024-01-02", DAILY, new_york)


@pytest.mark.parametrize(
    ("zone", "day", "count", "repeated"),
    [
        ("Europe/Berlin", "2024-03-31", 23, None),
        ("Europe/Berlin", "2024-10-27", 25, "2024-10-27-02:00+0100"),
        ("America/New_York", "2024-03-10", 23, None),
        ("America/New_York", "2024-11-03", 25, "2024-11-03-01:00-0500"),
    ],
)
def test_a_dst_day_reads_23_or_25_hours(zone: str, day: str, count: int, repeated: str) -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", timezone=zone)
    hours = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", timezone=zone)
    tw = default_partition_mapping(days, hours)
    assert tw == TimeWindowPartitionMapping()
    read = up_keys(tw, day, days, hours, END)
    assert len(read) == len(set(read)) == count
    assert (read[0], read[-1]) == (f"{day}-00:00", f"{day}-23:00")
    suffixed = [k for k in read if len(str(k)) > len("2024-01-01-00:00")]
    assert suffixed == ([repeated] if repeated else [])
    if repeated:
        assert down_keys(tw, repeated, hours, days, END) == [day]


@pytest.mark.parametrize("offsets", [(0, 0), (-1, 0), (0, 1), (-2, -1), (-1, 1)])
def test_downstream_keys_are_the_inverse_of_upstream_keys(offsets: tuple[int, int]) -> None:
    """k reads u exactly when u is read by k, across a Berlin daylight-saving change."""
    tw = TimeWindowPartitionMapping(*offsets)
    berlin = "Europe/Berlin"
    days = DailyPartitionsDefinition("2024-10-24", "2024-10-31", timezone=berlin)
    hours = HourlyPartitionsDefinition("2024-10-25-00:00", "2024-10-30-00:00", timezone=berlin)
    for down, up in ((days, hours), (hours, days)):
        k_reads = {(k, u) for k in down.get_partition_keys() for u in up_keys(tw, k, down, up, END)}
        read_by = {(k, u) for u in up.get_partition_keys() for k in down_keys(tw, u, up, down, END)}
        assert k_reads == read_by
        assert k_reads  # the check compared something


def test_time_window_mapping_needs_time_partitions() -> None:
    colors = StaticPartitionsDefinition(["r"])
    with pytest.raises(
        IncompatiblePartitionMappingError, match="the upstream is StaticPartitionsDefinition"
    ):
        TimeWindowPartitionMapping().validate(DAILY, colors)
    with pytest.raises(
        IncompatiblePartitionMappingError, match="downstream is an unpartitioned asset"
    ):
        TimeWindowPartitionMapping().validate(None, DAILY)
    with pytest.raises(IncompatiblePartitionMappingError, match="use AllPartitionMapping"):
        TimeWindowPartitionMapping().get_upstream_partition_keys("r", colors, DAILY)


# -- all and last -----------------------------------------------------------------------


def test_all_reads_every_existing_partition() -> None:
    colors = StaticPartitionsDefinition(["r", "g", "b"])
    every = AllPartitionMapping()
    every.validate(None, colors)
    assert every.get_upstream_partition_keys(None, None, colors) == ["r", "g", "b"]
    assert every.get_upstream_partition_keys("2024-01-02", DAILY, None) == [None]
    third = datetime(2024, 1, 3, tzinfo=UTC)
    assert up_keys(every, None, None, DAILY, third) == ["2024-01-01", "2024-01-02"]
    assert every.get_downstream_partition_keys("r", colors, None) == [None]
    assert every.get_downstream_partition_keys("r", colors, colors) == ["r", "g", "b"]


def test_last_reads_the_latest_existing_partition() -> None:
    last = LastPartitionMapping()
    colors = StaticPartitionsDefinition(["r", "g", "b"])
    assert last.get_upstream_partition_keys(None, None, colors) == ["b"]
    assert last.get_upstream_partition_keys(
        None, None, DAILY, datetime(2024, 1, 4, 5, tzinfo=UTC)
    ) == ["2024-01-03"]
    assert (
        last.get_upstream_partition_keys(None, None, DAILY, datetime(2023, 1, 1, tzinfo=UTC)) == []
    )
    assert last.get_upstream_partition_keys(None, None, None) == [None]
    assert last.get_downstream_partition_keys("b", colors, colors) == ["r", "g", "b"]
    assert last.get_downstream_partition_keys("r", colors, colors) == []
    assert last.get_downstream_partition_keys("b", colors, None) == [None]


# -- defaults -----------------------------------------------------------------------------


def test_default_mappings_follow_dagster() -> None:
    same = DailyPartitionsDefinition(start_date="2024-01-01")
    assert default_partition_mapping(DAILY, same) == IdentityPartitionMapping()
    assert default_partition_mapping(DAILY, HOURLY) == TimeWindowPartitionMapping()
    assert default_partition_mapping(HOURLY, DAILY) == TimeWindowPartitionMapping()
    later = DailyPartitionsDefinition(start_date="2024-01-10")
    assert default_partition_mapping(DAILY, later) == TimeWindowPartitionMapping()
    assert default_partition_mapping(None, DAILY) == AllPartitionMapping()
    assert default_partition_mapping(DAILY, None) == AllPartitionMapping()
    assert default_partition_mapping(DAILY, None).get_upstream_partition_keys(
        "2024-01-02", DAILY, None
    ) == [None]
    assert default_partition_mapping(None, None).get_upstream_partition_keys(None, None, None) == [
        None
    ]


def test_default_between_static_definitions_is_identity_over_shared_keys() -> None:
    down, up = StaticPartitionsDefinition(["a", "b"]), StaticPartitionsDefinition(["b", "c"])
    mapping = default_partition_mapping(down, up)
    assert mapping == IdentityPartitionMapping()
    mapping.validate(down, up)
    assert mapping.get_upstream_partition_keys("b", down, up) == ["b"]
    assert mapping.get_upstream_partition_keys("a", down, up) == []
    disjoint = StaticPartitionsDefinition(["x"])
    with pytest.raises(IncompatiblePartitionMappingError, match="share no key"):
        default_partition_mapping(down, disjoint).validate(down, disjoint)
    with pytest.raises(IncompatiblePartitionMappingError, match="TimeWindowPartitionMapping"):
        default_partition_mapping(DAILY, up).validate(DAILY, up)


# -- snapshots ----------------------------------------------------------------------------

DEFINITIONS: list[PartitionsDefinition] = [
    StaticPartitionsDefinition(["a", "b"]),
    DailyPartitionsDefinition(start_date="2024-01-01", timezone="Europe/Berlin", end_offset=1),
    HourlyPartitionsDefinition(
        start_date="2024-01-01-00:00", end_date="2024-02-01-00:00", minute_offset=30
    ),
    HourlyPartitionsDefinition(start_date="2024-10-27-02:00+0100", timezone="Europe/Berlin"),
    WeeklyPartitionsDefinition(
        start_date="2024-01-01", day_offset=1, hour_offset=6, timezone="America/New_York"
    ),
    MonthlyPartitionsDefinition(start_date="2024-01-01", fmt="%Y-%m", end_offset=-1),
    TimeWindowPartitionsDefinition(
        start="2024-01-05", fmt="%Y-%m-%d %H:%M", cron_schedule="15 9 * * 1-5"
    ),
]


@pytest.mark.parametrize("defn", DEFINITIONS, ids=lambda d: type(d).__name__)
def test_partitions_round_trip_through_json_snapshots(defn: PartitionsDefinition) -> None:
    adapter: TypeAdapter[PartitionsSnapshot] = TypeAdapter(PartitionsSnapshot)
    snap = adapter.validate_json(adapter.dump_json(defn.to_snapshot()))
    back = partitions_from_snapshot(snap)
    assert back == defn and hash(back) == hash(defn)
    assert copy.deepcopy(defn) == defn  # no locks or caches that cannot be copied
    assert back.to_snapshot() == defn.to_snapshot()
    for now in (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 11, 1, tzinfo=UTC)):
        assert list(back.get_partition_keys(now)) == list(defn.get_partition_keys(now))


def test_the_second_occurrence_of_an_hour_keeps_its_offset_in_the_snapshot() -> None:
    second = HourlyPartitionsDefinition(
        start_date="2024-10-27-02:00+0100", timezone="Europe/Berlin"
    )
    assert second.to_snapshot().start == "2024-10-27T02:00:00+01:00"
    assert second.get_first_partition_key(END) == "2024-10-27-02:00+0100"
    assert DAILY.to_snapshot().start == "2024-01-01T00:00:00"


def test_equality_is_by_definition_not_by_class() -> None:
    generic = TimeWindowPartitionsDefinition(
        start="2024-01-01", fmt="%Y-%m-%d", cron_schedule="0 0 * * *"
    )
    assert generic == DAILY and hash(generic) == hash(DAILY)
    assert DailyPartitionsDefinition(start_date="2024-01-01", timezone="Europe/Berlin") != DAILY
    assert DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1) != DAILY


@pytest.mark.parametrize(
    "mapping",
    [
        IdentityPartitionMapping(),
        TimeWindowPartitionMapping(-1, 2),
        AllPartitionMapping(),
        LastPartitionMapping(),
    ],
    ids=lambda m: type(m).__name__,
)
def test_mappings_round_trip_through_json_snapshots(mapping: PartitionMapping) -> None:
    adapter: TypeAdapter[PartitionMappingSnapshot] = TypeAdapter(PartitionMappingSnapshot)
    back = mapping_from_snapshot(adapter.validate_json(adapter.dump_json(mapping.to_snapshot())))
    assert back == mapping and type(back) is type(mapping)
    assert hash(back) == hash(mapping)


def test_offsets_survive_the_snapshot() -> None:
    assert TimeWindowPartitionMapping(-1, 2).to_snapshot() == TimeWindowMappingSnapshot(
        start_offset=-1, end_offset=2
    )
    assert TimeWindowPartitionMapping(-1, 2) != TimeWindowPartitionMapping(-1, 1)


def test_dynamic_snapshots_are_rebuilt_unbound_or_bound() -> None:
    # More in test_dynamic_partitions.py; multi-dimensional ones in test_partitions_multi.py.
    snap = DynamicPartitionsSnapshot(name="customers")
    assert partitions_from_snapshot(snap) == partitions.DynamicPartitionsDefinition("customers")
    bound = partitions_from_snapshot(snap, {"customers": ["acme"]})
    assert list(bound.get_partition_keys()) == ["acme"]


def test_docstring_examples_run() -> None:
    names = {name: getattr(partitions, name) for name in dir(partitions) if name[0] != "_"}
    for module in ("_calendar", "_dynamic", "_mappings", "_snapshots", "_static", "_time_window"):
        mod = __import__(f"conflux.sdk.partitions.{module}", fromlist=["_"])
        result = doctest.testmod(mod, extraglobs={**names, "datetime": datetime, "UTC": UTC})
        assert result.failed == 0, module
        assert result.attempted > 0, module
