"""The coordinator against a real broker, with the test playing the worker's part."""

from __future__ import annotations

import statistics
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

from conflux.coordinator import Coordinator, work_item_id
from conflux.events import (
    AnyEvent,
    AssetDepSnapshot,
    AssetMaterialized,
    AssetSnapshot,
    ComponentHeartbeat,
    DefinitionsPublished,
    EpochMarked,
    EventConsumer,
    EventProducer,
    LocationSnapshot,
    MaterializationRequested,
    PartitionFailed,
    RunCompleted,
    RunStarted,
    StaticPartitionsSnapshot,
    WorkItemDispatched,
    WorkItemSkipped,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from brokers import BrokerHandle

    from conflux.events import Topics

pytestmark = pytest.mark.integration

LOCATION = "shop"
COLORS = StaticPartitionsSnapshot(keys=("red", "green", "blue"))


def _asset(
    key: str, *deps: str, partitions: StaticPartitionsSnapshot | None = None
) -> AssetSnapshot:
    return AssetSnapshot(
        key=key,
        node=key,
        partitions=partitions,
        deps=tuple(AssetDepSnapshot(asset_key=d) for d in deps),
    )


SNAPSHOT = LocationSnapshot(
    location=LOCATION,
    assets=(
        _asset("raw"),
        _asset("clean", "raw"),
        _asset("colors", "clean", partitions=COLORS),
        _asset("report", "colors"),
    ),
)


class System:
    """One test's system: a producer, the coordinator in a thread, a fake worker."""

    def __init__(self, broker: BrokerHandle, topics: Topics) -> None:
        self.broker = broker
        self.topics = topics
        self.producer = EventProducer(
            broker.bootstrap, topics, client_id="test", broker_kind=broker.kind
        )
        self.fail_nodes: set[str] = set()
        self.dispatch_seen: dict[str, float] = {}
        """run id -> monotonic time the fake worker first got one of its work items."""

    def publish(self) -> None:
        self.producer.emit(
            DefinitionsPublished(
                location=LOCATION, snapshot_id="s1", snapshot=SNAPSHOT, producer="test"
            )
        )
        self.producer.flush()

    def request(self, *keys: str, run_id: str, partitions: tuple[str, ...] | None = None) -> None:
        self.producer.emit(
            MaterializationRequested(
                run_id=run_id,
                selection=",".join(keys),
                asset_keys=keys,
                partition_keys=partitions,
                producer="test",
                correlation_id=run_id,
            )
        )
        self.producer.flush()

    @contextmanager
    def coordinator(self, checkpoint: Path | None = None) -> Iterator[Coordinator]:
        coord = Coordinator(
            self.broker.bootstrap, self.topics, broker_kind=self.broker.kind, checkpoint=checkpoint
        )
        with _in_thread(coord.run) as alive:
            deadline = time.monotonic() + 30
            while not coord.ready:
                assert alive(), "coordinator stopped"
                assert time.monotonic() < deadline, "coordinator did not catch up"
                time.sleep(0.01)
            yield coord

    @contextmanager
    def worker(self) -> Iterator[None]:
        """Play the location's workers: materialize (or fail) every dispatched item."""
        deadline = time.monotonic() + 30
        while True:  # the coordinator creates the work topic when it folds the snapshot
            try:
                consumer = EventConsumer(
                    self.broker.bootstrap,
                    self.topics,
                    [self.topics.work(LOCATION)],
                    client_id="fake-worker",
                    broker_kind=self.broker.kind,
                )
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

        def work(stop: threading.Event) -> None:
            with consumer:
                while not stop.is_set():
                    for record in consumer.poll(timeout=0.05, max_records=1):
                        item = record.event
                        if isinstance(item, EpochMarked):
                            continue  # a new leader's line in the partition (issue 18)
                        assert isinstance(item, WorkItemDispatched)
                        assert record.key == (
                            f"{item.asset_keys[0]}#{item.partition_key}"
                            if item.partition_key is not None
                            else item.asset_keys[0]
                        )
                        self.dispatch_seen.setdefault(item.run_id, time.monotonic())
                        for event in self._outcome(item):
                            self.producer.emit(event)
                        self.producer.flush()

        with _in_thread(work):
            yield

    def _outcome(self, item: WorkItemDispatched) -> list[AssetMaterialized | PartitionFailed]:
        """What a worker emits for a work item: one event per asset of its node."""
        if item.node in self.fail_nodes:
            return [
                PartitionFailed(
                    asset_key=k,
                    partition_key=item.partition_key,
                    run_id=item.run_id,
                    work_item_id=item.work_item_id,
                    attempt=item.attempt,
                    worker_id="w",
                    error_type="ValueError",
                    message="boom",
                    producer="worker:test",
                )
                for k in item.asset_keys
            ]
        return [
            AssetMaterialized(
                asset_key=k,
                partition_key=item.partition_key,
                run_id=item.run_id,
                work_item_id=item.work_item_id,
                attempt=item.attempt,
                data_version=item.work_item_id[:6],
                worker_id="w",
                upstream=item.upstream,
                producer="worker:test",
            )
            for k in item.asset_keys
        ]

    def runs(self) -> RunsReader:
        return RunsReader(self)

    def close(self) -> None:
        self.producer.close()


class RunsReader:
    """Reads the runs topic from the beginning, keeping every event."""

    def __init__(self, system: System) -> None:
        self.consumer = EventConsumer(
            system.broker.bootstrap,
            system.topics,
            [system.topics.runs],
            client_id="runs-reader",
            broker_kind=system.broker.kind,
        )
        self.events: list[AnyEvent] = []

    def until(self, done: Callable[[AnyEvent], bool], timeout: float = 30.0) -> AnyEvent:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if done(event):
                return event
        while time.monotonic() < deadline:
            for record in self.consumer.poll(timeout=0.02, max_records=1):
                self.events.append(record.event)
                if done(record.event):
                    return record.event
        raise AssertionError(f"not seen within {timeout} s; got {[e.type for e in self.events]}")

    def completed(self, run_id: str, timeout: float = 30.0) -> RunCompleted:
        event = self.until(lambda e: isinstance(e, RunCompleted) and e.run_id == run_id, timeout)
        assert isinstance(event, RunCompleted)
        return event

    def of(self, run_id: str) -> list[AnyEvent]:
        return [e for e in self.events if getattr(e, "run_id", None) == run_id]

    def close(self) -> None:
        self.consumer.close()


@contextmanager
def _in_thread(target: Callable[[threading.Event], None]) -> Iterator[Callable[[], bool]]:
    """Run `target(stop)` in a thread; stop it on exit and re-raise what it raised."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def main() -> None:
        try:
            target(stop)
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    try:
        yield thread.is_alive
    finally:
        stop.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "thread did not stop"
        if errors:
            raise errors[0]


class CoordinatorContract:
    """What the coordinator does on any broker; bound to Kafka and Tansu below."""

    __test__ = False

    @pytest.fixture
    def system(self, broker: BrokerHandle, topics: Topics) -> Iterator[System]:
        sys_ = System(broker, topics)
        try:
            yield sys_
        finally:
            sys_.close()

    def test_run_is_planned_dispatched_and_completed(self, system: System) -> None:
        system.publish()
        runs = system.runs()
        with system.coordinator(), system.worker():
            system.request(
                "raw", "clean", "colors", "report", run_id="r1", partitions=("red", "blue")
            )
            done = runs.completed("r1")
        runs.close()
        assert (done.status, done.materialized, done.failed, done.skipped) == ("success", 5, 0, 0)
        events = runs.of("r1")
        started = events[0]
        assert isinstance(started, RunStarted) and started.partition_count == 5
        dispatched = [e for e in events if isinstance(e, WorkItemDispatched)]
        assert [(d.node, d.partition_key) for d in dispatched] == [
            ("raw", None),
            ("clean", None),
            ("colors", "red"),
            ("colors", "blue"),
            ("report", None),
        ]
        report = next(d for d in dispatched if d.node == "report")
        versions = {(u.partition_key, u.data_version) for u in report.upstream}
        assert versions == {
            ("red", work_item_id("r1", "colors", "red")[:6]),
            ("blue", work_item_id("r1", "colors", "blue")[:6]),
            ("green", None),
        }
        assert all(e.producer == "coordinator" and e.correlation_id == "r1" for e in events)

    def test_failure_skips_downstream_and_fails_the_run(self, system: System) -> None:
        system.publish()
        system.fail_nodes = {"clean"}
        runs = system.runs()
        with system.coordinator(), system.worker():
            system.request("raw", "clean", "report", "colors", run_id="r2", partitions=("green",))
            done = runs.completed("r2")
        runs.close()
        assert (done.status, done.materialized, done.failed, done.skipped) == ("failed", 1, 1, 2)
        skipped = [e for e in runs.of("r2") if isinstance(e, WorkItemSkipped)]
        assert {s.asset_keys[0] for s in skipped} == {"colors", "report"}
        assert all("upstream clean failed" in s.reason for s in skipped)

    def test_unknown_asset_is_rejected_with_a_reason(self, system: System) -> None:
        system.publish()
        runs = system.runs()
        with system.coordinator():
            system.request("raw", "nope", run_id="r3")
            done = runs.completed("r3")
        runs.close()
        assert (done.status, done.reason) == ("failed", "unknown asset(s): nope")
        assert not any(isinstance(e, RunStarted) for e in runs.of("r3"))

    def test_restart_resumes_the_run_with_the_same_decisions(self, system: System) -> None:
        system.publish()
        runs = system.runs()
        with system.coordinator():
            system.request("raw", "clean", run_id="r4")
            runs.until(lambda e: isinstance(e, WorkItemDispatched) and e.run_id == "r4")
        with system.coordinator() as second, system.worker():
            done = runs.completed("r4")
            assert second.applied > 0
        runs.close()
        assert done.status == "success"
        ids = [e.event_id for e in runs.of("r4")]
        types = {e.event_id: e.type for e in runs.of("r4")}
        assert sorted(types.values()) == [
            "RunCompleted",
            "RunStarted",
            "WorkItemDispatched",
            "WorkItemDispatched",
        ]
        assert len(set(ids)) == 4  # a repeat, if any, carries the same id

    def test_checkpoint_resumes_where_the_fold_stopped(
        self, system: System, tmp_path: Path
    ) -> None:
        checkpoint = tmp_path / "coordinator" / "checkpoint"
        system.publish()
        runs = system.runs()
        with system.coordinator(checkpoint) as first, system.worker():
            system.request("raw", "clean", "colors", run_id="c1", partitions=("red",))
            runs.completed("c1")
        assert checkpoint.is_file(), "a clean stop writes the checkpoint"
        with system.coordinator() as replayed:  # no checkpoint: from offset zero
            expected = (replayed.state.progress(), replayed.state.assets.partitions)
        with system.coordinator(checkpoint) as resumed, system.worker():
            assert resumed.resumed_from and sum(resumed.resumed_from.values()) > 0
            assert resumed.applied >= first.applied  # counted from the checkpoint on
            assert (resumed.state.progress(), resumed.state.assets.partitions) == expected
            system.request("raw", "clean", run_id="c2")
            assert runs.completed("c2").status == "success"
        runs.close()

    def test_unusable_checkpoint_means_a_replay(self, system: System, tmp_path: Path) -> None:
        checkpoint = tmp_path / "checkpoint"
        checkpoint.write_bytes(b"not a checkpoint")
        system.publish()
        with system.coordinator(checkpoint) as coord:
            assert coord.resumed_from is None
            deadline = time.monotonic() + 10
            while LOCATION not in coord.state.definitions.locations:
                assert time.monotonic() < deadline, "the snapshot was not folded"
                time.sleep(0.05)

    def test_heartbeats_say_ready_once_caught_up(self, system: System) -> None:
        with system.coordinator() as coord:
            deadline = time.monotonic() + 10
            with EventConsumer(
                system.broker.bootstrap,
                system.topics,
                [system.topics.heartbeats],
                broker_kind=system.broker.kind,
            ) as consumer:
                beat = None
                while beat is None or not beat.ready:
                    assert time.monotonic() < deadline, "no ready heartbeat"
                    for record in consumer.poll(timeout=0.1):
                        if isinstance(record.event, ComponentHeartbeat):
                            beat = record.event
        assert (beat.component, beat.instance_id, beat.interval_s) == (
            "coordinator",
            coord.instance_id,
            2.0,
        )

    def test_request_to_materialized_latency(self, system: System) -> None:
        """Request -> dispatch seen by the worker, and -> RunCompleted, one asset per run."""
        system.publish()
        runs = system.runs()
        to_dispatch: list[float] = []
        to_done: list[float] = []
        with system.coordinator(), system.worker():
            for i in range(60):
                run_id = f"lat-{i}"
                start = time.monotonic()
                system.request("raw", run_id=run_id)
                runs.completed(run_id)
                to_done.append(time.monotonic() - start)
                to_dispatch.append(system.dispatch_seen[run_id] - start)
        runs.close()
        warm = slice(10, None)
        p50_dispatch = statistics.median(to_dispatch[warm]) * 1000
        p50_done = statistics.median(to_done[warm]) * 1000
        p95_done = statistics.quantiles(to_done[warm], n=20)[-1] * 1000
        print(
            f"\n[{system.broker.kind}] request->dispatch p50 {p50_dispatch:.1f} ms; "
            f"request->RunCompleted p50 {p50_done:.1f} ms, p95 {p95_done:.1f} ms"
        )
        assert p50_done < 1000  # a smoke bound; the figures above are the measurement


class TestCoordinatorOnKafka(CoordinatorContract):
    __test__ = True


class TestCoordinatorOnTansu(CoordinatorContract):
    __test__ = True

    @pytest.fixture
    def broker(self, tansu_broker: BrokerHandle) -> BrokerHandle:
        return tansu_broker
