"""Rule 4: a replay from offset zero equals the live state, for every projection.

A scripted workload (a failure, a duplicate request, a duplicate event, a re-published
snapshot) runs through the live coordinator and projector (with its chdb archive); then
each projection is rebuilt from the log and compared with what the live one holds.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from test_coordinator import System
from test_projector import _running

from conflux.coordinator import coordinator_fold
from conflux.events import AssetMaterialized, EventConsumer
from conflux.projections.archive import ArchiveSink, ChdbStore
from conflux.projections.projector import (
    Projector,
    ReadModel,
    archive_fold,
    read_model_fold,
    rebuild_from_archive,
    replay,
)

if TYPE_CHECKING:
    from pathlib import Path

    from brokers import BrokerHandle

    from conflux.coordinator import Coordinator
    from conflux.events import Topics
    from conflux.projections.archive import ArchiveStore

pytestmark = pytest.mark.integration


def _settled(coord: Coordinator, model: ReadModel) -> None:
    """Wait until neither fold has changed for a second.

    The read model is compared by what it shows (assets, runs), not by events applied:
    three components send a heartbeat every 2 s, so a second without any comes only when
    their phases happen to leave a gap.
    """
    last: tuple[object, ...] = ()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = (coord.applied, model.asset_summaries(), model.run_summaries(limit=1000))
        if now == last:
            return
        last = now
        time.sleep(1.0)
    raise AssertionError("the folds did not settle")


def _answers(store: ArchiveStore) -> dict[str, object]:
    """What the archive answers, heartbeats aside (they keep coming until the end)."""
    materialized = store.query(
        "SELECT DISTINCT asset_key, partition_key FROM materializations ORDER BY 1, 2"
    )
    report = store.materializations("report")
    return {
        "events": store.query(
            "SELECT type, count(DISTINCT event_id, topic) FROM events"
            " WHERE type != 'ComponentHeartbeat' GROUP BY type ORDER BY type"
        ),
        "runs": store.query("SELECT DISTINCT run_id, type, status FROM runs ORDER BY 1, 2, 3"),
        "materializations": {
            (str(a), str(p)): store.materializations(str(a), str(p) or None)
            for a, p in materialized
        },
        "lineage_up": store.lineage(report[0].event_id, direction="upstream", depth=5),
        "lineage_down": store.lineage(
            store.materializations("raw")[0].event_id, direction="downstream", depth=5
        ),
        "history": [row[:6] for row in store.history("colors", "red")],
    }


def test_replay_from_zero_equals_the_live_state(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    system = System(broker, topics)
    projector = Projector(
        broker.bootstrap, topics, broker_kind=broker.kind, archive=ChdbStore(tmp_path / "live")
    )
    runs = system.runs()
    try:
        system.publish()
        system.publish()  # the same snapshot again (a worker restart)
        system.fail_nodes = {"clean"}
        with _running(projector), system.coordinator() as coord, system.worker():
            system.request("raw", "clean", "colors", "report", run_id="w1", partitions=("red",))
            assert runs.completed("w1").status == "failed"
            system.fail_nodes = set()
            both = ("red", "blue")
            system.request("raw", "clean", "colors", "report", run_id="w2", partitions=both)
            system.request("raw", "clean", "colors", "report", run_id="w2", partitions=both)
            assert runs.completed("w2").status == "success"
            with EventConsumer(broker.bootstrap, topics, [topics.assets],
                               broker_kind=broker.kind) as assets:  # fmt: skip
                first = None
                while first is None:
                    found = [r.event for r in assets.poll(timeout=0.5)]
                    first = next((e for e in found if isinstance(e, AssetMaterialized)), None)
            system.producer.emit(first)  # a duplicate event: same id, a second record
            system.producer.flush()
            _settled(coord, projector.model)
            live_coordinator = (coord.state.progress(), coord.state.assets.partitions)
            live_model = (
                projector.model.asset_summaries(),
                projector.model.run_summaries(limit=1000),
            )
    finally:
        runs.close()
        system.close()

    state, fold = coordinator_fold()
    done = replay(broker.bootstrap, topics, "coordinator", fold, broker_kind=broker.kind)
    assert done.events > 0
    assert (state.progress(), state.assets.partitions) == live_coordinator

    model, fold = read_model_fold()
    replay(broker.bootstrap, topics, "read-model", fold, broker_kind=broker.kind)
    assert (model.asset_summaries(), model.run_summaries(limit=1000)) == live_model

    with ChdbStore(tmp_path / "live") as live:
        expected = _answers(live)
        # The read model rebuilt from the archive (a start without a checkpoint) too.
        fresh = ReadModel()
        assert rebuild_from_archive(live, fresh) > 0
        assert (fresh.asset_summaries(), fresh.run_summaries(limit=1000)) == live_model
    with ChdbStore(tmp_path / "rebuilt") as rebuilt:
        rebuilt.create_schema()
        sink = ArchiveSink(rebuilt)
        try:
            replay(broker.bootstrap, topics, "archive", archive_fold(sink), broker_kind=broker.kind)
        finally:
            sink.close()
        assert _answers(rebuilt) == expected
    assert expected["lineage_up"] and expected["lineage_down"]
