"""Dagster's subset API, the subset methods of mappings, and the new mappings in the snapshot.

Behaviour is checked against Dagster itself in tests/compat/; these tests pin what Conflux
relies on without Dagster installed: the new mappings travel as data and the coordinator
plans with them, the required-but-nonexistent keys are reported, subsets round-trip.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from coordinator_builders import COLORS, graph_of, published, request, snap
from pydantic import TypeAdapter

from conflux.coordinator import plan_run
from conflux.events import (
    DagsterInvalidInvocationError,
    IncompatiblePartitionMappingError,
    PartitionMappingSnapshot,
    SpecificPartitionsMappingSnapshot,
    StaticMappingSnapshot,
    StaticPartitionsSnapshot,
)
from conflux.sdk.partitions import (
    DailyPartitionsDefinition,
    DefaultPartitionsSubset,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    MonthlyPartitionsDefinition,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
    PartitionKeyRange,
    SpecificPartitionsPartitionMapping,
    StaticPartitionMapping,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    TimeWindowPartitionsDefinition,
    TimeWindowPartitionsSubset,
    UnreadableSubsetError,
    deserialize_value,
    mapping_from_snapshot,
    partitions_from_snapshot,
    serialize_value,
)

NOW = datetime(2024, 2, 1, tzinfo=UTC)
DAYS = DailyPartitionsDefinition(start_date="2024-01-01")
LETTERS = StaticPartitionsDefinition(["a", "b", "c", "d"])
MAPPINGS = TypeAdapter(PartitionMappingSnapshot)


# -- subsets ---------------------------------------------------------------------------


def test_key_subsets_combine_and_round_trip() -> None:
    ab = LETTERS.subset_with_partition_keys(["a", "b"])
    bc = LETTERS.empty_subset().with_partition_keys(["c", "b"])
    assert isinstance(ab, DefaultPartitionsSubset)
    assert (ab | bc).get_partition_keys() == {"a", "b", "c"}
    assert (ab & bc).get_partition_keys() == {"b"}
    assert (ab - bc).get_partition_keys() == {"a"}
    assert list(ab.get_partition_keys_not_in_subset(LETTERS)) == ["c", "d"]
    assert [tuple(r) for r in (ab | bc).get_partition_key_ranges(LETTERS)] == [("a", "c")]
    assert LETTERS.deserialize_subset(ab.serialize()) == ab
    assert LETTERS.deserialize_subset('["a"]').get_partition_keys() == {"a"}  # Dagster's old form
    with pytest.raises(UnreadableSubsetError, match="version 7"):
        LETTERS.deserialize_subset('{"version": 7, "subset": []}')


def test_window_subsets_hold_runs_and_serialize_as_dagster_does() -> None:
    subset = DAYS.subset_with_partition_keys(["2024-01-03", "2024-01-02", "2024-01-05"])
    assert isinstance(subset, TimeWindowPartitionsSubset)
    assert subset.get_partition_keys() == ["2024-01-02", "2024-01-03", "2024-01-05"]
    assert len(subset) == 3 and "2024-01-03" in subset and "2024-01-04" not in subset
    assert [tuple(r) for r in subset.get_partition_key_ranges(DAYS)] == [
        ("2024-01-02", "2024-01-03"),
        ("2024-01-05", "2024-01-05"),
    ]
    data = json.loads(subset.serialize())
    assert data["version"] == 1 and data["num_partitions"] == 3
    assert data["time_windows"][0] == [
        datetime(2024, 1, 2, tzinfo=UTC).timestamp(),
        datetime(2024, 1, 4, tzinfo=UTC).timestamp(),
    ]
    assert DAYS.deserialize_subset(subset.serialize()) == subset
    # Keys that do not exist yet are dropped, as Dagster's with_partition_keys does.
    assert DAYS.subset_with_partition_keys(["2999-01-01"]).is_empty


def test_ranges_take_a_partition_key_range() -> None:
    assert DAYS.get_partition_keys_in_range(PartitionKeyRange("2024-01-30", "2024-02-01")) == [
        "2024-01-30",
        "2024-01-31",
        "2024-02-01",
    ]
    assert LETTERS.get_partition_keys_in_range(PartitionKeyRange("c", "a")) == []  # as Dagster
    with pytest.raises(DagsterInvalidInvocationError):
        LETTERS.get_partition_keys_in_range(PartitionKeyRange("a", "zz"))


# -- mappings with subsets ---------------------------------------------------------------


def test_nonexistent_upstream_windows_are_reported_not_dropped() -> None:
    upstream = DailyPartitionsDefinition(start_date="2024-01-10")
    wanted = DAYS.subset_with_partition_keys(["2024-01-09", "2024-01-10"])
    strict = TimeWindowPartitionMapping().get_upstream_mapped_partitions_result_for_partitions(
        wanted, DAYS, upstream, current_time=NOW
    )
    assert strict.partitions_subset.get_partition_keys() == ["2024-01-10"]
    assert strict.required_but_nonexistent_partition_keys == ["2024-01-09"]
    lenient = TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)
    result = lenient.get_upstream_mapped_partitions_result_for_partitions(
        wanted, DAYS, upstream, current_time=NOW
    )
    assert result.required_but_nonexistent_partition_keys == []


def test_identity_reports_the_keys_the_upstream_lacks() -> None:
    xy, zx = StaticPartitionsDefinition(["x", "y"]), StaticPartitionsDefinition(["z", "x"])
    result = IdentityPartitionMapping().get_upstream_mapped_partitions_result_for_partitions(
        zx.subset_with_partition_keys(["z", "x"]), zx, xy
    )
    assert result.partitions_subset.get_partition_keys() == {"x"}
    assert result.required_but_nonexistent_partition_keys == ["z"]
    assert str(result.required_but_nonexistent_subset) == "DefaultPartitionsSubset(subset={'z'})"


def test_time_windows_in_two_zones_are_refused() -> None:
    pacific = DailyPartitionsDefinition(start_date="2024-01-01", timezone="US/Pacific")
    with pytest.raises(IncompatiblePartitionMappingError, match="Timezones UTC and US/Pacific"):
        TimeWindowPartitionMapping().validate_partition_mapping(DAYS, pacific)


def test_multi_to_single_infers_the_time_dimension() -> None:
    hours = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
    multi = MultiPartitionsDefinition({"date": DAYS, "region": StaticPartitionsDefinition(["eu"])})
    mapping = MultiToSingleDimensionPartitionMapping()
    mapping.validate(hours, multi)
    assert mapping.get_upstream_partition_keys("2024-01-02-05:00", hours, multi, NOW) == [
        "2024-01-02|eu"
    ]


# -- the new mappings travel as data, and the coordinator plans with them ---------------


@pytest.mark.parametrize(
    "mapping",
    [
        StaticPartitionMapping({"red": "x", "green": ["x", "y"]}),
        SpecificPartitionsPartitionMapping(["blue", "red"]),
        TimeWindowPartitionMapping(-1, 0, allow_nonexistent_upstream_partitions=True),
    ],
)
def test_new_mappings_round_trip_through_the_snapshot(mapping: object) -> None:
    snapshot = mapping.to_snapshot()  # type: ignore[attr-defined]
    wire = MAPPINGS.validate_json(MAPPINGS.dump_json(snapshot))
    assert mapping_from_snapshot(wire) == mapping
    assert deserialize_value(serialize_value(mapping)) == mapping


def test_the_coordinator_plans_with_static_and_specific_mappings() -> None:
    xy = StaticPartitionsSnapshot(keys=("x", "y"))
    by_table = StaticMappingSnapshot(
        downstream_keys_by_upstream_key=(("red", ("x",)), ("green", ("x", "y")))
    )
    only_blue = SpecificPartitionsMappingSnapshot(partition_keys=("blue",))
    graph = graph_of(
        published(
            snap("colors", partitions=COLORS),
            snap("letters", ("colors", by_table), partitions=xy),
            snap("summary", ("colors", only_blue)),
        )
    )
    plan = plan_run(
        request("colors", "letters", "summary", partitions=["red", "green", "blue", "x"]), graph
    )
    by_item = {(it.node, it.partition_key): it for it in plan.items}
    assert by_item[("letters", "x")].upstream == (("colors", "red"), ("colors", "green"))
    assert by_item[("summary", None)].upstream == (("colors", "blue"),)


def test_static_mapping_refuses_keys_its_definitions_lack() -> None:
    with pytest.raises(ValueError, match="OTHER"):
        StaticPartitionMapping({"a": "OTHER"}).validate(LETTERS, LETTERS)


def test_exclusions_leave_windows_out_and_travel_in_the_snapshot() -> None:
    weekdays = TimeWindowPartitionsDefinition(
        start="2024-01-01",
        fmt="%Y-%m-%d",
        cron_schedule="0 0 * * *",
        exclusions=["0 0 * * 6,0", datetime(2024, 1, 3)],
    )
    keys = weekdays.get_partition_keys(current_time=datetime(2024, 1, 9, tzinfo=UTC))
    assert keys == ["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-05", "2024-01-08"]
    assert partitions_from_snapshot(weekdays.to_snapshot()) == weekdays
    assert not weekdays.has_partition_key("2024-01-06", current_time=NOW)


def test_z_keys_keep_their_offset_after_fall_back() -> None:
    hours = HourlyPartitionsDefinition(
        start_date="2020-11-01-00:00:00-0700", timezone="US/Pacific", fmt="%Y-%m-%d-%H:%M:%S%z"
    )
    keys = hours.get_partition_keys(current_time=datetime(2020, 11, 1, 12, tzinfo=UTC))
    assert keys[1:4] == [
        "2020-11-01-01:00:00-0700",
        "2020-11-01-01:00:00-0800",
        "2020-11-01-02:00:00-0800",
    ]
    assert hours.time_window_for_partition_key(keys[2]).start.utcoffset() is not None


def test_cadence_helpers() -> None:
    months = MonthlyPartitionsDefinition(start_date="2024-01-01", hour_offset=3)
    assert months.get_cron_schedule(day_of_month=5) == "0 3 5 * *"
    assert str(DAYS) == "Daily, starting 2024-01-01 UTC."
    window = DAYS.get_next_partition_window(datetime(2024, 1, 5, tzinfo=UTC), current_time=NOW)
    assert window is not None and window.start == datetime(2024, 1, 5, tzinfo=UTC)
    assert DAYS.get_next_partition_window(NOW, current_time=NOW) is None


def test_docstring_examples_of_the_new_modules_run() -> None:
    import doctest

    import conflux.sdk.partitions as partitions
    from conflux.sdk import InMemoryIOManager

    names = {name: getattr(partitions, name) for name in dir(partitions) if name[0] != "_"}
    extra = {**names, "datetime": datetime, "UTC": UTC, "InMemoryIOManager": InMemoryIOManager}
    for module in (
        "conflux.sdk.partitions._subset",
        "conflux.sdk.partitions._upstream",
        "conflux.sdk.partitions._static_mappings",
        "conflux.sdk.partitions._partitioned_config",
        "conflux.sdk._io_manager_definition",
    ):
        mod = __import__(module, fromlist=["_"])
        result = doctest.testmod(mod, extraglobs=extra)
        assert result.failed == 0, module
        assert result.attempted > 0, module
