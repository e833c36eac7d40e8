"""Request-to-materialized latency of a no-op asset, in-process (no CLI start-up).

For each broker (Apache Kafka, Tansu): a coordinator and a worker run as threads of this
process; 200 sequential `MaterializationRequested` events are emitted one at a time,
and each latency is the time from emitting the request to consuming the
`AssetMaterialized` it caused. `materialize()` in-process (no broker) is the floor.
Prints one JSON object per configuration.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from conflux import Definitions, asset, materialize
from conflux.events import (
    AssetMaterialized,
    EventConsumer,
    EventProducer,
    MaterializationRequested,
    Topics,
    ensure_topics,
    new_id,
)

if TYPE_CHECKING:
    from conflux.events.brokers import BrokerKind

N = 200
WARMUP = 10


@asset
def noop() -> None:
    return None


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 3)

    return {
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(ordered[-1] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


def floor() -> dict[str, object]:
    samples = []
    for _ in range(WARMUP):
        materialize([noop])
    for _ in range(N):
        t0 = time.perf_counter()
        materialize([noop])
        samples.append(time.perf_counter() - t0)
    return {
        "benchmark": "request_to_materialized",
        "broker": "none (materialize() in-process)",
        "n": N,
        **percentiles(samples),
    }


def on_broker(kind: BrokerKind) -> dict[str, object]:
    from conflux.coordinator import Coordinator
    from conflux.events.brokers import KafkaBroker, TansuBroker
    from conflux.workers import Worker

    with tempfile.TemporaryDirectory() as tmp:
        broker = (KafkaBroker if kind == "kafka" else TansuBroker)(Path(tmp) / "broker")
        broker.start()
        stop = threading.Event()
        threads: list[threading.Thread] = []
        try:
            topics = Topics(f"bench{new_id()[:6]}")
            ensure_topics(broker.bootstrap, [*topics.core(), topics.work_spec("bench")])
            # Metrics on, as `conflux dev` runs the parts (BENCH_METRICS=0: off), so that
            # their cost shows here; port 0: a free one.
            port = 0 if os.environ.get("BENCH_METRICS", "1") != "0" else None
            coordinator = Coordinator(broker.bootstrap, topics, broker_kind=kind, metrics_port=port)
            worker = Worker(
                location="bench",
                load=lambda: Definitions(assets=[noop]),
                bootstrap=broker.bootstrap,
                topics=topics,
                storage_dir=Path(tmp) / "storage",
                broker_kind=kind,
                metrics_port=port,
            )
            threads = [
                threading.Thread(target=coordinator.run, args=(stop,), daemon=True),
                threading.Thread(target=worker.run, args=(stop,), daemon=True),
            ]
            for t in threads:
                t.start()
            producer = EventProducer(broker.bootstrap, topics, broker_kind=kind, linger_ms=0)
            consumer = EventConsumer(broker.bootstrap, topics, [topics.assets], broker_kind=kind)
            samples: list[float] = []
            for i in range(WARMUP + N):
                run_id = new_id()
                t0 = time.perf_counter()
                producer.emit(
                    MaterializationRequested(run_id=run_id, selection="noop", asset_keys=("noop",))
                )
                producer.flush()
                deadline = t0 + 60
                done = False
                while not done:
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"request {i} not materialized within 60 s")
                    for record in consumer.poll(timeout=0.05, max_records=1):
                        if (
                            isinstance(record.event, AssetMaterialized)
                            and record.event.run_id == run_id
                        ):
                            done = True
                if i >= WARMUP:
                    samples.append(time.perf_counter() - t0)
            consumer.close()
            producer.close()
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=15)
            broker.stop()
    target = {"p50_ms": 20, "p99_ms": 100} if kind == "kafka" else None
    return {
        "benchmark": "request_to_materialized",
        "broker": kind,
        "n": N,
        **percentiles(samples),
        "target": target,
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from conflux.events.brokers import kafka_available

    print(json.dumps(floor()), flush=True)
    ok, why = kafka_available()
    if ok:
        print(json.dumps(on_broker("kafka")), flush=True)
    else:
        print(
            json.dumps({"benchmark": "request_to_materialized", "broker": "kafka", "skipped": why}),
            flush=True,
        )
    print(json.dumps(on_broker("tansu")), flush=True)


if __name__ == "__main__":
    main()
