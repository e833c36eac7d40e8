"""Stream sensor latency on Apache Kafka: a record produced -> its run requested.

A coordinator and a worker run as threads of this process; one `@stream_sensor`
(1 s minimum interval, `max_wait_seconds` 1 s, one run request per record with a run
key) reads a 2-partition user topic. After a warm-up, this process produces 12 sparse
records (1.2-2.5 s apart), then 40 busy ones (every 0.25-0.3 s), and times each from
its produce call to reading its `MaterializationRequested` back from the requests topic
(produced, read by the sensor's consumer during a tick's wait, tick event produced,
folded by the coordinator, run request produced, read). A tick returns at its first
record, and the next tick comes `minimum_interval_seconds` after the last request: a
sparse record meets a waiting tick, busy records wait up to the interval. Prints one
JSON object.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_latency import percentiles
from confluent_kafka import Producer

from conflux import (
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    StreamRecord,
    asset,
    stream_sensor,
)
from conflux.events import (
    EventConsumer,
    MaterializationRequested,
    Topics,
    TopicSpec,
    ensure_topics,
    kafka_config,
    new_id,
)

WARMUP_S = 4.0
SPARSE = 12
"""Records 1.2-2.5 s apart: each finds a tick waiting for it."""
BUSY = 40
BUSY_EVERY_S = 0.25
"""Records every 0.25-0.3 s: the first of a tick returns it, the rest wait for the next."""
USER_TOPIC = "user-orders"


@asset
def target() -> None:
    return None


def run() -> dict[str, object]:
    from conflux.coordinator import Coordinator
    from conflux.events.brokers import KafkaBroker
    from conflux.workers import Worker

    samples: dict[str, list[float]] = {"sparse": [], "busy": []}
    with tempfile.TemporaryDirectory() as tmp:
        broker = KafkaBroker(Path(tmp) / "broker")
        broker.start()
        stop = threading.Event()
        threads: list[threading.Thread] = []

        @stream_sensor(
            topic=USER_TOPIC,
            bootstrap_servers=broker.bootstrap,
            target=[target],
            default_status=DefaultSensorStatus.RUNNING,
        )
        def orders(records: list[StreamRecord]) -> list[RunRequest]:
            return [RunRequest(run_key=r.text) for r in records]

        try:
            topics = Topics(f"bench{new_id()[:6]}")
            ensure_topics(
                broker.bootstrap,
                [
                    *topics.core(),
                    topics.work_spec("bench"),
                    topics.tick_requests_spec("bench"),
                    TopicSpec(USER_TOPIC, 2),
                ],
            )
            coordinator = Coordinator(broker.bootstrap, topics, broker_kind="kafka")
            worker = Worker(
                location="bench",
                load=lambda: Definitions(assets=[target], sensors=[orders]),
                bootstrap=broker.bootstrap,
                topics=topics,
                storage_dir=Path(tmp) / "storage",
                broker_kind="kafka",
            )
            threads = [
                threading.Thread(target=coordinator.run, args=(stop,), daemon=True),
                threading.Thread(target=worker.run, args=(stop,), daemon=True),
            ]
            for t in threads:
                t.start()
            producer = Producer(dict(kafka_config(broker.bootstrap, role="producer")))
            requests = EventConsumer(
                broker.bootstrap, topics, [topics.requests], broker_kind="kafka"
            )
            sent: dict[str, float] = {}
            phase_of: dict[str, str] = {}
            plan = [("sparse", random.uniform(1.2, 2.5)) for _ in range(SPARSE)]
            plan += [("busy", BUSY_EVERY_S + random.uniform(0, 0.05)) for _ in range(BUSY)]
            next_send = time.monotonic() + WARMUP_S
            i = 0
            end: float | None = None
            while end is None or time.monotonic() < end:
                now = time.monotonic()
                if i < len(plan) and now >= next_send:
                    key = f"r{i}"
                    producer.produce(USER_TOPIC, key=key, value=key.encode())
                    producer.flush(5)
                    sent[key] = time.monotonic()
                    phase_of[key] = plan[i][0]
                    next_send = now + plan[i][1]
                    i += 1
                    if i == len(plan):
                        end = now + 3.0
                for record in requests.poll(timeout=0.01, max_records=50):
                    event = record.event
                    if isinstance(event, MaterializationRequested):
                        key = event.tags.get("run_key", "")
                        if key in sent:
                            samples[phase_of[key]].append(time.monotonic() - sent[key])
            requests.close()
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=15)
            broker.stop()
    if not samples["sparse"] or not samples["busy"]:
        raise RuntimeError("no run was requested from a record")
    return {
        "benchmark": "stream_sensor_record_to_run_requested",
        "broker": "kafka",
        "records": SPARSE + BUSY,
        "sparse": {"n": len(samples["sparse"]), **percentiles(samples["sparse"])},
        "busy": {"n": len(samples["busy"]), **percentiles(samples["busy"])},
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(run()), flush=True)


if __name__ == "__main__":
    main()
