"""One asset's partitions, stored by row in flat buffers: what `AssetStateProjection` keeps.

Issue 5 asks for <= 200 bytes per materialized partition at a million partitions; one
`PartitionState` with its refs, datetime and strings cost ~550. Here a partition is a
row: its key in a `KeyIndex` (~40 bytes), its materialization time in `_times`
(`array('q')`, microseconds since the epoch, UTC), and a 66-byte record in `_records`:

| bytes | holds |
| --- | --- |
| 1 | flags: has a materialization, source, where the ids are |
| 1 | data version code: 0..32 packed hex bytes, 33 + n UTF-8 bytes, 255 in `_odd` |
| 16 | materialization event id, when it is 32 lowercase hex (uuid hex: `new_id`, `derived_id`) |
| 16 | run id, likewise |
| 32 | data version: up to 32 ASCII characters as they are, or up to 64 lowercase hex packed |

A record is written and read with one `struct` call. Values that do not fit (an id that is
not uuid hex, a long data version) go to `_odd`, a dict keyed by `row * 3 + field`;
attempts (a start or failure newer than the materialization) go to `_attempts` by row:
both are rare. Nothing holds a Python object per partition, so the cyclic GC has nothing
to scan and a checkpoint pickles a few buffers.

What callers may rely on: this is a read-only `Mapping[str | None, PartitionState]`
(iteration in first-seen order); each lookup builds a fresh `PartitionState`. The
helpers `status`, `statuses`, `status_counts` and `latest` answer readers' questions
without building one object per partition.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from conflux.events import PartitionStarted
from conflux.projections.folds._key_index import KeyIndex, decode_key
from conflux.projections.folds._partition_state import (
    LastAttempt,
    MaterializationRef,
    PartitionState,
    PartitionStatus,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conflux.events import AssetMaterialized, PartitionFailed

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_NO_TIME = -(2**63)
"""`_times` of a row with no materialization (below any datetime), so `max` skips it."""

_RECORD = struct.Struct("<BB16s16s32s")
_WIDTH = _RECORD.size
_EMPTY = bytes(_WIDTH)
_MATERIALIZED, _REPORTED, _ID_ODD, _RUN_PACKED, _RUN_ODD = 1, 2, 4, 8, 16
_ID, _RUN, _VERSION = 0, 1, 2
"""Fields of `_odd` (key `row * 3 + field`)."""
_TEXT = 33
_ODD = 255
_fromhex = bytes.fromhex


def micros(time: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch: exact, and ordered alike."""
    d = time - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def from_micros(us: int) -> datetime:
    """The UTC datetime of `micros`."""
    return _EPOCH + _US * us


def pack_id(value: str) -> bytes | None:
    """16 bytes for a 32-character lowercase hex id, else None (kept as text instead)."""
    try:
        raw = _fromhex(value)
    except ValueError:
        return None
    # 16 bytes from 32 characters: no spaces; equal hex: no uppercase. It unpacks exactly.
    return raw if len(raw) == 16 and raw.hex() == value else None


_RUNS: dict[str | None, tuple[int, bytes]] = {None: (0, b"")}
"""Run id -> (flag, packed): a run materializes many partitions. Bounded (see below)."""


def _pack_run(run_id: str | None) -> tuple[int, bytes]:
    if run_id is None:
        return 0, b""
    packed = pack_id(run_id)
    entry = (_RUN_ODD, b"") if packed is None else (_RUN_PACKED, packed)
    if len(_RUNS) >= 4096:
        _RUNS.clear()
        _RUNS[None] = (0, b"")
    _RUNS[run_id] = entry
    return entry


def pack_version(value: str) -> tuple[int, bytes]:
    """(code, up to 32 bytes) for a data version; code 255 when it fits nowhere.

    Up to 32 ASCII characters are kept as they are (the common 16-character versions);
    longer lowercase hex (sha256 hexdigests) is packed two characters a byte.
    """
    size = len(value)
    if size <= 32 and value.isascii():
        return _TEXT + size, value.encode()
    if size <= 64 and not size & 1:
        try:
            raw = _fromhex(value)
        except ValueError:
            pass
        else:
            if raw.hex() == value:
                return len(raw), raw
    data = value.encode("utf-8", "surrogatepass")
    return (_TEXT + len(data), data) if len(data) <= 32 else (_ODD, b"")


# The frozen dataclass's generated __init__ sets each field through object.__setattr__
# (~2 us for five fields); `get` builds one per call, so `_materialization` sets the
# slots directly (the same fields, no __post_init__ to skip).
_new = object.__new__
_SET_REF = tuple(
    getattr(MaterializationRef, name).__set__
    for name in ("event_id", "data_version", "time", "run_id", "source")
)


class AssetPartitions(Mapping[str | None, PartitionState]):
    """The partitions of one asset: partition key -> `PartitionState` (built on demand)."""

    __slots__ = ("_attempts", "_index", "_odd", "_records", "_times")

    def __init__(self) -> None:
        self._index = KeyIndex()
        self._times = array("q")
        self._records = bytearray()
        self._odd: dict[int, str] = {}
        self._attempts: dict[int, LastAttempt] = {}

    # -- the fold ----------------------------------------------------------------------

    def materialize(self, event: AssetMaterialized) -> None:
        """Fold a materialization: it wins if it is the newest by (time, event id)."""
        d = event.time - _EPOCH  # micros(), inlined: this is the fold's hot path
        us = (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
        row = self._index.add(event.partition_key)
        times = self._times
        new = row == len(times)
        if not new:
            at = _WIDTH * row
            flag = self._records[at]
            if flag & _MATERIALIZED and self._compare(row, us, event.event_id) <= 0:
                self._settle(row, event)
                return
            if flag & (_ID_ODD | _RUN_ODD) or self._records[at + 1] == _ODD:
                for field in (_ID, _RUN, _VERSION):
                    self._odd.pop(3 * row + field, None)
        event_id = event.event_id
        flag = _MATERIALIZED if event.source == "executed" else _MATERIALIZED | _REPORTED
        try:
            packed = _fromhex(event_id)
        except ValueError:
            packed = b""
        if len(packed) != 16 or packed.hex() != event_id:  # see pack_id
            flag |= _ID_ODD
            self._odd[3 * row + _ID] = event_id
            packed = b""
        run_id = event.run_id
        run_flag, run = _RUNS.get(run_id) or _pack_run(run_id)
        if run_flag == _RUN_ODD and run_id is not None:
            self._odd[3 * row + _RUN] = run_id
        version = event.data_version
        if len(version) <= 32 and version.isascii():
            code, slot = _TEXT + len(version), version.encode()
        else:
            code, slot = pack_version(version)
            if code == _ODD:
                self._odd[3 * row + _VERSION] = version
        if new:
            times.append(us)
            self._records += _RECORD.pack(flag | run_flag, code, packed, run, slot)
        else:
            times[row] = us
            _RECORD.pack_into(self._records, _WIDTH * row, flag | run_flag, code, packed, run, slot)
            self._settle(row, event)

    def _settle(self, row: int, event: AssetMaterialized) -> None:
        """Drop the row's attempt if this materialization ends or outdates it."""
        attempt = self._attempts.get(row) if self._attempts else None
        if attempt is not None and (
            attempt.work_item_id == event.work_item_id
            or not (attempt.time, attempt.event_id) > (event.time, event.event_id)
        ):
            del self._attempts[row]

    def attempt(self, event: PartitionStarted | PartitionFailed) -> None:
        """Fold a start or failure: kept if newer than the materialization and attempt."""
        row = self._index.add(event.partition_key)
        if row == len(self._times):
            self._times.append(_NO_TIME)
            self._records += _EMPTY
        else:
            if (
                self._records[_WIDTH * row] & _MATERIALIZED
                and self._compare(row, micros(event.time), event.event_id) < 0
            ):
                return
            a = self._attempts.get(row)
            if a is not None and not (event.time, event.event_id) > (a.time, a.event_id):
                return
        if isinstance(event, PartitionStarted):
            self._attempts[row] = LastAttempt(
                "in_progress", event.event_id, event.time, event.run_id, event.work_item_id
            )
        else:
            self._attempts[row] = LastAttempt(
                "failed",
                event.event_id,
                event.time,
                event.run_id,
                event.work_item_id,
                event.error_type,
                event.message,
            )

    def _compare(self, row: int, us: int, event_id: str) -> int:
        """-1, 0 or 1: (us, event_id) against the row's materialization."""
        stored = self._times[row]
        if us != stored:
            return 1 if us > stored else -1
        current = self._event_id(row)
        return (event_id > current) - (event_id < current)

    # -- reading one row ---------------------------------------------------------------

    def _event_id(self, row: int) -> str:
        at = _WIDTH * row
        if self._records[at] & _ID_ODD:
            return self._odd[3 * row + _ID]
        return self._records[at + 2 : at + 18].hex()

    def _materialization(self, row: int) -> MaterializationRef | None:
        flag, code, event_id, run, slot = _RECORD.unpack_from(self._records, _WIDTH * row)
        if not flag & _MATERIALIZED:
            return None
        odd = self._odd
        if code < _TEXT:
            version = slot[:code].hex()
        elif code == _ODD:
            version = odd[3 * row + _VERSION]
        else:
            version = decode_key(slot[: code - _TEXT])
        ref: MaterializationRef = _new(MaterializationRef)
        set_id, set_version, set_time, set_run, set_source = _SET_REF
        set_id(ref, odd[3 * row + _ID] if flag & _ID_ODD else event_id.hex())
        set_version(ref, version)
        set_time(ref, _EPOCH + _US * self._times[row])
        set_run(
            ref,
            run.hex() if flag & _RUN_PACKED else odd[3 * row + _RUN] if flag & _RUN_ODD else None,
        )
        set_source(ref, "reported" if flag & _REPORTED else "executed")
        return ref

    def state(self, key: str | None) -> PartitionState | None:
        """The partition's state, or None if nothing is known about it."""
        row = self._index.find(key)
        if row < 0:
            return None
        attempts = self._attempts
        return PartitionState(self._materialization(row), attempts.get(row) if attempts else None)

    # -- Mapping -----------------------------------------------------------------------

    def __getitem__(self, key: str | None) -> PartitionState:
        state = self.state(key)
        if state is None:
            raise KeyError(key)
        return state

    def __contains__(self, key: object) -> bool:
        return (key is None or isinstance(key, str)) and self._index.find(key) >= 0

    def __iter__(self) -> Iterator[str | None]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"AssetPartitions({len(self)} partitions, {len(self._attempts)} attempts)"

    # -- readers' questions, without an object per partition ---------------------------

    def status(self, key: str | None) -> PartitionStatus | None:
        """The partition's status (as `PartitionState.status`), None if unknown."""
        row = self._index.find(key)
        if row < 0:
            return None
        attempt = self._attempts.get(row)
        return "materialized" if attempt is None else attempt.status

    def statuses(self) -> dict[str | None, PartitionStatus]:
        """Every known partition's status: a snapshot (safe to read outside a lock)."""
        result: dict[str | None, PartitionStatus] = dict.fromkeys(self._index, "materialized")
        for row, attempt in self._attempts.items():
            result[self._index.key(row)] = attempt.status
        return result

    def status_counts(self) -> dict[PartitionStatus, int]:
        """How many partitions have each status (every row has one: see `attempt`)."""
        counts: dict[PartitionStatus, int] = {"materialized": len(self) - len(self._attempts)}
        for attempt in self._attempts.values():
            counts[attempt.status] = counts.get(attempt.status, 0) + 1
        return counts

    def latest(self) -> tuple[str | None, MaterializationRef] | None:
        """The newest materialization by (time, event id), with its partition key."""
        if not self._times:
            return None
        newest = max(self._times)
        if newest == _NO_TIME:
            return None
        row = self._times.index(newest)
        best, best_id = row, self._event_id(row)
        while True:  # equal times: the greater event id wins, as in the fold
            try:
                row = self._times.index(newest, row + 1)
            except ValueError:
                break
            if self._event_id(row) > best_id:
                best, best_id = row, self._event_id(row)
        ref = self._materialization(best)
        assert ref is not None
        return self._index.key(best), ref

    def nbytes(self) -> int:
        """Bytes held by the index and row buffers (not the rare side dicts)."""
        return self._index.nbytes() + 8 * len(self._times) + len(self._records)

    # -- pickling (coordinator checkpoints): a few buffers, no object per partition ----

    def __getstate__(self) -> tuple[Any, ...]:
        attempts = {
            row: (a.status, a.event_id, a.time, a.run_id, a.work_item_id, a.error_type, a.message)
            for row, a in self._attempts.items()
        }
        return (self._index, self._times, self._records, self._odd, attempts)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self._index, self._times, self._records, self._odd, attempts = state
        self._attempts = {row: LastAttempt(*a) for row, a in attempts.items()}
