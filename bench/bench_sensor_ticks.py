"""Sensor tick round trip on Apache Kafka: the coordinator's request -> the worker's tick event.

A coordinator and a worker run as threads of this process; five sensors (1 s minimum
interval, each returning a SkipReason) tick for 30 s. Each sample is the time from the
coordinator's `TickRequested` (its event time, stamped when it decided) to this process
reading the worker's `TickCompleted` back from the ticks topic: request produced, read by
the worker's tick consumer, evaluated in a fresh thread, produced, read. The worker-side
part alone (request time -> the worker's completion time) is reported too. Target: p50
<= 20 ms (Dagster's sensor floor is a 30 s interval). Prints one JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_latency import percentiles

from conflux import DefaultSensorStatus, Definitions, SkipReason, asset, sensor
from conflux.events import (
    EventConsumer,
    TickCompleted,
    TickRequested,
    Topics,
    ensure_topics,
    new_id,
)

SENSORS = 5
SECONDS = 30.0
WARMUP_S = 3.0


@asset
def target() -> None:
    return None


def make_sensor(i: int) -> object:
    @sensor(
        name=f"s{i}",
        target=[target],
        minimum_interval_seconds=1,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def fn() -> SkipReason:
        return SkipReason("nothing new")

    return fn


def run() -> dict[str, object]:
    from conflux.coordinator import Coordinator
    from conflux.events.brokers import KafkaBroker
    from conflux.workers import Worker

    sensors = [make_sensor(i) for i in range(SENSORS)]
    with tempfile.TemporaryDirectory() as tmp:
        broker = KafkaBroker(Path(tmp) / "broker")
        broker.start()
        stop = threading.Event()
        threads: list[threading.Thread] = []
        round_trip: list[float] = []
        worker_side: list[float] = []
        try:
            topics = Topics(f"bench{new_id()[:6]}")
            ensure_topics(
                broker.bootstrap,
                [*topics.core(), topics.work_spec("bench"), topics.tick_requests_spec("bench")],
            )
            coordinator = Coordinator(broker.bootstrap, topics, broker_kind="kafka")
            worker = Worker(
                location="bench",
                load=lambda: Definitions(assets=[target], sensors=sensors),
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
            ticks = EventConsumer(broker.bootstrap, topics, [topics.ticks], broker_kind="kafka")
            requested: dict[str, datetime] = {}
            start = time.monotonic()
            while time.monotonic() - start < WARMUP_S + SECONDS:
                for record in ticks.poll(timeout=0.05, max_records=1):
                    now = datetime.now(UTC)
                    event = record.event
                    if isinstance(event, TickRequested):
                        requested[event.tick_id] = event.time
                    elif isinstance(event, TickCompleted) and event.tick_id in requested:
                        if time.monotonic() - start < WARMUP_S:
                            continue
                        asked = requested[event.tick_id]
                        round_trip.append((now - asked).total_seconds())
                        worker_side.append((event.time - asked).total_seconds())
            ticks.close()
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=15)
            broker.stop()
    if not round_trip:
        raise RuntimeError("no sensor tick completed")
    return {
        "benchmark": "sensor_tick_round_trip",
        "broker": "kafka",
        "sensors": SENSORS,
        "n": len(round_trip),
        **percentiles(round_trip),
        "worker_side": percentiles(worker_side),
        "target": {"p50_ms": 20},
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(run()), flush=True)


if __name__ == "__main__":
    main()
