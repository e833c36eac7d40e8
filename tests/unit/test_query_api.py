"""The query API over HTTP, read through `ApiClient`, on a read model fed with events."""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

import pytest
from projection_builders import archived, at, run_story

from conflux.events import (
    ApiUnavailableError,
    ComponentHeartbeat,
    ConfluxError,
    DefinitionError,
    InvalidPartitionKeyError,
    SelectionError,
)
from conflux.projections.api import ApiClient, EventQuery, NotFoundError
from conflux.projections.projector import QueryApi, ReadModel

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def model() -> ReadModel:
    m = ReadModel()
    m.apply_all(run_story())
    return m


@pytest.fixture
def client(model: ReadModel) -> Iterator[ApiClient]:
    with QueryApi(model, port=0, expected_locations=["shop"]) as api:
        assert api.port > 0 and api.url == f"http://127.0.0.1:{api.port}"
        yield ApiClient(api.url, timeout=5.0)


def test_assets(client: ApiClient, model: ReadModel) -> None:
    assert client.assets() == model.asset_summaries()
    colors = client.asset("colors")
    assert colors.partitions.total == 3
    assert client.asset("raw/events").key == "raw/events"  # `/` travels quoted
    with pytest.raises(SelectionError, match="did you mean colors"):
        client.asset("colours")


def test_runs(client: ApiClient) -> None:
    runs = client.runs()
    assert [r.run_id for r in runs] == ["run1"]
    assert client.runs(status="failed", limit=5) == runs
    assert client.runs(status="success") == []
    run = client.run("run1")
    assert (run.status, run.materialized, run.failed, run.skipped) == ("failed", 1, 1, 1)
    with pytest.raises(NotFoundError, match="no run 'nope'"):
        client.run("nope")


def test_events_from_the_archive() -> None:
    with archived(run_story()) as h, QueryApi(h.model, port=0) as api:
        api.history = h.history
        client = ApiClient(api.url, timeout=5.0)
        red = client.events(EventQuery(asset="colors", partition="red"))
        assert [r.type for r in red][:2] == ["MaterializationRequested", "WorkItemDispatched"]
        assert red == h.history.events(EventQuery(asset="colors", partition="red"))
        assert len(client.events(EventQuery(type="PartitionFailed"))) == 2
        assert [r.seq for r in client.events(EventQuery(since=at(11)))] == [12, 13, 15]
        assert [r.seq for r in client.events(EventQuery(after=13))] == [15]
        assert [r.seq for r in client.events(EventQuery(limit=1))] == [15]
        with pytest.raises(ConfluxError, match="no event type 'Nope'"):
            client.events(EventQuery(type="Nope"))
        timeline = client.get("/runs/run1/partitions")
        assert b'"total":3' in timeline.replace(b" ", b"")


def test_without_an_archive_there_is_no_history(client: ApiClient) -> None:
    with pytest.raises(NotFoundError, match="keeps no archive, so it has no history"):
        client.events(EventQuery(asset="colors"))
    with pytest.raises(NotFoundError, match="keeps no archive"):
        client.get("/runs/run1/partitions")


def test_selection(client: ApiClient) -> None:
    assert client.resolve_selection("+colors") == ["clean", "colors"]
    with pytest.raises(SelectionError, match=r"^no asset 'colour' is defined: did you mean"):
        client.resolve_selection("colour")
    with pytest.raises(SelectionError, match="external asset"):
        client.resolve_selection("vendor_feed")


def test_validate_partition_error_kinds(client: ApiClient) -> None:
    client.validate_partition("colors", "red")
    client.validate_partition("clean", None)
    with pytest.raises(SelectionError, match="conflux assets"):
        client.validate_partition("nope", None)
    with pytest.raises(InvalidPartitionKeyError, match=r"'pink'.*static keys red, green, blue"):
        client.validate_partition("colors", "pink")
    with pytest.raises(DefinitionError, match="pass --partition"):
        client.validate_partition("colors", None)
    with pytest.raises(DefinitionError, match="drop --partition"):
        client.validate_partition("clean", "red")


def test_status(client: ApiClient, model: ReadModel) -> None:
    report = client.status()
    assert not report.ready  # the story's coordinator beat is from 2024
    assert report.not_ready[0].startswith("coordinator: last heartbeat")
    model.apply(ComponentHeartbeat(component="coordinator", instance_id="c2"))
    report = client.status()
    assert report.ready, report.not_ready
    assert report.coordinator is not None and report.coordinator.instance_id == "c2"
    assert [loc.name for loc in report.locations] == ["shop"]
    assert report.dead_letters == 1


def test_unknown_endpoint_and_bad_parameters(client: ApiClient) -> None:
    with pytest.raises(NotFoundError, match="no endpoint"):
        client.get("/nope")
    with pytest.raises(ConfluxError, match="not an integer"):
        client.get("/runs", {"limit": "ten"})
    with pytest.raises(ConfluxError, match="not an ISO time"):
        client.get("/events", {"since": "yesterday"})


def test_concurrent_reads_while_applying(model: ReadModel) -> None:
    with QueryApi(model) as api:
        client = ApiClient(api.url)
        errors: list[BaseException] = []

        def read() -> None:
            try:
                for _ in range(20):
                    client.assets()
                    client.runs()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads:
            t.start()
        for i in range(200):
            model.apply(ComponentHeartbeat(component="worker", instance_id=f"w{i}"))
        for t in threads:
            t.join()
        assert errors == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_unavailable_api_is_one_line_with_the_fix() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(ApiUnavailableError) as info:
        ApiClient(url, timeout=1.0).status()
    message = str(info.value)
    assert url in message and "conflux dev" in message and "CONFLUX_API" in message
    assert "\n" not in message
    assert isinstance(info.value, ConnectionError)


def test_timeout_is_unavailable() -> None:
    with socket.socket() as server:  # accepts, never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(ApiUnavailableError, match="did not answer"):
            ApiClient(url, timeout=0.3).status()


def test_close_releases_the_port(model: ReadModel) -> None:
    api = QueryApi(model)
    api.start()
    url = api.url
    api.close()
    with pytest.raises(ApiUnavailableError):
        ApiClient(url, timeout=1.0).status()


def test_each_room_of_projections_exports_what_other_parts_use() -> None:
    import importlib

    import conflux.projections

    assert not hasattr(conflux.projections, "__all__")  # the rooms export, the part does not
    for room, names in ROOM_EXPORTS.items():
        module = importlib.import_module(f"conflux.projections.{room}")
        assert set(module.__all__) == names, room
        assert all(hasattr(module, name) for name in names)


def test_client_import_loads_no_kafka_client_server_or_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from conflux.projections.api import ApiClient; "
        "print(sorted(m for m in ('confluent_kafka', 'http.server', 'conflux.sdk') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


ROOM_EXPORTS = {
    "api": {
        "ApiClient",
        "ApiTransport",
        "EventQuery",
        "check_partition_keys",
        "AssetSummary",
        "BACKFILL_ENDED",
        "BackfillSummary",
        "BrokerStatus",
        "CheckResultSummary",
        "CheckSummary",
        "ComponentStatus",
        "DeadLetterSummary",
        "DynamicPartitionsKeys",
        "DynamicPartitionsSummary",
        "EventRecord",
        "InstigatorSummary",
        "LastMaterialization",
        "LineageAnswer",
        "LineageLink",
        "LineageRoot",
        "LocationError",
        "LocationStatus",
        "LocationSummary",
        "LocationWorker",
        "MaterializationInfo",
        "NotFoundError",
        "PartitionCounts",
        "PartitionDimension",
        "PartitionRange",
        "PartitionRanges",
        "RangeStatus",
        "RunCause",
        "RunPartition",
        "RunPartitions",
        "RunPartitionStatus",
        "RunLogDrops",
        "RunLogLine",
        "RunLogs",
        "RunStatus",
        "RunSummary",
        "SqlAnswer",
        "SqlColumn",
        "StatusReport",
        "TickSummary",
        "WhyReport",
    },
    "folds": {
        "InstigatorRecord",
        "latest_tick",
        "matched_assets",
        "run_group",
        "AssetStateProjection",
        "AutomationFacts",
        "BackfillSpace",
        "BackfillsProjection",
        "Checkpoint",
        "ChecksProjection",
        "code_fingerprint",
        "ComponentsProjection",
        "cron_leaves",
        "defined_instigators",
        "DefinitionsProjection",
        "dynamic_names",
        "effective_status",
        "load_checkpoint",
        "Evaluator",
        "InstigatorFacts",
        "is_alive",
        "LastAttempt",
        "latest_materialization",
        "LocationState",
        "MaterializationRef",
        "next_cron_tick",
        "next_tick",
        "PartitionState",
        "PartitionStatus",
        "resolve_selection",
        "resolve_space",
        "RunRecord",
        "RunsProjection",
        "save_checkpoint",
        "space_total",
        "status_counts",
        "summarize_backfill",
        "ticks_between",
        "unknown_asset_message",
        "window_schedule",
    },
    "archive": {
        "ArchivedEvent",
        "ArchiveError",
        "ArchiveSink",
        "ArchiveStore",
        "canonical_type",
        "find_events",
        "INTERFACE_VERSION",
        "MAX_EVENTS",
        "READ_ONLY_LIMITS",
        "run_events",
        "VIEW_NAMES",
        "ArchiveUnavailableError",
        "ChdbStore",
        "Direction",
        "MaterializationRecord",
        "RawRecord",
        "read_run_logs",
        "RUN_LOGS_PROJECTION",
        "RunLogRow",
        "RunLogWriter",
        "seed_broker",
        "ServerStore",
    },
    "projector": {
        "archive_fold",
        "check_bind",
        "close_location_names",
        "limit_malloc_arenas",
        "release_free_memory",
        "EventHistory",
        "load_read_model",
        "rebuild_from_archive",
        "save_read_model",
        "ProjectionName",
        "Projector",
        "ProjectorMetrics",
        "QueryApi",
        "read_model_fold",
        "ReadModel",
        "ReadOnlyArchiveError",
        "run_sql",
        "replay",
        "ReplayResult",
        "Start",
    },
}
