"""Builders shared by the coordinator's unit tests: hand-built snapshots and events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from conflux.events import (
    AllMappingSnapshot,
    AssetDepSnapshot,
    AssetMaterialized,
    AssetSnapshot,
    DefinitionsPublished,
    IdentityMappingSnapshot,
    LocationSnapshot,
    MaterializationRequested,
    PartitionFailed,
    PartitionMappingSnapshot,
    PartitionRange,
    PartitionsSnapshot,
    StaticPartitionsSnapshot,
    TimeWindowPartitionsSnapshot,
    Topics,
    WorkItemDispatched,
)
from conflux.projections.folds import DefinitionsProjection

if TYPE_CHECKING:
    from collections.abc import Iterable

    from conflux.events import AnyEvent

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

HOURLY = TimeWindowPartitionsSnapshot(
    cron_schedule="0 * * * *", start="2024-01-01T00:00:00", fmt="%Y-%m-%d-%H:%M"
)
DAILY = TimeWindowPartitionsSnapshot(
    cron_schedule="0 0 * * *", start="2024-01-01T00:00:00", fmt="%Y-%m-%d"
)
COLORS = StaticPartitionsSnapshot(keys=("red", "green", "blue"))
IDENTITY = IdentityMappingSnapshot()
ALL = AllMappingSnapshot()

Dep = str | tuple[str, PartitionMappingSnapshot | None]


def snap(
    key: str,
    *deps: Dep,
    node: str | None = None,
    partitions: PartitionsSnapshot | None = None,
    external: bool = False,
) -> AssetSnapshot:
    """One asset; a dep is a key, or (key, mapping)."""
    dep_snaps = []
    for dep in deps:
        up, mapping = (dep, None) if isinstance(dep, str) else dep
        dep_snaps.append(AssetDepSnapshot(asset_key=up, partition_mapping=mapping))
    return AssetSnapshot(
        key=key,
        node=node or key.replace("/", "__"),
        partitions=partitions,
        deps=tuple(dep_snaps),
        is_external=external,
    )


def published(
    *assets: AssetSnapshot, location: str = "loc", at: datetime = T0
) -> DefinitionsPublished:
    return DefinitionsPublished(
        event_id=f"defs-{location}-{at.isoformat()}",
        time=at,
        location=location,
        snapshot_id=f"{location}-{len(assets)}",
        snapshot=LocationSnapshot(location=location, assets=assets),
        producer="test",
    )


def graph_of(*events: DefinitionsPublished) -> DefinitionsProjection:
    graph = DefinitionsProjection()
    for event in events:
        graph.apply(event)
    return graph


def request(
    *keys: str,
    partitions: Iterable[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    run_id: str = "run-1",
    at: datetime = T0,
) -> MaterializationRequested:
    return MaterializationRequested(
        event_id=f"req-{run_id}",
        time=at,
        run_id=run_id,
        selection=",".join(keys),
        asset_keys=keys,
        partition_keys=tuple(partitions) if partitions is not None else None,
        partition_range=PartitionRange(start=start, end=end) if start and end else None,
        producer="test",
    )


def materialized(
    item: WorkItemDispatched, key: str | None = None, *, at: datetime = T0, n: int = 0
) -> AssetMaterialized:
    """What a worker emits for one asset of a dispatched item."""
    asset_key = key or item.asset_keys[0]
    return AssetMaterialized(
        event_id=f"mat-{item.work_item_id}-{asset_key}-{n}",
        time=at + timedelta(seconds=1),
        asset_key=asset_key,
        partition_key=item.partition_key,
        data_version=f"v-{asset_key}-{item.partition_key}-{n}",
        run_id=item.run_id,
        work_item_id=item.work_item_id,
        worker_id="w1",
        attempt=item.attempt,
        producer="worker:test",
    )


def failed(item: WorkItemDispatched, *, at: datetime = T0) -> list[PartitionFailed]:
    """What a worker emits when the node raised: one failure per asset key."""
    return [
        PartitionFailed(
            event_id=f"fail-{item.work_item_id}-{key}",
            time=at + timedelta(seconds=1),
            asset_key=key,
            partition_key=item.partition_key,
            run_id=item.run_id,
            work_item_id=item.work_item_id,
            worker_id="w1",
            attempt=item.attempt,
            error_type="ValueError",
            message="boom",
        )
        for key in item.asset_keys
    ]


def interleave(log: list[AnyEvent], seed: int) -> list[AnyEvent]:
    """The log as a replay may read it: order kept per (topic, key), not across them."""
    import random

    topics = Topics()
    streams: dict[tuple[str, str], list[AnyEvent]] = {}
    for event in log:
        streams.setdefault(topics.route(event), []).append(event)
    rng = random.Random(seed)
    queues = [list(q) for q in streams.values()]
    out: list[AnyEvent] = []
    while queues:
        queue = rng.choice(queues)
        out.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return out
