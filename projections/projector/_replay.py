"""Replay: fold the log again, from the start, an offset or a time, into fresh projections.

Every projection is a fold of the log (rule 4), so any of them can be rebuilt by reading
the log again: the coordinator's state (its fold is the coordinator's own:
`conflux.coordinator.coordinator_fold`), the read model, or the ClickHouse archive. A
replay reads the topics a projection folds, in assign mode, until it has caught up with
the ends they had when it started, and reports progress as it goes. Side effects stay at
the edges: the folds are the same objects the live parts use.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from conflux.projections.projector._read_model import ReadModel

if TYPE_CHECKING:
    from conflux.events import ConsumedEvent, EventConsumer, Topics
    from conflux.events.brokers import BrokerKind
    from conflux.projections.archive import ArchiveSink

ProjectionName = Literal["coordinator", "read-model", "archive"]
PROJECTIONS: tuple[ProjectionName, ...] = ("coordinator", "read-model", "archive")

Start = int | datetime | None
"""Where a replay starts: None (offset zero), an offset (in every partition), or a time."""

Progress = Callable[[int, int], None]
"""Called with (records read, records to read) as a replay goes."""


def folded_topics(topics: Topics, projection: ProjectionName) -> list[str]:
    """The topics a projection folds (the same the live part reads)."""
    if projection == "coordinator":
        return [topics.definitions, topics.requests, topics.runs, topics.assets, topics.ticks]
    return [topics.definitions, topics.requests, topics.runs, topics.assets, topics.ticks,
            topics.heartbeats, topics.dlq]  # fmt: skip


@dataclass
class ReplayResult:
    """What a replay folded, and how fast."""

    projection: ProjectionName
    events: int = 0
    seconds: float = 0.0
    start_offsets: dict[str, int] = field(default_factory=dict)
    """`topic[partition]` -> where the replay started (after resolving a time)."""

    @property
    def rate(self) -> float:
        """Events folded per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


def start_offsets(
    bootstrap: str, topic_names: list[str], start: Start, *, broker_kind: BrokerKind | None
) -> tuple[dict[tuple[str, int], int], int]:
    """Where to read each partition from for `start`, and how many records lie ahead.

    Raises:
        InfrastructureError: a topic does not exist.
        BrokerUnavailableError: the broker did not answer.
    """
    from confluent_kafka import Consumer, TopicPartition

    from conflux.events import await_topics, kafka_config

    conf = kafka_config(bootstrap, broker_kind=broker_kind, role="consumer")
    conf["group.id"] = "conflux-replay-offsets"
    client = Consumer(conf)
    try:
        counts = await_topics(client, bootstrap, topic_names, 5.0)
        offsets: dict[tuple[str, int], int] = {}
        ahead = 0
        wanted = [TopicPartition(t, p) for t, n in counts.items() for p in range(n)]
        at: dict[tuple[str, int], int] = {}
        if isinstance(start, datetime):
            ms = int(start.timestamp() * 1000)
            stamped = [TopicPartition(tp.topic, tp.partition, ms) for tp in wanted]
            at = {(tp.topic, tp.partition): tp.offset
                  for tp in client.offsets_for_times(stamped, timeout=10.0)}  # fmt: skip
        for tp in wanted:
            low, high = client.get_watermark_offsets(tp, timeout=10.0, cached=False)
            where = (tp.topic, tp.partition)
            if start is None:
                first = low
            elif isinstance(start, int):
                first = min(max(start, low), high)
            else:
                first = at.get(where, high)
                first = high if first < 0 else first  # nothing at or after the time
            offsets[where] = first
            ahead += high - first
        return offsets, ahead
    finally:
        client.close()


def replay(
    bootstrap: str,
    topics: Topics,
    projection: ProjectionName,
    fold: Callable[[list[ConsumedEvent]], None],
    *,
    start: Start = None,
    broker_kind: BrokerKind | None = None,
    progress: Progress | None = None,
) -> ReplayResult:
    """Read `projection`'s topics from `start` to their current ends into `fold`.

    Raises:
        InfrastructureError: a topic does not exist, or the client failed.
        BrokerUnavailableError: the broker did not answer.
    """
    from conflux.events import EventConsumer

    names = folded_topics(topics, projection)
    offsets, ahead = start_offsets(bootstrap, names, start, broker_kind=broker_kind)
    result = ReplayResult(
        projection, start_offsets={f"{t}[{p}]": o for (t, p), o in offsets.items()}
    )
    began = time.monotonic()
    read = 0
    shown = 0.0
    with EventConsumer(
        bootstrap,
        topics,
        names,
        start_offsets=offsets,
        client_id=f"conflux-replay-{projection}",
        broker_kind=broker_kind,
        config={"fetch.wait.max.ms": 10, "queued.max.messages.kbytes": 262144},
    ) as consumer:
        while not consumer.caught_up():
            result.events += _read_and_fold(consumer, fold)
            read = sum(consumer.positions().values()) - sum(
                offsets[tp] for tp in consumer.positions()
            )
            if progress is not None and time.monotonic() - shown >= 0.25:
                shown = time.monotonic()
                progress(min(read, ahead), ahead)
    result.seconds = time.monotonic() - began
    if progress is not None:
        progress(ahead, ahead)
    return result


def _read_and_fold(consumer: EventConsumer, fold: Callable[[list[ConsumedEvent]], None]) -> int:
    """Read a batch and fold it with the cyclic GC paused; returns how many were folded.

    The GC resumes once the batch is freed: collecting while its events are alive would
    only promote each of them to an older generation, to be walked again there (as the
    coordinator's catch-up does; about 1.3 us less per record).
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        records = consumer.poll(timeout=0.2, max_records=10_000)
        if records:
            fold(records)
        count = len(records)
        del records
        return count
    finally:
        if paused:
            gc.enable()


def read_model_fold() -> tuple[ReadModel, Callable[[list[ConsumedEvent]], None]]:
    """A fresh read model and the fold that feeds it."""
    model = ReadModel()

    def fold(records: list[ConsumedEvent]) -> None:
        for r in records:
            model.apply(r.event, topic=r.topic, partition=r.partition, offset=r.offset)

    return model, fold


def archive_fold(sink: ArchiveSink) -> Callable[[list[ConsumedEvent]], None]:
    """The fold that feeds an archive sink (close the sink to store the rest)."""

    def fold(records: list[ConsumedEvent]) -> None:
        sink.add(records)

    return fold
