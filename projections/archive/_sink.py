"""Records to the archive's ingest table, and the sink that writes them in batches.

Python does not parse records on the way into the archive: a batch is the records' bytes as
written plus where they were read (topic, partition, offset, key), as Arrow columns, and
ClickHouse's ingest pipeline (`_store.PIPELINE`) parses each document once and fills every
table. Parsing and building column lists here cost ~10 us a record and held the GIL; the
engine does it in ~2 us, on its own threads, and this side costs ~1 us.

Python still reads the few records that need upcasting (rule 6: an older schema version
with a registered upcaster): they are found by a byte search for the names of the types
that have upcasters, parsed, upcast, and sent with their upcast JSON as `body`. The raw
payload is stored as it was written, with its own schema version; typed tables (runs,
materializations, lineage) are filled from the upcast form.

Records reach the archive already validated by the consumer (rule 2). The engine checks
that each document reads as an event (JSON object, known type, id, time, the keys its table
needs) and refuses the whole batch otherwise; the sink then validates that batch record by
record with the event models, and the records that fail are rejected, counted and skipped
(with their positions) instead of stopping the archive.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa  # type: ignore[import-untyped]
from pydantic_core import from_json, to_json

from conflux.events import (
    UPCASTERS,
    EpochFence,
    EventValidationError,
    decode_event,
    encode_event,
    may_need_upcasting,
    upcast,
)
from conflux.projections.archive._schema import INGEST
from conflux.projections.archive._store import (
    ARCHIVE_PROJECTION,
    ArchiveBatch,
    RecordsRejectedError,
    Tracking,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from conflux.events import ConsumedEvent
    from conflux.projections.archive._store import ArchiveStore

__all__ = ["ArchiveSink", "RawRecord", "Rejected", "build_batch"]

_log = logging.getLogger("conflux.archive")

INGEST_SCHEMA = pa.schema(
    [
        ("payload", pa.binary()),
        ("body", pa.binary()),
        ("schema_version", pa.uint16()),
        ("key", pa.string()),
        ("topic", pa.string()),
        ("partition", pa.uint32()),
        ("offset", pa.uint64()),
        ("seq", pa.uint64()),
    ]
)
"""The ingest table's columns; `body` and `schema_version` only for upcast records (the
engine reads the payload and its version when `body` is empty); `seq` numbers records in
the order they are archived (see the `events` table)."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record as read from the log: its value's bytes and where it was read from."""

    value: bytes
    topic: str
    partition: int
    offset: int
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record the archive skipped, and why (it is on the dead-letter topic already)."""

    topic: str
    partition: int
    offset: int
    reason: str


class _Unreadable(Exception):
    """A record that needs upcasting could not be upcast: validate the batch instead."""


def build_batch(
    records: Iterable[RawRecord | ConsumedEvent],
    *,
    projection: str = ARCHIVE_PROJECTION,
    validate: bool = False,
    first_seq: int = 1,
) -> tuple[ArchiveBatch, list[Rejected]]:
    """The ingest rows for `records`, with the positions they reach, and what was rejected.

    Without `validate`, nothing is checked here (the engine checks each record when the
    batch is written, see `RecordsRejectedError`) and nothing is rejected. With it, each
    record is validated with the event models first: invalid ones are rejected with the
    reason, valid ones go with their validated JSON as `body`, so the engine reads exactly
    what the models accepted. Positions cover rejected records too: they are skipped, not
    retried. The n-th record gets the sequence number `first_seq + n` (a rejected one's
    number is not given to another).
    """
    raws = list(records)
    values = [r.value or _encoded(r) for r in raws]
    try:
        return _build(raws, values, projection, first_seq, validate=validate)
    except _Unreadable as exc:
        _log.info("archive batch holds a record that cannot be upcast (%s); validating", exc)
        return _build(raws, values, projection, first_seq, validate=True)


def _encoded(record: RawRecord | ConsumedEvent) -> bytes:
    # A hand-made ConsumedEvent without the bytes it was read from is stored re-encoded
    # (in its upcast form).
    event = getattr(record, "event", None)
    return encode_event(event) if event is not None else record.value


def _build(
    raws: Sequence[RawRecord | ConsumedEvent],
    values: list[bytes],
    projection: str,
    first_seq: int,
    *,
    validate: bool,
) -> tuple[ArchiveBatch, list[Rejected]]:
    rejected: list[Rejected] = []
    bodies: dict[int, bytes] = {}
    versions: dict[int, int] = {}
    keep = list(range(len(raws)))
    if validate:
        keep = []
        for i, value in enumerate(values):
            checked = _validated(value)
            if isinstance(checked, str):
                raw = raws[i]
                rejected.append(Rejected(raw.topic, raw.partition, raw.offset, checked))
                continue
            keep.append(i)
            bodies[i] = encode_event(checked)
            versions[i] = _version(value)
    elif UPCASTERS:
        _upcast_bodies(values, bodies, versions)
    count = len(raws)
    positions = _positions(raws, projection) if validate else ()
    seqs: Sequence[int] = range(first_seq, first_seq + count)
    if len(keep) < count:
        seqs = [first_seq + i for i in keep]
        raws = [raws[i] for i in keep]
        values = [values[i] for i in keep]
        bodies = {n: bodies[i] for n, i in enumerate(keep) if i in bodies}
        versions = {n: versions[i] for n, i in enumerate(keep) if i in versions}
    columns: dict[str, Any] = {
        "payload": values,
        "key": [r.key or "" for r in raws],
        "topic": [r.topic for r in raws],
        "partition": [r.partition for r in raws],
        "offset": [r.offset for r in raws],
        "seq": seqs,
    }
    if bodies:
        columns["body"] = [bodies.get(i, b"") for i in range(len(raws))]
        columns["schema_version"] = [versions.get(i) for i in range(len(raws))]
    schema = pa.schema([f for f in INGEST_SCHEMA if f.name in columns])
    table = pa.Table.from_pydict({f.name: columns[f.name] for f in schema}, schema=schema)
    tables = {INGEST: table} if table.num_rows else {}
    if not validate:  # the highest offset of each (topic, partition), computed by Arrow
        positions = _top_offsets(table, projection)
    return ArchiveBatch(tables, positions, events=count), rejected


def _upcast_bodies(values: list[bytes], bodies: dict[int, bytes], versions: dict[int, int]) -> None:
    """Fill `bodies` (upcast JSON) and `versions` (as written) of the records to upcast.

    Only the candidates that a byte search finds (`may_need_upcasting`) are parsed.
    """
    for i, value in enumerate(values):
        if not may_need_upcasting(value):
            continue
        try:
            doc = from_json(value)
        except ValueError:
            continue  # not JSON: the engine refuses it, and validation says why
        if not isinstance(doc, dict):
            continue
        version = doc.get("schema_version", 1)
        if (doc.get("type"), version) not in UPCASTERS:
            continue
        try:
            bodies[i] = to_json(upcast(doc))
        except Exception as exc:  # an upcaster met a record it cannot lift
            raise _Unreadable(f"{doc.get('type')} v{version}: {exc!r}") from exc
        versions[i] = version


def _version(value: bytes) -> int:
    """The schema version a (valid) record was written with, before upcasting."""
    version = json.loads(value).get("schema_version", 1)  # reads all that validation read
    return version if isinstance(version, int) else 1


def _top_offsets(table: pa.Table, projection: str) -> tuple[Tracking, ...]:
    """The highest offset of each (topic, partition) in `table`, computed by Arrow."""
    if not table.num_rows:
        return ()
    top = table.group_by(["topic", "partition"], use_threads=False)
    top = top.aggregate([("offset", "max")]).to_pydict()
    return tuple(
        Tracking(projection, t, p, o)
        for t, p, o in zip(top["topic"], top["partition"], top["offset_max"], strict=True)
    )


def _positions(raws: Iterable[RawRecord | ConsumedEvent], projection: str) -> tuple[Tracking, ...]:
    reached: dict[tuple[str, int], int] = {}
    for raw in raws:
        where = (raw.topic, raw.partition)
        if reached.get(where, -1) < raw.offset:
            reached[where] = raw.offset
    return tuple(Tracking(projection, t, p, o) for (t, p), o in reached.items())


def _validated(value: bytes) -> Any:
    """The event, or why it is not one."""
    try:
        return decode_event(value)
    except EventValidationError as exc:
        return exc.reason


def stored_marks(store: ArchiveStore) -> EpochFence:
    """A fence that knows every leadership epoch mark the archive holds.

    Marks are few (one per partition a new leader writes to) and always archived, at the
    topic partition they were read from.
    """
    fence = EpochFence()
    rows = store.query("SELECT topic, partition, payload FROM events WHERE type = 'EpochMarked'")
    for topic, partition, payload in rows:
        text = payload.decode() if isinstance(payload, bytes) else str(payload)
        try:
            event = decode_event(text)
        except EventValidationError:
            continue  # the archive stores events only; nothing to learn from another
        fence.admit(event, str(topic), int(str(partition)))
    return fence


@dataclass(frozen=True, slots=True)
class _Written:
    """What the writer thread stored of one hand-over."""

    batch: ArchiveBatch
    rejected: list[Rejected]
    last_seq: int
    """The sequence number of the hand-over's last record."""


_R = TypeVar("_R", "RawRecord", "ConsumedEvent")


class ArchiveSink:
    """Batches records into the archive; each write stores rows, then their positions.

    Batches are built on the caller's thread (cheap: no parsing) and written by one writer
    thread, so the engine parses and stores one batch while the next one gathers (chdb
    releases the GIL).

    Callers rely on: `add` hands over full batches of `batch_size` records, and the rest
    once the oldest pending record has waited `flush_interval_s` (call `add([])` when idle);
    `flush` returns once everything added is stored, with its positions; records at or
    below a stored position are skipped, so a restart resumes where the last write ended
    (rule 5); a batch with records that are not events is validated record by record, and
    those are skipped and counted in `rejected_count`; an error of the writer is raised by
    the next `add`, `flush` or `close`. Records are numbered in the order `add` takes them,
    after the highest number the archive holds (`seq`: what history readers follow); the
    numbers of what `add` took are final even before they are stored. Not thread-safe: one
    sink per consuming thread, except `request_flush`, `assigned_seq` and `stored_seq`,
    which readers on other threads use to wait for what was read; `close` flushes and
    stops the writer.
    """

    def __init__(
        self,
        store: ArchiveStore,
        *,
        batch_size: int = 100_000,
        flush_interval_s: float = 0.5,
        projection: str = ARCHIVE_PROJECTION,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Load the stored positions of `projection`; the store's schema must exist.

        `batch_size`: each batch is one insert, and every insert writes one part per table
        (about 8 ms of file creation, whatever its size) that background merges rewrite
        later: 100,000 records a batch while catching up (~70 MB of payloads in flight)
        were ~10% faster than 50,000 over a million events; live, the flush interval
        decides (a few records a batch).
        """
        self.store = store
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.projection = projection
        self._clock = clock
        self._pending: list[RawRecord | ConsumedEvent] = []
        self._since: float | None = None
        self._positions = store.positions(projection)
        self.assigned_seq = store.last_seq()
        """The number of the last record `add` took."""
        self.stored_seq = self.assigned_seq
        """The number of the last record stored (every record up to it is stored)."""
        self._pending_seq = self.assigned_seq + 1
        """The number of `_pending[0]`."""
        self._flush_now = False
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="conflux-archive")
        self._inflight: Future[_Written] | None = None
        self.accepted = 0
        """Records taken by `add` (not skipped as already stored)."""
        self.archived = 0
        """Records stored by this sink (rejected ones included)."""
        self.rejected: list[Rejected] = []
        """The last 100 records rejected (not valid events); `rejected_count` counts all."""
        self.rejected_count = 0
        self.fence = stored_marks(store)
        """Per partition, the newest leadership epoch marked: which decisions count. It
        starts from the marks the archive holds: the sink resumes after its stored
        positions, so the marks before them are read from the archive, not the log (which
        may no longer hold them)."""

    @property
    def positions(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the last offset stored (with its rows) in the archive."""
        return dict(self._positions)

    def add(self, records: Iterable[_R]) -> tuple[int, list[_R]]:
        """Queue `records`; hand full batches to the writer, and the rest once it is due.

        Returns the records taken (those not stored already), numbered from the returned
        sequence number on (`take`, then `pump`).

        Raises:
            ArchiveError: the writer failed on an earlier batch (nothing after it is
                stored, and positions stay where the last good write left them).
        """
        taken = self.take(records)
        self.pump()
        return taken

    def take(self, records: Iterable[_R]) -> tuple[int, list[_R]]:
        """Queue `records` and number them, without waiting for anything.

        Returns the records taken (those not stored already), numbered from the returned
        sequence number on. Call `pump` next: it hands batches to the writer, which may
        mean waiting for the batch being written.
        """
        done = self._positions
        fresh = [
            r for r in self._admitted(records) if r.offset > done.get((r.topic, r.partition), -1)
        ]
        first = self.assigned_seq + 1
        if fresh:
            self._pending += fresh
            self.accepted += len(fresh)
            self.assigned_seq += len(fresh)
            if self._since is None:
                self._since = self._clock()
        return first, fresh

    def pump(self) -> None:
        """Hand full batches to the writer, and the rest once due (or asked for).

        Raises:
            ArchiveError: the writer failed on an earlier batch.
        """
        while len(self._pending) >= self.batch_size:
            self._hand_over()
        if self._since is not None and (
            self._flush_now or self._clock() - self._since >= self.flush_interval_s
        ):
            self._flush_now = False
            self._hand_over()
        if self._inflight is not None and self._inflight.done():
            self._settle()

    def _admitted(self, records: Iterable[_R]) -> list[_R]:
        """`records` but the decisions a newer leadership epoch fenced off.

        The archive's tables count decisions (runs, their outcomes), so a decision that
        every fold refuses is not archived either: it stays in the log alone. The fence
        sees every record, the ones already stored too, so that it knows each partition's
        marks (and those stored before this sink started: see `stored_marks`).
        """
        admit = self.fence.admit
        kept: list[_R] = []
        for record in records:
            event = getattr(record, "event", None)
            if event is None and b'"epoch":' in record.value:
                try:
                    event = decode_event(record.value)
                except EventValidationError:
                    event = None  # not an event: the archive refuses it on its own
            if event is None or admit(event, record.topic, record.partition):
                kept.append(record)
        return kept

    def request_flush(self) -> None:
        """Ask the next `add` to hand what it holds to the writer now (from any thread).

        A reader that must see what was read so far calls this, then waits until
        `stored_seq` reaches the `assigned_seq` it saw: a flush interval less of waiting.
        """
        self._flush_now = True

    def flush(self) -> None:
        """Store everything added so far, with its positions; returns when it is stored."""
        while self._pending:
            self._hand_over()
        self._settle()

    def close(self) -> None:
        """Flush and stop the writer thread; the store stays open (its owner closes it)."""
        try:
            self.flush()
        finally:
            self._writer.shutdown(wait=True)

    def _hand_over(self) -> None:
        records = self._pending[: self.batch_size]
        self._pending = self._pending[self.batch_size :]
        first = self._pending_seq
        self._pending_seq += len(records)
        self._since = self._clock() if self._pending else None
        batch, rejected = build_batch(records, projection=self.projection, first_seq=first)
        self._settle()  # one batch in flight: the next is built while it is inserted
        self._inflight = self._writer.submit(self._store, batch, rejected, records, first)

    def _store(
        self,
        batch: ArchiveBatch,
        rejected: list[Rejected],
        records: list[RawRecord | ConsumedEvent],
        first: int,
    ) -> _Written:
        try:
            self.store.write(batch)
        except RecordsRejectedError as exc:
            _log.info("archive batch refused (%s); validating each record", exc)
            batch, rejected = build_batch(
                records, projection=self.projection, validate=True, first_seq=first
            )
            self.store.write(batch)
        return _Written(batch, rejected, first + len(records) - 1)

    def _settle(self) -> None:
        inflight, self._inflight = self._inflight, None
        if inflight is None:
            return
        written = inflight.result()
        if written.rejected:
            self.rejected_count += len(written.rejected)
            self.rejected = [*self.rejected, *written.rejected][-100:]
            _log.warning(
                "archive skipped %d invalid records: %s", len(written.rejected), written.rejected[0]
            )
        for tracking in written.batch.positions:
            where = (tracking.topic, tracking.partition)
            if self._positions.get(where, -1) < tracking.offset:
                self._positions[where] = tracking.offset
        self.archived += written.batch.events
        self.stored_seq = written.last_seq
