"""`/metrics` of each part, scraped over HTTP and parsed as Prometheus parses it."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from coordinator_builders import T0, materialized, published, request
from prometheus_client.parser import text_string_to_metric_families

from conflux.coordinator import CoordinatorMetrics, CoordinatorState, QueueLimits, decide
from conflux.events import (
    AssetSnapshot,
    ComponentHeartbeat,
    ConsumedEvent,
    JsonFormatter,
    MetricsServer,
    PartitionStarted,
    StaticPartitionsSnapshot,
    TickCompleted,
    WorkItemDispatched,
    decode_event,
    encode_event,
    log_context,
)
from conflux.projections.projector import ProjectorMetrics, QueryApi, ReadModel
from conflux.workers import WorkerMetrics

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client import CollectorRegistry

    from conflux.events import AnyEvent

KEYS = tuple(f"k{i}" for i in range(6))


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
"""(name, sorted labels) -> value."""


def scrape(url: str) -> Samples:
    """Every sample at `url`: (name, sorted labels) -> value, as Prometheus reads them."""
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def servers() -> Iterator[list[MetricsServer]]:
    """Metrics servers the test starts; each is closed after it."""
    started: list[MetricsServer] = []
    yield started
    for server in started:
        server.close()


def serve(registry: CollectorRegistry, servers: list[MetricsServer]) -> str:
    server = MetricsServer(registry, 0)
    servers.append(server)
    return server.url


def consumed(event: AnyEvent, topic: str, offset: int = 0) -> ConsumedEvent:
    return ConsumedEvent(event, topic, 0, offset, None, 0, encode_event(event))


class _Lags:
    """The one thing the metrics ask of a consumer: its lags (the Kafka side is tested in
    tests/integration and by the e2e test, with a real broker)."""

    def __init__(self, lags: dict[tuple[str, int], int]) -> None:
        self.value = lags

    def lags(self) -> dict[tuple[str, int], int]:
        return self.value


# -- coordinator ---------------------------------------------------------------------------


def test_coordinator_metrics_follow_its_state(
    servers: list[MetricsServer],
) -> None:
    metrics = CoordinatorMetrics()
    url = serve(metrics.registry, servers)
    state = CoordinatorState()
    parts = StaticPartitionsSnapshot(keys=KEYS)
    state.apply(published(AssetSnapshot(key="a", node="a", partitions=parts, pool="db")))
    state.apply(request("a", partitions=KEYS))
    limits = QueueLimits(max_concurrent=4)
    now = T0 + timedelta(hours=1)
    dispatched: list[WorkItemDispatched] = []
    while events := decide(state, now, limits):
        for event in events:
            state.apply(event)
        metrics.count_decided(events, 0.002)
        dispatched += [e for e in events if isinstance(e, WorkItemDispatched)]
    assert len(dispatched) == 4  # the limit holds 2 of the 6 back
    first = dispatched[0]
    state.apply(
        PartitionStarted(
            asset_key="a",
            partition_key=first.partition_key,
            run_id=first.run_id,
            work_item_id=first.work_item_id,
            worker_id="w1",
            producer="test",
        )
    )
    metrics.count_folded([consumed(first, "conflux.runs", 7)], live=True)
    metrics.refresh(state, _Lags({("conflux.runs", 0): 3}), ready=True, active=True)  # type: ignore[arg-type]

    before = scrape(url)
    where = {"location": "loc", "pool": "db"}
    assert value(before, "conflux_work_items", **where, state="running") == 1
    assert value(before, "conflux_work_items", **where, state="dispatched") == 3
    assert value(before, "conflux_work_items", **where, state="queued") == 2
    assert value(before, "conflux_runs", status="started") == 1
    assert value(before, "conflux_runs", status="success") == 0
    assert value(before, "conflux_coordinator_decisions_total", type="WorkItemDispatched") == 4
    assert value(before, "conflux_coordinator_decision_seconds_count") >= 1
    assert value(before, "conflux_events_folded_total", topic="conflux.runs") == 1
    assert value(before, "conflux_consumer_lag", topic="conflux.runs", partition="0") == 3
    assert value(before, "conflux_coordinator_leader") == 1

    # the work finishes: items leave the queue, the run succeeds, a tick is noted
    while True:
        inflight = [e for e in dispatched if e.work_item_id in state.inflight_items]
        if not inflight:
            break
        for item in inflight:
            state.apply(materialized(item))
        while events := decide(state, now, limits):
            for event in events:
                state.apply(event)
            dispatched += [e for e in events if isinstance(e, WorkItemDispatched)]
    tick = TickCompleted(
        instigator_type="sensor",
        name="s",
        location="loc",
        tick_id="t1",
        tick_time=T0,
        status="failure",
        duration_ms=120.0,
        producer="test",
    )
    metrics.count_folded([consumed(tick, "conflux.ticks")], live=True)
    metrics.count_folded([consumed(tick, "conflux.ticks")], live=False)  # replayed: not a tick
    metrics.refresh(state, _Lags({}), ready=True, active=False)  # type: ignore[arg-type]

    after = scrape(url)
    assert value(after, "conflux_work_items", **where, state="running") == 0
    assert value(after, "conflux_work_items", **where, state="queued") == 0
    assert value(after, "conflux_runs", status="success") == 1
    assert value(after, "conflux_runs", status="started") == 0
    tick_labels = {"instigator_type": "sensor", "location": "loc"}
    assert value(after, "conflux_ticks_total", **tick_labels, status="failure") == 1
    assert value(after, "conflux_tick_duration_seconds_sum", **tick_labels) == pytest.approx(0.12)
    assert value(after, "conflux_events_folded_total", topic="conflux.ticks") == 2
    assert ("conflux_consumer_lag", (("partition", "0"), ("topic", "conflux.runs"))) not in after
    assert value(after, "conflux_coordinator_leader") == 0


def test_backfills_remaining_partitions_shrink_as_chunks_complete() -> None:
    from conflux.coordinator._backfill import BackfillState
    from conflux.events import (
        BackfillRequested,
        PartitionRange,
        RunCompleted,
        TimeWindowPartitionsSnapshot,
    )

    metrics = CoordinatorMetrics()
    state = CoordinatorState()
    minutes = TimeWindowPartitionsSnapshot(
        cron_schedule="* * * * *", start="2020-01-01-00:00", fmt="%Y-%m-%d-%H:%M"
    )
    state.apply(published(AssetSnapshot(key="m", node="m", partitions=minutes)))
    backfill = BackfillState(
        "bf",
        request=BackfillRequested(
            backfill_id="bf",
            selection="m",
            asset_keys=("m",),
            partition_range=PartitionRange(start="2020-01-01-00:00", end="2020-01-08-00:59"),
            producer="test",
        ),
    )
    state.backfills["bf"] = backfill
    metrics.refresh(state, None, ready=True, active=True)
    total = 7 * 24 * 60 + 60
    assert metrics.backfill_remaining._value.get() == total
    backfill.done[0] = RunCompleted(run_id="c0", status="success", producer="test")
    metrics.refresh(state, None, ready=True, active=True)
    assert metrics.backfill_remaining._value.get() == total - 5000
    assert metrics.backfills._value.get() == 1


# -- worker ----------------------------------------------------------------------------------


def test_worker_metrics_count_executions_by_outcome(
    servers: list[MetricsServer],
) -> None:
    metrics = WorkerMetrics("loc")
    url = serve(metrics.registry, servers)
    before = scrape(url)
    assert value(before, "conflux_worker_executions_total", location="loc", outcome="success") == 0
    metrics.started()
    assert value(scrape(url), "conflux_worker_executing", location="loc") == 1
    metrics.executed("success", 0.02)
    metrics.executed("failure", 1.5)
    after = scrape(url)
    for outcome, n in (("success", 1), ("failure", 1), ("error", 0)):
        assert value(after, "conflux_worker_executions_total", location="loc", outcome=outcome) == n
    assert value(after, "conflux_worker_execution_seconds_count", location="loc") == 2
    assert value(after, "conflux_worker_execution_seconds_sum", location="loc") == pytest.approx(
        1.52
    )
    assert value(after, "conflux_worker_executing", location="loc") == 0


def test_two_parts_in_one_process_keep_their_own_series() -> None:
    a, b = WorkerMetrics("a"), WorkerMetrics("b")  # no clash over the global registry
    a.executed("success", 0.1)
    assert b.executions.labels("b", "success")._value.get() == 0


def test_the_heartbeat_carries_the_metrics_port_and_old_beats_still_decode() -> None:
    beat = ComponentHeartbeat(component="worker", instance_id="w", metrics_port=9101)
    assert decode_event(encode_event(beat)) == beat
    old = json.loads(encode_event(ComponentHeartbeat(component="worker", instance_id="w")))
    old.pop("metrics_port", None)
    decoded = decode_event(json.dumps(old).encode())
    assert isinstance(decoded, ComponentHeartbeat) and decoded.metrics_port is None


# -- projector -------------------------------------------------------------------------------


class _Sink:
    """An archive sink's two counters, as `ArchiveSink` keeps them (the archive itself is
    tested against chdb in tests/integration)."""

    accepted = 0
    archived = 0


def test_the_projector_serves_metrics_on_its_query_api() -> None:
    metrics = ProjectorMetrics()
    sink = _Sink()
    with QueryApi(ReadModel()) as api:
        url = f"{api.url}/metrics"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=5)
        assert refused.value.code == 404  # no metrics given: none served
        api.metrics = metrics.registry
        beat = ComponentHeartbeat(component="worker", instance_id="w")
        records = [consumed(beat, "conflux.heartbeats", n) for n in range(3)]
        sink.accepted = 3
        lags = _Lags({("conflux.heartbeats", 0): 5})
        metrics.observe(records, lags, sink, caught_up=False)  # type: ignore[arg-type]
        behind = scrape(url)
        assert value(behind, "conflux_events_folded_total", topic="conflux.heartbeats") == 3
        assert value(behind, "conflux_consumer_lag", topic="conflux.heartbeats", partition="0") == 5
        assert value(behind, "conflux_archive_backlog_records") == 3
        assert value(behind, "conflux_archive_records_total") == 0
        sink.archived = 3
        metrics.observe([], lags, sink, caught_up=True)  # type: ignore[arg-type]
        stored = scrape(url)
        assert value(stored, "conflux_archive_records_total") == 3
        assert value(stored, "conflux_archive_backlog_records") == 0
        assert value(stored, "conflux_archive_delay_seconds") == 0


def test_the_archive_delay_is_the_age_of_the_oldest_record_not_stored() -> None:
    import time

    metrics = ProjectorMetrics()
    sink = _Sink()
    lags = _Lags({})
    sink.accepted = 10
    metrics.observe([], lags, sink, caught_up=True)  # type: ignore[arg-type]
    time.sleep(0.05)
    sink.accepted = 20
    metrics.observe([], lags, sink, caught_up=True)  # type: ignore[arg-type]
    assert metrics.delay._value.get() >= 0.05
    sink.archived = 10  # the first batch is stored: the second one is younger
    metrics.observe([], lags, sink, caught_up=True)  # type: ignore[arg-type]
    assert metrics.delay._value.get() < 0.05


# -- what stays light, and what a missing extra says ------------------------------------------


def test_import_conflux_the_sdk_and_a_worker_load_no_prometheus_client() -> None:
    code = (
        "import sys, conflux, conflux.sdk, conflux.workers, conflux.events; "
        "from conflux import asset; "
        "print('prometheus_client' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_prometheus_client_metrics_say_what_to_install() -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "from conflux.events import MetricsUnavailableError\n"
        "from conflux.workers import WorkerMetrics\n"
        "try:\n"
        "    WorkerMetrics('loc')\n"
        "except MetricsUnavailableError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'conflux[metrics]'" in out.stdout


# -- JSON logs -------------------------------------------------------------------------------


def test_json_logs_name_the_component_instance_run_and_event() -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.setFormatter(JsonFormatter("worker", "loc@host:1:abc"))
    log = logging.getLogger("conflux.test.jsonlogs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        log.info("outside %s", "any run")
        with log_context(run_id="r1", event_id="e1", work_item_id=None):
            log.warning("inside")
            try:
                raise ValueError("boom")
            except ValueError:
                log.exception("failed")
        log.info("explicit", extra={"run_id": "r2"})
    finally:
        log.removeHandler(handler)
    lines = [json.loads(r) for r in records]
    assert lines[0]["message"] == "outside any run" and "run_id" not in lines[0]
    assert {
        k: lines[1][k] for k in ("level", "component", "instance_id", "run_id", "event_id")
    } == {
        "level": "WARNING",
        "component": "worker",
        "instance_id": "loc@host:1:abc",
        "run_id": "r1",
        "event_id": "e1",
    }
    assert "work_item_id" not in lines[1]
    assert "ValueError: boom" in lines[2]["exception"]
    assert lines[3]["run_id"] == "r2"
    assert lines[0]["time"].endswith("+00:00")


def test_the_parts_take_log_format_json() -> None:
    from click.testing import CliRunner

    from conflux.cli._app import cli as main

    for command in ("coordinator", "worker", "projector", "dev"):
        out = CliRunner().invoke(main, [command, "--help"])
        assert "--log-format [text|json]" in out.output, command
    for command in ("coordinator", "worker"):
        out = CliRunner().invoke(main, [command, "--help"])
        assert "--metrics-port" in out.output, command
