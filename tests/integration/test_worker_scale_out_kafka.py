"""Scale out on a real broker: two `conflux worker` processes of one location share its work.

A coordinator (in the test's process) and two worker processes started as an operator
starts them on two machines (`conflux worker --location fleet -f defs.py`, the broker in
`CONFLUX_BOOTSTRAP`). Both join the location's consumer group; a run of 40 partitions
of ~50 ms each is split between them: each executes some, none is executed twice.
"""

from __future__ import annotations

import signal
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
from brokers import BrokerHandle, make_topics, read_to_end
from test_liveness import start_worker
from test_worker import request, running, wait_for_definitions, wait_for_run

from conflux.coordinator import Coordinator
from conflux.events import AssetMaterialized, PartitionStarted
from conflux.events._admin import admin_client

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from confluent_kafka.admin import AdminClient

pytestmark = pytest.mark.integration

LOCATION = "fleet"
SHARDS = [f"s{i:02d}" for i in range(40)]
DEFINITIONS = f"""
import os
import time

from conflux import Definitions, MaterializeResult, StaticPartitionsDefinition, asset

@asset(partitions_def=StaticPartitionsDefinition({SHARDS!r}))
def shard() -> MaterializeResult:
    time.sleep(0.05)
    return MaterializeResult(metadata={{"pid": os.getpid()}})

defs = Definitions(assets=[shard])
"""


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes the test starts; each is stopped (SIGTERM, then SIGKILL) at the end."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _group_members(admin: AdminClient, group: str) -> list[int]:
    """How many work-topic partitions each member of the consumer group holds."""
    [future] = admin.describe_consumer_groups([group], request_timeout=5).values()
    description = future.result()
    return [len(m.assignment.topic_partitions) for m in description.members]


def _wait_for_group(broker: BrokerHandle, group: str, members: int, timeout: float = 60) -> None:
    """Block until `members` consumers share the group, each holding some partitions."""
    admin = admin_client(broker.bootstrap)
    deadline = time.monotonic() + timeout
    held: list[int] = []
    while time.monotonic() < deadline:
        held = _group_members(admin, group)
        if len(held) == members and all(held):
            return
        time.sleep(0.2)
    raise AssertionError(f"group {group}: partitions per member {held}, wanted {members} members")


def test_two_worker_processes_of_one_location_share_its_work(
    broker: BrokerHandle, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    topics = make_topics(broker.bootstrap, None, LOCATION)
    (tmp_path / "storage").mkdir()
    (tmp_path / "defs.py").write_text(DEFINITIONS)
    coordinator = Coordinator(broker.bootstrap, topics, broker_kind=broker.kind)
    with running(coordinator):
        defs, storage = tmp_path / "defs.py", tmp_path / "storage"
        workers += [start_worker(broker, topics, defs, storage, LOCATION) for _ in (1, 2)]
        wait_for_definitions(broker, topics, LOCATION)
        _wait_for_group(broker, f"{topics.prefix}.workers.{LOCATION}", members=2)
        run_id = request(broker, topics, ("shard",), tuple(SHARDS))
        done = wait_for_run(broker, topics, run_id, timeout=60)
    assert (done.status, done.materialized, done.failed) == ("success", 40, 0)
    events = [r.event for r in read_to_end(broker, topics, [topics.assets])]
    started = [e for e in events if isinstance(e, PartitionStarted) and e.run_id == run_id]
    made = [e for e in events if isinstance(e, AssetMaterialized) and e.run_id == run_id]
    assert sorted(e.partition_key or "" for e in made) == SHARDS  # each once
    assert sorted(e.partition_key or "" for e in started) == SHARDS
    by_worker: dict[str, int] = {}
    for event in made:
        assert event.worker_id is not None
        by_worker[event.worker_id] = by_worker.get(event.worker_id, 0) + 1
    # `fleet@host:pid:rand`: both processes executed some of the 40.
    pids = {int(worker_id.split(":")[1]) for worker_id in by_worker}
    assert pids == {proc.pid for proc in workers}, by_worker
    assert {e.worker_id for e in started} == set(by_worker)
    print(f"partitions per worker: {sorted(by_worker.values())}")
