"""The UI's actions and live stream against Apache Kafka: a POST becomes an event on the
log, the projector reads it back like any other, and the stream shows it to a page."""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_projector import _emit, _running, _wait

from conflux.projections.api import EventQuery
from conflux.projections.archive import ChdbStore
from conflux.projections.projector import Projector

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from projection_builders import published

if TYPE_CHECKING:
    from brokers import BrokerHandle

    from conflux.events import Topics

pytestmark = pytest.mark.integration


def _post(port: int, path: str, body: object) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(
            "POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_a_reported_materialization_goes_through_the_log_to_the_stream(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    _emit(broker, topics, [published()])
    projector = Projector(
        broker.bootstrap, topics, broker_kind=broker.kind, archive=ChdbStore(tmp_path / "a")
    )
    with _running(projector) as client:
        _wait("definitions", lambda: client.status().caught_up and client.assets())
        stream = http.client.HTTPConnection("127.0.0.1", projector.api.port, timeout=15)
        stream.request("GET", "/stream")
        response = stream.getresponse()
        seen: list[dict[str, object]] = []
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                line = response.readline()
                if not line:
                    return
                if line.startswith(b"data: "):
                    seen.extend(json.loads(line[6:]))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            _wait("a subscriber", lambda: projector.api.stream.listening)
            posted = time.monotonic()
            status, answer = _post(
                projector.api.port,
                "/actions/report",
                {"asset_key": "colors", "partition": "blue", "data_version": "by-ui"},
            )
            assert status == 200, answer
            found = _wait(
                "the reported event on the stream",
                lambda: [s for s in seen if s["event_id"] == answer["event_id"]],
            )
            live_ms = (time.monotonic() - posted) * 1000
        finally:
            done.set()
            stream.close()
        assert found[0]["type"] == "AssetMaterialized" and found[0]["partition_key"] == "blue"
        # The log has it like any CLI report: source reported, the UI as its producer; the
        # stream's number is the archive's.
        (record,) = client.events(EventQuery(asset="colors", partition="blue"))
        assert record.seq == found[0]["seq"]
        assert record.event["source"] == "reported" and record.event["data_version"] == "by-ui"
        assert str(record.event["producer"]).startswith("ui:")
        assert live_ms < 5000, live_ms
        # A refused action leaves nothing on the log.
        status, answer = _post(projector.api.port, "/actions/report", {"asset_key": "nope"})
        assert status == 400 and "nope" in str(answer["error"])
        time.sleep(0.5)
        assert len(client.events(EventQuery(asset="nope"))) == 0
