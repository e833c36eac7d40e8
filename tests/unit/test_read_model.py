"""The read model's folds: runs, event log, components, assets, status (rules 4 and 5)."""

from __future__ import annotations

import random
from typing import Literal

import pytest
from projection_builders import T0, at, published, run_story

from conflux.events import (
    AnyEvent,
    AssetMaterialized,
    ComponentHeartbeat,
    DefinitionError,
    InvalidPartitionKeyError,
    LocationLoadFailed,
    MaterializationRequested,
    PartitionRange,
    PartitionStarted,
    RunStarted,
    SelectionError,
)
from conflux.projections.api import EventQuery
from conflux.projections.projector import ReadModel


def _fed(events: list[AnyEvent]) -> ReadModel:
    model = ReadModel()
    for e in events:
        model.apply(e)
    return model


def _view(model: ReadModel) -> dict[str, object]:
    """Everything a reader can see, as JSON-able data (event seqs aside)."""
    return {
        "assets": [a.model_dump(mode="json") for a in model.asset_summaries()],
        "runs": [r.model_dump(mode="json") for r in model.run_summaries(limit=100)],
        "events": sorted(str(r.event["event_id"]) for r in model.events(EventQuery(type=None))),
        "status": model.status(caught_up=True, now=at(13)).model_dump(mode="json"),
    }


def test_applying_twice_equals_once() -> None:
    story = run_story()
    once = _fed(story)
    twice = _fed(story + story)
    assert _view(twice) == _view(once)
    assert len(twice.log) == len(story)
    assert [r.seq for r in twice.events()] == [r.seq for r in once.events()]


def test_replay_equals_live_and_order_across_topics_does_not_matter() -> None:
    story = run_story()
    live = ReadModel()
    for i, e in enumerate(story):  # live: applied with positions, as the projector does
        assert live.apply(e, topic="t", partition=0, offset=i)
    assert live.positions == {("t", 0): len(story)}
    replayed = _fed(story)
    assert _view(replayed) == _view(live)
    shuffled = story[1:]
    random.Random(7).shuffle(shuffled)
    assert _view(_fed([story[0], *shuffled])) == _view(live)


def test_run_lifecycle_and_live_counts() -> None:
    story = run_story()
    model = ReadModel()
    model.apply(story[0])
    model.apply(story[1])  # requested
    run = model.run_summary("run1")
    assert run is not None
    assert (run.status, run.partition_count, run.selection, run.requested_by) == (
        "queued",
        0,
        "colors+",
        "ann",
    )
    for e in story[2:5]:  # started, dispatched red, red started
        model.apply(e)
    run = model.run_summary("run1")
    assert run is not None
    assert (run.status, run.partition_count, run.in_progress) == ("started", 4, 1)
    model.apply(story[5])  # red failed (attempt 1)
    run = model.run_summary("run1")
    assert run is not None and (run.failed, run.in_progress) == (1, 0)
    for e in story[6:8]:  # red retried and materialized
        model.apply(e)
    run = model.run_summary("run1")
    assert run is not None and (run.materialized, run.failed, run.in_progress) == (1, 0, 0)
    for e in story[8:11]:  # green started, failed; report skipped
        model.apply(e)
    run = model.run_summary("run1")
    assert run is not None
    assert (run.status, run.materialized, run.failed, run.skipped) == ("started", 1, 1, 1)
    model.apply(story[11])
    run = model.run_summary("run1")
    assert run is not None
    assert (run.status, run.completed_at, run.reason) == ("failed", at(11), None)


def test_runs_newest_first_and_filtered_by_status() -> None:
    model = _fed(run_story("old"))
    model.apply(
        MaterializationRequested(
            run_id="new", selection="raw/users", asset_keys=("raw/users",), time=at(100)
        )
    )
    assert [r.run_id for r in model.run_summaries()] == ["new", "old"]
    assert [r.run_id for r in model.run_summaries(status="queued")] == ["new"]
    assert [r.run_id for r in model.run_summaries(status="failed")] == ["old"]
    assert [r.run_id for r in model.run_summaries(limit=1)] == ["new"]
    # a run seen only from the runs topic still lists (request not read yet)
    model.apply(RunStarted(run_id="orphan", asset_keys=("clean",), partition_count=1, time=at(50)))
    assert model.run_summary("orphan") is not None
    assert model.run_summary("nope") is None


def test_asset_partition_index_tells_the_whole_story() -> None:
    model = _fed(run_story())
    red = [r.type for r in model.events(EventQuery(asset="colors", partition="red"))]
    assert red == [
        "MaterializationRequested",
        "WorkItemDispatched",
        "PartitionStarted",
        "PartitionFailed",
        "PartitionStarted",
        "AssetMaterialized",
    ]
    assert [r.type for r in model.events(EventQuery(asset="report", partition="green"))] == [
        "MaterializationRequested",
        "WorkItemSkipped",
    ]
    assert len(model.events(EventQuery(asset="colors"))) == 9  # + RunStarted
    assert model.events(EventQuery(asset="colors", partition="blue")) == []


def test_event_filters() -> None:
    model = _fed(run_story())
    everything = model.events()
    assert "ComponentHeartbeat" not in {r.type for r in everything}  # hidden unless asked
    assert [r.type for r in model.events(EventQuery(type="componentheartbeat"))] == [
        "ComponentHeartbeat"
    ]
    assert len(model.events(EventQuery(type="assetmaterialized"))) == 2
    assert [r.seq for r in model.events(EventQuery(since=at(11)))] == [12, 13, 15]
    assert [r.seq for r in model.events(EventQuery(after=13))] == [15]
    assert [r.seq for r in model.events(EventQuery(limit=2))] == [13, 15]
    assert model.events(EventQuery(limit=0)) == []
    record = model.events(EventQuery(type="RunStarted"))[0]
    assert (record.run_id, record.asset_key, record.event["partition_count"]) == (
        "run1",
        "colors,report",
        4,
    )


def test_range_request_matches_the_partitions_it_covers() -> None:
    model = _fed([published()])
    model.apply(
        MaterializationRequested(
            run_id="r",
            selection="colors",
            asset_keys=("colors",),
            partition_range=PartitionRange(start="red", end="green"),
        )
    )
    assert len(model.events(EventQuery(asset="colors", partition="green"))) == 1
    assert model.events(EventQuery(asset="colors", partition="blue")) == []


def test_asset_summaries() -> None:
    model = _fed(run_story())
    by_key = {a.key: a for a in model.asset_summaries()}
    colors = by_key["colors"]
    assert colors.defined and colors.partitioned and colors.location == "shop"
    assert colors.partitions.model_dump() == {
        "total": 3,
        "materialized": 1,
        "failed": 1,
        "in_progress": 0,
    }
    assert colors.last_materialization is not None
    assert (colors.last_materialization.partition_key, colors.last_materialization.run_id) == (
        "red",
        "run1",
    )
    assert colors.partitions_snapshot is not None
    adhoc = by_key["adhoc"]
    assert (adhoc.defined, adhoc.location, adhoc.partitions.total) == (False, None, 1)
    assert adhoc.last_materialization is not None
    assert adhoc.last_materialization.source == "reported"
    assert by_key["vendor_feed"].is_external
    assert by_key["raw/users"].partitions.total == 1
    assert model.asset_summary("colors") == colors
    with pytest.raises(SelectionError, match="conflux assets"):
        model.asset_summary("colour")


def test_validate_partition() -> None:
    model = _fed([published()])
    model.validate_partition("colors", "red")
    model.validate_partition("vendor_feed", None)  # external assets are reported
    with pytest.raises(SelectionError, match="did you mean colors"):
        model.validate_partition("colours", "red")
    with pytest.raises(InvalidPartitionKeyError, match="'pink'"):
        model.validate_partition("colors", "pink")
    with pytest.raises(DefinitionError, match="is partitioned"):
        model.validate_partition("colors", None)
    with pytest.raises(DefinitionError, match="not partitioned"):
        model.validate_partition("clean", "red")


def _beat(
    component: Literal["coordinator", "projector", "worker"],
    seconds: float,
    *,
    instance_id: str | None = None,
    location: str | None = None,
    ready: bool = True,
) -> ComponentHeartbeat:
    return ComponentHeartbeat(
        component=component,
        instance_id=instance_id or component,
        location=location,
        ready=ready,
        time=at(seconds),
    )


def test_status_readiness() -> None:
    model = ReadModel()
    report = model.status(caught_up=False, expected_locations=["shop", "etl"], now=T0)
    assert not report.ready
    assert len(report.not_ready) == 4  # projector, coordinator, two locations
    model.apply(published())
    model.apply(LocationLoadFailed(location="etl", error_type="ImportError", message="no pandas"))
    model.apply(_beat("coordinator", 0, ready=False))
    report = model.status(caught_up=True, expected_locations=["shop", "etl"], now=at(1))
    assert report.not_ready == ["coordinator: running, not ready yet"]
    model.apply(_beat("coordinator", 1))
    model.apply(_beat("worker", 1, location="shop", instance_id="w1"))
    report = model.status(caught_up=True, expected_locations=["shop", "etl"], now=at(2))
    assert report.ready and report.not_ready == []
    locations = {loc.name: loc for loc in report.locations}
    assert locations["etl"].status == "failed"
    assert locations["etl"].error == "ImportError: no pandas"
    assert (locations["shop"].workers_alive, locations["etl"].workers_alive) == (1, 0)
    stale = model.status(caught_up=True, expected_locations=["shop"], now=at(10))
    assert not stale.ready
    assert stale.not_ready[0].startswith("coordinator: last heartbeat 9 s ago")


def test_dead_letters_are_counted_once() -> None:
    story = run_story()
    model = _fed(story + story[-1:])
    report = model.status(caught_up=True, now=at(13))
    assert report.dead_letters == 1
    assert report.recent_dead_letters[0].reason == "not JSON"


def test_reported_materialization_clears_nothing_it_should_not() -> None:
    model = _fed([published()])
    model.apply(
        PartitionStarted(asset_key="clean", run_id="r", work_item_id="w", worker_id="x", time=at(1))
    )
    model.apply(AssetMaterialized(asset_key="clean", data_version="v", time=at(2), run_id="r"))
    clean = model.asset_summary("clean")
    assert (clean.partitions.materialized, clean.partitions.in_progress) == (1, 0)


def test_heartbeats_are_numbered_but_only_the_latest_are_kept() -> None:
    from conflux.projections.projector._event_log import HEARTBEATS_KEPT

    model = ReadModel()
    for i in range(HEARTBEATS_KEPT + 10):
        model.apply(_beat("worker", i, instance_id=f"w{i % 3}"))
    model.apply(published())
    assert len(model.log) == HEARTBEATS_KEPT + 11
    beats = model.events(EventQuery(type="ComponentHeartbeat"))
    assert len(beats) == HEARTBEATS_KEPT and beats[0].seq == 11
    assert [
        r.seq
        for r in model.events(EventQuery(type="componentheartbeat", after=HEARTBEATS_KEPT + 8))
    ] == [
        HEARTBEATS_KEPT + 9,
        HEARTBEATS_KEPT + 10,
    ]
    assert [r.type for r in model.events()] == ["DefinitionsPublished"]
    assert len(model.components.heartbeats) == 3
