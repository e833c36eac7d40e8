"""Multi-dimensional partitions: keys, arithmetic, validation, mappings, snapshots, planning."""

from __future__ import annotations

import doctest
import pickle
import time
from datetime import UTC, datetime

import pytest
from coordinator_builders import graph_of, published, request, snap

from conflux import (
    AssetExecutionContext,
    AssetIn,
    DailyPartitionsDefinition,
    Definitions,
    DimensionPartitionMapping,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    IncompatiblePartitionMappingError,
    InvalidPartitionKeyError,
    MultiPartitionKey,
    MultiPartitionMapping,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
    materialize,
)
from conflux.coordinator import plan_run
from conflux.events import (
    AssetDepSnapshot,
    DefinitionError,
    IdentityMappingSnapshot,
    MultiPartitionsSnapshot,
)
from conflux.sdk import partitions
from conflux.sdk.partitions import (
    default_partition_mapping,
    mapping_from_snapshot,
    partitions_from_snapshot,
)

NOW = datetime(2024, 1, 4, 12, tzinfo=UTC)
DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")  # 3 days
REGIONS = StaticPartitionsDefinition(["eu", "us"])
COLORS = StaticPartitionsDefinition(["red", "blue"])
DATE_REGION = MultiPartitionsDefinition({"region": REGIONS, "date": DAYS})


def static(n: int, prefix: str) -> StaticPartitionsDefinition:
    return StaticPartitionsDefinition([f"{prefix}{i:03d}" for i in range(n)])


# -- keys -----------------------------------------------------------------------------------


def test_dimensions_are_sorted_and_keys_joined_in_that_order() -> None:
    multi = MultiPartitionsDefinition({"region": REGIONS, "date": DAYS, "color": COLORS})
    assert multi.partition_dimension_names == ["color", "date", "region"]
    keys = multi.get_partition_keys(NOW)
    assert len(keys) == multi.get_num_partitions(NOW) == 12
    assert len(multi) == multi.get_num_partitions()
    assert keys[:3] == ["red|2024-01-01|eu", "red|2024-01-01|us", "red|2024-01-02|eu"]
    assert keys[-1] == "blue|2024-01-03|us"
    assert keys[-1].keys_by_dimension == {"color": "blue", "date": "2024-01-03", "region": "us"}
    assert [multi.key_at(i, NOW) for i in range(12)] == keys
    assert [multi.index_of(k, NOW) for k in keys] == list(range(12))
    assert multi.get_first_partition_key(NOW) == keys[0]
    assert multi.get_last_partition_key(NOW) == keys[-1]


def test_multi_partition_key_is_a_str_that_knows_its_dimensions() -> None:
    key = MultiPartitionKey({"region": "eu", "date": "2024-01-01"})
    assert key == "2024-01-01|eu" and isinstance(key, str)
    assert key.keys_by_dimension == {"date": "2024-01-01", "region": "eu"}
    key.keys_by_dimension["date"] = "changed"  # a copy: the key is unchanged
    assert key.keys_by_dimension["date"] == "2024-01-01"
    back = pickle.loads(pickle.dumps(key))
    assert back == key and back.keys_by_dimension == key.keys_by_dimension
    assert DATE_REGION.get_partition_key_from_str("2024-01-02|us").keys_by_dimension == {
        "date": "2024-01-02",
        "region": "us",
    }
    with pytest.raises(InvalidPartitionKeyError, match="dimension 'region'"):
        MultiPartitionKey({"region": "e|u", "date": "2024-01-01"})


def test_one_dimension_is_allowed() -> None:
    only = MultiPartitionsDefinition({"region": REGIONS})
    assert only.get_partition_keys() == ["eu", "us"]
    assert only.get_partition_keys()[1].keys_by_dimension == {"region": "us"}


def test_a_million_keys_are_counted_and_indexed_without_listing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    multi = MultiPartitionsDefinition(
        {"a": static(100, "a"), "b": static(100, "b"), "c": static(100, "c")}
    )

    def refuse(*_: object, **__: object) -> list[str]:
        raise AssertionError("listed every key")

    monkeypatch.setattr(MultiPartitionsDefinition, "get_partition_keys", refuse)
    monkeypatch.setattr(StaticPartitionsDefinition, "get_partition_keys", refuse)
    started = time.perf_counter()
    assert multi.get_num_partitions() == 1_000_000
    assert multi.key_at(999_999) == "a099|b099|c099" == multi.key_at(-1)
    assert multi.key_at(123_456) == "a012|b034|c056"
    assert multi.index_of("a099|b099|c099") == 999_999
    assert multi.index_of(multi.key_at(654_321)) == 654_321
    assert multi.has_partition_key("a000|b050|c099")
    assert multi.get_last_partition_key() == "a099|b099|c099"
    assert time.perf_counter() - started < 0.1
    with pytest.raises(IndexError):
        multi.key_at(1_000_000)


def test_time_dimensions_index_by_arithmetic_too(monkeypatch: pytest.MonkeyPatch) -> None:
    hours = HourlyPartitionsDefinition(start_date="2000-01-01-00:00")
    multi = MultiPartitionsDefinition({"hour": hours, "region": REGIONS})
    monkeypatch.setattr(
        type(hours), "get_partition_keys", lambda *_: pytest.fail("listed every hour")
    )
    count = hours.get_num_partitions(NOW)
    assert multi.get_num_partitions(NOW) == 2 * count > 400_000
    assert multi.key_at(-1, NOW) == "2024-01-04-11:00|us"
    assert multi.index_of("2024-01-04-11:00|us", NOW) == 2 * count - 1
    assert multi.index_of("2000-01-01-01:00|eu", NOW) == 2


# -- validation -----------------------------------------------------------------------------


def test_wrong_number_of_parts_says_the_shape() -> None:
    with pytest.raises(
        InvalidPartitionKeyError,
        match=r"1 part\(s\).*2 dimension\(s\) \(date, region\).*'<date>\|<region>'",
    ):
        DATE_REGION.validate_partition_key("2024-01-01", NOW)
    assert not DATE_REGION.has_partition_key("2024-01-01|eu|x", NOW)


def test_bad_part_names_its_dimension_and_the_fix() -> None:
    with pytest.raises(
        InvalidPartitionKeyError,
        match=r"dimension 'region' has no key 'fr'.*static keys eu, us: pass one",
    ):
        DATE_REGION.validate_partition_key("2024-01-01|fr", NOW)
    with pytest.raises(InvalidPartitionKeyError, match=r"dimension 'date'.*does not exist yet"):
        DATE_REGION.validate_partition_key("2024-01-03|eu", datetime(2024, 1, 3, tzinfo=UTC))
    with pytest.raises(InvalidPartitionKeyError, match="dimension 'date'"):
        DATE_REGION.index_of("2023-12-31|eu", NOW)
    assert not DATE_REGION.has_partition_key("2024-01-01|fr", NOW)


@pytest.mark.parametrize(
    ("dims", "match"),
    [
        ({}, "no dimension"),
        ({"a|b": REGIONS}, "contains '|'"),
        ({"": REGIONS}, "name it like"),
        ({"m": MultiPartitionsDefinition({"r": REGIONS})}, "instead of nesting"),
    ],
)
def test_bad_definitions_are_refused(
    dims: dict[str, partitions.PartitionsDefinition], match: str
) -> None:
    with pytest.raises(DefinitionError, match=match):
        MultiPartitionsDefinition(dims)


def test_a_range_is_a_box_of_the_dimensions_ranges() -> None:
    keys = DATE_REGION.get_partition_keys_in_range("2024-01-02|eu", "2024-01-03|us", NOW)
    assert keys == ["2024-01-02|eu", "2024-01-02|us", "2024-01-03|eu", "2024-01-03|us"]
    assert DATE_REGION.get_partition_keys_in_range("2024-01-01|us", "2024-01-02|us", NOW) == [
        "2024-01-01|us",
        "2024-01-02|us",
    ]
    with pytest.raises(InvalidPartitionKeyError, match=r"dimension 'region'.*swap"):
        DATE_REGION.get_partition_keys_in_range("2024-01-01|us", "2024-01-02|eu", NOW)


# -- mappings -------------------------------------------------------------------------------


def test_multi_partition_mapping_both_ways() -> None:
    down = MultiPartitionsDefinition({"day": DAYS, "region": REGIONS})
    mapping = MultiPartitionMapping(
        {
            "date": DimensionPartitionMapping("day", TimeWindowPartitionMapping(start_offset=-1)),
            "region": DimensionPartitionMapping("region", IdentityPartitionMapping()),
        }
    )
    mapping.validate(down, DATE_REGION)
    assert mapping.get_upstream_partition_keys("2024-01-03|us", down, DATE_REGION, NOW) == [
        "2024-01-02|us",
        "2024-01-03|us",
    ]
    assert mapping.get_downstream_partition_keys("2024-01-02|eu", DATE_REGION, down, NOW) == [
        "2024-01-02|eu",
        "2024-01-03|eu",
    ]
    # An upstream dimension left out is read whole.
    only_dates = MultiPartitionMapping(
        {"date": DimensionPartitionMapping("day", IdentityPartitionMapping())}
    )
    assert only_dates.get_upstream_partition_keys("2024-01-01|us", down, DATE_REGION, NOW) == [
        "2024-01-01|eu",
        "2024-01-01|us",
    ]
    assert only_dates.get_downstream_partition_keys("2024-01-01|us", DATE_REGION, down, NOW) == [
        "2024-01-01|eu",
        "2024-01-01|us",
    ]


def test_multi_to_single_dimension_both_ways() -> None:
    mapping = MultiToSingleDimensionPartitionMapping(partition_dimension_name="date")
    # single downstream <- multi upstream: every region of that day
    assert mapping.get_upstream_partition_keys("2024-01-02", DAYS, DATE_REGION, NOW) == [
        "2024-01-02|eu",
        "2024-01-02|us",
    ]
    assert mapping.get_downstream_partition_keys("2024-01-02|us", DATE_REGION, DAYS, NOW) == [
        "2024-01-02"
    ]
    # multi downstream <- single upstream: the day of the key
    assert mapping.get_upstream_partition_keys("2024-01-03|eu", DATE_REGION, DAYS, NOW) == [
        "2024-01-03"
    ]
    assert mapping.get_downstream_partition_keys("2024-01-03", DAYS, DATE_REGION, NOW) == [
        "2024-01-03|eu",
        "2024-01-03|us",
    ]
    mapping.validate(DAYS, DATE_REGION)
    mapping.validate(DATE_REGION, DAYS)
    with pytest.raises(IncompatiblePartitionMappingError, match=r"dimension 'region'.*share no"):
        MultiToSingleDimensionPartitionMapping("region").validate(COLORS, DATE_REGION)
    inferred = MultiToSingleDimensionPartitionMapping()
    assert inferred.get_upstream_partition_keys("eu", REGIONS, DATE_REGION, NOW) == [
        "2024-01-01|eu",
        "2024-01-02|eu",
        "2024-01-03|eu",
    ]


def test_defaults_infer_the_multi_mappings() -> None:
    assert default_partition_mapping(DATE_REGION, DATE_REGION) == IdentityPartitionMapping()
    assert default_partition_mapping(DAYS, DATE_REGION) == MultiToSingleDimensionPartitionMapping()
    assert (
        default_partition_mapping(DATE_REGION, REGIONS) == MultiToSingleDimensionPartitionMapping()
    )
    hourly = MultiPartitionsDefinition(
        {"date": HourlyPartitionsDefinition(start_date="2024-01-01-00:00"), "region": REGIONS}
    )
    inferred = default_partition_mapping(DATE_REGION, hourly)
    assert isinstance(inferred, MultiPartitionMapping)
    hours = inferred.get_upstream_partition_keys("2024-01-02|eu", DATE_REGION, hourly, NOW)
    assert len(hours) == 24 and hours[0] == "2024-01-02-00:00|eu"


def test_incompatible_mappings_are_refused_at_load_naming_the_asset() -> None:
    @asset(partitions_def=DATE_REGION)
    def raw() -> int:
        return 1

    @asset(
        partitions_def=MultiPartitionsDefinition({"day": DAYS, "region": REGIONS}),
        ins={
            "raw": AssetIn(
                partition_mapping=MultiPartitionMapping(
                    {"date": DimensionPartitionMapping("dya", IdentityPartitionMapping())}
                )
            )
        },
    )
    def typo(raw: int) -> int:
        return raw

    with pytest.raises(
        IncompatiblePartitionMappingError, match=r"from typo to raw.*'dya'.*use one of day, region"
    ):
        Definitions(assets=[raw, typo])

    @asset(
        partitions_def=COLORS,
        ins={"raw": AssetIn(partition_mapping=MultiToSingleDimensionPartitionMapping())},
    )
    def colors(raw: int) -> int:
        return raw

    with pytest.raises(
        IncompatiblePartitionMappingError, match=r"from colors to raw.*partition_dimension_name"
    ):
        Definitions(assets=[raw, colors])

    @asset(partitions_def=COLORS)
    def by_color(raw: int) -> int:  # default: identity, refused with the fix
        return raw

    with pytest.raises(
        IncompatiblePartitionMappingError, match="Invalid partition mapping from by_color to raw"
    ):
        Definitions(assets=[raw, by_color])


# -- snapshots and planning -----------------------------------------------------------------


def test_definition_and_mappings_survive_the_snapshot() -> None:
    multi = MultiPartitionsDefinition({"region": REGIONS, "date": DAYS, "color": COLORS})
    snapshot = multi.to_snapshot()
    assert [name for name, _ in snapshot.dimensions] == ["color", "date", "region"]
    back = partitions_from_snapshot(
        MultiPartitionsSnapshot.model_validate_json(snapshot.model_dump_json())
    )
    assert back == multi and hash(back) == hash(multi)
    assert back.get_partition_keys(NOW) == multi.get_partition_keys(NOW)
    for mapping in (
        MultiToSingleDimensionPartitionMapping(),
        MultiToSingleDimensionPartitionMapping("date"),
        MultiPartitionMapping(
            {
                "region": DimensionPartitionMapping("region", IdentityPartitionMapping()),
                "date": DimensionPartitionMapping("day", TimeWindowPartitionMapping(-1, 0)),
            }
        ),
    ):
        dep = AssetDepSnapshot(asset_key="up", partition_mapping=mapping.to_snapshot())
        rebuilt = AssetDepSnapshot.model_validate_json(dep.model_dump_json())
        assert rebuilt == dep
        assert rebuilt.partition_mapping is not None
        assert mapping_from_snapshot(rebuilt.partition_mapping) == mapping


def test_planner_plans_a_multi_chain() -> None:
    multi = DATE_REGION.to_snapshot()
    single = DAYS.to_snapshot()
    to_single = MultiToSingleDimensionPartitionMapping().to_snapshot()
    graph = graph_of(
        published(
            snap("raw", partitions=multi),
            snap("clean", ("raw", IdentityMappingSnapshot()), partitions=multi),
            snap("daily", ("clean", to_single), partitions=single),
        )
    )
    plan = plan_run(
        request(
            "raw", "clean", "daily", partitions=["2024-01-02|eu", "2024-01-02|us", "2024-01-02"]
        ),
        graph,
    )
    got = [(it.node, it.partition_key) for it in plan.items]
    assert got == [
        ("raw", "2024-01-02|eu"),
        ("raw", "2024-01-02|us"),
        ("clean", "2024-01-02|eu"),
        ("clean", "2024-01-02|us"),
        ("daily", "2024-01-02"),
    ]
    by_id = {it.work_item_id: (it.node, it.partition_key) for it in plan.items}
    clean_eu, daily = plan.items[2], plan.items[4]
    assert [by_id[d] for d in clean_eu.depends_on] == [("raw", "2024-01-02|eu")]
    assert [by_id[d] for d in daily.depends_on] == [
        ("clean", "2024-01-02|eu"),
        ("clean", "2024-01-02|us"),
    ]
    # A range over the multi assets is the box of the dimensions' ranges.
    ranged = plan_run(request("raw", start="2024-01-01|eu", end="2024-01-02|us"), graph)
    assert [it.partition_key for it in ranged.items] == [
        "2024-01-01|eu",
        "2024-01-01|us",
        "2024-01-02|eu",
        "2024-01-02|us",
    ]
    with pytest.raises(InvalidPartitionKeyError, match=r"asset raw.*dimension 'region'"):
        plan_run(request("raw", partitions=["2024-01-02|fr"]), graph)


def test_materialize_in_process_exposes_keys_by_dimension() -> None:
    seen: dict[str, dict[str, str]] = {}

    @asset(partitions_def=DATE_REGION)
    def sales(context: AssetExecutionContext) -> str:
        key = context.partition_key
        assert isinstance(key, MultiPartitionKey)
        seen["sales"] = key.keys_by_dimension
        return f"sales for {key.keys_by_dimension['region']}"

    @asset(partitions_def=DATE_REGION)
    def report(context: AssetExecutionContext, sales: str) -> str:
        # typed `str` as in Dagster; used without narrowing, as Dagster's users do
        seen["report"] = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
        return sales.upper()

    result = materialize([sales, report], partition_key="2024-01-01|eu")
    assert result.success
    assert seen == {
        "sales": {"date": "2024-01-01", "region": "eu"},
        "report": {"date": "2024-01-01", "region": "eu"},
    }
    assert result.asset_value("report", "2024-01-01|eu") == "SALES FOR EU"
    with pytest.raises(DefinitionError, match="dimension 'region'"):
        materialize([sales], partition_key="2024-01-01|fr")


def test_docstring_examples_run() -> None:
    names = {name: getattr(partitions, name) for name in dir(partitions) if name[0] != "_"}
    for module in ("_multi", "_multi_mappings"):
        mod = __import__(f"conflux.sdk.partitions.{module}", fromlist=["_"])
        result = doctest.testmod(mod, extraglobs={**names, "datetime": datetime, "UTC": UTC})
        assert result.failed == 0, module
        assert result.attempted > 0, module
