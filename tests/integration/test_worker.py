"""Workers on a real broker: load, publish, execute, fail a partition (not the worker)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

import pytest
from brokers import BrokerHandle, read_to_end

from conflux import AssetExecutionContext, Definitions, StaticPartitionsDefinition, asset
from conflux.coordinator import Coordinator
from conflux.events import (
    AssetMaterialized,
    ComponentHeartbeat,
    DefinitionsPublished,
    EventProducer,
    LocationLoadFailed,
    MaterializationRequested,
    PartitionFailed,
    RunCompleted,
    Topics,
    new_id,
)
from conflux.workers import Worker

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration

colors = StaticPartitionsDefinition(["red", "green", "blue"])


@asset(partitions_def=colors)
def paint(context: AssetExecutionContext) -> str:
    if context.partition_key == "blue":
        raise RuntimeError("out of blue")
    return context.partition_key.upper()


@asset(partitions_def=colors)
def shout(paint: str) -> str:
    return paint + "!"


class Part(Protocol):
    """A coordinator, worker or projector: it runs until `stop` is set."""

    def run(self, stop: threading.Event) -> None: ...


@contextmanager
def running(*targets: Part) -> Iterator[threading.Event]:
    stop = threading.Event()
    errors: list[BaseException] = []

    def guard(target: Part) -> None:
        try:
            target.run(stop)
        except BaseException as exc:  # re-raised below: a part's crash fails the test
            errors.append(exc)

    threads = [threading.Thread(target=guard, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    try:
        yield stop
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
        assert not [t for t in threads if t.is_alive()], "a part did not stop"
        if errors:
            raise errors[0]


def request(
    broker: BrokerHandle, topics: Topics, keys: tuple[str, ...], partitions: tuple[str, ...]
) -> str:
    run_id = new_id()
    with EventProducer(broker.bootstrap, topics, broker_kind=broker.kind) as producer:
        producer.emit(
            MaterializationRequested(
                run_id=run_id, selection=",".join(keys), asset_keys=keys, partition_keys=partitions
            )
        )
        producer.flush()
    return run_id


def wait_for_definitions(
    broker: BrokerHandle, topics: Topics, location: str, timeout: float = 30
) -> None:
    """Block until the location's snapshot is on the log (a request naming its assets
    before that would be rejected as unknown, as the CLI's selection check prevents)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in read_to_end(broker, topics, [topics.definitions]):
            if isinstance(record.event, DefinitionsPublished) and record.event.location == location:
                return
        time.sleep(0.1)
    raise AssertionError(f"location {location} published no definitions within {timeout}s")


def wait_for_run(
    broker: BrokerHandle, topics: Topics, run_id: str, timeout: float = 60
) -> RunCompleted:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in read_to_end(broker, topics, [topics.runs]):
            if isinstance(record.event, RunCompleted) and record.event.run_id == run_id:
                return record.event
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not complete within {timeout}s")


def test_worker_executes_and_a_user_error_fails_only_its_partition(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    worker = Worker(
        location="paints",
        load=lambda: Definitions(assets=[paint, shout]),
        bootstrap=broker.bootstrap,
        topics=topics,
        storage_dir=tmp_path,
        broker_kind=broker.kind,
    )
    coordinator = Coordinator(broker.bootstrap, topics, broker_kind=broker.kind)
    with running(coordinator, worker):
        wait_for_definitions(broker, topics, "paints")
        failed_run = request(broker, topics, ("paint", "shout"), ("blue", "red"))
        done = wait_for_run(broker, topics, failed_run)
        assert (done.status, done.materialized, done.failed, done.skipped) == ("failed", 2, 1, 1)
        # the same worker goes on with the next run
        ok_run = request(broker, topics, ("paint", "shout"), ("green",))
        assert wait_for_run(broker, topics, ok_run).status == "success"

    [stored] = (tmp_path / "shout").glob("green-*")  # the file of key "green" (sdk/_value_files)
    assert stored.read_bytes().endswith(b'"green"]\nsGREEN!')  # its header, then the value
    asset_events = [r.event for r in read_to_end(broker, topics, [topics.assets])]
    failures = [e for e in asset_events if isinstance(e, PartitionFailed)]
    assert [(f.asset_key, f.partition_key, f.error_type) for f in failures] == [
        ("paint", "blue", "RuntimeError")
    ]
    assert "out of blue" in failures[0].traceback
    shouted = next(
        e
        for e in asset_events
        if isinstance(e, AssetMaterialized)
        and e.asset_key == "shout"
        and e.partition_key == "green"
    )
    assert [(u.asset_key, u.partition_key) for u in shouted.upstream] == [("paint", "green")]
    assert shouted.worker_id == worker.worker_id
    definitions = [r.event for r in read_to_end(broker, topics, [topics.definitions])]
    assert [type(e) for e in definitions] == [DefinitionsPublished]


def test_a_location_that_fails_to_load_reports_why(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("from conflux import asset\n\n@asset\ndef a(:\n    pass\n")

    def load() -> Definitions:
        from conflux.sdk import load_definitions_from_file

        return load_definitions_from_file(broken, location="broken")

    worker = Worker(
        location="broken",
        load=load,
        bootstrap=broker.bootstrap,
        topics=topics,
        storage_dir=tmp_path,
        broker_kind=broker.kind,
    )
    with running(worker):
        deadline = time.monotonic() + 30
        failed: list[LocationLoadFailed] = []
        while not failed and time.monotonic() < deadline:
            failed = [
                r.event
                for r in read_to_end(broker, topics, [topics.definitions])
                if isinstance(r.event, LocationLoadFailed)
            ]
        beats = [
            r.event
            for r in read_to_end(broker, topics, [topics.heartbeats])
            if isinstance(r.event, ComponentHeartbeat)
        ]
    assert failed, "no LocationLoadFailed"
    assert failed[0].error_type == "SyntaxError"
    assert "broken.py" in failed[0].traceback
    assert beats and beats[0].location == "broken" and beats[0].ready is False


class _BeatsTwiceThenFails(Worker):
    """A worker whose third heartbeat cannot be built (a fault injected into our own code)."""

    beats = 0

    def _beat(self) -> ComponentHeartbeat:
        self.beats += 1
        if self.beats > 2:
            raise RuntimeError("the heartbeat broke")
        return super()._beat()


def test_a_dying_heartbeat_stops_the_worker_and_says_why(
    broker: BrokerHandle, topics: Topics, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    worker = _BeatsTwiceThenFails(
        location="colors",
        load=lambda: Definitions(assets=[paint, shout]),
        bootstrap=broker.bootstrap,
        topics=topics,
        storage_dir=tmp_path,
        broker_kind=broker.kind,
    )
    stop = threading.Event()
    began = time.monotonic()
    with caplog.at_level("ERROR", logger="conflux.worker"), pytest.raises(RuntimeError) as raised:
        worker.run(stop)  # returns only by raising: nothing else sets `stop`
    assert str(raised.value) == "the heartbeat broke"
    assert stop.is_set() and time.monotonic() - began < 30
    assert "stopping the worker so that its work is dispatched again" in caplog.text
