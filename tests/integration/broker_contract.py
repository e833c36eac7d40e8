"""What Conflux relies on from a Kafka-protocol broker, as one suite bound per broker.

`test_broker_kafka.py` and `test_broker_tansu.py` bind `broker` to their fixture; the
behaviour lives here, once (STYLE.md point 7).
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import pytest
from brokers import BrokerHandle, drain, read_to_end
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from conflux.events import (
    AssetMaterialized,
    AssetSnapshot,
    BrokerUnavailableError,
    ComponentHeartbeat,
    DefinitionsPublished,
    EventConsumer,
    EventProducer,
    InfrastructureError,
    LocationSnapshot,
    MaterializationRequested,
    PartitionFailed,
    RecordDeadLettered,
    RunStarted,
    Topics,
    WorkItemDispatched,
    encode_event,
    kafka_config,
    wait_for_broker,
)

if TYPE_CHECKING:
    from conflux.events import ConsumedEvent, Event

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _samples(run_id: str) -> list[Event]:
    snapshot = LocationSnapshot(location="shop", assets=(AssetSnapshot(key="a", node="a"),))
    return [
        DefinitionsPublished(location="shop", snapshot_id="s1", snapshot=snapshot),
        MaterializationRequested(run_id=run_id, selection="*", asset_keys=("a",)),
        RunStarted(run_id=run_id, asset_keys=("a",), partition_count=1),
        WorkItemDispatched(
            work_item_id="w1", run_id=run_id, location="shop", node="a", asset_keys=("a",)
        ),
        AssetMaterialized(asset_key="a", partition_key="2024-01-31", data_version="v1"),
        PartitionFailed(
            asset_key="a",
            run_id=run_id,
            work_item_id="w1",
            worker_id="x",
            error_type="ValueError",
            message="boom",
        ),
        ComponentHeartbeat(component="coordinator", instance_id="c1"),
    ]


class BrokerContract:
    """The broker contract; subclasses bind `broker` and set `__test__ = True`."""

    __test__ = False

    @pytest.fixture
    def broker(self) -> BrokerHandle:
        raise NotImplementedError("bind `broker` to a broker fixture in the subclass")

    def _producer(self, broker: BrokerHandle, topics: Topics, **kw: Any) -> EventProducer:
        return EventProducer(broker.bootstrap, topics, broker_kind=broker.kind, **kw)

    def test_round_trip_keeps_events_topics_keys_and_type_header(
        self, broker: BrokerHandle, topics: Topics
    ) -> None:
        sent = _samples(uuid.uuid4().hex)
        with self._producer(broker, topics) as producer:
            for event in sent:
                producer.emit(event)
            producer.flush()
        names = [topics.definitions, topics.requests, topics.runs, topics.assets, topics.heartbeats]
        got = read_to_end(broker, topics, names, expect=len(sent))
        assert sorted(c.event.event_id for c in got) == sorted(e.event_id for e in sent)
        by_id = {c.event.event_id: c for c in got}
        for event in sent:
            consumed = by_id[event.event_id]
            assert consumed.event == event
            assert (consumed.topic, consumed.key) == topics.route(event)
            assert consumed.timestamp_ms > 0
        raw = Consumer(
            {
                **kafka_config(broker.bootstrap, broker_kind=broker.kind),
                "group.id": f"raw-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
            }
        )
        try:
            raw.assign([TopicPartition(topics.heartbeats, 0, OFFSET_BEGINNING)])
            msg = None
            for _ in range(100):
                msg = raw.poll(0.2)
                if msg is not None and msg.error() is None:
                    break
            assert msg is not None
            assert dict(msg.headers() or []) == {"type": b"ComponentHeartbeat"}
        finally:
            raw.close()

    def test_per_key_order_holds_across_partitions(
        self, broker: BrokerHandle, topics: Topics
    ) -> None:
        keys = [f"asset{i}" for i in range(12)]
        per_key = 50
        with self._producer(broker, topics, linger_ms=5) as producer:
            for seq in range(per_key):
                for key in keys:
                    producer.emit(
                        AssetMaterialized(
                            asset_key=key, partition_key="p", data_version=f"{seq:04d}"
                        )
                    )
            producer.flush(30)
        got = read_to_end(broker, topics, [topics.assets], expect=len(keys) * per_key)
        assert len(got) == len(keys) * per_key
        seen: dict[str, list[str]] = defaultdict(list)
        partitions: dict[str, set[int]] = defaultdict(set)
        for consumed in sorted(got, key=lambda c: (c.partition, c.offset)):
            assert isinstance(consumed.event, AssetMaterialized)
            seen[consumed.key or ""].append(consumed.event.data_version)
            partitions[consumed.key or ""].add(consumed.partition)
        for key in keys:
            assert seen[f"{key}#p"] == [f"{s:04d}" for s in range(per_key)]
            assert len(partitions[f"{key}#p"]) == 1
        assert len(set().union(*partitions.values())) > 1

    def test_malformed_records_are_dead_lettered_and_consumption_goes_on(
        self, broker: BrokerHandle, topics: Topics
    ) -> None:
        first = RunStarted(run_id="r1", asset_keys=("a",), partition_count=1)
        last = RunStarted(run_id="r1", asset_keys=("b",), partition_count=1)
        unknown = json.dumps({"type": "AssetExploded", "asset_key": "a"}).encode()
        missing = json.loads(encode_event(first))
        del missing["run_id"]
        nested = b"[" * 2000 + b"]" * 2000  # deeper than the JSON parser's recursion limit
        huge = b'{"type": "RunStarted", "run_id": "' + b"y" * 900_000 + b'"}'
        bad = [b"not json {", unknown, json.dumps(missing).encode(), b"\xff\xfe", nested, huge]
        raw = Producer(kafka_config(broker.bootstrap, role="producer"))
        for value in [encode_event(first), *bad, encode_event(last)]:
            raw.produce(topics.runs, value=value, key=b"r1")  # one key: one partition, in order
        assert raw.flush(10) == 0
        got = read_to_end(broker, topics, [topics.runs], expect=2)
        assert [c.event for c in got] == [first, last]
        dead = read_to_end(broker, topics, [topics.dlq], expect=len(bad))
        letters = sorted(
            (d.event for d in dead if isinstance(d.event, RecordDeadLettered)),
            key=lambda e: e.source_offset,
        )
        assert len(letters) == len(bad)
        assert [e.source_topic for e in letters] == [topics.runs] * len(bad)
        assert [e.source_offset - letters[0].source_offset for e in letters] == [0, 1, 2, 3, 4, 5]
        assert {e.key for e in letters} == {"r1"}
        assert {d.key for d in dead} == {topics.runs}
        assert letters[0].value == "not json {" and "not JSON" in letters[0].reason
        assert "AssetExploded" in letters[1].value and "type" in letters[1].reason
        assert "run_id" in letters[2].reason
        assert letters[3].value_base64 and letters[3].value == "//4="
        assert "nested too deeply" in letters[4].reason and letters[4].value_size is None
        assert letters[5].value_size == len(huge) and len(letters[5].value) == 64 * 1024

    def test_group_members_split_partitions_and_commit(
        self, broker: BrokerHandle, topics: Topics
    ) -> None:
        group = f"g-{uuid.uuid4().hex[:8]}"
        everything = {(topics.assets, p) for p in range(6)}

        def member(name: str) -> EventConsumer:
            return EventConsumer(
                broker.bootstrap,
                topics,
                [topics.assets],
                group_id=group,
                client_id=name,
                broker_kind=broker.kind,
            )

        got: dict[str, list[ConsumedEvent]] = {"a": [], "b": []}
        with member("a") as a, member("b") as b:
            members = {"a": a, "b": b}
            deadline = time.monotonic() + 60
            while not (a.assignment and b.assignment and a.assignment | b.assignment == everything):
                assert time.monotonic() < deadline, (a.assignment, b.assignment)
                for name, consumer in members.items():
                    got[name] += consumer.poll(0.1)
            assert not a.assignment & b.assignment
            with self._producer(broker, topics) as producer:
                for i in range(60):
                    producer.emit(AssetMaterialized(asset_key=f"k{i}", data_version="v"))
            deadline = time.monotonic() + 30
            while len(got["a"]) + len(got["b"]) < 60:
                assert time.monotonic() < deadline, {k: len(v) for k, v in got.items()}
                for name, consumer in members.items():
                    got[name] += consumer.poll(0.1)
            for name, consumer in members.items():
                assert got[name], f"member {name} got nothing"
                assert {(c.topic, c.partition) for c in got[name]} <= consumer.assignment
                consumer.commit()
            # b leaves; a takes over b's partitions from b's committed offsets. (Members
            # must not leave while a rebalance is under way: on Tansu 0.6 that wedges the
            # group, and a later member never gets an assignment.)
            b.close()
            deadline = time.monotonic() + 60
            handed_over: list[ConsumedEvent] = []
            while a.assignment != everything:
                assert time.monotonic() < deadline, a.assignment
                handed_over += a.poll(0.1)
            assert handed_over + drain(a) == []  # b's commit holds: nothing is read twice
        with member("c") as c:
            assert drain(c, timeout=60) == []  # everything was committed
            assert c.assignment == everything
            with self._producer(broker, topics) as producer:
                producer.emit(AssetMaterialized(asset_key="late", data_version="v"))
            late = [e.event for e in drain(c, expect=1)]
            assert [e.asset_key for e in late if isinstance(e, AssetMaterialized)] == ["late"]

    def test_caught_up_means_everything_before_was_returned(
        self, broker: BrokerHandle, topics: Topics
    ) -> None:
        with EventConsumer(
            broker.bootstrap, topics, [topics.runs], broker_kind=broker.kind
        ) as empty:
            assert drain(empty, timeout=20) == []
        with self._producer(broker, topics, linger_ms=5) as producer:
            for i in range(50):
                producer.emit(RunStarted(run_id=f"r{i}", asset_keys=("a",), partition_count=1))
        with EventConsumer(
            broker.bootstrap, topics, [topics.runs], broker_kind=broker.kind
        ) as consumer:
            assert not consumer.caught_up()
            events: list[ConsumedEvent] = []
            while not consumer.caught_up():
                events += consumer.poll(0.2, max_records=7)
            assert len(events) == 50

    def test_start_offsets_resume_where_a_fold_left_off(
        self, broker: BrokerHandle, topics: Topics
    ) -> None:
        with self._producer(broker, topics) as producer:
            for i in range(10):
                producer.emit(ComponentHeartbeat(component="worker", instance_id=f"w{i}"))
        start = {(topics.heartbeats, 0): 4}  # the next offset to read
        with EventConsumer(
            broker.bootstrap,
            topics,
            [topics.heartbeats],
            start_offsets=start,
            broker_kind=broker.kind,
        ) as consumer:
            got = drain(consumer, expect=6)
        assert [c.offset for c in got] == list(range(4, 10))

    def test_missing_topic_is_named(self, broker: BrokerHandle, topics: Topics) -> None:
        with pytest.raises(InfrastructureError, match=f"{topics.prefix}.nothing"):
            EventConsumer(
                broker.bootstrap,
                topics,
                [topics.runs, f"{topics.prefix}.nothing"],
                broker_kind=broker.kind,
            )

    def test_closed_port_fails_fast_and_quietly(
        self, broker: BrokerHandle, topics: Topics, capfd: pytest.CaptureFixture[str]
    ) -> None:
        nowhere = f"127.0.0.1:{_closed_port()}"
        began = time.monotonic()
        with pytest.raises(BrokerUnavailableError, match="conflux dev") as waited:
            wait_for_broker(nowhere, timeout=2)
        assert isinstance(waited.value, TimeoutError) and waited.value.bootstrap == nowhere
        assert time.monotonic() - began < 4
        began = time.monotonic()
        producer = EventProducer(nowhere, topics, broker_kind=broker.kind)
        producer.emit(RunStarted(run_id="r", asset_keys=("a",), partition_count=1))
        with pytest.raises(BrokerUnavailableError, match=nowhere):
            producer.flush(timeout=2)  # the default, 10 s, is what callers get
        with pytest.raises(BrokerUnavailableError, match="did not acknowledge 1 event"):
            producer.close(timeout=0.5)
        assert time.monotonic() - began < 5
        with pytest.raises(BrokerUnavailableError):
            EventConsumer(nowhere, topics, [topics.runs], broker_kind=broker.kind)
        out, err = capfd.readouterr()
        assert (out, err) == ("", "")
