"""Records to archive rows, and the sink that writes them in batches with their positions.

The archive path decodes each record once (`pydantic_core.from_json`, no event model) and
fills Arrow columns for every table straight from the decoded JSON: a model costs ~50 us
an event, this whole path ~10 us. Records reach the archive already validated by the
consumer (rule 2); a batch that holds something else (not JSON, a missing field, a wrong
type) is rebuilt once with full validation, and the records that fail it are rejected,
counted and skipped (with their positions) instead of stopping the archive.

The raw payload is stored as it was written, with its own schema version (rule 6);
typed tables (materializations, runs, lineage) are filled from the upcast form.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa  # type: ignore[import-untyped]
from pydantic_core import from_json, to_json

from conflux.events._errors import EventValidationError
from conflux.events._models import EVENT_TYPES
from conflux.events._serde import UPCASTERS, decode_event, encode_event
from conflux.events._serde import _upcast as upcast
from conflux.projections._store import ARCHIVE_PROJECTION, ArchiveBatch, Tracking

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from conflux.events._base import Event
    from conflux.events._kafka import ConsumedEvent
    from conflux.projections._store import ArchiveStore

__all__ = ["ArchiveSink", "RawRecord", "Rejected", "build_batch"]

_log = logging.getLogger("conflux.archive")

_TS = pa.timestamp("us", tz="UTC")
_STR = pa.string()
_NAMED = [("asset", _STR), ("partition", _STR), ("version", _STR)]
_TYPES = {"": _STR, "ts": _TS, "bin": pa.binary(), "u16": pa.uint16(), "u32": pa.uint32(),
          "u64": pa.uint64(), "list": pa.list_(_STR), "node": pa.struct([*_NAMED, ("time", _TS)]),
          "ups": pa.list_(pa.struct([*_NAMED, ("id", _STR)]))}  # fmt: skip


def _schema(spec: str) -> pa.Schema:
    """`name[:type] ...` as an Arrow schema; a name without a type is a string."""
    return pa.schema([(n, _TYPES[t]) for n, _, t in (f.partition(":") for f in spec.split())])


_SCHEMAS = {
    "events": _schema(
        "event_id type time:ts key topic partition:u32 offset:u64 schema_version:u16"
        " payload:bin run_id asset_key partition_key"
    ),
    "materializations": _schema(
        "asset_key partition_key data_version source run_id event_id time:ts code_version"
        " metadata:bin work_item_id worker_id attempt:u16"
    ),
    "runs": _schema(
        "run_id event_id type status time:ts asset_keys:list partition_count:u32 trigger"
        " requested_by selection materialized:u32 failed:u32 skipped:u32 reason"
    ),
    "lineage_up": _schema("id node:node ups:ups"),
    "lineage_edges": _schema(
        "downstream_asset downstream_partition downstream_data_version downstream_event_id"
        " upstream_asset upstream_partition upstream_data_version upstream_event_id time:ts"
    ),
}
"""Arrow schema of each table the builder fills, named and ordered like its columns."""

_RUN_REST: list[tuple[str, object]] = [("asset_keys", [])]
_RUN_REST += [(f.name, 0 if pa.types.is_integer(f.type) else "") for f in _SCHEMAS["runs"]][6:]
"""The runs columns after `time`, with the value an absent field stands for."""
_WORK_TYPES = frozenset({"WorkItemDispatched", "WorkItemSkipped"})
_RUN_TYPES = frozenset({"MaterializationRequested", "RunStarted", "RunCompleted"})
_RUN_STATUS = {"MaterializationRequested": "requested", "RunStarted": "started"}
_EMPTY_JSON = b"{}"


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


def _yield_gil() -> None:
    # Let the writer thread back in: returning from the engine it needs the GIL, and would
    # otherwise wait out a whole switch interval (5 ms) behind this loop, per call.
    time.sleep(0)


class _Retry(Exception):
    """The fast path met a record it cannot read: rebuild the batch with validation."""


def build_batch(
    records: Iterable[RawRecord | ConsumedEvent], *, projection: str = ARCHIVE_PROJECTION
) -> tuple[ArchiveBatch, list[Rejected]]:
    """Archive rows for `records`, with the positions they reach, and what was rejected.

    Positions cover rejected records too: they are skipped, not retried.
    """
    raws = [r if isinstance(r, RawRecord) else _from_consumed(r) for r in records]
    try:
        return _build(raws, projection, validate=False)
    except (_Retry, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        _log.info("archive batch holds an unreadable record (%s); validating each", exc)
        return _build(raws, projection, validate=True)


def _from_consumed(record: ConsumedEvent) -> RawRecord:
    # The bytes as written when the consumer kept them; a hand-made record without them
    # is stored re-encoded (in its upcast form).
    value = record.value or encode_event(record.event)
    return RawRecord(value, record.topic, record.partition, record.offset, record.key)


def _build(
    raws: list[RawRecord], projection: str, *, validate: bool
) -> tuple[ArchiveBatch, list[Rejected]]:
    # One pass that keeps no decoded document: each is read into plain column lists and
    # dropped at once. Keeping 20,000 parsed dicts alive costs more than parsing them.
    rejected: list[Rejected] = []
    count = len(raws)
    positions: tuple[Tracking, ...] = ()
    if validate:  # positions cover rejected records too: they are skipped, not retried
        positions = _positions(raws, projection)
        kept = []
        for raw in raws:
            checked = _validated(raw.value)
            if isinstance(checked, str):
                rejected.append(Rejected(raw.topic, raw.partition, raw.offset, checked))
            else:
                kept.append(raw)
        raws = kept
    ev = _Columns("events")
    mat = _Columns("materializations")
    edge = _Columns("lineage_edges")
    run = _Columns("runs")
    (ids, types, times, _, _, _, _, versions, _, run_ids, assets, partitions) = ev.lists
    upcasting = bool(UPCASTERS)
    known = EVENT_TYPES.keys()
    for row, raw in enumerate(raws):
        if not row & 255:
            _yield_gil()
        d = from_json(raw.value)  # caching repeated values too: fewer str objects
        typ = d["type"]
        versions.append(d.get("schema_version", 1))
        if upcasting:
            d = upcast(d)
        ids.append(d["event_id"])
        types.append(typ)
        times.append(d["time"])
        run_id = d.get("run_id") or d.get("correlation_id") or ""
        run_ids.append(run_id)
        asset = d.get("asset_key")
        if asset is None and typ in _WORK_TYPES:
            asset = d["asset_keys"][0] if d["asset_keys"] else None
        assets.append(asset or "")
        partition = d.get("partition_key") or ""
        partitions.append(partition)
        if typ == "AssetMaterialized":
            _materialization(mat, edge, d, row, partition, run_id)
        elif typ in _RUN_TYPES:
            _run(run, d, typ, row)
        elif typ not in known:
            raise _Retry(f"unknown event type {typ!r}")
    if validate:  # the time pydantic accepted, in a form Arrow parses
        times[:] = [_validated(raw.value).time.isoformat() for raw in raws]  # type: ignore[union-attr]
    time_column = pa.array(times, _STR).cast(_TS)
    ev.arrays.update(
        {
            2: time_column,
            3: [raw.key or "" for raw in raws],
            4: [raw.topic for raw in raws],
            5: [raw.partition for raw in raws],
            6: [raw.offset for raw in raws],
            8: [raw.value for raw in raws],
        }
    )
    tables = {"events": ev.table()}
    if not validate:  # the highest offset of each (topic, partition), computed by Arrow
        top = tables["events"].group_by(["topic", "partition"], use_threads=False)
        top = top.aggregate([("offset", "max")]).to_pydict()
        positions = tuple(
            Tracking(projection, t, p, o)
            for t, p, o in zip(top["topic"], top["partition"], top["offset_max"], strict=True)
        )
    for name, columns, at in (("materializations", mat, 6), ("lineage_edges", edge, 8)):
        if columns.rows:
            columns.arrays[at] = time_column.take(pa.array(columns.rows, pa.int64()))
            tables[name] = columns.table()
    if edge.rows:
        tables["lineage_down"] = tables["lineage_edges"]  # the same rows, hashed by upstream
        tables["lineage_up"] = _lineage_up(tables["lineage_edges"])
    if run.rows:
        run.arrays[4] = time_column.take(pa.array(run.rows, pa.int64()))
        tables["runs"] = run.table()
    return ArchiveBatch(tables, positions, events=count), rejected


def _positions(raws: list[RawRecord], projection: str) -> tuple[Tracking, ...]:
    reached: dict[tuple[str, int], int] = {}
    for raw in raws:
        where = (raw.topic, raw.partition)
        if reached.get(where, -1) < raw.offset:
            reached[where] = raw.offset
    return tuple(Tracking(projection, t, p, o) for (t, p), o in reached.items())


class _Columns:
    """Column lists of one table, and which event row each of its rows came from."""

    def __init__(self, name: str) -> None:
        self.schema = _SCHEMAS[name]
        self.lists: list[list[Any]] = [[] for _ in self.schema.names]
        self.arrays: dict[int, Any] = {}
        self.rows: list[int] = []

    def append(self, row: int, values: tuple[Any, ...]) -> None:
        self.rows.append(row)
        for column, value in zip(self.lists, values, strict=True):
            column.append(value)

    def table(self) -> pa.Table:
        arrays = [self.arrays.get(i, values) for i, values in enumerate(self.lists)]
        return pa.Table.from_arrays(
            [pa.array(a, f.type) for a, f in zip(arrays, self.schema, strict=True)],
            schema=self.schema,
        )


def _materialization(
    mat: _Columns, edge: _Columns, d: dict[str, Any], row: int, partition: str, run_id: str
) -> None:
    asset, event_id, version = d["asset_key"], d["event_id"], d["data_version"]
    meta = d.get("metadata")
    mat.append(row, (asset, partition, version, d.get("source", "executed"), run_id, event_id,
                     None, d.get("code_version") or "", to_json(meta) if meta else _EMPTY_JSON,
                     d.get("work_item_id") or "", d.get("worker_id") or "",
                     d.get("attempt") or 0))  # fmt: skip
    for ref in d.get("upstream") or ():
        edge.append(row, (asset, partition, version, event_id, ref["asset_key"],
                          ref.get("partition_key") or "", ref.get("data_version") or "",
                          ref.get("event_id") or "", None))  # fmt: skip


def _lineage_up(edges: pa.Table) -> pa.Table:
    """One row per downstream materialization: itself, and the list of what it read."""
    names = ["asset", "partition", "version"]
    up = [f"upstream_{n}" for n in ("asset", "partition", "data_version", "event_id")]
    keys = ["downstream_event_id", "downstream_asset", "downstream_partition"]
    keys += ["downstream_data_version", "time"]
    rows = edges.group_by(keys, use_threads=False).aggregate([(c, "list") for c in up])
    lists = [rows.column(f"{c}_list").combine_chunks() for c in up]
    values = pa.StructArray.from_arrays([a.flatten() for a in lists], [*names, "id"])
    node = pa.StructArray.from_arrays([rows.column(c).combine_chunks() for c in keys[1:]],
                                      [*names, "time"])  # fmt: skip
    ups = pa.ListArray.from_arrays(lists[0].offsets, values)
    return pa.Table.from_arrays([rows.column(keys[0]), node, ups], schema=_SCHEMAS["lineage_up"])


def _run(run: _Columns, d: dict[str, Any], typ: str, row: int) -> None:
    status = _RUN_STATUS.get(typ) or d["status"]
    rest = (d.get(name) or default for name, default in _RUN_REST)
    run.append(row, (d["run_id"], d["event_id"], typ, status, None, *rest))


def _validated(value: bytes) -> Event | str:
    """The event, or why it is not one (its time, normalised, feeds the slow path)."""
    try:
        return decode_event(value)
    except EventValidationError as exc:
        return exc.reason


class ArchiveSink:
    """Batches records into the archive; each write stores rows, then their positions.

    Rows are built on the caller's thread and written by one writer thread, so building
    the next batch overlaps the engine's insert of the last (chdb releases the GIL).

    Callers rely on: `add` hands over full batches of `batch_size` records, and the rest
    once the oldest pending record has waited `flush_interval_s` (call `add([])` when idle);
    `flush` returns once everything added is stored, with its positions; records at or
    below a stored position are skipped, so a restart resumes where the last write ended
    (rule 5); an error of the writer is raised by the next `add`, `flush` or `close`.
    Not thread-safe: one sink per consuming thread; `close` flushes and stops the writer.
    """

    def __init__(
        self,
        store: ArchiveStore,
        *,
        batch_size: int = 20_000,
        flush_interval_s: float = 0.5,
        projection: str = ARCHIVE_PROJECTION,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Load the stored positions of `projection`; the store's schema must exist."""
        self.store = store
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.projection = projection
        self._clock = clock
        self._pending: list[RawRecord | ConsumedEvent] = []
        self._since: float | None = None
        self._positions = store.positions(projection)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="conflux-archive")
        self._inflight: Future[ArchiveBatch] | None = None
        self.accepted = 0
        """Records taken by `add` (not skipped as already stored)."""
        self.archived = 0
        """Records stored by this sink (rejected ones included)."""
        self.rejected: list[Rejected] = []
        """The last 100 records rejected (not valid events); `rejected_count` counts all."""
        self.rejected_count = 0

    @property
    def positions(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the last offset stored (with its rows) in the archive."""
        return dict(self._positions)

    def add(self, records: Iterable[RawRecord | ConsumedEvent]) -> None:
        """Queue `records`; hand full batches to the writer, and the rest once it is due.

        Raises:
            ArchiveError: the writer failed on an earlier batch (nothing after it is
                stored, and positions stay where the last good write left them).
        """
        done = self._positions
        for record in records:
            if record.offset <= done.get((record.topic, record.partition), -1):
                continue
            self._pending.append(record)
            self.accepted += 1
            if self._since is None:
                self._since = self._clock()
        while len(self._pending) >= self.batch_size:
            self._hand_over()
        if self._since is not None and self._clock() - self._since >= self.flush_interval_s:
            self._hand_over()
        if self._inflight is not None and self._inflight.done():
            self._settle()

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
        self._since = self._clock() if self._pending else None
        batch, rejected = build_batch(records, projection=self.projection)
        if rejected:
            self.rejected_count += len(rejected)
            self.rejected = [*self.rejected, *rejected][-100:]
            _log.warning("archive skipped %d invalid records: %s", len(rejected), rejected[0])
        self._settle()  # one batch in flight: the next is built while it is inserted
        self._inflight = self._writer.submit(self._store, batch)

    def _store(self, batch: ArchiveBatch) -> ArchiveBatch:
        self.store.write(batch)
        return batch

    def _settle(self) -> None:
        inflight, self._inflight = self._inflight, None
        if inflight is None:
            return
        batch = inflight.result()
        for tracking in batch.positions:
            where = (tracking.topic, tracking.partition)
            if self._positions.get(where, -1) < tracking.offset:
                self._positions[where] = tracking.offset
        self.archived += batch.events
