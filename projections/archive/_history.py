"""Event history from the archive: what `conflux events`, a run's page and `why` list.

Two tables answer (see docs/archive.md): `partition_events` says which events are about
an asset (partition), sorted for that; `events` holds every record by `seq`, the order the
archive stored it. A question about an asset reads the first for the sequence numbers and
times of its matches, then fetches those records from the second by `seq` (a few granules:
events about one thing happen close together); any other question reads `events` alone.
Every value travels as a query parameter; the SQL is assembled from fixed fragments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conflux.events import EVENT_TYPES

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from conflux.projections.api import EventQuery
    from conflux.projections.archive._store import ArchiveStore, Param, Row

MAX_EVENTS = 10_000
"""The most events one answer holds (with `after`, the first ones: page on with the last
`seq`; without, the newest)."""
HEARTBEAT = "ComponentHeartbeat"

Covers = Callable[[str, str, str], bool]
"""Whether an asset's key range `(start, end)` holds a key: `covers(start, end, key)`."""

_CANONICAL = {name.lower(): name for name in EVENT_TYPES}
_RECORD = "seq, time, type, event_id, topic, partition, offset, payload"


@dataclass(frozen=True, slots=True)
class ArchivedEvent:
    """One archived record: its number, where it was read from, and its bytes as written."""

    seq: int
    time: datetime
    type: str
    event_id: str
    topic: str
    partition: int
    offset: int
    payload: str


def canonical_type(name: str) -> str | None:
    """The event type `name` names, whatever its case (None: no such type)."""
    return _CANONICAL.get(name.lower())


def find_events(
    store: ArchiveStore,
    query: EventQuery,
    *,
    covers: Covers | None = None,
    keys_sorted: bool = False,
) -> list[ArchivedEvent]:
    """The archived events `query` asks for, one per event id, in its order (see `EventQuery`).

    Args:
        store: the archive.
        query: the filter.
        covers: tells whether a range request or work item of `query.asset` holds
            `query.partition`; without it, ranges match no single partition.
        keys_sorted: the asset's keys sort as strings in their own order (time windows),
            so only ranges around the key need checking.
    """
    limit = MAX_EVENTS if query.limit is None else min(query.limit, MAX_EVENTS)
    if limit <= 0 or query.partition == "":
        return []  # no key is empty: `--partition ''` matches nothing
    event_type = canonical_type(query.type) if query.type is not None else None
    if query.type is not None and event_type is None:
        return []
    about = query.asset is not None or query.partition is not None
    if event_type == HEARTBEAT:
        if about:
            return []  # heartbeats are about no asset partition
        found = _from_events(store, query, event_type, limit)
    elif about:
        found = _about_asset(store, query, event_type, limit, covers, keys_sorted)
    else:
        found = _from_events(store, query, event_type, limit)
    return _once(found)


def run_events(store: ArchiveStore, run_id: str, types: Sequence[str]) -> list[ArchivedEvent]:
    """Every archived event of `run_id` of the given types, in the order archived."""
    rows = store.query(
        f"SELECT {_RECORD} FROM events WHERE run_id = {{run:String}}"
        " AND type IN {types:Array(String)} ORDER BY seq",
        {"run": run_id, "types": list(types)},
    )
    return _once([_event(row) for row in rows])


def _once(found: list[ArchivedEvent]) -> list[ArchivedEvent]:
    """Each event once, at the place of its first archived copy.

    A record archived twice, or one event at two offsets, is two rows of `events`.
    """
    first: dict[str, int] = {}
    for event in found:
        seen = first.get(event.event_id)
        if seen is None or event.seq < seen:
            first[event.event_id] = event.seq
    out = []
    for event in found:
        if first.get(event.event_id) == event.seq:
            out.append(event)
            del first[event.event_id]
    return out


def _filters(
    query: EventQuery, event_type: str | None, params: dict[str, Param], *, heartbeats: bool
) -> list[str]:
    where: list[str] = []
    if event_type is not None:
        where.append("type = {type:String}")
        params["type"] = event_type
    elif not heartbeats:
        where.append(f"type != '{HEARTBEAT}'")
    if query.since is not None:
        where.append("time >= {since:DateTime64(6, 'UTC')}")
        params["since"] = query.since
    if query.after is not None:
        where.append("seq > {after:UInt64}")
        params["after"] = max(0, query.after)
    if query.run is not None:
        where.append("run_id = {run:String}")
        params["run"] = query.run
    return where


def _order(query: EventQuery) -> str:
    # Following: the order archived, first ones first. Listing: the newest by time (read
    # backwards), put oldest first by the caller.
    return "seq" if query.after is not None else "time DESC, seq DESC"


def _from_events(
    store: ArchiveStore, query: EventQuery, event_type: str | None, limit: int
) -> list[ArchivedEvent]:
    params: dict[str, Param] = {"n": limit}
    where = _filters(query, event_type, params, heartbeats=event_type == HEARTBEAT)
    sql = f"SELECT {_RECORD} FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = store.query(f"{sql} ORDER BY {_order(query)} LIMIT {{n:UInt32}}", params)
    found = [_event(row) for row in rows]
    return found if query.after is not None else found[::-1]


def _about_asset(
    store: ArchiveStore,
    query: EventQuery,
    event_type: str | None,
    limit: int,
    covers: Covers | None,
    keys_sorted: bool,
) -> list[ArchivedEvent]:
    params: dict[str, Param] = {"n": limit}
    where = _filters(query, event_type, params, heartbeats=False)
    if query.asset is not None:  # else: a partition key of any asset
        where.insert(0, "asset_key = {asset:String}")
        params["asset"] = query.asset
    keyed = list(where)
    if query.partition is not None:
        keyed.append("partition_key = {partition:String}")
        params["partition"] = query.partition
    order = _order(query)
    ranged = query.asset is not None and query.partition is not None and covers is not None
    if ranged and keys_sorted:
        # One read for the key and the ranges around it (keys sort as strings).
        assert query.partition is not None and covers is not None
        candidates = _keyed_or_around(store, where, order, params, query.partition, covers)
    else:
        candidates = _candidates(store, keyed, order, params, limit)
    if ranged and not keys_sorted:
        assert query.partition is not None and covers is not None
        candidates += _ranges_holding(store, where, params, query.partition, covers)
        # newest (or first) `limit` of both kinds together
        candidates.sort(key=lambda r: (r[1], r[0]), reverse=query.after is None)
        if query.after is not None:
            candidates.sort(key=lambda r: _int(r[0]))
        candidates = candidates[:limit]
    if query.after is None:
        candidates.reverse()  # read newest first: listed oldest first
    if not candidates:
        return []
    seqs = [_int(seq) for seq, _ in candidates]
    rows = store.query(
        f"SELECT {_RECORD} FROM events WHERE seq IN {{seqs:Array(UInt64)}}",
        {"seqs": seqs},
    )
    by_seq = {_int(row[0]): row for row in rows}
    return [_event(by_seq[s]) for s in seqs if s in by_seq]


def _candidates(
    store: ArchiveStore, where: list[str], order: str, params: dict[str, Param], limit: int
) -> list[Row]:
    """(seq, time) of the first `limit` matches in `order`, one per event.

    A request has a row per key it lists, so rows are read with room to spare and made
    one per event here (a `LIMIT 1 BY` in the query would sort every match instead of
    keeping the first few); if too few are left, again with more room.
    """
    room = limit * 2
    while True:
        rows = store.query(
            f"SELECT seq, time FROM partition_events WHERE {' AND '.join(where)}"
            f" ORDER BY {order} LIMIT {{n:UInt32}}",
            {**params, "n": room},
        )
        first: dict[object, Row] = {}
        for row in rows:
            first.setdefault(row[0], row)
        once = list(first.values())
        if len(once) >= limit or len(rows) < room:
            return once[:limit]
        room *= 4


def _keyed_or_around(
    store: ArchiveStore,
    where: list[str],
    order: str,
    params: dict[str, Param],
    key: str,
    covers: Covers,
) -> list[Row]:
    """(seq, time) of the events about `key`, and of the ranges holding it, in `order`."""
    rows = store.query(
        "SELECT seq, time, range_start, range_end FROM partition_events"
        f" WHERE {' AND '.join(where)} AND (partition_key = {{key:String}}"
        " OR (partition_key = '' AND range_start != ''"
        " AND range_start <= {key:String} AND {key:String} <= range_end))"
        f" ORDER BY {order} LIMIT {{n:UInt32}}",
        {**params, "key": key},
    )
    first: dict[object, Row] = {}
    for row in rows:
        first.setdefault(row[0], row)
    return [
        (seq, time)
        for seq, time, start, end in first.values()
        if not start or covers(str(start), str(end), key)
    ]


def _ranges_holding(
    store: ArchiveStore, where: list[str], params: dict[str, Param], key: str, covers: Covers
) -> list[Row]:
    """(seq, time) of the ranged requests and work items of the asset that hold `key`."""
    ranged = [*where, "partition_key = ''", "range_start != ''"]
    rows = store.query(
        "SELECT seq, time, range_start, range_end FROM partition_events"
        f" WHERE {' AND '.join(ranged)}",
        {**params, "key": key},
    )
    held = {(_int(s), time) for s, time, start, end in rows if covers(str(start), str(end), key)}
    return list(held)


def _int(value: object) -> int:
    return value if isinstance(value, int) else int(str(value))


def _event(row: Row) -> ArchivedEvent:
    seq, time, kind, event_id, topic, partition, offset, payload = row
    return ArchivedEvent(
        _int(seq),
        time,  # type: ignore[arg-type]  # DateTime64: an aware datetime from either backend
        str(kind),
        str(event_id),
        str(topic),
        _int(partition),
        _int(offset),
        payload.decode() if isinstance(payload, bytes) else str(payload),
    )
