"""Fuzzing the decoder: whatever the bytes, `decode_event` returns an event or raises
`EventValidationError` (which the consumer dead-letters), never anything else.

One record that made decoding raise `RecursionError` used to crash-loop the coordinator
and the projector for good (issue 16). The corpus in `decode_corpus/` keeps such records,
hand-picked and found by these properties, and every one of them is replayed on each run.
Hypothesis generates bytes, JSON of any shape, and mutations of valid events.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from test_events import SAMPLES

from conflux.events import EventValidationError, decode_event, encode_event, register_upcaster

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

CORPUS = Path(__file__).with_name("decode_corpus")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID = [encode_event(e) for e in SAMPLES]


def decodes_or_refuses(raw: bytes) -> None:
    """The decoder's whole promise: an event, or a one-line reason."""
    try:
        decode_event(raw)
    except EventValidationError as exc:
        assert exc.reason and "\n" not in exc.reason.strip()


@pytest.mark.parametrize("path", sorted(CORPUS.iterdir()), ids=lambda p: p.name)
def test_every_record_of_the_corpus_decodes_or_is_refused(path: Path) -> None:
    decodes_or_refuses(path.read_bytes())


def test_the_deep_records_of_the_corpus_are_refused_with_their_reason() -> None:
    for name in ("deep_array.json", "deep_object.json", "deep_metadata.json"):
        with pytest.raises(EventValidationError, match="nested too deeply"):
            decode_event((CORPUS / name).read_bytes())


@FUZZ
@given(st.binary(max_size=2000))
@example(b"[" * 5000)
@example(b'{"type":' * 3000)
def test_any_bytes(raw: bytes) -> None:
    decodes_or_refuses(raw)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)


@FUZZ
@given(st.sampled_from(VALID), JSON, st.data())
def test_valid_events_with_one_field_replaced(
    raw: bytes, value: object, data: st.DataObject
) -> None:
    record = json.loads(raw)
    field = data.draw(st.sampled_from(sorted(record)))
    record[field] = value
    decodes_or_refuses(json.dumps(record).encode())


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_valid_events_cut_flipped_or_nested(raw: bytes, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(raw)))
    flip = data.draw(st.integers(0, 255))
    depth = data.draw(st.integers(1, 5000))
    decodes_or_refuses(raw[:at])
    decodes_or_refuses(raw[:at] + bytes([raw[at % len(raw)] ^ flip]) + raw[at + 1 :])
    record = json.loads(raw)
    field = data.draw(st.sampled_from(sorted(record)))
    nested = json.dumps(record).replace(f'"{field}": ', f'"{field}": ' + "[" * depth, 1)
    decodes_or_refuses(nested.encode())


@pytest.fixture
def broken_upcaster() -> Iterator[Callable[[dict[str, object]], dict[str, object]]]:
    from conflux.events import UPCASTERS

    @register_upcaster("RunStarted", 1)
    def lift(data: dict[str, object]) -> dict[str, object]:
        raise KeyError("a bug in an upcaster")

    try:
        yield lift
    finally:
        del UPCASTERS[("RunStarted", 1)]


def test_an_upcaster_that_raises_makes_the_record_refused_not_the_consumer_crash(
    broken_upcaster: object,
) -> None:
    raw = next(r for r in VALID if b'"RunStarted"' in r)
    with pytest.raises(EventValidationError, match="could not decode: KeyError"):
        decode_event(raw)
