"""Records become archive rows: one decode per record, every table's columns, positions."""

from __future__ import annotations

import subprocess
import sys

from conflux.events import (
    AssetMaterialized,
    ComponentHeartbeat,
    MaterializationRequested,
    RunCompleted,
    RunStarted,
    UpstreamRef,
    WorkItemDispatched,
    encode_event,
)
from conflux.events._kafka import ConsumedEvent
from conflux.projections._archive import RawRecord, build_batch
from conflux.projections._store import Tracking


def raw(event: object, offset: int, topic: str = "c.assets", partition: int = 0) -> RawRecord:
    return RawRecord(encode_event(event), topic, partition, offset, key="k")  # type: ignore[arg-type]


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
    assert rejected == [] and batch.events == 2
    rows = batch.tables["events"].to_pylist()
    assert [r["type"] for r in rows] == ["ComponentHeartbeat", "WorkItemDispatched"]
    assert rows[0]["payload"] == encode_event(beat) and rows[0]["time"] == beat.time
    assert (rows[1]["asset_key"], rows[1]["partition_key"], rows[1]["run_id"]) == ("b", "p", "r")
    assert (rows[1]["topic"], rows[1]["partition"], rows[1]["offset"], rows[1]["key"]) == (
        "c.runs",
        0,
        5,
        "k",
    )
    assert set(batch.tables) == {"events"}


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
    batch, _ = build_batch([raw(mat, 0)])
    [m] = batch.tables["materializations"].to_pylist()
    assert (m["asset_key"], m["partition_key"], m["data_version"], m["event_id"]) == (
        "down",
        "2024-01-31",
        "d1",
        mat.event_id,
    )
    assert (m["metadata"], m["attempt"], m["code_version"], m["time"]) == (
        b'{"rows":3}',
        2,
        "",
        mat.time,
    )
    edges = batch.tables["lineage_edges"].to_pylist()
    assert [
        (e["upstream_asset"], e["upstream_partition"], e["upstream_event_id"]) for e in edges
    ] == [("up", "", "e0"), ("fresh", "", "")]
    assert {e["downstream_event_id"] for e in edges} == {mat.event_id}
    [index] = batch.tables["lineage_up"].to_pylist()
    assert index["id"] == mat.event_id and [u["id"] for u in index["ups"]] == ["e0", ""]


def test_run_events_become_run_rows() -> None:
    events = [
        MaterializationRequested(run_id="r", selection="a*", asset_keys=("a",), requested_by="me"),
        RunStarted(run_id="r", asset_keys=("a",), partition_count=4),
        RunCompleted(run_id="r", status="failed", failed=1, reason="boom"),
    ]
    batch, _ = build_batch([raw(e, i, "c.runs") for i, e in enumerate(events)])
    rows = batch.tables["runs"].to_pylist()
    assert [r["status"] for r in rows] == ["requested", "started", "failed"]
    assert (rows[0]["requested_by"], rows[0]["selection"]) == ("me", "a*")
    assert (rows[1]["partition_count"], rows[2]["failed"], rows[2]["reason"]) == (4, 1, "boom")


def test_positions_reach_the_highest_offset_of_each_partition() -> None:
    mats = [AssetMaterialized(asset_key="a", data_version=str(i)) for i in range(4)]
    recs = [
        raw(mats[0], 7, partition=1),
        raw(mats[1], 3, partition=1),
        raw(mats[2], 2),
        raw(mats[3], 9, "c.runs"),
    ]
    batch, _ = build_batch(recs, projection="p")
    assert sorted(batch.positions, key=lambda t: (t.topic, t.partition)) == [
        Tracking("p", "c.assets", 0, 2),
        Tracking("p", "c.assets", 1, 7),
        Tracking("p", "c.runs", 0, 9),
    ]


def test_invalid_records_are_rejected_with_a_reason_and_still_passed() -> None:
    good = AssetMaterialized(asset_key="a", data_version="v")
    recs = [
        raw(good, 0),
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
    batch, rejected = build_batch(recs)
    assert batch.tables["events"].column("event_id").to_pylist() == [good.event_id]
    assert [r.offset for r in rejected] == [1, 2, 3]
    assert "not JSON" in rejected[0].reason and "asset_key" in rejected[1].reason
    assert batch.positions == (Tracking("archive", "c.assets", 0, 3),) and batch.events == 4


def test_consumed_events_are_archived_like_raw_records() -> None:
    mat = AssetMaterialized(asset_key="a", data_version="v")
    consumed = ConsumedEvent(mat, "c.assets", 2, 40, "a#", 0)
    batch, _ = build_batch([consumed])
    [row] = batch.tables["events"].to_pylist()
    assert (row["partition"], row["offset"], row["key"], row["payload"]) == (
        2,
        40,
        "a#",
        encode_event(mat),
    )


def test_importing_projections_loads_no_clickhouse_driver() -> None:
    code = (
        "import sys, conflux.projections; "
        "print(sorted(m for m in ('chdb', 'clickhouse_connect', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
