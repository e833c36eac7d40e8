"""History from the archive (chdb): a partition's story, filters, following, a run's timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from projection_builders import History, archived, at, published, run_story

from conflux.events import (
    AssetMaterialized,
    ComponentHeartbeat,
    MaterializationRequested,
    PartitionRange,
    WorkItemDispatched,
)
from conflux.projections.api import EventQuery

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="class")
def story() -> Iterator[History]:
    """`run_story()` archived once for the tests that only read it (a class: chdb opens one
    folder per process, so it must be closed before the next test archives)."""
    with archived(run_story()) as h:
        yield h


def test_a_range_request_matches_the_partitions_it_covers() -> None:
    ranged = MaterializationRequested(
        run_id="r",
        selection="colors",
        asset_keys=("colors",),
        partition_range=PartitionRange(start="red", end="green"),
        time=at(1),
    )
    item = WorkItemDispatched(
        run_id="r",
        work_item_id="w",
        location="shop",
        node="colors",
        asset_keys=("colors",),
        partition_range=PartitionRange(start="green", end="blue"),
        partition_count=2,
        time=at(2),
    )
    with archived([published(), ranged, item]) as h:
        # static keys red, green, blue: green is in both ranges, red and blue in one each
        types = {
            key: [r.type for r in h.history.events(EventQuery(asset="colors", partition=key))]
            for key in ("red", "green", "blue")
        }
        assert types == {
            "red": ["MaterializationRequested"],
            "green": ["MaterializationRequested", "WorkItemDispatched"],
            "blue": ["WorkItemDispatched"],
        }
        request = h.history.last_request("colors", "green")
        assert request is not None and request.run_id == "r"


def test_an_event_archived_twice_is_listed_once_at_its_first_copy() -> None:
    mat = AssetMaterialized(asset_key="raw/users", data_version="v", time=at(1))
    with archived([published(), mat, mat]) as h:
        found = h.history.events(EventQuery(asset="raw/users"))
        assert [(r.type, r.seq) for r in found] == [("AssetMaterialized", 2)]
        assert len(h.history.events(EventQuery())) == 2


def test_heartbeats_are_all_archived_and_listed_only_by_type() -> None:
    beats = [
        ComponentHeartbeat(time=at(i), component="worker", instance_id=f"w{i % 3}")
        for i in range(20)
    ]
    with archived([*beats, published(at(30))]) as h:
        assert [r.type for r in h.history.events(EventQuery())] == ["DefinitionsPublished"]
        listed = h.history.events(EventQuery(type="ComponentHeartbeat", limit=5))
        assert [r.seq for r in listed] == [16, 17, 18, 19, 20]
        assert len(h.model.components.heartbeats) == 3


class TestOneRunsStory:
    """Reads of one archived run (see `run_story`)."""

    def test_the_story_of_a_partition_is_every_event_about_it(self, story: History) -> None:
        h = story
        red = [r.type for r in h.history.events(EventQuery(asset="colors", partition="red"))]
        assert red == [
            "MaterializationRequested",
            "WorkItemDispatched",
            "PartitionStarted",
            "PartitionFailed",
            "PartitionStarted",
            "AssetMaterialized",
        ]
        report = h.history.events(EventQuery(asset="report", partition="green"))
        assert [r.type for r in report] == ["MaterializationRequested", "WorkItemSkipped"]
        assert len(h.history.events(EventQuery(asset="colors"))) == 9  # + RunStarted
        assert h.history.events(EventQuery(asset="colors", partition="blue")) == []

    def test_filters_and_the_fields_of_a_record(self, story: History) -> None:
        h = story
        events = h.history.events
        everything = events(EventQuery())
        assert "ComponentHeartbeat" not in {r.type for r in everything}  # unless asked for
        assert [r.type for r in events(EventQuery(type="componentheartbeat"))] == [
            "ComponentHeartbeat"
        ]
        assert len(events(EventQuery(type="assetmaterialized"))) == 2
        assert [r.seq for r in events(EventQuery(since=at(11)))] == [12, 13, 15]
        assert [r.seq for r in events(EventQuery(after=13))] == [15]
        assert [r.seq for r in events(EventQuery(limit=2))] == [13, 15]
        assert events(EventQuery(limit=0)) == []
        assert events(EventQuery(type="NoSuchType")) == []
        record = events(EventQuery(type="RunStarted"))[0]
        assert (record.run_id, record.asset_key, record.event["partition_count"]) == (
            "run1",
            "colors,report",
            4,
        )
        assert (record.topic, record.partition, record.offset, record.time) == (
            "conflux.t",
            0,
            2,
            at(2),
        )
        request = events(EventQuery(type="MaterializationRequested"))[0]
        assert (request.asset_key, request.partition_key) == ("colors,report", None)
        assert [r.type for r in events(EventQuery(run="run1", asset="report"))] == [
            "MaterializationRequested",
            "RunStarted",
            "WorkItemSkipped",
        ]
        assert len(events(EventQuery(run="run1"))) == 11

    def test_following_pages_through_in_the_order_archived(self, story: History) -> None:
        h = story
        seen: list[int] = []
        after = 0
        while page := h.history.events(EventQuery(after=after, limit=4)):
            seen += [r.seq for r in page]
            after = page[-1].seq
        everything = [r.seq for r in h.history.events(EventQuery())]
        assert seen == everything and seen == sorted(seen)

    def test_the_timeline_of_a_run_from_the_archive(self, story: History) -> None:
        h = story
        timeline = h.history.run_partitions("run1")
        rows = {(p.asset_key, p.partition_key): p for p in timeline.partitions}
        assert timeline.total == 3
        red, green = rows[("colors", "red")], rows[("colors", "green")]
        assert (red.status, red.attempt, red.started_at, red.ended_at) == (
            "materialized",
            2,
            at(6),
            at(7),
        )
        assert (green.status, green.error_type, green.message) == ("failed", "KeyError", "green")
        assert rows[("report", "green")].status == "skipped"
        assert (green.started_at, green.worker_id) == (at(8), "w1")


def test_a_request_of_many_keys_is_one_event_of_an_assets_history() -> None:
    keys = tuple(f"k{i:03}" for i in range(300))
    many = MaterializationRequested(
        run_id="r", selection="colors", asset_keys=("colors",), partition_keys=keys, time=at(2)
    )
    earlier = AssetMaterialized(
        asset_key="colors", partition_key="red", data_version="v", time=at(1)
    )
    with archived([published(), earlier, many]) as h:
        found = h.history.events(EventQuery(asset="colors", limit=2))
        assert [r.type for r in found] == ["AssetMaterialized", "MaterializationRequested"]
        assert [r.type for r in h.history.events(EventQuery(asset="colors", partition="k123"))] == [
            "MaterializationRequested"
        ]
