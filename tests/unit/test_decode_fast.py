"""Decoding on consume: the fast path (bytes straight into pydantic-core) equals the reference.

`decode_event` validates the bytes in one call and falls back to `json.loads` +
`validate_python` (the reference: it upcasts, and names reasons) for records that may need
upcasting or that the fast path refuses. The consumer's decode loop pauses the cyclic GC
and restores it as it found it.
"""

from __future__ import annotations

import gc
import json
from typing import TYPE_CHECKING, Any

import pytest
from test_events import SAMPLES

from conflux.events import (
    AssetMaterialized,
    EventConsumer,
    RunStarted,
    decode_event,
    encode_event,
    register_upcaster,
)
from conflux.events._serde import UPCASTERS, _decode_slowly, may_need_upcasting

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_the_fast_path_gives_what_the_reference_gives(event: Any) -> None:
    raw = encode_event(event)
    assert decode_event(raw) == _decode_slowly(raw) == event
    assert type(decode_event(raw.decode())) is type(event)  # str works too


def test_what_only_json_loads_reads_still_decodes() -> None:
    event = RunStarted(run_id="r", asset_keys=("a",), partition_count=1)
    with_bom = b"\xef\xbb\xbf" + encode_event(event)  # json.loads skips a UTF-8 BOM
    assert decode_event(with_bom) == event


@pytest.fixture
def upcaster() -> Iterator[None]:
    @register_upcaster("RunStarted", 0)
    def lift(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "schema_version": 1}

    try:
        yield
    finally:
        UPCASTERS.pop(("RunStarted", 0), None)


def test_only_records_of_types_with_upcasters_take_the_slow_path(upcaster: None) -> None:
    mat = encode_event(AssetMaterialized(asset_key="a", data_version="v"))
    started = encode_event(RunStarted(run_id="r", asset_keys=("a",), partition_count=1))
    assert not may_need_upcasting(mat) and may_need_upcasting(started)
    assert may_need_upcasting(started.decode())
    UPCASTERS.pop(("RunStarted", 0))
    assert not may_need_upcasting(started)  # removal is seen too


class _Message:
    def __init__(self, value: bytes | None, offset: int) -> None:
        self._value, self._offset = value, offset

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return "c.assets"

    def partition(self) -> int:
        return 3

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"a#p"

    def value(self) -> bytes | None:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return (1, 1700000000000)


class _Client:
    def __init__(self, messages: list[_Message]) -> None:
        self.messages = messages

    def consume(self, num_messages: int, timeout: float) -> list[_Message]:
        taken, self.messages = self.messages[:num_messages], self.messages[num_messages:]
        return taken

    def poll(self, timeout: float) -> None:
        return None


def _consumer(messages: list[_Message]) -> EventConsumer:
    consumer = EventConsumer.__new__(EventConsumer)  # no broker: the decode loop only
    # a stand-in for confluent-kafka's Consumer: the decode loop calls only consume and poll
    consumer._consumer = _Client(messages)  # type: ignore[assignment]
    consumer._positions = {}
    return consumer


@pytest.mark.parametrize("enabled", [True, False])
def test_poll_decodes_with_the_gc_paused_and_restores_it(enabled: bool) -> None:
    events = [AssetMaterialized(asset_key="a", data_version=str(i)) for i in range(3)]
    consumer = _consumer([_Message(encode_event(e), 10 + i) for i, e in enumerate(events)])
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        got = consumer.poll(timeout=0, max_records=10)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert [r.event for r in got] == events
    first = got[0]
    assert (first.topic, first.partition, first.offset, first.key, first.timestamp_ms) == (
        "c.assets",
        3,
        10,
        "a#p",
        1700000000000,
    )
    assert first.value == encode_event(events[0]) and json.loads(first.value)["data_version"] == "0"
    assert consumer.positions() == {("c.assets", 3): 13}
