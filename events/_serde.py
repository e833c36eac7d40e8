"""Events to bytes and back: JSON, validated both ways, upcast from old schema versions.

No pickle anywhere (rule 8). Decoding never raises anything but `EventValidationError`,
which carries a one-line reason for the dead-letter record: whatever makes a record
unreadable (not JSON, nested past the parser's depth, an unknown type, a field that does
not fit, an upcaster that fails on it), one bad record must never stop a consumer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from conflux.events._base import Event  # noqa: TC001 - isinstance/pydantic at runtime
from conflux.events._errors import EventValidationError
from conflux.events._models import AnyEvent

_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent, config=ConfigDict(defer_build=True))
"""Built on first use, as the event models are (`defer_build`): a process that only
produces (the CLI) never pays for the validators of every event type (~15 ms)."""


def _build_validator(raw: bytes | str) -> AnyEvent:
    global _validate_json
    _validate_json = _ADAPTER.validator.validate_json
    return _validate_json(raw)  # type: ignore[no-any-return]


_validate_json: Callable[[bytes | str], AnyEvent] = _build_validator
"""The union's core validator, called directly: the `TypeAdapter` method around it costs
~0.4 us a call, a tenth of decoding a record. The first call builds it and rebinds this
name, so later calls go straight to pydantic-core."""

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns the JSON of version N of an event type into version N + 1."""

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(event type, from version) -> upcaster. History is never rewritten: old records stay
as they were and are upcast each time they are read."""


def register_upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function that lifts `event_type` from `from_version` to the next version."""

    def register(fn: Upcaster) -> Upcaster:
        UPCASTERS[(event_type, from_version)] = fn
        return fn

    return register


def encode_event(event: Event) -> bytes:
    """The event as UTF-8 JSON bytes (what goes on the wire and into the archive)."""
    return event.model_dump_json().encode()


def upcast(data: dict[str, Any]) -> dict[str, Any]:
    event_type = data.get("type")
    version = data.get("schema_version", 1)
    while isinstance(event_type, str) and isinstance(version, int):
        upcaster = UPCASTERS.get((event_type, version))
        if upcaster is None:
            break
        data = upcaster(data)
        version = data.get("schema_version", version + 1)
    return data


def may_need_upcasting(raw: bytes | str) -> bool:
    """Whether a record may be of a (type, version) that has an upcaster (cheap, no parse).

    A record's type name is in its bytes (`"AssetMaterialized"`), so a byte search for the
    types that have upcasters finds every record that may need one (and a few that do not,
    when the name appears elsewhere); with no upcaster registered, none.
    """
    if not UPCASTERS:
        return False
    needles = _needles()
    data = raw.encode() if isinstance(raw, str) else raw
    return any(needle in data for needle in needles)


_needles_cache: tuple[frozenset[tuple[str, int]], tuple[bytes, ...]] = (frozenset(), ())


def _needles() -> tuple[bytes, ...]:
    global _needles_cache
    keys, needles = _needles_cache
    if keys != UPCASTERS.keys():  # registered (or removed, in tests) since last time
        keys = frozenset(UPCASTERS)
        needles = tuple({f'"{event_type}"'.encode() for event_type, _ in keys})
        _needles_cache = (keys, needles)
    return needles


def decode_event(raw: bytes | str) -> AnyEvent:
    """Parse and validate one record value into its event model.

    The fast way is one call into pydantic-core on the bytes (`validate_json`: parsing and
    validation in Rust, ~2x faster than `json.loads` + `validate_python`). A record that
    may need upcasting, or that the fast way refuses, takes the slow way, which upcasts,
    and accepts and names reasons exactly as before (`json.loads` is the reference).

    Raises:
        EventValidationError: the value is not JSON, not an object, of an unknown type,
            or does not fit its type's schema; the reason names which.
    """
    if not UPCASTERS or not may_need_upcasting(raw):
        try:
            event: AnyEvent = _validate_json(raw)
            return event
        except ValidationError:
            pass  # the slow way says why (or accepts what only json.loads reads)
    try:
        return _decode_slowly(raw)
    except EventValidationError:
        raise
    except RecursionError as exc:
        raise EventValidationError(f"not JSON: nested too deeply to parse ({exc})") from exc
    except Exception as exc:  # an upcaster's bug, or anything else: the record is unreadable
        raise EventValidationError(f"could not decode: {type(exc).__name__}: {exc}") from exc


def _decode_slowly(raw: bytes | str) -> AnyEvent:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventValidationError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EventValidationError(f"not a JSON object but {type(data).__name__}")
    if UPCASTERS:
        data = upcast(data)
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise EventValidationError(
            f"invalid {data.get('type', 'event')!s}: {where}: {first['msg']}{more}"
        ) from exc
