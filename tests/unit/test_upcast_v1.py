"""Schema evolution (rule 6): recorded events read into today's models; history never rewritten.

`RECORDED_V1` is an `AssetMaterialized` exactly as version 1 writes it; it must keep
reading as long as version 1 is current, and later through upcasters. `RECORDED_V0` is a
hypothetical older shape (`asset`, `partition`, `version`, upstream as `asset#partition`
strings) that a registered v0 -> v1 upcaster lifts on read. The archive stores both as
they were written, with their own schema version, and fills its typed tables from the
upcast form.
"""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING, Any

import pytest
from archive_tables import archived

from conflux.events import AssetMaterialized, UpstreamRef, decode_event, register_upcaster
from conflux.events._serde import UPCASTERS
from conflux.projections.archive import ChdbStore, RawRecord
from conflux.projections.archive._schema import INGEST
from conflux.projections.archive._sink import build_batch
from conflux.projections.archive._store import RecordsRejectedError

if TYPE_CHECKING:
    from collections.abc import Iterator

RECORDED_V1 = (
    b'{"event_id":"5f0c2a9e8b7d4c3a9e1f2b3c4d5e6f70","schema_version":1,'
    b'"time":"2024-01-31T13:00:00.250000Z","producer":"worker:shop:1",'
    b'"correlation_id":"run1","causation_id":"d1","type":"AssetMaterialized",'
    b'"asset_key":"sales/daily","partition_key":"2024-01-31","data_version":"v9",'
    b'"code_version":null,"source":"executed","upstream":[{"asset_key":"sales/orders",'
    b'"partition_key":"2024-01-31","data_version":"v3","event_id":"e3"}],'
    b'"metadata":{"rows":12},"run_id":"run1","work_item_id":"w1","worker_id":"worker:shop:1",'
    b'"attempt":1,"duration_ms":8.5}'
)
RECORDED_V0 = (
    b'{"event_id":"0a1b2c3d","schema_version":0,"time":"2023-06-01T00:00:00Z",'
    b'"type":"AssetMaterialized","asset":"sales/daily","partition":"2023-05-31",'
    b'"version":"old7","upstream":["sales/orders#2023-05-31"],"run_id":null}'
)


@pytest.fixture
def v0_upcaster() -> Iterator[None]:
    @register_upcaster("AssetMaterialized", 0)
    def v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
        data = dict(data)
        data["asset_key"] = data.pop("asset")
        data["partition_key"] = data.pop("partition")
        data["data_version"] = data.pop("version")
        data["upstream"] = [
            {"asset_key": a, "partition_key": p or None}
            for a, _, p in (ref.partition("#") for ref in data.get("upstream", []))
        ]
        data["schema_version"] = 1
        return data

    try:
        yield
    finally:
        UPCASTERS.pop(("AssetMaterialized", 0), None)


def test_a_recorded_version_1_event_reads_into_todays_model() -> None:
    event = decode_event(RECORDED_V1)
    assert isinstance(event, AssetMaterialized)
    assert (event.asset_key, event.data_version, event.schema_version) == ("sales/daily", "v9", 1)
    assert event.upstream == (
        UpstreamRef(
            asset_key="sales/orders", partition_key="2024-01-31", data_version="v3", event_id="e3"
        ),
    )


@pytest.mark.usefixtures("v0_upcaster")
def test_a_version_0_event_is_upcast_on_read() -> None:
    event = decode_event(RECORDED_V0)
    assert isinstance(event, AssetMaterialized)
    assert (event.asset_key, event.partition_key, event.data_version) == (
        "sales/daily",
        "2023-05-31",
        "old7",
    )
    assert event.schema_version == 1 and event.upstream[0].asset_key == "sales/orders"


@pytest.mark.usefixtures("v0_upcaster")
def test_the_archive_keeps_history_as_written_and_types_it_as_today() -> None:
    records = [RawRecord(RECORDED_V0, "c.assets", 0, 0), RawRecord(RECORDED_V1, "c.assets", 0, 1)]
    batch, rejected = build_batch(records)
    assert rejected == []
    ingest = batch.tables[INGEST].to_pylist()  # only the old record is read (and upcast) here
    assert [(r["body"] != b"", r["schema_version"]) for r in ingest] == [(True, 0), (False, None)]
    tables = archived(records)
    events = tables["events"]
    assert [e["payload"].encode() for e in events] == [RECORDED_V0, RECORDED_V1]  # as written
    assert [e["schema_version"] for e in events] == [0, 1]
    assert [e["asset_key"] for e in events] == ["sales/daily", "sales/daily"]
    mats = tables["materializations"]
    assert [(m["partition_key"], m["data_version"]) for m in mats] == [
        ("2023-05-31", "old7"),
        ("2024-01-31", "v9"),
    ]
    edges = tables["lineage_edges"]
    assert [(e["upstream_asset"], e["upstream_partition"]) for e in edges] == [
        ("sales/orders", "2023-05-31"),
        ("sales/orders", "2024-01-31"),
    ]


def test_without_its_upcaster_a_version_0_event_is_not_valid() -> None:
    batch, rejected = build_batch([RawRecord(RECORDED_V0, "c.assets", 0, 0)], validate=True)
    assert [r.offset for r in rejected] == [0] and INGEST not in batch.tables
    batch, rejected = build_batch([RawRecord(RECORDED_V0, "c.assets", 0, 0)])
    with tempfile.TemporaryDirectory() as folder, ChdbStore(folder) as store:
        store.create_schema()
        with pytest.raises(RecordsRejectedError):  # the engine's check refuses it too
            store.write(batch)
