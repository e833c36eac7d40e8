"""Stream sensors without a broker: cursors, default run keys, what a tick hands over."""

from __future__ import annotations

import pytest

from conflux import (
    DefaultSensorStatus,
    Definitions,
    InvalidSensorError,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    StreamRecord,
    asset,
    stream_sensor,
)
from conflux.sdk._stream_sensor import (
    InvalidStreamCursorError,
    advance,
    encode_cursor,
    parse_cursor,
)


@asset
def orders() -> int:
    return 1


def rec(partition: int, offset: int, value: bytes | None = b'{"id": 7}') -> StreamRecord:
    return StreamRecord(topic="t", partition=partition, offset=offset, key="k", value=value)


def test_cursor_round_trip_and_advance() -> None:
    assert parse_cursor(None) == {} and parse_cursor("") == {}
    assert parse_cursor('{"0": 5, "2": 1}') == {0: 5, 2: 1}
    assert encode_cursor({2: 1, 0: 5}) == '{"0":5,"2":1}'
    moved = advance({0: 5, 2: 1}, [rec(0, 5), rec(1, 0), rec(0, 6), rec(1, 3)])
    assert moved == {0: 7, 1: 4, 2: 1}
    assert advance({0: 9}, [rec(0, 3)]) == {0: 9}  # never backwards


@pytest.mark.parametrize("bad", ["nope", "[1]", '{"a": 1}', '{"0": -1}', '{"0": "x"}'])
def test_a_cursor_that_is_not_a_stream_cursor_is_refused(bad: str) -> None:
    with pytest.raises(InvalidStreamCursorError, match="--set"):
        parse_cursor(bad)


def test_records_become_run_requests_and_the_cursor_moves_past_them() -> None:
    @stream_sensor(topic="t", target=[orders])
    def per_record(records: list[StreamRecord]) -> list[RunRequest]:
        return [RunRequest(run_key=r.run_key, tags={"id": str(r.json()["id"])}) for r in records]

    result = per_record.decide([rec(0, 5), rec(1, 0)], '{"0":5}')
    assert [r.run_key for r in result.run_requests] == ["t:0:5", "t:1:0"]
    assert result.run_requests[0].tags == {"id": "7"}
    assert result.cursor == '{"0":6,"1":1}'


def test_keyless_requests_get_the_batch_key_and_context_is_passed() -> None:
    seen: list[str] = []

    @stream_sensor(topic="t", target=[orders])
    def batches(context: SensorEvaluationContext, records: list[StreamRecord]) -> list[RunRequest]:
        seen.append(context.sensor_name)
        return [RunRequest(), RunRequest(run_key="mine"), RunRequest()]

    result = batches.decide([rec(0, 1), rec(0, 2)], None)
    assert [r.run_key for r in result.run_requests] == ["t:0:2", "mine", "t:0:2#1"]
    assert seen == ["batches"] and result.cursor == '{"0":3}'


def test_no_record_is_a_skip_without_calling_the_function_a_skip_still_consumes() -> None:
    calls: list[int] = []

    @stream_sensor(topic="t", target=[orders])
    def picky(records: list[StreamRecord]) -> SkipReason:
        calls.append(len(records))
        return SkipReason("not interesting")

    empty = picky.decide([], '{"0":4}')
    assert empty.run_requests == () and empty.cursor == '{"0":4}' and calls == []
    skipped = picky.decide([rec(0, 4, None)], '{"0":4}')
    assert skipped.skip_reason == "not interesting" and skipped.cursor == '{"0":5}'


def test_record_helpers() -> None:
    r = rec(3, 9, b'{"id": 1}')
    assert r.text == '{"id": 1}' and r.json() == {"id": 1} and r.run_key == "t:3:9"
    tomb = rec(0, 0, None)
    assert tomb.text is None and tomb.json() is None


def test_definition_snapshot_and_validation() -> None:
    @stream_sensor(topic="orders", target=[orders], default_status=DefaultSensorStatus.RUNNING)
    def s(records: list[StreamRecord]) -> None:
        return None

    snap = Definitions(assets=[orders], sensors=[s]).instigators.sensor_snapshots[0]
    assert snap.kind == "stream" and snap.minimum_interval_seconds == 1.0
    assert snap.default_status == "running" and snap.asset_keys == ("orders",)
    assert "orders" in (snap.description or "")

    with pytest.raises(InvalidSensorError, match="max_records"):
        stream_sensor(topic="t", max_records=0)(lambda records: None)
    with pytest.raises(InvalidSensorError, match="max_wait_seconds"):
        stream_sensor(topic="t", max_wait_seconds=5, timeout_seconds=5)(lambda records: None)
    with pytest.raises(InvalidSensorError, match="takes no records"):
        stream_sensor(topic="t")(lambda: None)
    with pytest.raises(InvalidSensorError, match="topic"):
        stream_sensor(topic="")(lambda records: None)


def test_no_cluster_named_fails_the_tick_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONFLUX_BOOTSTRAP", raising=False)

    @stream_sensor(topic="t")
    def s(records: list[StreamRecord]) -> None:
        return None

    with pytest.raises(InvalidSensorError, match="CONFLUX_BOOTSTRAP"):
        s.evaluate(cursor=None)
