"""Archive records into a fresh embedded ClickHouse and read every table back, in log order.

Rows are built by the engine (the ingest pipeline's views), so tests of what a record
becomes write it for real (chdb, in a temporary folder) and read the tables back.
"""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING, Any

from conflux.projections.archive import ChdbStore
from conflux.projections.archive._sink import build_batch

if TYPE_CHECKING:
    from collections.abc import Iterable

    from conflux.events import ConsumedEvent
    from conflux.projections.archive import RawRecord

_ID = {
    "materializations": "event_id",
    "runs": "event_id",
    "lineage_edges": "downstream_event_id",
}


def archived(records: Iterable[RawRecord | ConsumedEvent]) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows after `build_batch` + `write` of `records` (strings as str).

    Events are ordered by (topic, partition, offset), the other tables by the offset of
    the event each row came from (then by the upstream asset).
    """
    with tempfile.TemporaryDirectory() as folder, ChdbStore(folder) as store:
        store.create_schema()
        batch, rejected = build_batch(records)
        assert rejected == []
        store.write(batch)
        out = {
            "events": store.query_arrow(
                "SELECT * FROM events ORDER BY topic, partition, offset"
            ).to_pylist()
        }
        for table, column in _ID.items():
            then = ", upstream_asset" if table == "lineage_edges" else ""
            out[table] = store.query_arrow(
                f"SELECT t.* FROM {table} AS t LEFT JOIN (SELECT event_id, min(offset) AS o"
                f" FROM events GROUP BY event_id) AS e ON t.{column} = e.event_id"
                f" ORDER BY e.o{then}"
            ).to_pylist()
        out["lineage_down"] = store.query_arrow(
            "SELECT * FROM lineage_down ORDER BY upstream_event_id, upstream_asset"
        ).to_pylist()
        return out
