"""Stream sensors on a real broker: records of a user's topic become runs, each once.

`test_a_tick_reads_from_its_cursor` calls the sensor as the worker does (no coordinator):
a tick that never completed is read again from the same cursor, with the same run keys.
`test_records_become_runs_once_across_restarts` runs a coordinator and a worker: records
produced before the sensor starts, while both parts are down, and after they restart
each become exactly one run, and each is handed over by exactly one completed tick.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Literal, TypedDict, Unpack

import pytest
from confluent_kafka import Producer
from test_sensors_kafka import runs_of, ticks_of, wait_until
from test_worker import running, wait_for_definitions

from conflux import (
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    StreamRecord,
    StreamSensorDefinition,
    asset,
    stream_sensor,
)
from conflux.coordinator import Coordinator
from conflux.events import Topics, TopicSpec, ensure_topics, kafka_config
from conflux.workers import Worker

if TYPE_CHECKING:
    from pathlib import Path

    from brokers import BrokerHandle

    from conflux.events import TickCompleted

pytestmark = pytest.mark.integration


@asset
def orders() -> int:
    return 1


def user_topic(broker: BrokerHandle, partitions: int = 2) -> str:
    name = f"user-orders-{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, [TopicSpec(name, partitions)])
    return name


def produce(broker: BrokerHandle, topic: str, ids: range) -> dict[int, float]:
    """Produce `{"id": i}` keyed `o<i>` for each id; return id -> when it was produced."""
    producer = Producer(dict(kafka_config(broker.bootstrap, role="producer")))
    sent: dict[int, float] = {}
    for i in ids:
        producer.produce(topic, key=f"o{i}", value=json.dumps({"id": i}).encode())
        sent[i] = time.time()
    assert producer.flush(10) == 0
    return sent


class SensorOptions(TypedDict, total=False):
    """The `stream_sensor` options these tests set (the others keep their defaults)."""

    minimum_interval_seconds: float
    max_wait_seconds: float
    start: Literal["earliest", "latest"]
    default_status: DefaultSensorStatus
    timeout_seconds: float


def per_order(
    topic: str, bootstrap: str | None, **kwargs: Unpack[SensorOptions]
) -> StreamSensorDefinition:
    @stream_sensor(topic=topic, bootstrap_servers=bootstrap, target=[orders], **kwargs)
    def order_stream(records: list[StreamRecord]) -> list[RunRequest]:
        return [RunRequest(run_key=f"order-{r.json()['id']}") for r in records]

    return order_stream


def test_a_tick_reads_from_its_cursor(broker: BrokerHandle) -> None:
    topic = user_topic(broker)
    sensor = per_order(topic, broker.bootstrap, max_wait_seconds=2.0)
    try:
        produce(broker, topic, range(6))
        first = sensor.evaluate(cursor=None)
        got = {r.run_key for r in first.run_requests}
        while len(got) < 6:  # a tick may hand over one partition's records before the other's
            first = sensor.evaluate(cursor=first.cursor)
            got |= {r.run_key for r in first.run_requests}
        assert got == {f"order-{i}" for i in range(6)}
        end = first.cursor
        assert end is not None and sum(json.loads(end).values()) == 6
        reader = sensor._reader

        # Nothing new: a skip after waiting, the cursor as it was, the consumer kept.
        idle = sensor.evaluate(cursor=end)
        assert idle.run_requests == () and idle.cursor == end and sensor._reader is reader

        # A tick that never completed: the next one reads the same records again.
        produce(broker, topic, range(6, 9))
        again: list[set[str | None]] = []
        for _ in range(2):
            seen: set[str | None] = set()
            cursor: str | None = end
            while len(seen) < 3:
                tick = sensor.evaluate(cursor=cursor)
                seen |= {r.run_key for r in tick.run_requests}
                cursor = tick.cursor
            again.append(seen)
        assert again[0] == again[1] == {"order-6", "order-7", "order-8"}
        assert sensor._reader is reader  # re-positioned, not re-created

        # A person's garbage cursor fails the tick, naming the fix.
        with pytest.raises(ValueError, match="--set"):
            sensor.evaluate(cursor="yesterday")
    finally:
        sensor.close()
    assert sensor._reader is None

    latest = per_order(topic, broker.bootstrap, start="latest", max_wait_seconds=2.0)
    try:
        begin = latest.evaluate(cursor=None)
        assert begin.run_requests == () and "end of topic" in (begin.skip_reason or "")
        assert sum(json.loads(begin.cursor or "{}").values()) == 9
        produce(broker, topic, range(9, 10))
        tick = latest.evaluate(cursor=begin.cursor)
        assert [r.run_key for r in tick.run_requests] == ["order-9"]
    finally:
        latest.close()

    missing = per_order(f"nowhere-{uuid.uuid4().hex[:6]}", broker.bootstrap)
    try:
        assert "does not exist" in (missing.evaluate(cursor=None).skip_reason or "")
    finally:
        missing.close()


def test_records_become_runs_once_across_restarts(
    broker: BrokerHandle, topics: Topics, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = user_topic(broker)
    monkeypatch.setenv("CONFLUX_BOOTSTRAP", broker.bootstrap)  # bootstrap_servers=None
    sensor = per_order(
        topic,
        None,
        minimum_interval_seconds=1,
        timeout_seconds=5,
        default_status=DefaultSensorStatus.RUNNING,
    )

    @stream_sensor(topic=topic, target=[orders], default_status=DefaultSensorStatus.RUNNING)
    def order_batches(records: list[StreamRecord]) -> RunRequest:
        return RunRequest(tags={"records": str(len(records))})

    def parts() -> tuple[Coordinator, Worker]:
        coordinator = Coordinator(broker.bootstrap, topics, broker_kind=broker.kind)
        worker = Worker(
            location="streams",
            load=lambda: Definitions(assets=[orders], sensors=[sensor, order_batches]),
            bootstrap=broker.bootstrap,
            topics=topics,
            storage_dir=tmp_path,
            broker_kind=broker.kind,
        )
        return coordinator, worker

    def keys(events: list[object]) -> list[str]:
        return sorted(r.tags["run_key"] for r in runs_of(events, "order_stream"))

    produce(broker, topic, range(5))
    with running(*parts()):
        wait_for_definitions(broker, topics, "streams")
        events = wait_until(
            broker, topics, lambda ev: len(keys(ev)) >= 5, "five runs from five records"
        )
    assert sensor._reader is None  # the worker closed the consumer when it stopped

    produce(broker, topic, range(5, 8))  # while both parts are down
    with running(*parts()):
        late = produce(broker, topic, range(8, 10))
        events = wait_until(
            broker, topics, lambda ev: len(keys(ev)) >= 10, "ten runs after the restart"
        )
        time.sleep(2)  # a few more ticks: nothing new may come of them
        events = wait_until(broker, topics, lambda ev: True, "the log")

    assert keys(events) == sorted(f"order-{i}" for i in range(10))
    # Each record was handed over by exactly one completed tick (first completion wins).
    handed: list[str] = []
    first: dict[str, TickCompleted] = {}
    for tick in ticks_of(events, "order_stream"):
        first.setdefault(tick.tick_id, tick)
    for tick in first.values():
        if tick.status == "success":
            for r in tick.run_requests:
                assert r.run_key is not None  # each record's request has its key
                handed.append(r.run_key)
    assert sorted(handed) == keys(events)

    batch_runs = runs_of(events, "order_batches")
    assert sum(int(r.tags["records"]) for r in batch_runs) == 10
    assert all(r.tags["run_key"].startswith(f"{topic}:") for r in batch_runs)

    by_key = {r.tags["run_key"]: r for r in runs_of(events, "order_stream")}
    waits = [by_key[f"order-{i}"].time.timestamp() - late[i] for i in late]
    print(f"record produced -> run requested: {[round(w * 1000) for w in waits]} ms")
