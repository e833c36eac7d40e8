"""A location added to a running system: worker start -> its first work dispatched.

On Apache Kafka: a coordinator runs as a thread of this process. Per trial, a new code
location's `conflux worker` process is started (its own file, its own asset); as soon as
the coordinator has folded the location's snapshot, a request for its asset is emitted
(by a producer that is already warm), and the time is taken when the coordinator's
`WorkItemDispatched` for it is read back. The issue's target: first work dispatched
<= 2 s after the worker starts. Prints one JSON object.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench_latency import percentiles

from conflux.events import (
    EventConsumer,
    EventProducer,
    MaterializationRequested,
    Topics,
    WorkItemDispatched,
    ensure_topics,
    new_id,
)

if TYPE_CHECKING:
    from collections.abc import Callable

TRIALS = 5
LOCATION = (
    "from conflux import Definitions, asset\n\n@asset\ndef {name}() -> int:\n    return 1\n\n"
)
LOCATION += "defs = Definitions(assets=[{name}])\n"


def _until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.005)


def run() -> dict[str, object]:
    from conflux.coordinator import Coordinator
    from conflux.events.brokers import KafkaBroker

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broker = KafkaBroker(root / "broker")
        broker.start()
        stop = threading.Event()
        coordinator_thread: threading.Thread | None = None
        try:
            topics = Topics(f"bench{new_id()[:6]}")
            ensure_topics(broker.bootstrap, topics.core())
            coordinator = Coordinator(broker.bootstrap, topics, broker_kind="kafka")
            coordinator_thread = threading.Thread(target=coordinator.run, args=(stop,))
            coordinator_thread.start()
            _until(lambda: coordinator.ready, 60, "the coordinator did not catch up")
            producer = EventProducer(broker.bootstrap, topics, broker_kind="kafka", linger_ms=0)
            runs = EventConsumer(broker.bootstrap, topics, [topics.runs], broker_kind="kafka")
            env = {
                **os.environ,
                "CONFLUX_BOOTSTRAP": broker.bootstrap,
                "CONFLUX_BROKER_KIND": "kafka",
                "CONFLUX_TOPIC_PREFIX": topics.prefix,
            }
            loaded: list[float] = []
            dispatched: list[float] = []
            for trial in range(TRIALS):
                name = f"location{trial}"
                (root / f"{name}.py").write_text(LOCATION.format(name=f"asset{trial}"))
                command = [sys.executable, "-m", "conflux", "worker", "--location", name]
                command += ["-f", str(root / f"{name}.py"), "--state-dir", str(root / "state")]
                t0 = time.perf_counter()
                worker = subprocess.Popen(
                    command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                try:

                    def location_loaded(name: str = name) -> bool:
                        return coordinator.state.location_loaded(name)

                    _until(location_loaded, 30, f"{name} did not load")
                    loaded.append(time.perf_counter() - t0)
                    run_id = new_id()
                    producer.emit(
                        MaterializationRequested(
                            run_id=run_id, selection=f"asset{trial}", asset_keys=(f"asset{trial}",)
                        )
                    )
                    producer.flush()
                    deadline = time.monotonic() + 30
                    done = False
                    while not done:
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"{name}: nothing dispatched")
                        for record in runs.poll(timeout=0.05, max_records=100):
                            event = record.event
                            if isinstance(event, WorkItemDispatched) and event.run_id == run_id:
                                done = True
                    dispatched.append(time.perf_counter() - t0)
                finally:
                    worker.terminate()
                    worker.wait(30)
            runs.close()
            producer.close()
        finally:
            stop.set()
            if coordinator_thread is not None:
                coordinator_thread.join(timeout=15)
            broker.stop()
    first = percentiles(dispatched)
    return {
        "benchmark": "location_worker_start_to_first_dispatch",
        "broker": "kafka",
        "trials": TRIALS,
        "worker_start_to_loaded": percentiles(loaded),
        "worker_start_to_first_dispatch": first,
        "target_ms": 2000,
        "met": first["max_ms"] <= 2000,
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(run()), flush=True)


if __name__ == "__main__":
    main()
