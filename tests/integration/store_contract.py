"""What Conflux relies on from an archive store, as one suite bound per backend.

`test_store_chdb.py` and `test_store_server.py` bind `store` to a fresh, empty store with
its schema created; the behaviour lives here, once (STYLE.md point 7). Nothing here calls
OPTIMIZE: every answer must already be right while duplicates sit unmerged in parts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from conflux.events import (
    AssetMaterialized,
    MaterializationRequested,
    PartitionStarted,
    RunCompleted,
    RunStarted,
    UpstreamRef,
    encode_event,
)
from conflux.projections.archive import ArchiveSink, RawRecord
from conflux.projections.archive._sink import build_batch
from conflux.projections.archive._store import ArchiveError, Tracking

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conflux.events import Event
    from conflux.projections.archive import ArchiveStore
    from conflux.projections.archive._store import MaterializationRecord

T0 = datetime(2024, 1, 31, 13, 0, tzinfo=UTC)
NASTY = (
    "it's",
    'say "hi"',
    "back\\slash",
    "tab\there",
    "new\nline",
    "日本語",
    "'); DROP TABLE events; --",
)


def records(events: Sequence[Event], topic: str = "c.assets", start: int = 0) -> list[RawRecord]:
    return [RawRecord(encode_event(e), topic, 0, start + i, "k") for i, e in enumerate(events)]


def chain(n: int, partition: str | None = "2024-01-31") -> list[AssetMaterialized]:
    """a0 <- a1 <- ... <- a{n-1}, each reading the one before it."""
    out: list[AssetMaterialized] = []
    for i in range(n):
        ups = (
            ()
            if not out
            else (
                UpstreamRef(
                    asset_key=out[-1].asset_key,
                    partition_key=partition,
                    data_version=out[-1].data_version,
                    event_id=out[-1].event_id,
                ),
            )
        )
        out.append(
            AssetMaterialized(
                asset_key=f"a{i}",
                partition_key=partition,
                data_version=f"v{i}",
                upstream=ups,
                run_id="r1",
                time=T0 + timedelta(seconds=i),
            )
        )
    return out


def write(store: ArchiveStore, recs: list[RawRecord]) -> None:
    batch, rejected = build_batch(recs)
    assert rejected == []
    store.write(batch)


class StoreContract:
    """The archive store contract; subclasses bind `store` and set `__test__ = True`."""

    __test__ = False

    @pytest.fixture
    def store(self) -> ArchiveStore:
        raise NotImplementedError

    def test_schema_is_idempotent_and_starts_empty(self, store: ArchiveStore) -> None:
        store.create_schema()
        store.create_schema()
        assert store.count("events") == 0
        assert store.positions() == {}
        assert store.lineage("nope") == []

    def test_insert_then_look_up_by_asset_and_partition(self, store: ArchiveStore) -> None:
        mats = chain(2)
        started = PartitionStarted(
            asset_key="a1",
            partition_key="2024-01-31",
            run_id="r1",
            work_item_id="w",
            worker_id="x",
            time=T0,
        )
        write(store, records([started, *mats]))
        assert store.count("events") == 3
        [latest] = store.materializations("a1", "2024-01-31", limit=1)
        assert (latest.event_id, latest.data_version, latest.run_id) == (
            mats[1].event_id,
            "v1",
            "r1",
        )
        assert latest.time == mats[1].time
        assert store.materialization(mats[0].event_id) is not None
        history = store.history("a1", "2024-01-31")
        assert [row[1] for row in history] == ["PartitionStarted", "AssetMaterialized"]
        assert store.materializations("a1", None) == []

    def test_archiving_twice_changes_no_answer(self, store: ArchiveStore) -> None:
        events: list[Event] = [
            MaterializationRequested(run_id="r1", selection="*", asset_keys=("a0",)),
            RunStarted(run_id="r1", asset_keys=("a0",), partition_count=3),
            *chain(3),
            RunCompleted(run_id="r1", status="success", materialized=3),
        ]
        recs = records(events)

        def answers() -> tuple[object, ...]:
            return (
                [store.count(t) for t in ("events", "materializations", "runs", "lineage_edges")],
                store.materializations("a2", "2024-01-31"),
                store.history("a2", "2024-01-31"),
                store.lineage(events[-2].event_id, depth=5),
                store.lineage(events[2].event_id, direction="downstream", depth=5),
                store.query(
                    "SELECT status, uniqExact(event_id) FROM runs GROUP BY status ORDER BY status"
                ),
                store.positions(),
            )

        write(store, recs)
        first = answers()
        write(store, recs)  # redelivered
        write(store, records(events, start=len(events)))  # re-produced at later offsets
        again = answers()
        for a, b in zip(again[:-1], first[:-1], strict=True):
            assert a == b
        assert again[-1] == {("c.assets", 0): 2 * len(events) - 1}

    def test_the_earliest_copy_of_an_event_wins(self, store: ArchiveStore) -> None:
        first = AssetMaterialized(asset_key="a", data_version="v", time=T0)
        later = first.model_copy(update={"time": T0 + timedelta(hours=1)})
        write(store, records([later], start=9))
        write(store, records([first], start=4))
        [(_, _, _, _, offset, _, _)] = store.history("a")
        assert offset == 4

    @pytest.mark.parametrize("text", NASTY)
    def test_parameters_are_data_never_sql(self, store: ArchiveStore, text: str) -> None:
        mats = chain(2, partition=text)
        mats = [m.model_copy(update={"asset_key": f"{text}/{m.asset_key}"}) for m in mats]
        write(store, records(mats))
        assert [m.partition_key for m in store.materializations(mats[1].asset_key, text)] == [text]
        assert store.query(
            "SELECT {s:String}, {a:Array(String)}", {"s": text, "a": [text, "x"]}
        ) == [(text, [text, "x"])]
        assert store.count("events") == 2  # and the table is still there

    def test_positions_round_trip_and_never_go_back(self, store: ArchiveStore) -> None:
        batch, _ = build_batch(records(chain(1)))
        store.write(batch)
        store.write(
            type(batch)(
                {},
                (
                    Tracking("archive", "c.assets", 0, 7),
                    Tracking("archive", "c.runs", 2, 3),
                    Tracking("coordinator", "c.runs", 2, 11),
                ),
            )
        )
        store.write(type(batch)({}, (Tracking("archive", "c.assets", 0, 5),)))
        assert store.positions() == {("c.assets", 0): 7, ("c.runs", 2): 3}
        assert store.positions("coordinator") == {("c.runs", 2): 11}
        assert store.resume_offsets()[("c.assets", 0)] == 8

    @pytest.mark.parametrize("depth", [1, 3, 5])
    def test_lineage_walks_both_ways_to_a_depth(self, store: ArchiveStore, depth: int) -> None:
        mats = chain(7)
        fan = AssetMaterialized(
            asset_key="side",
            data_version="s",
            upstream=(
                UpstreamRef(
                    asset_key="a5",
                    partition_key="2024-01-31",
                    data_version="v5",
                    event_id=mats[5].event_id,
                ),
                UpstreamRef(asset_key="never", data_version=None, event_id=None),
            ),
        )
        write(store, records([*mats, fan]))
        up = store.lineage(mats[6].event_id, depth=depth)
        assert [(e.depth, e.downstream_asset, e.upstream_asset) for e in up] == [
            (d, f"a{6 - d + 1}", f"a{6 - d}") for d in range(1, depth + 1)
        ]
        assert up[0].upstream_event_id == mats[5].event_id and up[0].time == mats[6].time
        side = store.lineage(fan.event_id, depth=depth)
        assert ("never", None, None) in {
            (e.upstream_asset, e.upstream_event_id, e.upstream_data_version) for e in side
        }
        down = store.lineage(mats[0].event_id, direction="downstream", depth=depth)
        assert [(e.depth, e.downstream_asset) for e in down][:depth] == [
            (d, f"a{d}") for d in range(1, depth + 1)
        ]
        with pytest.raises(ValueError, match="depth"):
            store.lineage(mats[0].event_id, depth=0)

    def test_downstream_lineage_expands_each_node_where_it_is_first_reached(
        self, store: ArchiveStore
    ) -> None:
        # a <- b, a <- c, (a, b, c) <- d, d <- e: d is one hop down from a (it read a), so
        # its own edges are level 2, and the paths through b and c do not expand it again.
        def mat(key: str, *ups: AssetMaterialized) -> AssetMaterialized:
            refs = tuple(
                UpstreamRef(asset_key=u.asset_key, data_version=u.data_version, event_id=u.event_id)
                for u in ups
            )
            return AssetMaterialized(asset_key=key, data_version=f"v-{key}", upstream=refs)

        a = mat("a")
        b, c = mat("b", a), mat("c", a)
        d = mat("d", a, b, c)
        e = mat("e", d)
        write(store, records([a, b, c, d, e]))
        down = store.lineage(a.event_id, direction="downstream", depth=3)
        assert [(x.depth, x.downstream_asset, x.upstream_asset) for x in down] == [
            (1, "b", "a"),
            (1, "c", "a"),
            (1, "d", "a"),
            (2, "d", "b"),
            (2, "d", "c"),
            (2, "e", "d"),
        ]
        assert down[-1].downstream_event_id == e.event_id
        assert (down[-1].upstream_data_version, down[-1].time) == ("v-d", e.time)
        assert [x.depth for x in store.lineage(a.event_id, direction="downstream", depth=1)] == [
            1,
            1,
            1,
        ]
        assert store.lineage(e.event_id, direction="downstream") == []

    def test_the_latest_materialization_is_the_newest_whatever_order_it_came_in(
        self, store: ArchiveStore
    ) -> None:
        mats = [
            AssetMaterialized(
                asset_key="a",
                partition_key="p",
                data_version=f"v{i}",
                run_id=f"r{i}",
                source="reported" if i == 2 else "executed",
                time=T0 + timedelta(minutes=i),
            )
            for i in range(4)
        ]

        def latest() -> MaterializationRecord | None:
            found = store.latest_materialization("a", "p")
            assert found == store.materializations("a", "p", limit=1)[0]
            return found

        assert store.latest_materialization("a", "p") is None
        write(store, records([mats[1]]))
        assert latest() == store.materialization(mats[1].event_id)
        write(store, records([mats[2], mats[0]], start=1))  # one batch, out of order
        found = latest()
        assert found is not None
        assert (found.event_id, found.source, found.run_id) == (mats[2].event_id, "reported", "r2")
        write(store, records([mats[3]], start=3))
        write(store, records(mats[:3], start=4))  # older ones archived again
        assert latest() == store.materialization(mats[3].event_id)
        same_time = mats[3].model_copy(update={"event_id": "f" * 32, "data_version": "w"})
        write(store, records([same_time], start=7))  # a tie in time: the larger id wins
        assert latest() == store.materialization("f" * 32)
        unpartitioned = AssetMaterialized(asset_key="u", data_version="x")
        write(store, records([unpartitioned], start=8))
        assert store.latest_materialization("u") == store.materialization(unpartitioned.event_id)
        assert store.latest_materialization("u", "p") is None

    def test_an_archive_with_in_memory_indexes_loses_them_and_walks_the_same(
        self, store: ArchiveStore
    ) -> None:
        mats = chain(4)
        write(store, records(mats))
        down = store.lineage(mats[0].event_id, direction="downstream", depth=5)
        up = store.lineage(mats[3].event_id, direction="upstream", depth=5)
        assert len(down) == len(up) == 3
        # As an archive made before 2026-12-08 has them: history in Join-engine tables.
        columns = store.query(
            "SELECT name, type FROM system.columns WHERE table = 'lineage_down'"
            " AND database = currentDatabase() ORDER BY position"
        )
        store.execute("DROP TABLE lineage_down")
        store.execute(
            "CREATE TABLE lineage_down ("
            + ", ".join(f"{name} {kind}" for name, kind in columns)
            + ") ENGINE = Join(ALL, INNER, upstream_event_id)"
        )
        store.execute("CREATE TABLE lineage_up (id String) ENGINE = Join(ANY, LEFT, id)")
        store.execute(
            "CREATE TABLE latest_materializations (asset_key String, partition_key String)"
            " ENGINE = Join(ANY, LEFT, asset_key, partition_key)"
        )
        store.create_schema()
        engines = {
            str(name): str(engine)
            for name, engine in store.query(
                "SELECT name, engine FROM system.tables WHERE database = currentDatabase()"
                " AND engine NOT IN ('MaterializedView', 'View', 'Null')"
            )
        }
        assert "Join" not in engines.values(), engines
        assert engines["lineage_down"] == "ReplacingMergeTree"
        assert store.lineage(mats[0].event_id, direction="downstream", depth=5) == down
        assert store.lineage(mats[3].event_id, direction="upstream", depth=5) == up
        more = chain(2, partition="2024-02-01")
        write(store, records(more, start=len(mats)))  # the pipeline writes the new table
        assert len(store.lineage(more[0].event_id, direction="downstream", depth=5)) == 1

    def test_a_failed_statement_is_a_typed_error(self, store: ArchiveStore) -> None:
        with pytest.raises(ArchiveError) as raised:
            store.query("SELECT nope FROM no_such_table")
        assert raised.value.backend == store.backend and raised.value.location

    def test_sink_batches_and_resumes_after_a_restart(self, store: ArchiveStore) -> None:
        now = [0.0]
        events = [*chain(5), RunStarted(run_id="r1", asset_keys=("a0",), partition_count=1)]
        recs = records(events)
        sink = ArchiveSink(store, batch_size=4, flush_interval_s=1.0, clock=lambda: now[0])
        try:
            sink.add(recs[:5])  # one full batch goes, one record waits
            sink.flush()
            assert store.count("events") == 5 and sink.positions == {("c.assets", 0): 4}
            sink.add(recs[5:])
            assert store.count("events") == 5  # not due yet
            now[0] = 1.5
            sink.add([])
            sink.flush()
            assert store.count("events") == 6
        finally:
            sink.close()
        again = ArchiveSink(store, batch_size=100)
        try:
            again.add(recs)  # all at or below the stored position: nothing to do
            again.flush()
            assert again.archived == 0 and again.positions == {("c.assets", 0): 5}
        finally:
            again.close()

    def test_sink_skips_invalid_records_and_keeps_going(self, store: ArchiveStore) -> None:
        good = records(chain(2))
        bad = [
            RawRecord(b"not json", "c.assets", 0, 2),
            RawRecord(
                b'{"type": "Nope", "event_id": "x", "time": "2024-01-01T00:00:00Z"}',
                "c.assets",
                0,
                3,
            ),
        ]
        sink = ArchiveSink(store, batch_size=10)
        try:
            sink.add([*good, *bad])
            sink.flush()
        finally:
            sink.close()
        assert store.count("events") == 2 and sink.rejected_count == 2
        assert store.positions() == {("c.assets", 0): 3}
