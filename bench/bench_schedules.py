"""1,000 schedules ticking every minute on one coordinator: its CPU over a minute, on Kafka.

The coordinator runs as its own process (so that its CPU, librdkafka's threads included,
is measured alone, with psutil); a worker of one location (10 no-op assets, 1,000
schedules `* * * * *`, default RUNNING, each targeting one asset) runs as a thread of
this process and executes the runs. Once the coordinator is ready, its CPU time is
measured over 60 s, which hold exactly one minute boundary: 1,000 schedule ticks, 1,000
runs planned, dispatched and completed. Target: <= 5% of one core. Prints one JSON object.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from conflux import DefaultScheduleStatus, Definitions, ScheduleDefinition, asset
from conflux.events import (
    ComponentHeartbeat,
    EventConsumer,
    RunCompleted,
    TickCompleted,
    Topics,
    ensure_topics,
    new_id,
)

if TYPE_CHECKING:
    from conflux import AssetsDefinition

SCHEDULES = 1_000
ASSETS = 10
WINDOW_S = 60.0

CHILD = """
import logging, signal, sys, threading
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
from conflux.coordinator import Coordinator
from conflux.events import Topics
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
Coordinator(sys.argv[1], Topics(sys.argv[2]), broker_kind="kafka").run(stop)
"""


def make_asset(i: int) -> AssetsDefinition:
    @asset(name=f"a{i}")
    def fn() -> None:
        return None

    return fn


def definitions() -> Definitions:
    assets = [make_asset(i) for i in range(ASSETS)]
    schedules = [
        ScheduleDefinition(
            name=f"s{i:04d}",
            cron_schedule="* * * * *",
            target=[assets[i % ASSETS]],
            default_status=DefaultScheduleStatus.RUNNING,
        )
        for i in range(SCHEDULES)
    ]
    return Definitions(assets=assets, schedules=schedules)


def run() -> dict[str, object]:
    from conflux.events.brokers import KafkaBroker
    from conflux.workers import Worker

    with tempfile.TemporaryDirectory() as tmp:
        broker = KafkaBroker(Path(tmp) / "broker")
        broker.start()
        stop = threading.Event()
        thread: threading.Thread | None = None
        child: subprocess.Popen[bytes] | None = None
        try:
            topics = Topics(f"bench{new_id()[:6]}")
            ensure_topics(broker.bootstrap, [*topics.core(), topics.work_spec("bench")])
            worker = Worker(
                location="bench",
                load=definitions,
                bootstrap=broker.bootstrap,
                topics=topics,
                storage_dir=Path(tmp) / "storage",
                broker_kind="kafka",
            )
            thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
            thread.start()
            child = subprocess.Popen([sys.executable, "-c", CHILD, broker.bootstrap, topics.prefix])
            process = psutil.Process(child.pid)
            events = EventConsumer(
                broker.bootstrap,
                topics,
                [topics.ticks, topics.runs, topics.heartbeats],
                broker_kind="kafka",
            )
            deadline = time.monotonic() + 60
            ready = False
            while not ready:
                if time.monotonic() > deadline:
                    raise TimeoutError("the coordinator was not ready within 60 s")
                for record in events.poll(timeout=0.1, max_records=500):
                    e = record.event
                    ready |= (
                        isinstance(e, ComponentHeartbeat)
                        and e.component == "coordinator"
                        and e.ready
                    )
            cpu0 = sum(process.cpu_times()[:2])
            t0 = time.monotonic()
            ticks = runs = 0
            lag: list[float] = []
            while time.monotonic() - t0 < WINDOW_S:
                for record in events.poll(timeout=0.1, max_records=1000):
                    e = record.event
                    if isinstance(e, TickCompleted):
                        ticks += 1
                        lag.append((e.time - e.tick_time).total_seconds())
                    elif isinstance(e, RunCompleted) and e.status == "success":
                        runs += 1
            cpu = sum(process.cpu_times()[:2]) - cpu0
            elapsed = time.monotonic() - t0
            events.close()
        finally:
            stop.set()
            if child is not None:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
            if thread is not None:
                thread.join(timeout=15)
            broker.stop()
    return {
        "benchmark": "schedules_1000_every_minute_coordinator_cpu",
        "broker": "kafka",
        "schedules": SCHEDULES,
        "window_s": round(elapsed, 1),
        "ticks_in_window": ticks,
        "runs_completed_in_window": runs,
        "coordinator_cpu_s": round(cpu, 3),
        "coordinator_core_pct": round(100 * cpu / elapsed, 2),
        "tick_decided_after_ms_max": round(max(lag) * 1000, 1) if lag else None,
        "target": {"core_pct": 5.0},
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(run()), flush=True)


if __name__ == "__main__":
    main()
