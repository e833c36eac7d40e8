"""Sensors on a real broker: a coordinator asks, a worker evaluates, runs follow.

One location with four sensors: `files` requests the same run keys on every tick (each
key runs once, also after both parts restart), `broken` raises, `slow` runs past its
timeout (its failed tick is recorded while the others go on), and `on_orders`, an asset
sensor, fires when `orders` materializes.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from brokers import BrokerHandle, read_to_end
from test_worker import running, wait_for_definitions

from conflux import (
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    SensorEvaluationContext,
    asset,
    asset_sensor,
    sensor,
)
from conflux.coordinator import Coordinator
from conflux.events import (
    AssetMaterialized,
    MaterializationRequested,
    RunCompleted,
    TickCompleted,
    TickRequested,
    Topics,
)
from conflux.workers import Worker

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.integration

RUNNING = DefaultSensorStatus.RUNNING
release = threading.Event()


@asset
def orders() -> int:
    return 1


@asset(deps=[orders])
def report() -> int:
    return 2


@sensor(target=[orders], minimum_interval_seconds=1, default_status=RUNNING)
def files(context: SensorEvaluationContext) -> list[RunRequest]:
    context.update_cursor(str(int(context.cursor or "0") + 1))
    return [RunRequest(run_key=name) for name in ("a", "b")]


@sensor(target=[orders], minimum_interval_seconds=1, default_status=RUNNING)
def broken() -> None:
    raise ValueError("the inbox is gone")


@sensor(target=[orders], minimum_interval_seconds=1, default_status=RUNNING, timeout_seconds=1)
def slow() -> None:
    release.wait(8)


@asset_sensor(orders, target=[report], minimum_interval_seconds=1, default_status=RUNNING)
def on_orders(context: SensorEvaluationContext, event: AssetMaterialized) -> RunRequest:
    return RunRequest(run_key=event.event_id)


def defs() -> Definitions:
    return Definitions(assets=[orders, report], sensors=[files, broken, slow, on_orders])


def parts(broker: BrokerHandle, topics: Topics, tmp_path: Path) -> tuple[Coordinator, Worker]:
    coordinator = Coordinator(broker.bootstrap, topics, broker_kind=broker.kind)
    worker = Worker(
        location="sensing",
        load=defs,
        bootstrap=broker.bootstrap,
        topics=topics,
        storage_dir=tmp_path,
        broker_kind=broker.kind,
    )
    return coordinator, worker


def wait_until(
    broker: BrokerHandle, topics: Topics, found: Callable[[list[object]], object], what: str
) -> list[object]:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        events: list[object] = [
            r.event
            for r in read_to_end(broker, topics, [topics.ticks, topics.requests, topics.runs])
        ]
        if found(events):  # truthy: what the test waits for is there
            return events
        time.sleep(0.2)
    raise AssertionError(f"not within 40 s: {what}")


def ticks_of(events: list[object], name: str) -> list[TickCompleted]:
    return [e for e in events if isinstance(e, TickCompleted) and e.name == name]


def runs_of(events: list[object], name: str) -> list[MaterializationRequested]:
    return [
        e
        for e in events
        if isinstance(e, MaterializationRequested) and e.tags.get("sensor") == name
    ]


def test_sensors_evaluate_in_the_worker_and_each_run_key_runs_once(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    release.clear()
    coordinator, worker = parts(broker, topics, tmp_path)
    try:
        with running(coordinator, worker):
            wait_for_definitions(broker, topics, "sensing")
            events = wait_until(
                broker,
                topics,
                lambda ev: (
                    len(ticks_of(ev, "files")) >= 4
                    and any(t.status == "failure" for t in ticks_of(ev, "slow"))
                    and runs_of(ev, "on_orders")
                    and any(
                        isinstance(e, RunCompleted)
                        and e.run_id == runs_of(ev, "on_orders")[0].run_id
                        for e in ev
                    )
                ),
                "four ticks of files, a timed-out tick of slow, a run from on_orders",
            )
    finally:
        release.set()
    files_ticks = ticks_of(events, "files")
    assert all(t.status == "success" and t.worker_id == worker.worker_id for t in files_ticks)
    assert [t.cursor for t in files_ticks[:4]] == ["1", "2", "3", "4"]
    assert sorted(r.tags["run_key"] for r in runs_of(events, "files")) == ["a", "b"]
    (failed,) = ticks_of(events, "broken")[:1]
    assert failed.status == "failure" and failed.error_type == "ValueError"
    assert "the inbox is gone" in (failed.message or "") and "ValueError" in failed.traceback
    timed_out = ticks_of(events, "slow")[0]
    assert timed_out.status == "failure" and timed_out.error_type == "TickTimeout"
    slow_asked = next(e for e in events if isinstance(e, TickRequested) and e.name == "slow")
    # The other sensors went on while `slow` was stuck in its function (it sleeps 8 s).
    stuck = (slow_asked.time, slow_asked.time + timedelta(seconds=6))
    assert any(stuck[0] < t.time < stuck[1] for t in files_ticks)
    run = runs_of(events, "on_orders")[0]
    assert run.asset_keys == ("report",) and run.tags["trigger"] == "sensor"
    assert run.causation_id in {t.event_id for t in ticks_of(events, "on_orders")}

    # Both parts restart (the coordinator replays the log): `files` keeps asking for the
    # same run keys, and still gets no second run of them.
    coordinator, worker = parts(broker, topics, tmp_path)
    before = len(ticks_of(events, "files"))
    try:
        with running(coordinator, worker):
            events = wait_until(
                broker,
                topics,
                lambda ev: len(ticks_of(ev, "files")) >= before + 3,
                "three more ticks of files after the restart",
            )
    finally:
        release.set()
    assert sorted(r.tags["run_key"] for r in runs_of(events, "files")) == ["a", "b"]
    assert [t.cursor for t in ticks_of(events, "files")][-1] == str(len(ticks_of(events, "files")))
