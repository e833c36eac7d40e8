"""Eager automation latency: an upstream materialization -> the downstream's dispatch.

On Apache Kafka: a coordinator and a worker run as threads of this process. Each sample
reports a materialization of `upstream` (what `conflux report` emits) and measures the
time until the coordinator's `WorkItemDispatched` for the eager `downstream` is read
back from the runs topic; the next sample starts after that run completed (eager waits
for a run in progress). The issue's target: p50 <= 10 ms, p99 <= 100 ms (Dagster
evaluates automation every 30 s). Prints one JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_latency import percentiles

from conflux import AutomationCondition, Definitions, asset
from conflux.events import (
    AssetMaterialized,
    EventConsumer,
    EventProducer,
    RunCompleted,
    Topics,
    WorkItemDispatched,
    ensure_topics,
    new_id,
)

N = 200
WARMUP = 10


@asset
def upstream() -> None:
    return None


@asset(deps=[upstream], automation_condition=AutomationCondition.eager())
def downstream() -> None:
    return None


def run() -> dict[str, object]:
    from conflux.coordinator import Coordinator
    from conflux.events.brokers import KafkaBroker
    from conflux.workers import Worker

    with tempfile.TemporaryDirectory() as tmp:
        broker = KafkaBroker(Path(tmp) / "broker")
        broker.start()
        stop = threading.Event()
        threads: list[threading.Thread] = []
        try:
            topics = Topics(f"bench{new_id()[:6]}")
            ensure_topics(broker.bootstrap, [*topics.core(), topics.work_spec("bench")])
            coordinator = Coordinator(broker.bootstrap, topics, broker_kind="kafka")
            worker = Worker(
                location="bench",
                load=lambda: Definitions(assets=[upstream, downstream]),
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
            producer = EventProducer(broker.bootstrap, topics, broker_kind="kafka", linger_ms=0)
            runs = EventConsumer(broker.bootstrap, topics, [topics.runs], broker_kind="kafka")
            deadline = time.monotonic() + 60
            while not coordinator.ready or "downstream" not in coordinator.state.definitions.assets:
                if time.monotonic() > deadline:
                    raise TimeoutError("the location did not load within 60 s")
                time.sleep(0.05)
            samples: list[float] = []
            for i in range(WARMUP + N):
                t0 = time.perf_counter()
                producer.emit(
                    AssetMaterialized(asset_key="upstream", data_version=str(i), source="reported")
                )
                producer.flush()
                dispatched_at = None
                run_id = None
                until = t0 + 60
                while True:
                    if time.perf_counter() > until:
                        raise TimeoutError(f"sample {i}: downstream not dispatched/completed")
                    for record in runs.poll(timeout=0.05, max_records=1):
                        event = record.event
                        if (
                            isinstance(event, WorkItemDispatched)
                            and event.asset_keys == ("downstream",)
                            and dispatched_at is None
                        ):
                            dispatched_at = time.perf_counter()
                            run_id = event.run_id
                        elif isinstance(event, RunCompleted) and event.run_id == run_id:
                            until = 0.0
                    if until == 0.0:
                        break
                if i >= WARMUP and dispatched_at is not None:
                    samples.append(dispatched_at - t0)
            runs.close()
            producer.close()
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=15)
            broker.stop()
    return {
        "benchmark": "eager_upstream_to_downstream_dispatch",
        "broker": "kafka",
        "n": N,
        **percentiles(samples),
        "target": {"p50_ms": 10, "p99_ms": 100},
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(run()), flush=True)


if __name__ == "__main__":
    main()
