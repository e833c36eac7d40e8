"""The archive store: one small interface over ClickHouse, embedded (chdb) or a server.

The archive is derived state (rule 1): every table can be dropped and rebuilt from the log.
Every table is a `ReplacingMergeTree` whose sorting key identifies one fact, and every query
here is right *before* merges happen too (`FINAL`, `DISTINCT` or duplicate-insensitive
aggregates), so archiving the same records twice changes no answer (rule 5). Values always
travel as query parameters (`{name:Type}`), never spliced into SQL (rule 8).

Backends implement six methods (`execute`, `query`, `query_arrow`, `insert`, `close`,
`location`); everything else derives from them, so one contract suite checks them all.
Absent strings are stored as `''` (ids, keys, partitions): key columns cannot be Nullable.

Records are archived through ClickHouse itself (`PIPELINE`): the sink inserts each record's
bytes with where it was read into a `Null` table, and materialized views parse the JSON once
(`JSONExtract` into one tuple) and fill every table from it. Parsing in Python cost ~10 us a
record and held the GIL; the engine does it in ~2 us, on its own threads.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Self

from conflux.events import InfrastructureError
from conflux.projections.api import LineageLink
from conflux.projections.archive._schema import (
    CHECK_COLUMNS_ADDED,
    EDGE_COLUMNS,
    INGEST,
    INGEST_SETTINGS,
    LINEAGE_DOWN_FILL,
    MEMORY_INDEXES,
    PIPELINE,
    REJECTED_MARK,
    SCHEMA,
    TABLES,
)
from conflux.projections.archive._views import VIEWS

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

Param = str | int | float | bool | datetime | Sequence[str] | Sequence[int] | None
"""A query parameter's value; it is bound to a `{name:Type}` placeholder by the driver."""

Row = tuple[object, ...]
"""One result row: str, int, float, bool, aware `datetime` (UTC) or lists of those."""

READ_ONLY_LIMITS: Mapping[str, int] = {
    "max_execution_time": 30,
    "max_result_rows": 100_000,
    "max_memory_usage": 2_000_000_000,
}
"""Settings of a read-only store (`ArchiveStore.read_only`: what `conflux sql` runs on); a
read-only session cannot change them."""

ARCHIVE_PROJECTION = "archive"
"""The name the archive sink stores its positions under (see `Tracking`)."""


class ArchiveError(InfrastructureError):
    """The archive store refused or failed a statement.

    Attributes:
        backend: `chdb` or `server`.
        location: the chdb folder or the server's address (never its credentials).
    """

    def __init__(self, message: str, *, backend: str, location: str) -> None:
        super().__init__(message)
        self.backend = backend
        self.location = location


class ArchiveUnavailableError(ArchiveError, ConnectionError):
    """The archive could not be reached or opened (server down, chdb folder in use)."""


class RecordsRejectedError(ArchiveError):
    """The engine refused an ingest batch: a record in it does not read as an event.

    Nothing of that batch is stored; the sink validates it record by record and retries.
    """


@dataclass(frozen=True)
class Tracking:
    """The last offset of (topic, partition) that a projection has applied (rule 5).

    Written in the same `ArchiveStore.write` as the rows it covers, after them: a crash in
    between leaves the position behind the rows, and re-applying is idempotent.
    """

    projection: str
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class ArchiveBatch:
    """Rows for several archive tables (Arrow tables by name) and the positions they reach."""

    tables: Mapping[str, pa.Table]
    positions: Sequence[Tracking] = ()
    events: int = 0
    """How many records the rows came from (rejected ones included)."""


@dataclass(frozen=True)
class MaterializationRecord:
    """One archived `AssetMaterialized`, as lineage and audit answers name it."""

    asset_key: str
    partition_key: str | None
    data_version: str
    event_id: str
    time: datetime
    run_id: str | None = None
    source: str = "executed"


@dataclass(frozen=True)
class CheckResultRecord:
    """One archived `AssetCheckEvaluated`: which check, on what, and how it came out."""

    asset_key: str
    partition_key: str | None
    check_name: str
    passed: bool
    severity: str
    blocking: bool
    event_id: str
    time: datetime
    run_id: str | None
    materialization_event_id: str | None
    metadata: str
    """The metadata object's JSON text, as written."""
    error_type: str | None


Direction = Literal["upstream", "downstream"]


class ArchiveStore(ABC):
    """ClickHouse holding the event archive, lineage and positions.

    Callers rely on: `create_schema` is idempotent; `write` is idempotent per event (and
    stores positions after rows); every query answers the same before and after merges; a
    failure leaves as `ArchiveError` (or `ArchiveUnavailableError`). One store per process
    for chdb (its engine is process-wide); a server store may be shared across threads.
    """

    backend: str = ""
    """`chdb` or `server` (for messages and benchmarks)."""

    # -- the six methods a backend implements ------------------------------------------

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the data lives: the chdb folder or the server's address, no credentials."""

    @abstractmethod
    def execute(self, sql: str, params: Mapping[str, Param] | None = None) -> None:
        """Run a statement that returns nothing (DDL, OPTIMIZE, ...)."""

    @abstractmethod
    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> list[Row]:
        """Rows of a query whose values come only from `{name:Type}` parameters."""

    @abstractmethod
    def query_arrow(self, sql: str, params: Mapping[str, Param] | None = None) -> pa.Table:
        """The same, as one Arrow table (large reads: replays, exports, seeding a broker)."""

    @abstractmethod
    def insert(self, table: str, data: pa.Table, settings: Mapping[str, int] | None = None) -> None:
        """Insert Arrow columns into `table` (named like its columns) in one columnar insert.

        `settings` are ClickHouse settings of this insert (names and numbers of our own).
        """

    @abstractmethod
    def close(self) -> None:
        """Release the engine or connection; idempotent."""

    def read_only(self) -> ArchiveStore:
        """A store on the same archive that refuses anything but reading (close it when done).

        Every statement runs with `readonly=1` (no writes, no DDL, no settings changed, no
        table functions reading files or URLs) and `READ_ONLY_LIMITS`.

        Raises:
            NotImplementedError: this backend cannot make one.
            ArchiveUnavailableError: the archive cannot be opened so.
        """
        raise NotImplementedError(f"{type(self).__name__} has no read-only view")

    # -- derived --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create_schema(self) -> None:
        """Create every archive table, the ingest pipeline and the views; safe on every start.

        Pipeline objects of another version (older code) are dropped: they hold no data. An
        archive made before `events` numbered its records is migrated first (see
        `conflux.projections.archive._migrate`).
        """
        from conflux.projections.archive._migrate import migrate_events

        previous = migrate_events(self)
        joined = self._drop_memory_indexes()
        for statement in SCHEMA:
            self.execute(statement)
        if joined:
            self.execute(LINEAGE_DOWN_FILL)
        columns = {
            str(name)
            for (name,) in self.query(
                "SELECT name FROM system.columns"
                " WHERE database = currentDatabase() AND table = 'check_results'"
            )
        }
        for column, kind in CHECK_COLUMNS_ADDED:  # our names and types, no input
            if column not in columns:
                self.execute(f"ALTER TABLE check_results ADD COLUMN IF NOT EXISTS {column} {kind}")
        current = {re.findall(r"EXISTS (\w+)", sql)[0] for sql in PIPELINE}
        stale = self.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
            " AND startsWith(name, 'ingest_') ORDER BY engine = 'Null', name"
        )  # views first: a Null table goes once nothing reads from it
        for (name,) in stale:
            if name not in current:
                self.execute("DROP TABLE IF EXISTS {name:Identifier}", {"name": str(name)})
        for statement in PIPELINE:
            self.execute(statement)
        for statement in VIEWS:
            self.execute(statement)
        if previous is not None:
            from conflux.projections.archive._migrate import renumber

            renumber(self, previous)

    def last_seq(self) -> int:
        """The highest sequence number in `events` (0 when it is empty)."""
        rows = self.query("SELECT seq FROM events ORDER BY seq DESC LIMIT 1")
        return _int(rows[0][0]) if rows else 0

    def _drop_memory_indexes(self) -> bool:
        """Drop the in-memory (Join engine) indexes of an older archive; True if it had them.

        Their pipeline views go with them (they would write into nothing). `lineage_down`
        comes back as a MergeTree table, which `LINEAGE_DOWN_FILL` fills from
        `lineage_edges`; the others have no successor.
        """
        engines = {
            str(name): str(engine)
            for name, engine in self.query(
                "SELECT name, engine FROM system.tables WHERE database = currentDatabase()"
                " AND name IN {names:Array(String)}",
                {"names": ["lineage_down", *MEMORY_INDEXES]},
            )
        }
        if not any(engine == "Join" for engine in engines.values()):
            return False
        writers = self.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
            " AND startsWith(name, 'ingest_') AND engine = 'MaterializedView'"
            " AND (endsWith(name, '_to_lineage_down') OR endsWith(name, '_to_lineage_up')"
            " OR endsWith(name, '_to_latest_materializations'))"
        )
        for (name,) in writers:
            self.execute("DROP TABLE IF EXISTS {name:Identifier}", {"name": str(name)})
        for name, engine in engines.items():
            if engine == "Join":
                self.execute("DROP TABLE IF EXISTS {name:Identifier}", {"name": name})
        return engines.get("lineage_down") == "Join"

    def write(self, batch: ArchiveBatch) -> None:
        """Insert a batch's rows, then its positions (rule 5: rows first, then where to resume).

        Rows are the `INGEST` table (records, stored through the pipeline) and any tables
        given directly by name.

        Raises:
            RecordsRejectedError: the engine refused a record of the ingest table; nothing
                of the batch was stored.
            ArchiveError: an insert failed; the positions were not advanced.
        """
        for table in (INGEST, *TABLES[:-1]):
            data = batch.tables.get(table)
            if data is None or not data.num_rows:
                continue
            try:
                self.insert(table, data, INGEST_SETTINGS if table == INGEST else None)
            except ArchiveError as exc:
                if table == INGEST and REJECTED_MARK in f"{exc} {exc.__cause__}":
                    raise RecordsRejectedError(
                        f"the archive refused a batch of {data.num_rows} records: one of them"
                        " does not read as an event",
                        backend=exc.backend,
                        location=exc.location,
                    ) from exc
                raise
        if batch.positions:
            import pyarrow as pa

            columns = list(zip(*(astuple(t) for t in batch.positions), strict=True))
            types = (pa.string(), pa.string(), pa.uint32(), pa.uint64())
            names = ("projection", "topic", "partition", "offset")
            arrays = [pa.array(c, t) for c, t in zip(columns, types, strict=True)]
            self.insert("positions", pa.Table.from_arrays(arrays, names=names))

    def positions(self, projection: str = ARCHIVE_PROJECTION) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the last offset `projection` has stored as applied."""
        rows = self.query(
            "SELECT topic, partition, max(offset) FROM positions"
            " WHERE `projection` = {projection:String} GROUP BY topic, partition",
            {"projection": projection},
        )
        return {(str(t), _int(p)): _int(o) for t, p, o in rows}

    def resume_offsets(self, projection: str = ARCHIVE_PROJECTION) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the next offset to read: what `EventConsumer` starts from."""
        return {tp: offset + 1 for tp, offset in self.positions(projection).items()}

    def count(self, table: str) -> int:
        """Distinct facts in `table` (duplicates not yet merged away are not counted)."""
        if table not in TABLES:
            raise ValueError(f"unknown archive table {table!r}; tables: {', '.join(TABLES)}")
        if table == "events":  # one row per record archived: an event per topic is one fact
            rows = self.query("SELECT count(DISTINCT event_id, topic) FROM events")
        else:
            rows = self.query("SELECT count() FROM {table:Identifier} FINAL", {"table": table})
        return _int(rows[0][0])

    def materializations(
        self, asset_key: str, partition_key: str | None = None, *, limit: int = 100
    ) -> list[MaterializationRecord]:
        """The newest `limit` materializations of one asset partition, newest first."""
        # No FINAL (it merges on read: 20 ms here); a duplicate row is the same row, and
        # LIMIT 1 BY drops it.
        rows = self.query(
            f"{_MATERIALIZATIONS}"
            " WHERE asset_key = {asset:String} AND partition_key = {partition:String}"
            " ORDER BY time DESC, event_id DESC LIMIT 1 BY event_id LIMIT {limit:UInt32}",
            {"asset": asset_key, "partition": partition_key or "", "limit": limit},
        )
        return [_materialization(row) for row in rows]

    def latest_materialization(
        self, asset_key: str, partition_key: str | None = None
    ) -> MaterializationRecord | None:
        """The newest materialization of one asset partition, by time then event id.

        The same as the first of `materializations(asset_key, partition_key)` (one granule
        of each part of `materializations`: ~10 ms in chdb). The projector answers it from
        its read model instead, when it can.
        """
        rows = self.materializations(asset_key, partition_key, limit=1)
        return rows[0] if rows else None

    def materialization(self, event_id: str) -> MaterializationRecord | None:
        """The materialization with this event id, if it is archived."""
        rows = self.query(
            f"{_MATERIALIZATIONS} WHERE event_id = {{id:String}} LIMIT 1", {"id": event_id}
        )
        return _materialization(rows[0]) if rows else None

    def check_results(
        self,
        asset_key: str,
        partition_key: str | None = None,
        *,
        check_name: str | None = None,
        limit: int = 100,
    ) -> list[CheckResultRecord]:
        """The newest `limit` check results of one asset partition (one check's, or all)."""
        rows = self.query(
            "SELECT asset_key, partition_key, check_name, passed, severity, blocking, event_id,"
            " time, run_id, materialization_event_id, metadata, error_type FROM check_results"
            " WHERE asset_key = {asset:String} AND partition_key = {partition:String}"
            " AND ({check:String} = '' OR check_name = {check:String})"
            " ORDER BY time DESC, event_id DESC LIMIT 1 BY event_id LIMIT {limit:UInt32}",
            {
                "asset": asset_key,
                "partition": partition_key or "",
                "check": check_name or "",
                "limit": limit,
            },
        )
        return [_check_result(row) for row in rows]

    def lineage(
        self, event_id: str, *, direction: Direction = "upstream", depth: int = 5
    ) -> list[LineageLink]:
        """The lineage of one materialization, walked breadth-first up to `depth` hops.

        Upstream: what it read, and what those read, ... (`lineage_edges`, sorted by the
        reading materialization). Downstream: what was built from it, transitively
        (`lineage_down`, the same edges sorted by what was read). Each node is expanded
        once, at the level it was first reached (diamonds are shared, not repeated). Edges
        come level by level, each level sorted by downstream asset, partition and event id,
        then upstream asset and partition.
        """
        if not 1 <= depth <= _MAX_DEPTH:
            raise ValueError(f"depth must be between 1 and {_MAX_DEPTH}, not {depth}")
        up = direction == "upstream"
        return self._walk(event_id, depth, _UP if up else _DOWN, node=3 if up else 7)

    def _walk(
        self, event_id: str, depth: int, sql: tuple[str, str], node: int
    ) -> list[LineageLink]:
        # Narrow hops (ids only: one point lookup in a table sorted by the id, ~2-3 ms in
        # chdb) find the nodes first reached at each level; one wide query then reads every
        # edge out of them. Edges out of a node first reached n - 1 hops away are level n.
        # Every read is of MergeTree tables: nothing of the history is held in memory.
        ids_sql, edges_sql = sql
        level_of = {event_id: 1}
        frontier = [event_id]
        for level in range(2, depth + 1):
            reached = self.query(ids_sql, {"ids": frontier})
            frontier = [str(i) for (i,) in reached if i and str(i) not in level_of]
            if not frontier:
                break
            level_of.update(dict.fromkeys(frontier, level))
        rows = self.query(edges_sql, {"ids": list(level_of)})
        rows.sort(
            key=lambda r: (
                level_of[str(r[node])],
                str(r[0]),
                str(r[1]),
                str(r[3]),
                str(r[4]),
                str(r[5]),
            )
        )
        return [_edge(level_of[str(row[node])], row) for row in rows]

    def history(
        self, asset_key: str, partition_key: str | None = None, *, limit: int = 1000
    ) -> list[Row]:
        """The archived events about one asset partition (by key), oldest first.

        Rows are (time, type, event_id, topic, offset, run_id, payload). An event stored
        twice (on two topics, or at two offsets) shows once: its earliest copy.
        """
        return self.query(
            "SELECT time, type, event_id, topic, offset, run_id, payload FROM ("
            " SELECT * FROM events WHERE seq IN (SELECT seq FROM partition_events"
            " WHERE asset_key = {asset:String} AND partition_key = {partition:String})"
            " ORDER BY event_id, offset, seq LIMIT 1 BY event_id)"
            " ORDER BY time, seq LIMIT {limit:UInt32}",
            {"asset": asset_key, "partition": partition_key or "", "limit": limit},
        )


_MATERIALIZATIONS = (
    "SELECT asset_key, partition_key, data_version, event_id, time, run_id, source"
    " FROM materializations"
)
_MAX_DEPTH = 32
_UP = (
    "SELECT DISTINCT upstream_event_id FROM lineage_edges"
    " WHERE downstream_event_id IN {ids:Array(String)}",
    f"SELECT DISTINCT {EDGE_COLUMNS} FROM lineage_edges"
    " WHERE downstream_event_id IN {ids:Array(String)}",
)
"""What any of `ids` read (one hop up), once each; then every edge into any of them, whole
(a duplicate row is the same edge)."""
_DOWN = (
    "SELECT DISTINCT downstream_event_id FROM lineage_down"
    " WHERE upstream_event_id IN {ids:Array(String)}",
    f"SELECT DISTINCT {EDGE_COLUMNS} FROM lineage_down"
    " WHERE upstream_event_id IN {ids:Array(String)}",
)
"""What was built from any of `ids` (one hop down), once each; then every edge out of any
of them, whole."""


def _int(value: object) -> int:
    return value if isinstance(value, int) else int(str(value))


def _opt(value: object) -> str | None:
    return str(value) if value else None


def _materialization(row: Row) -> MaterializationRecord:
    asset, partition, version, event_id, time, run_id, source = row
    assert isinstance(time, datetime)
    return MaterializationRecord(
        str(asset), _opt(partition), str(version), str(event_id), time, _opt(run_id), str(source)
    )


def _check_result(row: Row) -> CheckResultRecord:
    asset, partition, name, passed, severity, blocking, event_id, time, run_id = row[:9]
    mat_id, metadata, error_type = row[9:]
    assert isinstance(time, datetime)
    return CheckResultRecord(
        str(asset),
        _opt(partition),
        str(name),
        bool(passed),
        str(severity),
        bool(blocking),
        str(event_id),
        time,
        _opt(run_id),
        _opt(mat_id),
        str(metadata),
        _opt(error_type),
    )


def _edge(depth: int, row: Row) -> LineageLink:
    d_asset, d_part, d_version, d_id, u_asset, u_part, u_version, u_id, time = row
    if isinstance(time, str):  # inside a tuple, chdb's JSON leaves DateTime64 as text
        time = datetime.fromisoformat(time)
    assert isinstance(time, datetime)
    if time.tzinfo is None:  # inside a tuple, drivers drop the column's zone (UTC)
        time = time.replace(tzinfo=UTC)
    return LineageLink.model_construct(  # trusted: typed columns of the archive
        depth=depth,
        downstream_asset=str(d_asset),
        downstream_partition=_opt(d_part),
        downstream_data_version=str(d_version),
        downstream_event_id=str(d_id),
        upstream_asset=str(u_asset),
        upstream_partition=_opt(u_part),
        upstream_data_version=_opt(u_version),
        upstream_event_id=_opt(u_id),
        time=time,
    )
