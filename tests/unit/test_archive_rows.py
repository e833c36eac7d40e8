"""Records become archive rows: bytes in, every table's columns out of the engine, positions.

Python sends each record's bytes and where it was read; the engine's ingest pipeline parses
it once and fills the tables, so these tests write to a fresh chdb folder and read back.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from archive_tables import archived

from conflux.events import (
    AssetMaterialized,
    ComponentHeartbeat,
    ConsumedEvent,
    MaterializationRequested,
    RunCompleted,
    RunStarted,
    UpstreamRef,
    WorkItemDispatched,
    encode_event,
)
from conflux.projections.archive import ArchiveSink, ChdbStore, RawRecord
from conflux.projections.archive._schema import INGEST
from conflux.projections.archive._sink import build_batch
from conflux.projections.archive._store import RecordsRejectedError, Tracking

if TYPE_CHECKING:
    from conflux.events import Event
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def raw(event: Event, offset: int, topic: str = "c.assets", partition: int = 0) -> RawRecord:
    return RawRecord(encode_event(event), topic, partition, offset, key="k")


def test_every_event_is_one_events_row_with_its_payload_as_written() -> None:
    beat = ComponentHeartbeat(component="worker", instance_id="w1")
    dispatch = WorkItemDispatched(
        work_item_id="w",
        run_id="r",
        location="l",
        node="n",
        asset_keys=("b", "c"),
        partition_key="p",
    )
    batch, rejected = build_batch([raw(beat, 0, "c.heartbeats"), raw(dispatch, 5, "c.runs")])
    assert rejected == [] and batch.events == 2 and set(batch.tables) == {INGEST}
    tables = archived([raw(beat, 0, "c.heartbeats"), raw(dispatch, 5, "c.runs")])
    rows = tables["events"]
    assert [r["type"] for r in rows] == ["ComponentHeartbeat", "WorkItemDispatched"]
    assert rows[0]["payload"] == encode_event(beat).decode() and rows[0]["time"] == beat.time
    assert (rows[1]["asset_key"], rows[1]["partition_key"], rows[1]["run_id"]) == ("b", "p", "r")
    assert (rows[1]["topic"], rows[1]["partition"], rows[1]["offset"], rows[1]["key"]) == (
        "c.runs",
        0,
        5,
        "k",
    )
    assert [r["schema_version"] for r in rows] == [1, 1]
    assert all(not tables[t] for t in ("materializations", "runs", "lineage_edges"))


def test_a_materialization_fills_materializations_and_lineage() -> None:
    ref = UpstreamRef(asset_key="up", partition_key=None, data_version="u1", event_id="e0")
    never = UpstreamRef(asset_key="fresh")
    mat = AssetMaterialized(
        asset_key="down",
        partition_key="2024-01-31",
        data_version="d1",
        upstream=(ref, never),
        metadata={"rows": 3},
        run_id="r",
        attempt=2,
        worker_id="w",
    )
    tables = archived([raw(mat, 0)])
    [m] = tables["materializations"]
    assert (m["asset_key"], m["partition_key"], m["data_version"], m["event_id"]) == (
        "down",
        "2024-01-31",
        "d1",
        mat.event_id,
    )
    assert (m["metadata"], m["attempt"], m["code_version"], m["time"]) == (
        '{"rows":3}',
        2,
        "",
        mat.time,
    )
    assert (m["source"], m["run_id"], m["worker_id"]) == ("executed", "r", "w")
    edges = tables["lineage_edges"]
    assert [
        (e["upstream_asset"], e["upstream_partition"], e["upstream_event_id"]) for e in edges
    ] == [("fresh", "", ""), ("up", "", "e0")]
    assert {e["downstream_event_id"] for e in edges} == {mat.event_id}
    # The downstream walk's table holds the same edges, sorted by what was read.
    assert tables["lineage_down"] == sorted(edges, key=lambda e: e["upstream_event_id"])


def test_metadata_is_stored_as_written() -> None:
    mat = AssetMaterialized(asset_key="a", data_version="v")
    written = encode_event(mat).replace(
        b'"metadata":{}', b'"metadata":{"f":1.0,"big":123456789012345678901234,"u":"\\u00e9"}'
    )
    none = AssetMaterialized(asset_key="b", data_version="v")
    tables = archived([RawRecord(written, "c.assets", 0, 0), raw(none, 1)])
    assert [m["metadata"] for m in tables["materializations"]] == [
        '{"f":1.0,"big":123456789012345678901234,"u":"\\u00e9"}',
        "{}",
    ]


def test_run_events_become_run_rows() -> None:
    events = [
        MaterializationRequested(run_id="r", selection="a*", asset_keys=("a",), requested_by="me"),
        RunStarted(run_id="r", asset_keys=("a",), partition_count=4),
        RunCompleted(run_id="r", status="failed", failed=1, reason="boom"),
    ]
    rows = archived([raw(e, i, "c.runs") for i, e in enumerate(events)])["runs"]
    assert [r["status"] for r in rows] == ["requested", "started", "failed"]
    assert (rows[0]["requested_by"], rows[0]["selection"]) == ("me", "a*")
    assert (rows[1]["partition_count"], rows[2]["failed"], rows[2]["reason"]) == (4, 1, "boom")
    assert rows[1]["asset_keys"] == ["a"] and rows[2]["reason"] == "boom"


def test_positions_reach_the_highest_offset_of_each_partition() -> None:
    mats = [AssetMaterialized(asset_key="a", data_version=str(i)) for i in range(4)]
    recs = [
        raw(mats[0], 7, partition=1),
        raw(mats[1], 3, partition=1),
        raw(mats[2], 2),
        raw(mats[3], 9, "c.runs"),
    ]
    for validate in (False, True):
        batch, _ = build_batch(recs, projection="p", validate=validate)
        assert sorted(batch.positions, key=lambda t: (t.topic, t.partition)) == [
            Tracking("p", "c.assets", 0, 2),
            Tracking("p", "c.assets", 1, 7),
            Tracking("p", "c.runs", 0, 9),
        ]


INVALID = [
    RawRecord(b"{nope", "c.assets", 0, 1),
    RawRecord(
        b'{"type":"AssetMaterialized","event_id":"x","time":"2024-01-01T00:00:00Z"}',
        "c.assets",
        0,
        2,
    ),
    RawRecord(
        b'{"type":"RunStarted","event_id":"y","time":"yesterday","run_id":"r",'
        b'"asset_keys":[],"partition_count":1}',
        "c.assets",
        0,
        3,
    ),
]


def test_invalid_records_are_rejected_with_a_reason_and_still_passed() -> None:
    good = AssetMaterialized(asset_key="a", data_version="v")
    recs = [raw(good, 0), *INVALID]
    batch, rejected = build_batch(recs, validate=True)
    assert batch.tables[INGEST].column("payload").to_pylist() == [encode_event(good)]
    assert [r.offset for r in rejected] == [1, 2, 3]
    assert "not JSON" in rejected[0].reason and "asset_key" in rejected[1].reason
    assert batch.positions == (Tracking("archive", "c.assets", 0, 3),) and batch.events == 4


@pytest.mark.parametrize("bad", INVALID, ids=["not-json", "missing-key", "bad-time"])
def test_the_engine_refuses_a_batch_with_a_record_that_is_not_an_event(bad: RawRecord) -> None:
    good = raw(AssetMaterialized(asset_key="a", data_version="v"), 0)
    with tempfile.TemporaryDirectory() as folder, ChdbStore(folder) as store:
        store.create_schema()
        batch, rejected = build_batch([good, bad])
        assert rejected == []  # nothing is parsed here
        with pytest.raises(RecordsRejectedError):
            store.write(batch)
        assert store.count("events") == 0 and store.positions() == {}  # nothing of it
        sink = ArchiveSink(store, batch_size=10)
        try:
            sink.add([good, bad])
            sink.flush()
        finally:
            sink.close()
        assert sink.rejected_count == 1 and sink.rejected[0].offset == bad.offset
        assert store.count("events") == 1 and store.positions() == {("c.assets", 0): bad.offset}


def test_a_valid_record_the_engine_cannot_read_is_stored_as_validated() -> None:
    good = AssetMaterialized(asset_key="a", data_version="v", metadata={"n": 1})
    spaced = b"\xef\xbb\xbf  " + encode_event(good)  # JSON to json.loads, not to the engine
    with tempfile.TemporaryDirectory() as folder, ChdbStore(folder) as store:
        store.create_schema()
        sink = ArchiveSink(store, batch_size=10)
        try:
            sink.add([RawRecord(spaced, "c.assets", 0, 0)])
            sink.flush()
        finally:
            sink.close()
        assert sink.rejected_count == 0
        [(payload, version)] = store.query("SELECT payload, schema_version FROM events")
        assert isinstance(payload, str)
        assert (payload.encode(), version) == (spaced, 1)
        assert store.query("SELECT asset_key, metadata FROM materializations") == [("a", '{"n":1}')]


def test_consumed_events_are_archived_like_raw_records() -> None:
    mat = AssetMaterialized(asset_key="a", data_version="v")
    consumed = ConsumedEvent(mat, "c.assets", 2, 40, "a#", 0)
    [row] = archived([consumed])["events"]
    assert (row["partition"], row["offset"], row["key"], row["payload"]) == (
        2,
        40,
        "a#",
        encode_event(mat).decode(),
    )


def test_a_changed_pipeline_replaces_the_old_one() -> None:
    with tempfile.TemporaryDirectory() as folder, ChdbStore(folder) as store:
        store.execute("CREATE TABLE ingest_old (payload String) ENGINE = Null")
        store.execute("CREATE TABLE kept (payload String) ENGINE = Memory")
        store.execute(
            "CREATE MATERIALIZED VIEW ingest_old_to_kept TO kept AS SELECT payload FROM ingest_old"
        )
        store.create_schema()
        names = {str(n) for (n,) in store.query("SELECT name FROM system.tables")}
        assert "ingest_old" not in names and "ingest_old_to_kept" not in names
        assert INGEST in names and "kept" in names


def test_an_archive_of_the_first_shape_gets_its_records_numbered_in_time_order() -> None:
    later = AssetMaterialized(asset_key="a", partition_key="p", data_version="v2", time=T1)
    earlier = MaterializationRequested(
        run_id="r", selection="a", asset_keys=("a",), partition_keys=("p",), time=T0
    )
    with tempfile.TemporaryDirectory() as folder, ChdbStore(folder) as store:
        store.execute(  # `events` as interface version 0 made it
            "CREATE TABLE events (event_id String, type LowCardinality(String),"
            " time DateTime64(6, 'UTC'), key String, topic LowCardinality(String),"
            " partition UInt32, offset UInt64, schema_version UInt16, payload String,"
            " run_id String, asset_key String, partition_key String,"
            " keep UInt64 MATERIALIZED 18446744073709551615 - offset)"
            " ENGINE = ReplacingMergeTree(keep)"
            " ORDER BY (asset_key, partition_key, event_id, topic)"
        )
        store.execute(
            "INSERT INTO events (event_id, type, time, topic, partition, offset, payload)"
            " VALUES ({a:String}, 'AssetMaterialized', {ta:DateTime64(6)}, 'c.assets', 0, 7,"
            " {pa:String}), ({b:String}, 'MaterializationRequested', {tb:DateTime64(6)},"
            " 'c.requests', 0, 3, {pb:String}), ('junk', '', now(), 'c.assets', 0, 9, 'x')",
            {"a": later.event_id, "ta": T1, "pa": encode_event(later).decode(),
             "b": earlier.event_id, "tb": T0, "pb": encode_event(earlier).decode()},
        )  # fmt: skip
        store.create_schema()
        store.create_schema()  # once migrated, nothing more to do
        assert store.query("SELECT seq, event_id, offset FROM events ORDER BY seq") == [
            (1, earlier.event_id, 3),
            (2, later.event_id, 7),
        ]
        assert store.query(
            "SELECT asset_key, partition_key, seq FROM partition_events ORDER BY seq"
        ) == [("a", "p", 1), ("a", "p", 2)]
        assert store.query("SELECT count() FROM system.tables WHERE name LIKE '%migrat%'") == [(0,)]
        assert store.query(
            "SELECT count() FROM system.tables WHERE name = 'events_before_seq'"
        ) == [(0,)]
        assert store.last_seq() == 2


def test_importing_projections_loads_no_clickhouse_driver() -> None:
    code = (
        "import sys, conflux.projections; "
        "print(sorted(m for m in ('chdb', 'clickhouse_connect', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
