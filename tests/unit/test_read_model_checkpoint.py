"""The read model at constant memory: compact state, and its checkpoint (rule 5)."""

from __future__ import annotations

import gc
import pickle
import tracemalloc
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from projection_builders import T0, at, published, run_story

from conflux.coordinator._checkpoint import (
    Checkpoint as CoordinatorCheckpoint,
    save_checkpoint as save_coordinator,
)
from conflux.coordinator._state import CoordinatorState
from conflux.events import (
    AnyEvent,
    AssetMaterialized,
    MaterializationRequested,
    PartitionRange,
    PartitionStarted,
    RunCompleted,
    RunStarted,
    WorkItemDispatched,
    new_id,
)
from conflux.projections.folds import code_fingerprint
from conflux.projections.projector import ReadModel, load_read_model, save_read_model

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _backfill(partitions: int, chunk: int = 1000) -> Iterator[AnyEvent]:
    """A backfill's events, chunk by chunk: each partition dispatched, started, materialized."""
    for c in range(partitions // chunk):
        run = new_id()
        yield MaterializationRequested(
            run_id=run,
            selection="noop",
            asset_keys=("noop",),
            partition_range=PartitionRange(start="a", end="b"),
            time=T0,
        )
        yield RunStarted(run_id=run, asset_keys=("noop",), partition_count=chunk, time=T0)
        for i in range(c * chunk, (c + 1) * chunk):
            key = (T0 + timedelta(hours=i)).strftime("%Y-%m-%d-%H:%M")
            item = new_id()
            yield WorkItemDispatched(
                run_id=run,
                work_item_id=item,
                location="l",
                node="noop",
                asset_keys=("noop",),
                partition_key=key,
                time=T0,
            )
            yield PartitionStarted(
                asset_key="noop",
                partition_key=key,
                run_id=run,
                work_item_id=item,
                worker_id="w1",
                time=T0,
            )
            yield AssetMaterialized(
                asset_key="noop",
                partition_key=key,
                data_version=new_id()[:16],
                run_id=run,
                work_item_id=item,
                worker_id="w1",
                attempt=1,
                time=T0,
            )
        yield RunCompleted(run_id=run, status="success", materialized=chunk, time=T0)


def _fold(events: Iterator[AnyEvent] | list[AnyEvent]) -> ReadModel:
    model = ReadModel()
    for offset, event in enumerate(events):
        model.apply(event, topic="t", partition=0, offset=offset)
    return model


def _view(model: ReadModel) -> tuple[object, ...]:
    return (
        model.asset_summaries(),
        model.run_summaries(limit=1000),
        model.status(caught_up=True, now=at(20)),
        model.positions,
        model.applied,
    )


def test_the_read_model_holds_current_state_only() -> None:
    """Memory grows with partitions (their state), not with the events about them."""
    partitions = 10_000
    events = list(_backfill(partitions))  # made before measuring: the log, not the state
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        model = _fold(events)
        gc.collect()
        per_partition = (tracemalloc.get_traced_memory()[0] - before) / partitions
    finally:
        tracemalloc.stop()
    assert per_partition < 200, per_partition  # 128 B of asset state, by column
    runs = model.runs.runs.values()
    assert len(runs) == partitions // 1000
    assert all(r.completed is not None and not r.outcomes for r in runs)  # summaries only
    summary = model.run_summaries(limit=1)[0]
    assert (summary.status, summary.materialized, summary.in_progress) == ("success", 1000, 0)


def test_a_completed_run_is_its_summary_whatever_came_after_it() -> None:
    story = run_story()
    done = next(i for i, e in enumerate(story) if isinstance(e, RunCompleted))
    early = _fold([*story[:2], story[done], *story[2:done]])  # completion read first
    assert early.run_summaries() == _fold(story).run_summaries()


def test_a_checkpoint_round_trips_the_read_model(tmp_path: Path) -> None:
    model = _fold([*run_story(), *_backfill(2000)])
    path = tmp_path / "projector" / "checkpoint"
    seconds = save_read_model(path, model, prefix="conflux")
    assert seconds >= 0 and path.is_file()
    loaded = load_read_model(path, prefix="conflux")
    assert loaded is not None
    assert loaded.offsets == model.positions and loaded.applied == model.applied
    restored = loaded.state
    assert _view(restored) == _view(model)
    # It goes on folding where it stopped, and skips what it had applied.
    late = AssetMaterialized(asset_key="adhoc", data_version="later", time=at(30))
    assert not restored.apply(late, topic="t", partition=0, offset=5)
    assert restored.apply(late, topic="t", partition=0, offset=model.positions[("t", 0)])
    assert restored.asset_summary("adhoc").last_materialization is not None


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "code", "kind", "prefix"])
def test_a_checkpoint_that_cannot_be_used_means_a_rebuild(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "checkpoint"
    model = _fold([published(), *_backfill(1000)])
    save_read_model(path, model, prefix="conflux")
    assert load_read_model(path, prefix="conflux") is not None
    match damage:
        case "missing":
            path.unlink()
        case "garbage":
            path.write_bytes(b"\x80\x05not a pickle at all")
        case "truncated":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        case "code":  # written by other code: same layout, another fingerprint
            with path.open("wb") as f:
                header = {"format": 2, "kind": "read-model", "code": "0" * 16, "prefix": "conflux"}
                assert header["code"] != code_fingerprint()
                pickle.dump(header, f)
                pickle.dump("whatever", f)
        case "kind":  # the coordinator's checkpoint is not a read model
            save_coordinator(
                path, CoordinatorCheckpoint(CoordinatorState(), {}, 0), prefix="conflux"
            )
        case "prefix":
            pass
    prefix = "other" if damage == "prefix" else "conflux"
    assert load_read_model(path, prefix=prefix) is None
