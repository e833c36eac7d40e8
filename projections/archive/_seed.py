"""Seeding a broker that keeps nothing (Tansu) from the archive, before anything starts.

Tansu keeps its log in memory, so `conflux dev` on Tansu would start from an empty log
and forget everything. The archive holds every record of the core topics as it was
written (rule 6), so a fresh broker gets them back, in their original order within each
(topic, partition), and the archive's positions are moved to the new offsets so that
nothing is archived twice. Left out on purpose: heartbeats (disposable) and work topics
(delivery copies of dispatches that are on the runs topic too; replaying them would make
workers execute finished work again).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conflux.events import BrokerUnavailableError
from conflux.projections.archive._store import ARCHIVE_PROJECTION, ArchiveBatch, Tracking

if TYPE_CHECKING:
    from collections.abc import Callable

    from conflux.events import Topics
    from conflux.events.brokers import BrokerKind
    from conflux.projections.archive._store import ArchiveStore

_log = logging.getLogger("conflux.seed")

_CHUNK = 50_000
"""Archived records read (and produced) per query."""


@dataclass(frozen=True)
class SeedReport:
    """What a seeding wrote."""

    records: int
    topics: dict[str, int]
    seconds: float


def seed_topics(topics: Topics) -> list[str]:
    """The topics a seeding restores: the core topics but heartbeats and run logs.

    Run logs live in the archive's `run_logs` table, not as records to restore.
    """
    return [t.name for t in topics.core() if t.name not in (topics.heartbeats, topics.logs)]


def seed_broker(
    store: ArchiveStore,
    bootstrap: str,
    topics: Topics,
    *,
    broker_kind: BrokerKind | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SeedReport:
    """Produce every archived record of `seed_topics` into an empty broker, in order.

    Each record goes to its original (topic, partition) with its key and its bytes; the
    archive's positions then point at the new offsets (the old ones are dropped).

    Raises:
        BrokerUnavailableError: the broker did not acknowledge every record.
        ArchiveError: the archive could not be read or its positions written.
    """
    from confluent_kafka import Producer

    from conflux.events import kafka_config

    started = time.monotonic()
    names = seed_topics(topics)
    total_rows = store.query(
        "SELECT count() FROM (SELECT DISTINCT event_id, topic FROM events"
        " WHERE topic IN {topics:Array(String)})",
        {"topics": names},
    )
    total = int(str(total_rows[0][0]))
    conf = kafka_config(bootstrap, broker_kind=broker_kind, role="producer")
    conf.update({"enable.idempotence": True, "acks": "all", "linger.ms": 20})
    producer = Producer(conf)
    last: dict[tuple[str, int], int] = {}
    counts: dict[str, int] = {}
    failures: list[str] = []

    def delivered(err: object, msg: object) -> None:
        if err is not None:
            failures.append(str(err))
            return
        where = (msg.topic(), msg.partition())  # type: ignore[attr-defined]
        last[where] = max(last.get(where, -1), msg.offset())  # type: ignore[attr-defined]

    done = 0
    after: tuple[str, int, int] = ("", -1, -1)
    while True:
        chunk = store.query_arrow(
            "SELECT topic, partition, offset, key, payload FROM events"
            " WHERE topic IN {topics:Array(String)}"
            " AND (topic, partition, offset) > ({t:String}, {p:Int64}, {o:Int64})"
            " ORDER BY topic, partition, offset LIMIT 1 BY topic, partition, offset"
            " LIMIT {n:UInt32}",
            {"topics": names, "t": after[0], "p": after[1], "o": after[2], "n": _CHUNK},
        ).to_pydict()
        rows = len(chunk["topic"])
        if not rows:
            break
        for topic, partition, key, payload in zip(
            chunk["topic"], chunk["partition"], chunk["key"], chunk["payload"], strict=True
        ):
            value = payload if isinstance(payload, bytes) else str(payload).encode()
            while True:
                try:
                    producer.produce(
                        topic, value, key or None, partition=partition, on_delivery=delivered
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
            counts[topic] = counts.get(topic, 0) + 1
        producer.poll(0)
        done += rows
        after = (chunk["topic"][-1], chunk["partition"][-1], chunk["offset"][-1])
        if progress is not None:
            progress(done, total)
    if producer.flush(30.0) or failures:
        raise BrokerUnavailableError(
            f"seeding {bootstrap} from the archive failed after {done} records: "
            f"{failures[0] if failures else 'not every record was acknowledged in 30 s'}",
            bootstrap=bootstrap,
        )
    _move_positions(store, last)
    report = SeedReport(done, counts, time.monotonic() - started)
    _log.info("seeded %d records in %.1f s: %s", done, report.seconds, counts)
    return report


def _move_positions(store: ArchiveStore, last: dict[tuple[str, int], int]) -> None:
    """Point the archive's positions at the fresh broker's offsets (the old log is gone)."""
    store.execute(
        "DELETE FROM positions WHERE `projection` = {p:String}", {"p": ARCHIVE_PROJECTION}
    )
    # The run logs' reader starts the fresh (empty) logs topic from its beginning.
    store.execute("DELETE FROM positions WHERE `projection` = 'run_logs'")
    marks = tuple(Tracking(ARCHIVE_PROJECTION, t, p, o) for (t, p), o in sorted(last.items()))
    if marks:
        store.write(ArchiveBatch({}, marks))
