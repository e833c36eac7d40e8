"""The archive's views: answers to the common questions, part of its interface (docs/archive.md).

`ArchiveStore.create_schema` (re)creates them on every start (`CREATE OR REPLACE`), so a
newer version's views replace an older one's. The parameterized ones are called like table
functions: `SELECT * FROM lineage_upstream(asset = 'orders', partition = '', depth = 3)`.
Their columns are the interface: columns may be added, none renamed or removed within an
`INTERFACE_VERSION`. No value in this SQL comes from a caller.
"""

from __future__ import annotations

from conflux.projections.archive._schema import EDGE_COLUMNS

INTERFACE_VERSION = 1
"""The version of the archive's tables and views as docs/archive.md describes them."""

_NEWEST = """(SELECT argMax(event_id, (time, event_id)) FROM materializations
            WHERE asset_key = {asset:String} AND partition_key = {partition:String})"""
"""The event id of the partition's newest materialization (by time, then event id)."""


def _walk_view(name: str, table: str, start: str, reached: str, more: str = "") -> str:
    """A view of the edges within `depth` hops of the partition's newest materialization.

    `table` is sorted by `start`, the column that names the node an edge leaves; each hop
    follows `reached` (the node at the edge's other end) into `start` of the next edges.
    A node reached at several depths keeps the smallest. No value here comes from a caller.
    """
    hop = ", ".join(f"e.{column.strip()}" for column in EDGE_COLUMNS.split(","))
    return f"""CREATE OR REPLACE VIEW {name} AS
    WITH RECURSIVE walk AS (
        SELECT toUInt32(1) AS depth, {EDGE_COLUMNS} FROM {table}
        WHERE {start} = {_NEWEST}
        UNION ALL
        SELECT w.depth + 1 AS depth, {hop}
        FROM walk AS w INNER JOIN {table} AS e ON e.{start} = w.{reached}
        WHERE w.depth < {{depth:UInt32}}{more}
    )
    SELECT min(depth) AS depth, {EDGE_COLUMNS} FROM walk
    GROUP BY {EDGE_COLUMNS}"""


VIEWS: tuple[str, ...] = (
    f"CREATE OR REPLACE VIEW archive_info AS SELECT toUInt32({INTERFACE_VERSION})"
    " AS interface_version",
    # One row per asset partition that has a materialization: its newest (by time, then
    # event id).
    """CREATE OR REPLACE VIEW asset_partitions AS
    SELECT asset_key, partition_key, m.1 AS data_version, m.2 AS event_id, m.3 AS time,
        m.4 AS run_id, m.5 AS source
    FROM (SELECT asset_key, partition_key,
            argMax((data_version, event_id, time, run_id, source), (time, event_id)) AS m
        FROM materializations GROUP BY asset_key, partition_key)""",
    # The story of one asset partition: every event about it, oldest first, with its
    # payload (`partition_events` finds them, `events` holds them).
    """CREATE OR REPLACE VIEW partition_history AS
    SELECT seq, time, type, event_id, run_id, topic, partition, offset, payload
    FROM events
    WHERE seq IN (SELECT seq FROM partition_events
        WHERE asset_key = {asset:String} AND partition_key = {partition:String})
    ORDER BY time, seq LIMIT 1 BY event_id""",
    # What the newest materialization of a partition read, and what those read, up to
    # `depth` hops; `depth` 1 is what it read itself. A diamond's shared node shows once
    # per edge into it, at the depth it was first reached.
    _walk_view(
        "lineage_upstream",
        "lineage_edges",
        "downstream_event_id",
        "upstream_event_id",
        more=" AND w.upstream_event_id != ''",
    ),
    # What was built from the newest materialization of a partition, transitively.
    _walk_view("lineage_downstream", "lineage_down", "upstream_event_id", "downstream_event_id"),
    # What one run wrote (its materializations) and read (what those materializations
    # read, as their upstream materializations).
    """CREATE OR REPLACE VIEW run_io AS
    WITH wrote AS (
        SELECT asset_key, partition_key, data_version, event_id, time FROM materializations
        WHERE run_id = {run:String} LIMIT 1 BY event_id
    )
    SELECT 'wrote' AS io, asset_key, partition_key, data_version, event_id, time,
        '' AS read_by_event_id
    FROM wrote
    UNION ALL
    SELECT DISTINCT 'read' AS io, upstream_asset AS asset_key,
        upstream_partition AS partition_key, upstream_data_version AS data_version,
        upstream_event_id AS event_id, time, downstream_event_id AS read_by_event_id
    FROM lineage_edges WHERE downstream_event_id IN (SELECT event_id FROM wrote)""",
    # Every request for materializations: who asked, when, for what, and why (the trigger
    # and what it names; for automation, the condition that was true), with the latest
    # status of its run.
    """CREATE OR REPLACE VIEW requests AS
    SELECT q.time AS time, run_id, q.event_id AS event_id, q.requested_by AS requested_by,
        q.trigger AS trigger,
        if(q.trigger = 'automation' AND a.condition != '',
            concat('automation: ', a.condition, ' was true'), q.reason) AS reason,
        q.selection AS selection, q.asset_keys AS asset_keys,
        q.partition_keys AS partition_keys, q.range_start AS range_start,
        q.range_end AS range_end, q.tags AS tags, r.status AS status
    FROM (
        WITH JSONExtract(payload, 'Tuple(requested_by String, selection String,
                asset_keys Array(String), partition_keys Array(String),
                partition_range Tuple(start String, `end` String),
                tags Map(String, String))') AS d,
            d.tags AS t,
            if(t['trigger'] != '', t['trigger'],
                if(t['backfill_id'] != '', 'backfill', 'manual')) AS trig
        SELECT time, run_id, event_id, d.requested_by AS requested_by, trig AS trigger,
            multiIf(trig = 'backfill',
                    concat('backfill ', t['backfill_id'], ', chunk ', t['backfill_chunk']),
                trig = 'schedule', concat('schedule ', t['schedule'], ', tick ', t['tick_id']),
                trig = 'sensor', concat('sensor ', t['sensor'],
                    if(t['run_key'] != '', concat(', run key ', t['run_key']), '')),
                trig = 'automation', 'automation',
                concat('requested by ', if(d.requested_by = '', 'someone', d.requested_by)))
                AS reason,
            d.selection AS selection, d.asset_keys AS asset_keys,
            d.partition_keys AS partition_keys, d.partition_range.start AS range_start,
            d.partition_range.`end` AS range_end, t AS tags
        FROM events WHERE type = 'MaterializationRequested' LIMIT 1 BY event_id) AS q
    LEFT JOIN (SELECT run_id, argMax(status, time) AS status FROM runs GROUP BY run_id) AS r
        USING (run_id)
    LEFT JOIN (SELECT run_id, any(JSONExtractString(payload, 'result', 'condition'))
            AS condition FROM events WHERE type = 'AutomationEvaluated' GROUP BY run_id) AS a
        USING (run_id)""",
)
"""The views of the interface, each replaced on every start."""

VIEW_NAMES: tuple[str, ...] = tuple(s.split(" AS", 1)[0].rsplit(" ", 1)[1] for s in VIEWS)
"""The names of the views in `VIEWS`."""
