"""Records to archive rows, and the sink that writes them in batches with their positions.

The archive path decodes each record once (`pydantic_core.from_json`, no event model) and
fills Arrow columns for every table straight from the decoded JSON: models cost ~50 us an
event, the whole row building here ~5 us. Records reach the archive already validated by
the consumer (rule 2); a batch that holds something else (not JSON, a missing field, a
wrong type) is rebuilt once with full validation, and the records that fail it are
rejected, counted and skipped instead of stopping the archive.

The raw payload is stored as it was written, with its own schema version (rule 6);
typed tables (materializations, runs, lineage) are filled from the upcast form.
"""

from __future__ import annotations

import logging
import time
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
_SCHEMAS = {
    "events": pa.schema(
        [
            ("event_id", _STR),
            ("type", _STR),
            ("time", _TS),
            ("key", _STR),
            ("topic", _STR),
            ("partition", pa.uint32()),
            ("offset", pa.uint64()),
            ("schema_version", pa.uint16()),
            ("payload", pa.binary()),
            ("run_id", _STR),
            ("asset_key", _STR),
            ("partition_key", _STR),
        ]
    ),
    "materializations": pa.schema(
        [
            ("asset_key", _STR),
            ("partition_key", _STR),
            ("data_version", _STR),
            ("source", _STR),
            ("run_id", _STR),
            ("event_id", _STR),
            ("time", _TS),
            ("code_version", _STR),
            ("metadata", pa.binary()),
            ("work_item_id", _STR),
            ("worker_id", _STR),
            ("attempt", pa.uint16()),
        ]
    ),
    "runs": pa.schema(
        [
            ("run_id", _STR),
            ("event_id", _STR),
            ("type", _STR),
            ("status", _STR),
            ("time", _TS),
            ("asset_keys", pa.list_(_STR)),
            ("partition_count", pa.uint32()),
            ("trigger", _STR),
            ("requested_by", _STR),
            ("selection", _STR),
            ("materialized", pa.uint32()),
            ("failed", pa.uint32()),
            ("skipped", pa.uint32()),
            ("reason", _STR),
        ]
    ),
    "lineage_edges": pa.schema(
        [
            ("downstream_asset", _STR),
            ("downstream_partition", _STR),
            ("downstream_data_version", _STR),
            ("downstream_event_id", _STR),
            ("upstream_asset", _STR),
            ("upstream_partition", _STR),
            ("upstream_data_version", _STR),
            ("upstream_event_id", _STR),
            ("time", _TS),
        ]
    ),
}
"""Arrow schema of each table the builder fills (`time` columns are taken from events')."""

_WORK_ITEM_TYPES = frozenset({"WorkItemDispatched", "WorkItemSkipped"})
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
    # The consumer kept the model, not the bytes: re-encoding stores the upcast form.
    return RawRecord(
        encode_event(record.event), record.topic, record.partition, record.offset, record.key
    )


def _build(
    raws: list[RawRecord], projection: str, *, validate: bool
) -> tuple[ArchiveBatch, list[Rejected]]:
    ev: dict[str, list[Any]] = {name: [] for name in _SCHEMAS["events"].names}
    mat: dict[str, list[Any]] = {name: [] for name in _SCHEMAS["materializations"].names}
    run: dict[str, list[Any]] = {name: [] for name in _SCHEMAS["runs"].names}
    edge: dict[str, list[Any]] = {name: [] for name in _SCHEMAS["lineage_edges"].names}
    mat_rows: list[int] = []
    run_rows: list[int] = []
    edge_rows: list[int] = []
    rejected: list[Rejected] = []
    reached: dict[tuple[str, int], int] = {}
    (e_id, e_type, e_time, e_key, e_topic, e_part, e_off, e_ver, e_pay, e_run, e_asset,
     e_pkey) = ev.values()  # fmt: skip
    upcasting = bool(UPCASTERS)
    for raw in raws:
        where = (raw.topic, raw.partition)
        if reached.get(where, -1) < raw.offset:
            reached[where] = raw.offset
        checked: Event | None = None
        if validate:
            result = _validated(raw.value)
            if isinstance(result, str):
                rejected.append(Rejected(raw.topic, raw.partition, raw.offset, result))
                continue
            checked = result
        d = from_json(raw.value)
        if type(d) is not dict:
            raise _Retry("not a JSON object")
        typ = d["type"]
        if typ not in EVENT_TYPES:
            raise _Retry(f"unknown event type {typ!r}")
        version = d.get("schema_version", 1)
        if upcasting:
            d = upcast(d)
        row = len(e_id)
        event_id = d["event_id"]
        e_id.append(event_id)
        e_type.append(typ)
        e_time.append(d["time"] if checked is None else checked.time.isoformat())
        e_key.append(raw.key or "")
        e_topic.append(raw.topic)
        e_part.append(raw.partition)
        e_off.append(raw.offset)
        e_ver.append(version)
        e_pay.append(raw.value)
        run_id = d.get("run_id") or d.get("correlation_id") or ""
        e_run.append(run_id)
        asset = d.get("asset_key")
        if asset is None and typ in _WORK_ITEM_TYPES:
            asset = d["asset_keys"][0] if d["asset_keys"] else ""
        e_asset.append(asset or "")
        partition = d.get("partition_key") or ""
        e_pkey.append(partition)
        if typ == "AssetMaterialized":
            _materialization(mat, edge, edge_rows, d, row, asset, partition, run_id)
            mat_rows.append(row)
        elif typ in _RUN_STATUS or typ == "RunCompleted":
            _run(run, d, typ)
            run_rows.append(row)
    times = pa.array(e_time, _STR).cast(_TS)
    ev["time"] = times
    tables = {"events": pa.table(ev, schema=_SCHEMAS["events"])}
    for name, columns, rows in (
        ("materializations", mat, mat_rows),
        ("runs", run, run_rows),
        ("lineage_edges", edge, edge_rows),
    ):
        if rows:
            columns["time"] = times.take(pa.array(rows, pa.int64()))
            tables[name] = pa.table(columns, schema=_SCHEMAS[name])
    positions = tuple(Tracking(projection, t, p, o) for (t, p), o in reached.items())
    return ArchiveBatch(tables, positions, events=len(raws)), rejected


def _materialization(
    mat: dict[str, list[Any]],
    edge: dict[str, list[Any]],
    edge_rows: list[int],
    d: dict[str, Any],
    row: int,
    asset: str,
    partition: str,
    run_id: str,
) -> None:
    event_id = d["event_id"]
    version = d["data_version"]
    mat["asset_key"].append(asset)
    mat["partition_key"].append(partition)
    mat["data_version"].append(version)
    mat["source"].append(d.get("source", "executed"))
    mat["run_id"].append(run_id)
    mat["event_id"].append(event_id)
    mat["code_version"].append(d.get("code_version") or "")
    metadata = d.get("metadata")
    mat["metadata"].append(to_json(metadata) if metadata else _EMPTY_JSON)
    mat["work_item_id"].append(d.get("work_item_id") or "")
    mat["worker_id"].append(d.get("worker_id") or "")
    mat["attempt"].append(d.get("attempt") or 0)
    for ref in d.get("upstream") or ():
        edge["downstream_asset"].append(asset)
        edge["downstream_partition"].append(partition)
        edge["downstream_data_version"].append(version)
        edge["downstream_event_id"].append(event_id)
        edge["upstream_asset"].append(ref["asset_key"])
        edge["upstream_partition"].append(ref.get("partition_key") or "")
        edge["upstream_data_version"].append(ref.get("data_version") or "")
        edge["upstream_event_id"].append(ref.get("event_id") or "")
        edge_rows.append(row)


def _run(run: dict[str, list[Any]], d: dict[str, Any], typ: str) -> None:
    run["run_id"].append(d["run_id"])
    run["event_id"].append(d["event_id"])
    run["type"].append(typ)
    run["status"].append(_RUN_STATUS.get(typ) or d["status"])
    run["asset_keys"].append(d.get("asset_keys") or [])
    run["partition_count"].append(d.get("partition_count") or 0)
    run["trigger"].append(d.get("trigger") or "")
    run["requested_by"].append(d.get("requested_by") or "")
    run["selection"].append(d.get("selection") or "")
    run["materialized"].append(d.get("materialized") or 0)
    run["failed"].append(d.get("failed") or 0)
    run["skipped"].append(d.get("skipped") or 0)
    run["reason"].append(d.get("reason") or "")


def _validated(value: bytes) -> Event | str:
    """The event, or why it is not one (its time, normalised, feeds the slow path)."""
    try:
        return decode_event(value)
    except EventValidationError as exc:
        return exc.reason


class ArchiveSink:
    """Batches records into the archive; each flush stores rows and positions together.

    Callers rely on: `add` never writes more than `batch_size` records at once and writes
    when the oldest pending record has waited `flush_interval_s` (call `add([])` or
    `flush()` when idle); records at or below the stored position are skipped, so a
    restart resumes where the last flush ended (rule 5) and a replay of archived records
    costs nothing; `close` flushes. Not thread-safe: one sink per consuming thread.
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
        self.archived = 0
        """Records written by this sink (rejected ones included)."""
        self.rejected: list[Rejected] = []
        """The last 100 records rejected (not valid events); `rejected_count` counts all."""
        self.rejected_count = 0

    @property
    def positions(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the last offset flushed to the store."""
        return dict(self._positions)

    def add(self, records: Iterable[RawRecord | ConsumedEvent]) -> int:
        """Queue `records`; write full batches, and the rest once it is due.

        Returns:
            How many records were written to the store by this call.
        """
        done = self._positions
        for record in records:
            if record.offset <= done.get((record.topic, record.partition), -1):
                continue
            self._pending.append(record)
            if self._since is None:
                self._since = self._clock()
        written = 0
        while len(self._pending) >= self.batch_size:
            written += self._write(self._pending[: self.batch_size])
            self._pending = self._pending[self.batch_size :]
        if not self._pending:
            self._since = None
        elif self._since is not None and self._clock() - self._since >= self.flush_interval_s:
            written += self.flush()
        return written

    def flush(self) -> int:
        """Write everything pending now; returns how many records were written."""
        written = 0
        while self._pending:
            written += self._write(self._pending[: self.batch_size])
            self._pending = self._pending[self.batch_size :]
        self._since = None
        return written

    def close(self) -> None:
        """Flush; the store stays open (its owner closes it)."""
        self.flush()

    def _write(self, records: list[RawRecord | ConsumedEvent]) -> int:
        batch, rejected = build_batch(records, projection=self.projection)
        self.store.write(batch)
        for tracking in batch.positions:
            where = (tracking.topic, tracking.partition)
            if self._positions.get(where, -1) < tracking.offset:
                self._positions[where] = tracking.offset
        if rejected:
            self.rejected_count += len(rejected)
            self.rejected = [*self.rejected, *rejected][-100:]
            _log.warning("archive skipped %d invalid records: %s", len(rejected), rejected[0])
        self.archived += len(records)
        return len(records)
