"""The projector against a real broker: the log into the read model and the archive (chdb),
served over HTTP; restarts from its checkpoint, or rebuilds from the archive."""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
from confluent_kafka import Producer

from conflux.events import (
    AnyEvent,
    ComponentHeartbeat,
    EventProducer,
    InfrastructureError,
    LocationLoadFailed,
    Topics,
)
from conflux.projections.api import ApiClient, EventQuery
from conflux.projections.archive import ChdbStore
from conflux.projections.projector import Projector

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from projection_builders import run_story

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from brokers import BrokerHandle

    from conflux.projections.api import StatusReport

pytestmark = pytest.mark.integration

T = TypeVar("T")


def _emit(broker: BrokerHandle, topics: Topics, events: list[AnyEvent]) -> None:
    with EventProducer(
        broker.bootstrap, topics, client_id="test", broker_kind=broker.kind, linger_ms=0
    ) as producer:
        for event in events:
            producer.emit(event)
        producer.flush()


@contextmanager
def _running(projector: Projector) -> Iterator[ApiClient]:
    """Run the projector in a thread; always stop it, and surface its error."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            projector.run(stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="projector", daemon=True)
    thread.start()
    try:
        yield ApiClient(projector.api_url, timeout=5.0)
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the projector did not stop within 30 s"
    if errors:
        raise errors[0]


def _wait(what: str, probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def _status_where(
    client: ApiClient, what: str, predicate: Callable[[StatusReport], bool]
) -> StatusReport:
    def probe() -> StatusReport | None:
        report = client.status()
        return report if predicate(report) else None

    return _wait(what, probe)


def _shows_version(client: ApiClient, asset: str, version: str) -> Callable[[], bool]:
    def probe() -> bool:
        latest = client.events(EventQuery(asset=asset, limit=1))
        return bool(latest) and latest[0].event["data_version"] == version

    return probe


def _caught_up(client: ApiClient) -> Callable[[], bool]:
    return lambda: client.status().caught_up


def _projector(broker: BrokerHandle, topics: Topics, state: Path, **kwargs: object) -> Projector:
    """A projector with its chdb archive (and checkpoint) in `state`, as `conflux dev` runs it."""
    return Projector(
        broker.bootstrap,
        topics,
        broker_kind=broker.kind,
        archive=ChdbStore(state / "archive"),
        checkpoint=state / "projector" / "checkpoint",
        **kwargs,  # type: ignore[arg-type]
    )


def _views(client: ApiClient) -> tuple[object, ...]:
    """What a reader sees: assets, runs, every event's id, and one partition's story."""
    events = sorted(str(e.event["event_id"]) for e in client.events())
    story = [r.type for r in client.events(EventQuery(asset="colors", partition="red"))]
    return client.assets(), client.runs(), events, story


def _seqs(client: ApiClient) -> list[tuple[str, int]]:
    """Where one partition's events stand in the archive (a restart keeps them there)."""
    return [(r.type, r.seq) for r in client.events(EventQuery(asset="colors", partition="red"))]


def test_replays_the_log_and_serves_it(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    _emit(broker, topics, run_story())
    _emit(broker, topics, [LocationLoadFailed(location="etl", error_type="E", message="broken")])
    projector = _projector(broker, topics, tmp_path, expected_locations=("shop", "etl"))
    started = time.monotonic()
    with _running(projector) as client:
        report = _status_where(client, "caught up", lambda r: r.caught_up)
        caught_up_s = time.monotonic() - started
        # the story's coordinator beat is old: not ready, and the report says why
        assert not report.ready
        assert report.not_ready[0].startswith("coordinator: last heartbeat")
        assert {loc.name: loc.status for loc in report.locations} == {
            "etl": "failed",
            "shop": "loaded",
        }
        assert report.dead_letters == 1

        colors = client.asset("colors")
        assert colors.partitions.model_dump() == {
            "total": 3,
            "materialized": 1,
            "failed": 1,
            "in_progress": 0,
        }
        run = client.run("run1")
        assert (run.status, run.partition_count, run.materialized, run.failed) == (
            "failed",
            4,
            1,
            1,
        )
        red = client.events(EventQuery(asset="colors", partition="red"))
        assert [r.type for r in red] == [
            "MaterializationRequested",
            "WorkItemDispatched",
            "PartitionStarted",
            "PartitionFailed",
            "PartitionStarted",
            "AssetMaterialized",
        ]
        assert red[-1].topic == topics.assets and red[-1].offset >= 0

        # live: a fresh coordinator beat makes it ready; measure produce -> visible
        sent = time.monotonic()
        _emit(broker, topics, [ComponentHeartbeat(component="coordinator", instance_id="c9")])
        ready = _status_where(client, "ready", lambda r: r.ready)
        latency_ms = (time.monotonic() - sent) * 1000
        assert ready.coordinator is not None and ready.coordinator.instance_id == "c9"
        mine = _wait(
            "the projector's own heartbeat",
            lambda: [
                c for c in client.status().components if c.component == "projector" and c.ready
            ],
        )
        assert mine[0].instance_id == projector.instance_id and mine[0].ready
    print(
        f"\ncaught up in {caught_up_s:.2f} s; "
        f"a live event (fresh producer) visible in {latency_ms:.0f} ms"
    )


def test_a_second_projector_rebuilds_the_same_state(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    _emit(broker, topics, run_story())
    views = []
    for n in range(2):  # each from the log, into an archive of its own
        projector = _projector(broker, topics, tmp_path / str(n))
        with _running(projector) as client:
            _wait("caught up", _caught_up(client))
            views.append(_views(client))
    assert views[0] == views[1]


def test_a_restart_resumes_from_its_checkpoint_or_rebuilds_from_the_archive(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    from conflux.events import AssetMaterialized

    _emit(broker, topics, run_story())
    first = _projector(broker, topics, tmp_path)
    with _running(first) as client:
        _wait("caught up", _caught_up(client))
        before = _views(client)
        numbered = _seqs(client)
    assert first.rebuilt == 0 and first.resumed_from is None  # a fresh start: the log
    checkpoint = tmp_path / "projector" / "checkpoint"
    assert checkpoint.is_file()  # written on the clean stop

    # Restarted: the checkpoint, then only what came since.
    late = AssetMaterialized(asset_key="adhoc", data_version="later")
    _emit(broker, topics, [late])
    second = _projector(broker, topics, tmp_path)
    with _running(second) as client:
        _wait("caught up", _caught_up(client))
        assert second.resumed_from is not None and second.rebuilt == 0
        _wait("the late event", _shows_version(client, "adhoc", "later"))
        after = _views(client)
        assert _seqs(client) == numbered  # the history of red is as it was
    assert after[0] != before[0] and after[3] == before[3]  # the late event counts

    # An unreadable checkpoint (or one from other code): rebuilt from the archive.
    checkpoint.write_bytes(b"not a checkpoint")
    third = _projector(broker, topics, tmp_path)
    with _running(third) as client:
        _wait("caught up", _caught_up(client))
        assert third.resumed_from is None and third.rebuilt >= len(run_story()) + 1
        assert _views(client) == after


def test_invalid_records_are_dead_lettered_and_counted(
    broker: BrokerHandle, topics: Topics
) -> None:
    raw = Producer({"bootstrap.servers": broker.bootstrap})
    raw.produce(topics.assets, value=b"not an event", key=b"x")
    raw.flush(10)
    projector = Projector(broker.bootstrap, topics, broker_kind=broker.kind)  # no archive
    with _running(projector) as client:
        report = _status_where(client, "a dead letter", lambda r: r.dead_letters > 0)
        assert report.recent_dead_letters[0].source_topic == topics.assets


def test_missing_topics_raise_from_run_and_free_the_port(broker: BrokerHandle) -> None:
    projector = Projector(broker.bootstrap, Topics("never-created"), broker_kind=broker.kind)
    url = projector.api_url
    with pytest.raises(InfrastructureError), _running(projector):
        pass
    from conflux.events import ApiUnavailableError

    with pytest.raises(ApiUnavailableError):
        ApiClient(url, timeout=1.0).status()


def test_live_events_are_visible_within_a_fetch(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    """Produce -> visible on `/events` (from the archive): what `conflux events` sees."""
    from conflux.events import AssetMaterialized

    projector = _projector(broker, topics, tmp_path)
    with (
        EventProducer(
            broker.bootstrap, topics, client_id="test", broker_kind=broker.kind, linger_ms=0
        ) as producer,
        _running(projector) as client,
    ):
        _wait("caught up", _caught_up(client))
        producer.emit(ComponentHeartbeat(component="worker", instance_id="warm-up"))
        producer.flush()
        samples: list[float] = []
        for i in range(20):
            sent = time.monotonic()
            producer.emit(AssetMaterialized(asset_key="live", data_version=str(i)))
            producer.flush()
            _wait("the event", _shows_version(client, "live", str(i)))
            samples.append((time.monotonic() - sent) * 1000)
    samples.sort()
    p50, p95 = samples[len(samples) // 2], samples[int(len(samples) * 0.95) - 1]
    print(f"\nproduce -> visible on /events: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    assert p50 < 1000


class TestOnTansu:
    """The same projector on the fallback broker `conflux dev` uses without a JDK."""

    @pytest.fixture
    def broker(self, tansu_broker: BrokerHandle) -> BrokerHandle:
        return tansu_broker

    def test_rebuilds_the_same_state(
        self, broker: BrokerHandle, topics: Topics, tmp_path: Path
    ) -> None:
        test_a_second_projector_rebuilds_the_same_state(broker, topics, tmp_path)

    def test_live_latency(self, broker: BrokerHandle, topics: Topics, tmp_path: Path) -> None:
        test_live_events_are_visible_within_a_fetch(broker, topics, tmp_path)
