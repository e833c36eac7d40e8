"""Run logs in the archive: the `run_logs` table, filled from the logs topic, and read back.

The logs topic (`<prefix>.logs`, `LogLinesCaptured` batches) is not part of the event
archive: its records do not go through the ingest pipeline or into `events` (no fold and
no history question reads them, and a chatty asset must not slow the archive's ingest or
its tables). `RunLogWriter` inserts each batch's lines straight into `run_logs`, with its
own position (projection `run_logs`) in `positions` after the rows (rule 5). Rows are
keyed by attempt and line (`ReplacingMergeTree`), so a batch archived twice (at least
once delivery, a restart between rows and positions) is one set of lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conflux.events import LogLinesCaptured
from conflux.projections.archive._store import ArchiveBatch, Tracking

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conflux.events import ConsumedEvent
    from conflux.projections.archive._store import ArchiveStore, Row

__all__ = ["RUN_LOGS_PROJECTION", "RunLogRow", "RunLogWriter", "read_run_logs"]

RUN_LOGS_PROJECTION = "run_logs"
"""The name `run_logs`' positions are stored under."""

RUN_LOGS_SCHEMA: tuple[str, ...] = (
    # One row per line. `archived` is when the projector stored it: the cursor of a reader
    # that follows a run (the worker's `time` can arrive late, a batch at a time).
    """CREATE TABLE IF NOT EXISTS run_logs (
        run_id String, asset_key String, partition_key String, attempt UInt16, seq UInt32,
        time DateTime64(6, 'UTC'), stream LowCardinality(String),
        level LowCardinality(String), message String CODEC(ZSTD(1)),
        work_item_id String, worker_id String,
        archived DateTime64(6, 'UTC') DEFAULT now64(6)
    ) ENGINE = ReplacingMergeTree
    ORDER BY (run_id, work_item_id, attempt, seq)""",
    # Lines past the worker's cap, per attempt (the highest count a batch carried).
    """CREATE TABLE IF NOT EXISTS run_log_drops (
        run_id String, work_item_id String, attempt UInt16, asset_key String,
        partition_key String, dropped UInt32
    ) ENGINE = ReplacingMergeTree(dropped)
    ORDER BY (run_id, work_item_id, attempt)""",
)
"""DDL of the run logs' tables; each statement is idempotent (`IF NOT EXISTS`)."""


@dataclass(frozen=True, slots=True)
class RunLogRow:
    """One archived line (or, with `dropped`, an attempt's count of lines past the cap)."""

    asset_key: str
    partition_key: str | None
    work_item_id: str
    attempt: int
    seq: int
    time: datetime | None
    stream: str
    level: str
    message: str
    archived: datetime | None


class RunLogWriter:
    """Stores `LogLinesCaptured` batches in `run_logs`, then their position."""

    def __init__(self, store: ArchiveStore) -> None:
        """Write into `store` (its tables are created by `create_schema`)."""
        self.store = store
        self.lines = 0
        """Lines stored by this writer."""

    def create_schema(self) -> None:
        """Create the tables (idempotent)."""
        for ddl in RUN_LOGS_SCHEMA:
            self.store.execute(ddl)

    def resume_offsets(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the next offset of the logs topic to read."""
        return self.store.resume_offsets(RUN_LOGS_PROJECTION)

    def write(self, records: Sequence[ConsumedEvent]) -> None:
        """Store the lines of `records` (other events are skipped), then where they end."""
        import pyarrow as pa  # type: ignore[import-untyped]

        cols: dict[str, list[object]] = {name: [] for name in _LINE_COLUMNS}
        drops: dict[str, list[object]] = {name: [] for name in _DROP_COLUMNS}
        ends: dict[tuple[str, int], int] = {}
        for record in records:
            ends[(record.topic, record.partition)] = record.offset
            batch = record.event
            if not isinstance(batch, LogLinesCaptured):
                continue
            partition = batch.partition_key or ""
            n = len(batch.messages)
            for name, value in (
                ("run_id", batch.run_id),
                ("asset_key", batch.asset_key),
                ("partition_key", partition),
                ("attempt", batch.attempt),
                ("work_item_id", batch.work_item_id),
                ("worker_id", batch.worker_id),
            ):
                cols[name] += [value] * n
            cols["seq"] += range(batch.first_seq, batch.first_seq + n)
            cols["time"] += [int(t * 1_000_000) for t in batch.times]
            cols["stream"] += batch.streams
            cols["level"] += batch.levels
            cols["message"] += batch.messages
            if batch.dropped:
                for name, value in (
                    ("run_id", batch.run_id),
                    ("work_item_id", batch.work_item_id),
                    ("attempt", batch.attempt),
                    ("asset_key", batch.asset_key),
                    ("partition_key", partition),
                    ("dropped", batch.dropped),
                ):
                    drops[name].append(value)
        if cols["run_id"]:
            arrays = [pa.array(cols[n], _arrow_type(n)) for n in _LINE_COLUMNS]
            self.store.insert("run_logs", pa.Table.from_arrays(arrays, names=list(_LINE_COLUMNS)))
            self.lines += len(cols["run_id"])
        if drops["run_id"]:
            arrays = [pa.array(drops[n], _arrow_type(n)) for n in _DROP_COLUMNS]
            self.store.insert(
                "run_log_drops", pa.Table.from_arrays(arrays, names=list(_DROP_COLUMNS))
            )
        if ends:
            positions = [Tracking(RUN_LOGS_PROJECTION, t, p, o) for (t, p), o in ends.items()]
            self.store.write(ArchiveBatch(tables={}, positions=positions))


def read_run_logs(
    store: ArchiveStore,
    run_id: str,
    *,
    asset_key: str | None = None,
    partition_key: str | None = None,
    after: datetime | None = None,
    limit: int = 100_000,
) -> tuple[list[RunLogRow], list[RunLogRow]]:
    """A run's lines, each attempt's in order (attempts by their first line), and its drops.

    `after` (an `archived` time) keeps only lines stored after it: what a follower has not
    seen. The drops come back as rows whose `seq` is the count of lines past the cap.
    """
    where = ["run_id = {run:String}"]
    params: dict[str, str | int] = {"run": run_id, "limit": limit}
    if asset_key is not None:
        where.append("asset_key = {asset:String}")
        params["asset"] = asset_key
    if partition_key is not None:
        where.append("partition_key = {partition:String}")
        params["partition"] = partition_key
    cond = " AND ".join(where)
    since = ""
    if after is not None:
        since = " AND archived > parseDateTime64BestEffort({after:String}, 6, 'UTC')"
        params["after"] = after.isoformat()
    # Arrow, not JSON: a run's lines can be many (100,000 read ~5x faster).
    table = store.query_arrow(
        "SELECT asset_key, partition_key, work_item_id, attempt, seq, time, stream, level,"
        " message, archived FROM ("
        " SELECT *, min(time) OVER (PARTITION BY work_item_id, attempt) AS first"
        f" FROM run_logs FINAL WHERE {cond})"
        f" WHERE 1 {since}"
        " ORDER BY first, work_item_id, attempt, seq LIMIT {limit:UInt64}",
        params,
    )
    lines = list(zip(*(table.column(i).to_pylist() for i in range(table.num_columns)), strict=True))
    drops = store.query(
        "SELECT asset_key, partition_key, work_item_id, attempt, max(dropped)"
        f" FROM run_log_drops WHERE {cond}"
        " GROUP BY asset_key, partition_key, work_item_id, attempt",
        {k: v for k, v in params.items() if k in ("run", "asset", "partition")},
    )
    return [_line(r) for r in lines], [_drop(r) for r in drops]


_LINE_COLUMNS = (
    "run_id",
    "asset_key",
    "partition_key",
    "attempt",
    "seq",
    "time",
    "stream",
    "level",
    "message",
    "work_item_id",
    "worker_id",
)
_DROP_COLUMNS = ("run_id", "work_item_id", "attempt", "asset_key", "partition_key", "dropped")


def _arrow_type(name: str) -> object:
    """The Arrow type of an inserted column (pyarrow loads with the first write)."""
    import pyarrow as pa

    match name:
        case "attempt":
            return pa.uint16()
        case "seq" | "dropped":
            return pa.uint32()
        case "time":
            return pa.timestamp("us", tz="UTC")
        case _:
            return pa.string()


def _opt_partition(value: object) -> str | None:
    text = str(value)
    return text or None


def _time(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _line(row: Row) -> RunLogRow:
    asset, partition, item, attempt, seq, at, stream, level, message, archived = row
    return RunLogRow(
        asset_key=str(asset),
        partition_key=_opt_partition(partition),
        work_item_id=str(item),
        attempt=int(str(attempt)),
        seq=int(str(seq)),
        time=_time(at),
        stream=str(stream),
        level=str(level),
        message=str(message),
        archived=_time(archived),
    )


def _drop(row: Row) -> RunLogRow:
    asset, partition, item, attempt, dropped = row
    return RunLogRow(
        asset_key=str(asset),
        partition_key=_opt_partition(partition),
        work_item_id=str(item),
        attempt=int(str(attempt)),
        seq=int(str(dropped)),
        time=None,
        stream="dropped",
        level="",
        message="",
        archived=None,
    )
