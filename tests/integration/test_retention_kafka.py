"""Kafka retention: old records leave the topics, and the system restarts as if they had not.

With history in the archive and state in checkpoints, the log need not be kept whole. Here
a system runs on Apache Kafka (coordinator and projector with their checkpoints, the
projector's chdb archive, a worker), stops cleanly, and every record of every topic is
deleted (the admin client's `delete_records` moves each partition's log start to its end,
as a retention does to old segments). Started again, both resume from their checkpoints:
the read model, the archive's history and lineage answer for what is no longer in the
log, and new work runs. A projector whose checkpoint is lost rebuilds from the archive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from test_coordinator import System
from test_projector import _caught_up, _projector, _running, _wait

from conflux.projections.api import EventQuery

if TYPE_CHECKING:
    from pathlib import Path

    from brokers import BrokerHandle

    from conflux.events import Topics
    from conflux.projections.api import ApiClient

pytestmark = pytest.mark.integration


def _delete_everything(broker: BrokerHandle, topics: Topics) -> int:
    """Delete every record of the system's topics; return how many there were."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    names = [t.name for t in topics.core()] + [topics.work("shop")]
    metadata = admin.list_topics(timeout=10)
    marks = []
    probe = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "retention-probe"})
    deleted = 0
    try:
        for name in names:
            for p in metadata.topics[name].partitions:
                low, high = probe.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                deleted += high - low
                marks.append(TopicPartition(name, p, high))
    finally:
        probe.close()
    for tp, future in admin.delete_records(marks).items():
        done = future.result(timeout=30)
        assert done.low_watermark == next(
            m.offset for m in marks if (m.topic, m.partition) == (tp.topic, tp.partition)
        )
    return deleted


def _views(client: ApiClient) -> tuple[object, ...]:
    red = client.events(EventQuery(asset="colors", partition="red"))
    story = [(r.type, r.seq, r.event["event_id"]) for r in red]
    lineage = client.lineage("report", depth=5)
    return (
        client.assets(),
        client.runs(limit=100),
        story,
        [(link.upstream_asset, link.upstream_partition) for link in lineage.links],
        lineage.root.event_id,
    )


def test_the_system_restarts_after_the_log_was_deleted(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    system = System(broker, topics)
    runs = system.runs()
    state = tmp_path / "state"
    coordinator_checkpoint = state / "coordinator" / "checkpoint"
    try:
        system.publish()
        with (
            _running(_projector(broker, topics, state)) as client,
            system.coordinator(coordinator_checkpoint),
            system.worker(),
        ):
            system.request("raw", "clean", "colors", "report", run_id="r1", partitions=("red",))
            assert runs.completed("r1").status == "success"
            both = ("red", "blue")
            system.request("raw", "clean", "colors", "report", run_id="r2", partitions=both)
            assert runs.completed("r2").status == "success"
            _wait("r2 in the read model", lambda: client.run("r2").status == "success")
            before = _views(client)
        assert coordinator_checkpoint.is_file() and (state / "projector" / "checkpoint").is_file()

        assert _delete_everything(broker, topics) > 0  # the log is gone: only its end is left

        runs.close()
        runs = system.runs()  # from the log's new start: nothing of r1 or r2
        with (
            _running(_projector(broker, topics, state)) as client,
            system.coordinator(coordinator_checkpoint) as coord,
            system.worker(),
        ):
            _wait("caught up", _caught_up(client))
            assert coord.resumed_from is not None  # the coordinator's checkpoint
            assert _views(client) == before  # the read model's, and the archive's history
            # New work on top of the deleted history: the coordinator still knows the
            # definitions (its checkpoint), and lineage reaches back into deleted records.
            system.request("colors", "report", run_id="r3", partitions=("blue",))
            assert runs.completed("r3").status == "success"
            _wait("r3 in the read model", lambda: client.run("r3").status == "success")
            after = _views(client)
            assert len(after[1]) == 3  # type: ignore[arg-type]
            lineage = client.lineage("report", depth=5)
            reached = {(link.upstream_asset, link.upstream_partition) for link in lineage.links}
            assert ("clean", None) in reached  # clean was materialized by r2 only

        # The projector's checkpoint lost: it rebuilds the read model from the archive.
        (state / "projector" / "checkpoint").unlink()
        rebuilt = _projector(broker, topics, state)
        with _running(rebuilt) as client:
            _wait("caught up", _caught_up(client))
            assert rebuilt.rebuilt > 0 and rebuilt.resumed_from is None
            assert _views(client)[:3] == after[:3]
    finally:
        runs.close()
        system.close()
