"""Builders shared by the projections' unit tests: one location and one run's story."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from conflux.events import (
    AnyEvent,
    AssetDepSnapshot,
    AssetMaterialized,
    AssetSnapshot,
    ComponentHeartbeat,
    DefinitionsPublished,
    LocationSnapshot,
    MaterializationRequested,
    PartitionFailed,
    PartitionStarted,
    RecordDeadLettered,
    RunCompleted,
    RunStarted,
    StaticPartitionsSnapshot,
    WorkItemDispatched,
    WorkItemSkipped,
)
from conflux.projections.folds import DefinitionsProjection

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conflux.projections.archive import ArchiveStore
    from conflux.projections.projector import EventHistory, ReadModel

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
COLORS = StaticPartitionsSnapshot(keys=("red", "green", "blue"))


def at(seconds: float) -> datetime:
    """T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def asset(
    key: str,
    *deps: str,
    group: str = "default",
    partitions: StaticPartitionsSnapshot | None = None,
    external: bool = False,
) -> AssetSnapshot:
    return AssetSnapshot(
        key=key,
        node=key,
        group_name=group,
        partitions=partitions,
        deps=tuple(AssetDepSnapshot(asset_key=d) for d in deps),
        is_external=external,
    )


SNAPSHOT = LocationSnapshot(
    location="shop",
    assets=(
        asset("vendor_feed", external=True),
        asset("raw/events", "vendor_feed", group="ingest"),
        asset("raw/users", group="ingest"),
        asset("clean", "raw/events", "raw/users"),
        asset("colors", "clean", partitions=COLORS),
        asset("report", "colors", group="reports"),
        asset("summary", "report", group="reports"),
    ),
)


def published(time: datetime = T0) -> DefinitionsPublished:
    return DefinitionsPublished(
        location="shop", snapshot_id="s1", snapshot=SNAPSHOT, time=time, event_id="defs-1"
    )


def graph() -> DefinitionsProjection:
    g = DefinitionsProjection()
    g.apply(published())
    return g


def run_story(run_id: str = "run1") -> list[AnyEvent]:
    """A run of colors red and green: red materializes after a retry, green fails,
    report is skipped; plus heartbeats, a dead letter and a reported asset."""
    wi_red, wi_green = f"{run_id}-red", f"{run_id}-green"
    return [
        published(),
        MaterializationRequested(
            event_id=f"{run_id}-req",
            time=at(1),
            run_id=run_id,
            selection="colors+",
            asset_keys=("colors", "report"),
            partition_keys=("red", "green"),
            requested_by="ann",
        ),
        RunStarted(
            event_id=f"{run_id}-start",
            time=at(2),
            run_id=run_id,
            asset_keys=("colors", "report"),
            partition_count=4,
        ),
        WorkItemDispatched(
            event_id=f"{run_id}-d-red",
            time=at(3),
            work_item_id=wi_red,
            run_id=run_id,
            location="shop",
            node="colors",
            asset_keys=("colors",),
            partition_key="red",
        ),
        PartitionStarted(
            event_id=f"{run_id}-s-red-1",
            time=at(4),
            asset_key="colors",
            partition_key="red",
            run_id=run_id,
            work_item_id=wi_red,
            worker_id="w1",
        ),
        PartitionFailed(
            event_id=f"{run_id}-f-red-1",
            time=at(5),
            asset_key="colors",
            partition_key="red",
            run_id=run_id,
            work_item_id=wi_red,
            worker_id="w1",
            error_type="ValueError",
            message="boom",
        ),
        PartitionStarted(
            event_id=f"{run_id}-s-red-2",
            time=at(6),
            asset_key="colors",
            partition_key="red",
            run_id=run_id,
            work_item_id=wi_red,
            worker_id="w1",
            attempt=2,
        ),
        AssetMaterialized(
            event_id=f"{run_id}-m-red",
            time=at(7),
            asset_key="colors",
            partition_key="red",
            data_version="v-red",
            run_id=run_id,
            work_item_id=wi_red,
            attempt=2,
        ),
        PartitionStarted(
            event_id=f"{run_id}-s-green",
            time=at(8),
            asset_key="colors",
            partition_key="green",
            run_id=run_id,
            work_item_id=wi_green,
            worker_id="w1",
        ),
        PartitionFailed(
            event_id=f"{run_id}-f-green",
            time=at(9),
            asset_key="colors",
            partition_key="green",
            run_id=run_id,
            work_item_id=wi_green,
            worker_id="w1",
            error_type="KeyError",
            message="green",
        ),
        WorkItemSkipped(
            event_id=f"{run_id}-skip",
            time=at(10),
            work_item_id=f"{run_id}-report-green",
            run_id=run_id,
            asset_keys=("report",),
            partition_key="green",
            reason="colors failed",
        ),
        RunCompleted(
            event_id=f"{run_id}-done",
            time=at(11),
            run_id=run_id,
            status="failed",
            materialized=1,
            failed=1,
            skipped=1,
        ),
        AssetMaterialized(
            event_id="reported-1",
            time=at(12),
            asset_key="adhoc",
            data_version="by-hand",
            source="reported",
        ),
        ComponentHeartbeat(event_id="hb-1", time=at(12), component="coordinator", instance_id="c1"),
        RecordDeadLettered(
            event_id="dl-1",
            time=at(13),
            source_topic="conflux.assets",
            source_partition=0,
            source_offset=7,
            value="{",
            reason="not JSON",
        ),
    ]


@contextmanager
def archived(events: list[AnyEvent], topic: str = "conflux.t") -> Iterator[History]:
    """The read model of `events` and its history, from a fresh chdb archive of them.

    Each event is one record of `topic` partition 0, at offsets 0, 1, ... in list order,
    folded into the read model and archived (numbered 1, 2, ...) as the projector does.
    """
    from conflux.events import encode_event
    from conflux.projections.archive import ArchiveSink, ChdbStore, RawRecord
    from conflux.projections.projector import EventHistory, ReadModel

    model = ReadModel()
    with tempfile.TemporaryDirectory() as folder, ChdbStore(folder) as store:
        store.create_schema()
        sink = ArchiveSink(store)
        try:
            records = [RawRecord(encode_event(e), topic, 0, i) for i, e in enumerate(events)]
            for record, event in zip(records, events, strict=True):
                model.apply(event, topic=topic, partition=0, offset=record.offset)
            sink.add(records)
        finally:
            sink.close()
        yield History(model, EventHistory(store, model), store)


@dataclass
class History:
    """A read model with its archive-backed history (see `archived`)."""

    model: ReadModel
    history: EventHistory
    store: ArchiveStore
