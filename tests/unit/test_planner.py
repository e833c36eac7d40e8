from __future__ import annotations

import random

import pytest
from coordinator_builders import (
    ALL,
    COLORS,
    DAILY,
    HOURLY,
    IDENTITY,
    graph_of,
    published,
    request,
    snap,
)

from conflux.coordinator import PartitionsRequiredError, Plan, plan_run, work_item_id
from conflux.events import (
    DefinitionError,
    DependencyCycleError,
    InvalidPartitionKeyError,
    SelectionError,
    derived_id,
)

HOURS = [f"2024-01-02-{h:02d}:00" for h in range(24)]


def deps_by_item(plan: Plan) -> dict[tuple[str, str | None], list[tuple[str, str | None]]]:
    """(node, partition) -> the (node, partition) pairs it waits for."""
    by_id = {it.work_item_id: (it.node, it.partition_key) for it in plan.items}
    return {by_id[it.work_item_id]: [by_id[d] for d in it.depends_on] for it in plan.items}


def test_chain_is_planned_in_dependency_order_with_derived_ids() -> None:
    graph = graph_of(published(snap("c", "b"), snap("a"), snap("b", "a")))
    plan = plan_run(request("c", "a", "b"), graph)
    assert [it.node for it in plan.items] == ["a", "b", "c"]
    assert deps_by_item(plan) == {
        ("a", None): [],
        ("b", None): [("a", None)],
        ("c", None): [("b", None)],
    }
    a = plan.items[0]
    assert (
        a.work_item_id == derived_id("work", "run-1", "a", "") == work_item_id("run-1", "a", None)
    )
    assert (a.location, a.asset_keys, a.partition_key) == ("loc", ("a",), None)
    assert plan.items[1].upstream == (("a", None),)
    assert plan.partition_count == 3
    assert plan.asset_keys == ("a", "b", "c")


def test_selection_without_upstream_reads_it_as_it_is() -> None:
    graph = graph_of(published(snap("a"), snap("b", "a")))
    plan = plan_run(request("b"), graph)
    (b,) = plan.items
    assert b.depends_on == ()
    assert b.upstream == (("a", None),)


def test_multi_asset_node_brings_all_its_keys() -> None:
    graph = graph_of(
        published(
            snap("m/x", node="m"),
            snap("m/y", "src", node="m"),
            snap("m/z", "m/x", node="m"),  # an internal dep is not a wait
            snap("src"),
            snap("after", "m/y"),
        )
    )
    plan = plan_run(request("m/y", "after"), graph)
    assert [(it.node, it.asset_keys) for it in plan.items] == [
        ("m", ("m/x", "m/y", "m/z")),
        ("after", ("after",)),
    ]
    m, after = plan.items
    assert m.depends_on == ()
    assert m.upstream == (("src", None),)
    assert after.depends_on == (m.work_item_id,)
    assert plan.partition_count == 4


def test_unpartitioned_and_partitioned_mix() -> None:
    graph = graph_of(
        published(
            snap("config"),
            snap("colors", "config", partitions=COLORS),
            snap("summary", "colors"),  # unpartitioned over partitioned: reads all
        )
    )
    plan = plan_run(request("config", "colors", "summary", partitions=["red", "blue"]), graph)
    assert [(it.node, it.partition_key) for it in plan.items] == [
        ("config", None),
        ("colors", "red"),
        ("colors", "blue"),
        ("summary", None),
    ]
    deps = deps_by_item(plan)
    assert deps[("colors", "red")] == [("config", None)]
    assert deps[("summary", None)] == [("colors", "red"), ("colors", "blue")]
    # green is read as it is: outside the run, no wait
    assert ("colors", "green") in plan.items[-1].upstream
    assert plan.partition_count == 4


def test_identity_mapping_waits_for_the_same_partition_only() -> None:
    graph = graph_of(
        published(
            snap("a", partitions=COLORS),
            snap("b", ("a", IDENTITY), partitions=COLORS),
            snap("c", ("a", ALL), partitions=COLORS),
        )
    )
    plan = plan_run(request("a", "b", "c", partitions=["red", "green"]), graph)
    deps = deps_by_item(plan)
    assert deps[("b", "green")] == [("a", "green")]
    assert deps[("c", "green")] == [("a", "red"), ("a", "green")]
    c_green = next(it for it in plan.items if (it.node, it.partition_key) == ("c", "green"))
    assert c_green.upstream == (("a", "red"), ("a", "green"), ("a", "blue"))


def test_daily_downstream_of_hourly_waits_for_its_24_hours() -> None:
    graph = graph_of(
        published(snap("hourly", partitions=HOURLY), snap("daily", "hourly", partitions=DAILY))
    )
    plan = plan_run(request("hourly", "daily", partitions=[*HOURS, "2024-01-02"]), graph)
    assert len(plan.items) == 25
    deps = deps_by_item(plan)
    assert deps[("daily", "2024-01-02")] == [("hourly", h) for h in HOURS]
    assert plan.items[-1].node == "daily"


def test_daily_waits_only_for_the_hours_in_the_run() -> None:
    graph = graph_of(
        published(snap("hourly", partitions=HOURLY), snap("daily", "hourly", partitions=DAILY))
    )
    plan = plan_run(request("hourly", "daily", partitions=[*HOURS[:3], "2024-01-02"]), graph)
    daily = plan.items[-1]
    assert deps_by_item(plan)[("daily", "2024-01-02")] == [("hourly", h) for h in HOURS[:3]]
    assert len(daily.upstream) == 24


def test_range_is_expanded_per_asset() -> None:
    graph = graph_of(
        published(snap("a", partitions=DAILY), snap("b", "a", partitions=DAILY), snap("u"))
    )
    plan = plan_run(request("a", "b", "u", start="2024-01-30", end="2024-02-02"), graph)
    days = ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]
    assert [(it.node, it.partition_key) for it in plan.items] == [
        *(("a", d) for d in days),
        *(("b", d) for d in days),
        ("u", None),
    ]
    assert deps_by_item(plan)[("b", "2024-02-01")] == [("a", "2024-02-01")]


def test_unpartitioned_assets_ignore_requested_partitions() -> None:
    graph = graph_of(published(snap("a"), snap("b", "a")))
    plan = plan_run(request("a", "b", partitions=["whatever"]), graph)
    assert [it.partition_key for it in plan.items] == [None, None]


def test_duplicate_keys_are_planned_once() -> None:
    graph = graph_of(published(snap("a", partitions=COLORS)))
    plan = plan_run(request("a", "a", partitions=["red", "red", "blue"]), graph)
    assert [it.partition_key for it in plan.items] == ["red", "blue"]


def test_cross_location_dependencies() -> None:
    graph = graph_of(
        published(snap("raw"), location="ingest"),
        published(snap("clean", "raw"), location="analytics"),
    )
    plan = plan_run(request("clean", "raw"), graph)
    assert [(it.location, it.node) for it in plan.items] == [
        ("ingest", "raw"),
        ("analytics", "clean"),
    ]
    assert plan.items[1].depends_on == (plan.items[0].work_item_id,)


def test_external_assets_are_never_planned() -> None:
    graph = graph_of(published(snap("src", external=True), snap("a", "src")))
    plan = plan_run(request("src", "a"), graph)
    assert [it.node for it in plan.items] == ["a"]
    assert plan.items[0].upstream == (("src", None),)
    with pytest.raises(SelectionError, match="external"):
        plan_run(request("src"), graph)


def test_plans_are_deterministic() -> None:
    assets = [
        snap("hourly", partitions=HOURLY),
        snap("daily", "hourly", partitions=DAILY),
        snap("m/x", "daily", node="m", partitions=DAILY),
        snap("m/y", node="m", partitions=DAILY),
        snap("z", "m/x", "m/y", partitions=DAILY),
    ]
    req = request("z", "m/x", "hourly", "daily", partitions=[*HOURS, "2024-01-02"])
    plans = []
    for seed in range(5):
        shuffled = list(assets)
        random.Random(seed).shuffle(shuffled)
        plans.append(plan_run(req, graph_of(published(*shuffled))))
    assert all(p == plans[0] for p in plans)
    assert [it.node for it in plans[0].items][-3:] == ["daily", "m", "z"]


# -- errors ---------------------------------------------------------------------------


def test_unknown_assets_are_a_selection_error() -> None:
    graph = graph_of(published(snap("a")))
    with pytest.raises(SelectionError, match=r"unknown asset.*nope, zed"):
        plan_run(request("a", "zed", "nope"), graph)
    with pytest.raises(SelectionError, match="no asset"):
        plan_run(request(), graph)


def test_partitioned_asset_without_partitions() -> None:
    graph = graph_of(published(snap("a"), snap("b", "a", partitions=COLORS)))
    with pytest.raises(
        PartitionsRequiredError, match="asset b is partitioned: pass --partition KEY or --from/--to"
    ) as err:
        plan_run(request("a", "b"), graph)
    assert isinstance(err.value, DefinitionError)
    assert err.value.asset_key == "b"


def test_invalid_partition_key() -> None:
    graph = graph_of(published(snap("a", partitions=COLORS), snap("u")))
    with pytest.raises(InvalidPartitionKeyError, match="asset a: partition key 'purple'") as err:
        plan_run(request("a", "u", partitions=["red", "purple"]), graph)
    assert err.value.asset_key == "a"
    with pytest.raises(InvalidPartitionKeyError):
        plan_run(request("a", start="red", end="purple"), graph)
    with pytest.raises(InvalidPartitionKeyError, match="swap --from and --to"):
        plan_run(request("a", start="blue", end="red"), graph)


def test_invalid_range_for_time_partitions() -> None:
    graph = graph_of(published(snap("d", partitions=DAILY)))
    with pytest.raises(InvalidPartitionKeyError, match="asset d"):  # not yet a partition
        plan_run(request("d", partitions=["2024-03-02"]), graph)
    with pytest.raises(InvalidPartitionKeyError):
        plan_run(request("d", start="2024-01-02", end="not-a-day"), graph)
    with pytest.raises(InvalidPartitionKeyError):
        plan_run(request("d", partitions=["2024-01-02-05:00"]), graph)


def test_mixed_definitions_need_every_key_to_fit_one_and_every_asset_to_get_one() -> None:
    graph = graph_of(
        published(snap("hourly", partitions=HOURLY), snap("daily", "hourly", partitions=DAILY))
    )
    with pytest.raises(InvalidPartitionKeyError, match="'nope' is not a partition of any"):
        plan_run(request("hourly", "daily", partitions=["2024-01-02", "nope"]), graph)
    with pytest.raises(InvalidPartitionKeyError, match="asset hourly"):
        plan_run(request("hourly", "daily", partitions=["2024-01-02"]), graph)
    with pytest.raises(InvalidPartitionKeyError, match="asset hourly"):
        plan_run(request("hourly", "daily", start="2024-01-02", end="2024-01-03"), graph)


def test_cycle_across_locations_is_refused() -> None:
    graph = graph_of(
        published(snap("a", "b"), location="one"),
        published(snap("b", "a"), location="two"),
    )
    with pytest.raises(DependencyCycleError, match="a, b"):
        plan_run(request("a", "b"), graph)
