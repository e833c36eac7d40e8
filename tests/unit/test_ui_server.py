"""The web UI's server side without a broker: files, auth, the live stream, actions.

A `QueryApi` on a real socket serves a read model folded from a run's story; its
`emit` collects events in a list (the broker's side is tested in
tests/integration/test_ui_actions_kafka.py).
"""

from __future__ import annotations

import http.client
import json
import threading
from typing import TYPE_CHECKING

import pytest
from projection_builders import archived, run_story

from conflux.events import (
    AssetMaterialized,
    BackfillRequested,
    Event,
    InstigatorStatusChanged,
    MaterializationRequested,
)
from conflux.projections.projector import QueryApi, ReadModel
from conflux.projections.projector._query_api import UnsafeBindError
from conflux.projections.projector._stream import MAX_PENDING, EventStream

if TYPE_CHECKING:
    from collections.abc import Iterator


def _model() -> ReadModel:
    model = ReadModel()
    model.apply_all(run_story())
    return model


@pytest.fixture
def served() -> Iterator[tuple[QueryApi, list[Event]]]:
    emitted: list[Event] = []
    with QueryApi(_model(), emit=emitted.append) as api:
        yield api, emitted


def _call(
    api: QueryApi,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    try:
        data = json.dumps(body).encode() if body is not None else None
        sent = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers={**sent, **(headers or {})})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_the_ui_is_served_from_the_package_and_nothing_outside_it(
    served: tuple[QueryApi, list[Event]],
) -> None:
    api, _ = served
    status, headers, body = _call(api, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"<html" in body.lower()
    status, _, _ = _call(api, "GET", "/ui/..%2F_api.py")
    assert status == 404
    status, _, _ = _call(api, "GET", "/ui/nope.js")
    assert status == 404


def test_the_timeline_of_a_run_keeps_each_partitions_latest_attempt() -> None:
    with archived(run_story()) as h, QueryApi(h.model) as api:
        api.history = h.history
        _timeline(api)


def _timeline(api: QueryApi) -> None:
    status, _, body = _call(api, "GET", "/runs/run1/partitions")
    assert status == 200
    timeline = json.loads(body)
    rows = {(r["asset_key"], r["partition_key"]): r for r in timeline["partitions"]}
    assert timeline["total"] == 3
    red, green = rows[("colors", "red")], rows[("colors", "green")]
    assert red["status"] == "materialized" and red["attempt"] == 2 and red["message"] is None
    assert red["started_at"] is not None and red["ended_at"] > red["started_at"]
    assert green["status"] == "failed" and green["error_type"] == "KeyError"
    assert rows[("report", "green")]["status"] == "skipped"
    status, _, body = _call(api, "GET", "/runs/run1/partitions?limit=1")
    assert len(json.loads(body)["partitions"]) == 1
    assert _call(api, "GET", "/runs/nope/partitions")[0] == 404
    status, _, body = _call(api, "GET", "/events?run=run1&type=PartitionFailed")
    assert [e["partition_key"] for e in json.loads(body)] == ["red", "green"]


def test_assets_carry_their_deps_for_the_graph(served: tuple[QueryApi, list[Event]]) -> None:
    api, _ = served
    assets = {a["key"]: a for a in json.loads(_call(api, "GET", "/assets")[2])}
    assert assets["clean"]["deps"] == ["raw/events", "raw/users"]
    assert assets["raw/users"]["deps"] == []


def test_an_action_emits_what_the_cli_emits(served: tuple[QueryApi, list[Event]]) -> None:
    api, emitted = served
    status, _, body = _call(
        api, "POST", "/actions/materialize", {"selection": "colors+", "partitions": ["red"]}
    )
    assert status == 200, body
    answer = json.loads(body)
    (event,) = emitted
    assert isinstance(event, MaterializationRequested)
    assert answer["run_id"] == event.run_id == event.correlation_id
    assert event.asset_keys == ("colors", "report")  # `+`: one layer down, as in Dagster
    assert event.partition_keys == ("red",) and event.producer == "ui"
    status, _, body = _call(
        api,
        "POST",
        "/actions/report",
        {"asset_key": "colors", "partition": "blue", "metadata": {"rows": 3}},
    )
    assert status == 200, body
    report = emitted[-1]
    assert isinstance(report, AssetMaterialized) and report.source == "reported"
    assert report.metadata == {"rows": 3} and report.partition_key == "blue"
    status, _, body = _call(
        api, "POST", "/actions/backfill", {"selection": "colors", "from": "red", "to": "blue"}
    )
    assert status == 200, body
    backfill = emitted[-1]
    assert isinstance(backfill, BackfillRequested) and backfill.partition_range is not None
    assert (backfill.partition_range.start, backfill.partition_range.end) == ("red", "blue")


@pytest.mark.parametrize(
    ("action", "body", "status", "says"),
    [
        ("materialize", {"selection": "colour"}, 400, "colors"),
        ("materialize", {"selection": "colors", "from": "red"}, 400, "from and to go together"),
        ("report", {"asset_key": "colors", "partition": "mauve"}, 400, "mauve"),
        ("backfill", {"selection": "colors", "from": "red", "to": "pink"}, 400, "pink"),
        ("instigator", {"type": "sensor", "name": "nope", "running": True}, 404, "nope"),
        ("cancel-backfill", {"backfill_id": "nope"}, 404, "nope"),
        ("materialize", {"selection": "colors", "typo": 1}, 400, "typo"),
        ("launch", {}, 400, "no action 'launch'"),
    ],
)
def test_a_bad_action_is_refused_and_emits_nothing(
    served: tuple[QueryApi, list[Event]], action: str, body: object, status: int, says: str
) -> None:
    api, emitted = served
    got, _, answer = _call(api, "POST", f"/actions/{action}", body)
    assert got == status, answer
    assert says in json.loads(answer)["error"]
    assert emitted == []


def test_actions_refuse_forms_and_other_origins(served: tuple[QueryApi, list[Event]]) -> None:
    api, emitted = served
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert _call(api, "POST", "/actions/materialize", {"selection": "*"}, form)[0] == 415
    evil = {"Origin": "http://evil.example"}
    assert _call(api, "POST", "/actions/materialize", {"selection": "*"}, evil)[0] == 403
    rebound = {"Host": "evil.example:80"}
    assert _call(api, "GET", "/assets", headers=rebound)[0] == 403
    assert emitted == []


def test_a_read_only_api_answers_actions_with_503() -> None:
    with QueryApi(_model()) as api:
        status, _, body = _call(api, "POST", "/actions/materialize", {"selection": "*"})
    assert status == 503 and "reads only" in json.loads(body)["error"]


def test_beyond_loopback_a_token_is_required_and_then_checked() -> None:
    with pytest.raises(UnsafeBindError, match="--token"):
        QueryApi(_model(), host="0.0.0.0")
    with QueryApi(_model(), token="s3cret") as api:
        assert _call(api, "GET", "/assets")[0] == 401
        assert _call(api, "GET", "/assets", headers={"Authorization": "Bearer nope"})[0] == 401
        ok = {"Authorization": "Bearer s3cret"}
        assert _call(api, "GET", "/assets", headers=ok)[0] == 200
        status, headers, _ = _call(api, "GET", "/?token=s3cret")
        assert status == 303 and headers["Location"] == "/"
        cookie = headers["Set-Cookie"].split(";")[0]
        assert "HttpOnly" in headers["Set-Cookie"]
        assert _call(api, "GET", "/", headers={"Cookie": cookie})[0] == 200
        # with a token, any Host may ask (the token is the guard)
        assert _call(api, "GET", "/assets", headers={**ok, "Host": "ui.example"})[0] == 200


def test_the_stream_sends_what_the_projector_applies(served: tuple[QueryApi, list[Event]]) -> None:
    api, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    conn.request("GET", "/stream")
    response = conn.getresponse()
    assert response.getheader("Content-Type") == "text/event-stream"
    lines: list[bytes] = []
    got = threading.Event()

    def read() -> None:
        while not got.is_set():
            line = response.readline()
            if not line:
                return
            lines.append(line)
            if line.startswith(b"data: "):
                got.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        for _ in range(200):
            if api.stream.listening:
                break
            threading.Event().wait(0.01)
        event = AssetMaterialized(asset_key="colors", partition_key="red", data_version="v9")
        api.stream.publish([(42, event)])
        assert got.wait(5), lines
    finally:
        conn.close()
    (batch,) = [json.loads(line[6:]) for line in lines if line.startswith(b"data: ")]
    assert batch == [
        {
            "seq": 42,
            "type": "AssetMaterialized",
            "time": event.time.isoformat(),
            "event_id": event.event_id,
            "asset_key": "colors",
            "partition_key": "red",
            "run_id": None,
            "backfill_id": None,
            "name": None,
        }
    ]


def test_a_reader_that_falls_behind_is_told_to_reset() -> None:
    stream = EventStream()
    sub = stream.subscribe()
    event = InstigatorStatusChanged(instigator_type="sensor", name="s", status="running")
    stream.publish([(i, event) for i in range(MAX_PENDING + 1)])
    assert sub.take(0) == "reset"
    stream.publish([(1, event)])
    taken = sub.take(0)
    assert isinstance(taken, list) and taken[0]["name"] == "s"
    assert sub.take(0) is None
    stream.close()
    assert sub.take(0) == "closed" and not stream.listening


def test_partition_ranges_are_cached_until_the_asset_changes() -> None:
    model = _model()
    first = model.partition_ranges("colors")
    assert model.partition_ranges("colors") is first  # a page polling a quiet asset
    model.apply(AssetMaterialized(asset_key="colors", partition_key="blue", data_version="b"))
    after = model.partition_ranges("colors")
    assert after is not first
    assert after.counts["materialized"] == first.counts["materialized"] + 1


def _raw_post(api: QueryApi, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes as they are (http.client would fix a bad Content-Length)."""
    import socket

    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(head + b"\r\n\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize(
    ("head", "body", "status", "reason"),
    [
        (b"Content-Length: abc", b"{}", 400, "is not a number of bytes"),
        (b"Content-Length: -5", b"{}", 400, "is not a number of bytes"),
        (b"Content-Length: 9999999", b"", 413, "an action takes at most"),
        (b"Content-Length: 8000", b"[" * 4000 + b"]" * 4000, 400, "nested too deeply"),
    ],
)
def test_a_malformed_request_gets_a_4xx_with_its_reason(
    served: tuple[QueryApi, list[Event]], head: bytes, body: bytes, status: int, reason: str
) -> None:
    api, emitted = served
    before = len(emitted)
    request = (
        b"POST /actions/materialize HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\n" + head
    )
    got, answer = _raw_post(api, request, body)
    assert got == status and reason in json.loads(answer)["error"]
    assert len(emitted) == before


def test_the_materialize_action_carries_a_run_config(served: tuple[QueryApi, list[Event]]) -> None:
    api, emitted = served
    config = {"ops": {"colors": {"config": {"threshold": 3}}}}
    body = {"selection": "colors", "partitions": ["red"], "run_config": config}
    status, _, answer = _call(api, "POST", "/actions/materialize", body)
    assert status == 200, answer
    event = emitted[-1]
    assert isinstance(event, MaterializationRequested) and event.run_config == config
    bad = {"selection": "colors", "partitions": ["red"], "run_config": [1]}
    assert _call(api, "POST", "/actions/materialize", bad)[0] == 400
