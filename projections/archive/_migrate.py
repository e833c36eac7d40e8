"""Migrating an archive of the first shape, whose `events` did not number its records.

Interface version 1 orders `events` by `seq` and indexes history in `partition_events`; an
archive made before that has `events` sorted by asset partition and no `seq`. On the first
start with this code, `create_schema` renames that table out of the way, creates the new
tables, and archives its records again, oldest first, through a pipeline that fills only
`events` and `partition_events` (the other tables already hold them). Nothing else is
archived meanwhile (the sink starts after `create_schema`), so an interrupted migration
starts over on the next start.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conflux.projections.archive._store import ArchiveStore

_log = logging.getLogger("conflux.archive")

OLD_EVENTS = "events_before_seq"
"""Where the first shape's `events` waits while its records are numbered."""
_CHUNK = 50_000


def migrate_events(store: ArchiveStore) -> str | None:
    """Move an `events` table of the first shape aside; the name to renumber from, or None."""
    found = {
        str(name): str(key)
        for name, key in store.query(
            "SELECT name, sorting_key FROM system.tables WHERE database = currentDatabase()"
            " AND name IN ('events', {old:String})",
            {"old": OLD_EVENTS},
        )
    }
    if "events" in found and found["events"] != "seq":
        _log.info("archive %s: numbering the records of an older archive", store.location)
        store.execute(f"RENAME TABLE events TO {OLD_EVENTS}")
        return OLD_EVENTS
    return OLD_EVENTS if OLD_EVENTS in found else None


def renumber(store: ArchiveStore, old: str) -> None:
    """Archive the records of `old` again into `events` and `partition_events`, then drop it.

    Records go oldest first (by time, then where they were read), numbered from 1; a
    record stored twice in `old` goes once.
    """
    from conflux.projections.archive._schema import (
        MIGRATE_INGEST,
        MIGRATION_PIPELINE,
        REJECTED_MARK,
    )
    from conflux.projections.archive._sink import RawRecord, build_batch
    from conflux.projections.archive._store import ArchiveError

    store.execute("TRUNCATE TABLE events")
    store.execute("TRUNCATE TABLE partition_events")
    for statement in MIGRATION_PIPELINE:
        store.execute(statement)
    after: tuple[datetime, str, int, int] = (datetime(1970, 1, 1, tzinfo=UTC), "", -1, -1)
    seq = 1
    while True:
        chunk = store.query_arrow(
            f"SELECT time, topic, partition, offset, key, payload FROM {old} FINAL"
            " WHERE (time, topic, partition, offset) > ({t:DateTime64(6, 'UTC')}, {tp:String},"
            " {p:Int64}, {o:Int64}) ORDER BY time, topic, partition, offset LIMIT {n:UInt32}",
            {"t": after[0], "tp": after[1], "p": after[2], "o": after[3], "n": _CHUNK},
        ).to_pylist()
        if not chunk:
            break
        records = [
            RawRecord(_bytes(r["payload"]), r["topic"], r["partition"], r["offset"], r["key"])
            for r in chunk
        ]
        batch, _ = build_batch(records, first_seq=seq)
        try:
            for table in batch.tables.values():
                store.insert(MIGRATE_INGEST, table)
        except ArchiveError as exc:  # a record that is not an event: leave it behind
            if REJECTED_MARK not in f"{exc} {exc.__cause__}":
                raise
            batch, rejected = build_batch(records, first_seq=seq, validate=True)
            _log.warning("archive migration: %d records are not events", len(rejected))
            for table in batch.tables.values():
                store.insert(MIGRATE_INGEST, table)
        seq += len(records)
        last = chunk[-1]
        time = last["time"]
        time = time.replace(tzinfo=UTC) if time.tzinfo is None else time
        after = (time, last["topic"], last["partition"], last["offset"])
    for statement in reversed(MIGRATION_PIPELINE):  # views first, then their tables
        name = statement.split("EXISTS ", 1)[1].split()[0]
        store.execute(f"DROP TABLE IF EXISTS {name}")
    store.execute(f"DROP TABLE IF EXISTS {old}")
    _log.info("archive %s: %d records numbered", store.location, seq - 1)


def _bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
