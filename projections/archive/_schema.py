"""The archive's DDL: its tables (`SCHEMA`) and the ingest pipeline that fills them.

Records are archived through ClickHouse itself (`PIPELINE`): the sink inserts each record's
bytes with where it was read into a `Null` table, and materialized views parse the JSON once
(`JSONExtract` into one tuple) and fill every table from it. Every statement is idempotent
(`IF NOT EXISTS`); `ArchiveStore.create_schema` runs them on every start. No value in this
SQL comes from a caller.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from conflux.events import EVENT_TYPES

if TYPE_CHECKING:
    from collections.abc import Mapping

SCHEMA: tuple[str, ...] = (
    # The raw archive, one row per record archived, in the order archived: `seq` numbers
    # records as the sink stores them (increasing, never reused; a follower passes the last
    # one it saw), so what happened lately is the end of the table. A record archived twice
    # (a crash between its rows and its positions) is two rows: readers take one per
    # (event_id, topic). `by_run` finds a run's records (they sit close together).
    # Small granules: a history page reads a few records by `seq`, each granule it touches
    # is decompressed whole.
    """CREATE TABLE IF NOT EXISTS events (
        seq UInt64, event_id String, type LowCardinality(String), time DateTime64(6, 'UTC'),
        key String, topic LowCardinality(String), partition UInt32, offset UInt64,
        schema_version UInt16, payload String CODEC(ZSTD(1)),
        run_id String, asset_key String, partition_key String,
        INDEX by_run run_id TYPE bloom_filter(0.01) GRANULARITY 1
    ) ENGINE = MergeTree
    ORDER BY seq
    SETTINGS index_granularity = 256, min_bytes_for_wide_part = 268435456""",
    # The history index: one row per (event, asset partition it is about), sorted for the
    # story of one partition and the history of one asset. Asset events name one partition;
    # a dispatch, skip or abandonment one per asset of its node; a request one per asset
    # and listed key. A request or work item of a key range is one row per asset with
    # `partition_key` '' and the range (whose keys are in the asset's own key order); a
    # request of no keys and `RunStarted` are one row per asset with '' and no range. An
    # event archived twice keeps its first copy (`keep`), as `events` readers do.
    """CREATE TABLE IF NOT EXISTS partition_events (
        asset_key String, partition_key String, time DateTime64(6, 'UTC'), event_id String,
        seq UInt64, type LowCardinality(String), run_id String,
        range_start String, range_end String,
        keep UInt64 MATERIALIZED 18446744073709551615 - seq,
        INDEX by_seq seq TYPE minmax GRANULARITY 1
    ) ENGINE = ReplacingMergeTree(keep)
    ORDER BY (asset_key, partition_key, time, event_id)
    SETTINGS min_bytes_for_wide_part = 268435456""",
    """CREATE TABLE IF NOT EXISTS materializations (
        asset_key String, partition_key String, data_version String,
        source LowCardinality(String), run_id String, event_id String,
        time DateTime64(6, 'UTC'), code_version String, metadata String CODEC(ZSTD(1)),
        work_item_id String, worker_id String, attempt UInt16,
        INDEX id_idx event_id TYPE bloom_filter GRANULARITY 1
    ) ENGINE = ReplacingMergeTree
    ORDER BY (asset_key, partition_key, event_id)
    SETTINGS index_granularity = 1024, min_bytes_for_wide_part = 268435456""",
    # One row per run event (requested, started, completed); `run_summaries` folds them
    # with duplicate-insensitive aggregates.
    """CREATE TABLE IF NOT EXISTS runs (
        run_id String, event_id String, type LowCardinality(String),
        status LowCardinality(String), time DateTime64(6, 'UTC'),
        asset_keys Array(String), partition_count UInt32, trigger String,
        requested_by String, selection String,
        materialized UInt32, failed UInt32, skipped UInt32, reason String
    ) ENGINE = ReplacingMergeTree
    ORDER BY (run_id, event_id)""",
    # One row per `AssetCheckEvaluated` (the columns after `metadata` came with the checks
    # themselves: `create_schema` adds them to an archive made with the first shape).
    """CREATE TABLE IF NOT EXISTS check_results (
        asset_key String, partition_key String, check_name String, passed Bool,
        severity LowCardinality(String), run_id String, event_id String,
        time DateTime64(6, 'UTC'), metadata String CODEC(ZSTD(1)),
        blocking Bool, description String, error_type String, message String,
        materialization_event_id String, work_item_id String, worker_id String, attempt UInt16
    ) ENGINE = ReplacingMergeTree
    ORDER BY (asset_key, partition_key, check_name, event_id)""",
    # downstream materialization <- upstream materialization it read. Sorted for the
    # upstream walk; the downstream walk goes through the bloom filter on upstream ids.
    # Small granules: a lineage walk is one point lookup per hop, and each reads a granule
    # per part (256 rows: about 3 ms a hop in chdb, against 5 ms at 1024).
    """CREATE TABLE IF NOT EXISTS lineage_edges (
        downstream_asset String, downstream_partition String,
        downstream_data_version String, downstream_event_id String,
        upstream_asset String, upstream_partition String,
        upstream_data_version String, upstream_event_id String,
        time DateTime64(6, 'UTC'),
        INDEX up_idx upstream_event_id TYPE bloom_filter GRANULARITY 1
    ) ENGINE = ReplacingMergeTree
    ORDER BY (downstream_event_id, upstream_asset, upstream_partition)
    SETTINGS index_granularity = 256, min_bytes_for_wide_part = 268435456""",
    # The downstream walk's index: every edge again, sorted by what was read, so a hop
    # down is one point lookup (as `lineage_edges` makes a hop up). On disk like every
    # table here: the archive holds history, and history is never held in memory.
    """CREATE TABLE IF NOT EXISTS lineage_down (
        downstream_asset String, downstream_partition String,
        downstream_data_version String, downstream_event_id String,
        upstream_asset String, upstream_partition String,
        upstream_data_version String, upstream_event_id String,
        time DateTime64(6, 'UTC')
    ) ENGINE = ReplacingMergeTree
    ORDER BY (upstream_event_id, downstream_event_id, upstream_asset, upstream_partition)
    SETTINGS index_granularity = 256, min_bytes_for_wide_part = 268435456""",
    # Rule 5: what each projection has applied, written with its rows. `max(offset)` is
    # the answer before and after merges.
    """CREATE TABLE IF NOT EXISTS positions (
        `projection` LowCardinality(String), topic String, partition UInt32, offset UInt64
    ) ENGINE = ReplacingMergeTree(offset)
    ORDER BY (`projection`, topic, partition)""",
)
"""DDL of every archive table; each statement is idempotent (`IF NOT EXISTS`)."""

CHECK_COLUMNS_ADDED = (
    ("blocking", "Bool"),
    ("description", "String"),
    ("error_type", "String"),
    ("message", "String"),
    ("materialization_event_id", "String"),
    ("work_item_id", "String"),
    ("worker_id", "String"),
    ("attempt", "UInt16"),
)
"""Columns of `check_results` that archives made before asset checks lack (our names)."""

MEMORY_INDEXES = ("lineage_up", "latest_materializations")
"""In-memory (Join engine) indexes of archives made before 2026-12-08: dropped at start.
They held history in the projector's memory (~250 B a materialization, never freed); the
walks and "latest" now read MergeTree tables (see `ArchiveStore.create_schema`)."""
LINEAGE_DOWN_FILL = "INSERT INTO lineage_down SELECT * FROM lineage_edges"
"""Fills `lineage_down` of an archive whose `lineage_down` was an in-memory index."""

TABLES: tuple[str, ...] = tuple(re.findall(r"EXISTS (\w+)", "".join(SCHEMA)))
"""The archive's tables, in the order `ArchiveStore.write` inserts them (positions last)."""

# -- the ingest pipeline ----------------------------------------------------------------
#
# `ingest_<id>` (Null engine: stores nothing) takes one row per record: its bytes as written
# (`payload`), the upcast JSON when the record needed upcasting (`body`, else empty) with the
# record's own schema version, and where it was read. One view parses each document once
# into `ingest_parsed_<id>` (Null too), checking that it looks like an event; one view per
# table reads that. `<id>` is a hash of this DDL: a changed pipeline (a new event type, a new
# column) gets new objects, and `create_schema` drops the old ones (they hold no data).

_DOC = (
    "Tuple(event_id Nullable(String), type String, time String,"
    " schema_version Nullable(UInt16), run_id Nullable(String), correlation_id String,"
    " asset_key Nullable(String), asset_keys Array(String), partition_key String,"
    " partition_keys Array(String), partition_range Tuple(start String, `end` String),"
    " data_version Nullable(String), source String, code_version String,"
    " work_item_id String, worker_id String, attempt UInt16,"
    " upstream Array(Tuple(asset_key String, partition_key String,"
    " data_version String, event_id String)),"
    " status Nullable(String), partition_count UInt32, trigger String, requested_by String,"
    " selection String, materialized UInt32, failed UInt32, skipped UInt32, reason String,"
    " check_name Nullable(String), passed Nullable(Bool), severity String, blocking Bool,"
    " description String, error_type String, message String,"
    " materialization_event_id String)"
)
"""What the archive reads of an event, by JSON key; `Nullable` where a missing key rejects
the record (absent strings become `''`, absent numbers 0, absent arrays `[]`)."""


def _names(names: object) -> str:
    """Event type names as a SQL list (names of our own models: letters only, no input)."""
    assert all(isinstance(n, str) and n.isalpha() for n in names)  # type: ignore[attr-defined]
    return ", ".join(f"'{n}'" for n in names)  # type: ignore[attr-defined]


EDGE_COLUMNS = (
    "downstream_asset, downstream_partition, downstream_data_version, downstream_event_id,"
    " upstream_asset, upstream_partition, upstream_data_version, upstream_event_id, time"
)
"""The columns of `lineage_edges` and `lineage_down`, in order."""
_RUN = "if(ifNull(d.run_id, '') != '', assumeNotNull(d.run_id), d.correlation_id)"
_EDGE = (
    "SELECT assumeNotNull(d.asset_key) AS downstream_asset, d.partition_key AS"
    " downstream_partition, assumeNotNull(d.data_version) AS downstream_data_version,"
    " assumeNotNull(d.event_id) AS downstream_event_id, up.asset_key AS"
    " upstream_asset, up.partition_key AS upstream_partition, up.data_version AS"
    " upstream_data_version, up.event_id AS upstream_event_id, assumeNotNull(at) AS time"
    " FROM {parsed} ARRAY JOIN d.upstream AS up WHERE d.type = 'AssetMaterialized'"
)
_PIPELINE_SQL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS {ingest} (
        payload String, body String, schema_version Nullable(UInt16),
        key String, topic LowCardinality(String), partition UInt32, offset UInt64, seq UInt64
    ) ENGINE = Null""",
    """CREATE TABLE IF NOT EXISTS {parsed} (
        payload String, body String, version UInt16, key String,
        topic LowCardinality(String), partition UInt32, offset UInt64, seq UInt64,
        d {doc}, at Nullable(DateTime64(6, 'UTC'))
    ) ENGINE = Null""",
    # A record the engine cannot read as an event fails the whole insert (nothing of it is
    # stored); the sink then validates the batch record by record with the event models.
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {parsed}_from_ingest TO {parsed} AS
    SELECT payload, body, coalesce(schema_version, d.schema_version, 1) AS version, key, topic,
        partition, offset, seq, JSONExtract(if(empty(body), payload, body), '{doc}') AS d,
        parseDateTime64BestEffortOrNull(d.time, 6, 'UTC') AS at
    FROM {ingest}
    WHERE throwIf(NOT (startsWith(if(empty(body), payload, body), '{{')
        AND d.event_id IS NOT NULL AND d.type IN ({known}) AND at IS NOT NULL
        AND (d.type != 'AssetMaterialized' OR (d.asset_key IS NOT NULL
            AND d.data_version IS NOT NULL))
        AND (d.type NOT IN ({runs}) OR d.run_id IS NOT NULL)
        AND (d.type != 'RunCompleted' OR d.status IS NOT NULL)
        AND (d.type != 'AssetCheckEvaluated' OR (d.asset_key IS NOT NULL
            AND d.check_name IS NOT NULL AND d.passed IS NOT NULL))), '{rejected}') = 0""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {parsed}_to_events TO events AS
    SELECT seq, assumeNotNull(d.event_id) AS event_id, d.type AS type, assumeNotNull(at) AS time,
        key, topic, partition, offset, version AS schema_version, payload, {run} AS run_id,
        if(ifNull(d.asset_key, '') = '' AND d.type IN ({work}), d.asset_keys[1],
            ifNull(d.asset_key, '')) AS asset_key,
        d.partition_key AS partition_key
    FROM {parsed}""",
    # What each event is about (see `partition_events`).
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {parsed}_to_partition_events TO partition_events AS
    SELECT about.1 AS asset_key, about.2 AS partition_key, assumeNotNull(at) AS time,
        assumeNotNull(d.event_id) AS event_id, seq, d.type AS type, {run} AS run_id,
        if(about.2 = '', d.partition_range.start, '') AS range_start,
        if(about.2 = '', d.partition_range.`end`, '') AS range_end
    FROM {parsed}
    ARRAY JOIN CAST(multiIf(
        d.type IN ({single}), [(ifNull(d.asset_key, ''), d.partition_key)],
        d.type IN ({items}), arrayMap(a -> (a, d.partition_key), d.asset_keys),
        d.type = 'MaterializationRequested' AND notEmpty(d.partition_keys),
            arrayFlatten(arrayMap(a -> arrayMap(k -> (a, k), d.partition_keys), d.asset_keys)),
        d.type IN ('MaterializationRequested', 'RunStarted'), arrayMap(a -> (a, ''), d.asset_keys),
        []), 'Array(Tuple(String, String))') AS about""",
    # metadata: the object's text as written (simpleJSONExtractRaw copies it; JSONExtractRaw
    # would re-print numbers). A materialization's only object-valued key is `metadata`, so
    # its first `"metadata":` is the top-level one.
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {parsed}_to_materializations TO materializations AS
    WITH trimBoth(simpleJSONExtractRaw(if(empty(body), payload, body), 'metadata')) AS raw_meta
    SELECT assumeNotNull(d.asset_key) AS asset_key, d.partition_key AS partition_key,
        assumeNotNull(d.data_version) AS data_version,
        if(d.source = '', 'executed', d.source) AS source, {run} AS run_id,
        assumeNotNull(d.event_id) AS event_id, assumeNotNull(at) AS time,
        d.code_version AS code_version, if(raw_meta IN ('', 'null'), '{{}}', raw_meta) AS metadata,
        d.work_item_id AS work_item_id, d.worker_id AS worker_id, d.attempt AS attempt
    FROM {parsed} WHERE d.type = 'AssetMaterialized'""",
    # Like materializations: an evaluation's only object-valued key is `metadata`.
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {parsed}_to_check_results TO check_results AS
    WITH trimBoth(simpleJSONExtractRaw(if(empty(body), payload, body), 'metadata')) AS raw_meta
    SELECT assumeNotNull(d.asset_key) AS asset_key, d.partition_key AS partition_key,
        assumeNotNull(d.check_name) AS check_name, assumeNotNull(d.passed) AS passed,
        if(d.severity = '', 'ERROR', d.severity) AS severity, {run} AS run_id,
        assumeNotNull(d.event_id) AS event_id, assumeNotNull(at) AS time,
        if(raw_meta IN ('', 'null'), '{{}}', raw_meta) AS metadata, d.blocking AS blocking,
        d.description AS description, d.error_type AS error_type, d.message AS message,
        d.materialization_event_id AS materialization_event_id,
        d.work_item_id AS work_item_id, d.worker_id AS worker_id, d.attempt AS attempt
    FROM {parsed} WHERE d.type = 'AssetCheckEvaluated'""",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {parsed}_to_lineage_edges TO lineage_edges AS " + _EDGE,
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {parsed}_to_lineage_down TO lineage_down AS " + _EDGE,
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {parsed}_to_runs TO runs AS
    SELECT assumeNotNull(d.run_id) AS run_id, assumeNotNull(d.event_id) AS event_id,
        d.type AS type, multiIf(d.type = 'MaterializationRequested', 'requested',
            d.type = 'RunStarted', 'started', ifNull(d.status, '')) AS status,
        assumeNotNull(at) AS time, d.asset_keys AS asset_keys,
        d.partition_count AS partition_count, d.trigger AS trigger,
        d.requested_by AS requested_by, d.selection AS selection,
        d.materialized AS materialized, d.failed AS failed, d.skipped AS skipped,
        d.reason AS reason
    FROM {parsed} WHERE d.type IN ({runs})""",
)
ABOUT_ONE = (
    "PartitionStarted",
    "AssetMaterialized",
    "AssetObserved",
    "PartitionFailed",
    "AssetCheckEvaluated",
    "AutomationEvaluated",
)
"""Event types about one asset partition (`asset_key`, `partition_key`)."""
ABOUT_ITEM = ("WorkItemDispatched", "WorkItemSkipped", "WorkItemAbandoned")
"""Event types about a work item: each asset of its node, at its key or range."""
REJECTED_MARK = "conflux-archive: a record is not an event"
"""What the engine's check fails an insert with (`RecordsRejectedError`)."""
_PARTS = {
    "doc": _DOC,
    "known": _names(EVENT_TYPES),
    "runs": _names(("MaterializationRequested", "RunStarted", "RunCompleted")),
    "work": _names(("WorkItemDispatched", "WorkItemSkipped")),
    "single": _names(ABOUT_ONE),
    "items": _names(ABOUT_ITEM),
    "run": _RUN,
    "rejected": REJECTED_MARK,
}
_PIPELINE_ID = hashlib.sha256(repr((_PIPELINE_SQL, sorted(_PARTS.items()))).encode()).hexdigest()[
    :10
]
INGEST = f"ingest_{_PIPELINE_ID}"
"""The table the sink inserts records into (Null engine: the views store them)."""
PIPELINE: tuple[str, ...] = tuple(
    sql.format(ingest=INGEST, parsed=f"ingest_parsed_{_PIPELINE_ID}", **_PARTS)
    for sql in _PIPELINE_SQL
)
"""DDL of the ingest pipeline: its two Null tables, then its views; each idempotent."""
INGEST_SETTINGS: Mapping[str, int] = {"parallel_view_processing": 1}
"""The per-table views run side by side (the Python side is idle while they do)."""

MIGRATE_INGEST = "migrate_ingest"
"""The ingest table of the migration pipeline (see `_migrate.renumber`)."""
MIGRATION_PIPELINE: tuple[str, ...] = tuple(
    sql.format(ingest=MIGRATE_INGEST, parsed="migrate_parsed", **_PARTS)
    for sql in _PIPELINE_SQL
    if sql.startswith(("CREATE TABLE", "CREATE MATERIALIZED VIEW IF NOT EXISTS {parsed}_from_"))
    or " TO events AS" in sql
    or " TO partition_events AS" in sql
)
"""The ingest pipeline, filling only `events` and `partition_events`: what an archive of
the first shape gets again when its records are numbered."""
