"""The read model's folds: runs, components, assets, status (rules 4 and 5).

History (events, timelines) is the archive's: see test_history.py."""

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
    PartitionStarted,
    RunStarted,
    SelectionError,
)
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
        "status": model.status(caught_up=True, now=at(13)).model_dump(
            mode="json",
            exclude={"events"},  # events applied: duplicates count too
        ),
    }


def test_applying_twice_equals_once() -> None:
    story = run_story()
    once = _fed(story)
    twice = _fed(story + story)
    assert _view(twice) == _view(once)
    assert twice.applied == 2 * len(story)  # each fold drops the duplicates itself


def test_a_record_below_the_applied_position_is_skipped() -> None:
    story = run_story()
    model = ReadModel()
    for i, e in enumerate(story):
        assert model.apply(e, topic="t", partition=0, offset=i)
    again = _view(model)
    assert not model.apply(story[-1], topic="t", partition=0, offset=len(story) - 1)
    assert not model.apply(story[0], topic="t", partition=0, offset=0)
    assert model.applied == len(story) and _view(model) == again


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
    assert report.not_ready[0] == "projector: still reading the log"
    rebuilding = "rebuilding the read model from the archive: 20,000 of 80,000 events (25%)"
    report = model.status(caught_up=False, progress=rebuilding, now=T0)
    assert report.not_ready[0] == f"projector: {rebuilding}"  # a replay shows its progress
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
