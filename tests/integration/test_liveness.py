"""Retries and lost workers on a real broker: a kill -9 mid-partition ends in exactly one
materialization, in the log and in every projection rebuilt from it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from brokers import BrokerHandle, read_to_end
from test_worker import request, running, wait_for_definitions, wait_for_run

from conflux.coordinator import Coordinator, CoordinatorState
from conflux.events import (
    AssetMaterialized,
    PartitionStarted,
    Topics,
    WorkItemAbandoned,
    WorkItemDispatched,
)
from conflux.projections.projector import ReadModel

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration

DEFINITIONS = """
import time
from pathlib import Path
from conflux import Definitions, RetryPolicy, StaticPartitionsDefinition, asset

parts = StaticPartitionsDefinition(["slow", "flaky"])
MARKS = Path({marks!r})

@asset(partitions_def=parts, retry_policy=RetryPolicy(max_retries=2, delay=0.2))
def payload(context) -> str:
    mark = MARKS / context.partition_key
    first = not mark.exists()
    mark.touch()
    if first and context.partition_key == "slow":
        time.sleep(600)  # the test kills this worker here
    if first and context.partition_key == "flaky":
        raise RuntimeError("first attempt fails")
    return context.partition_key

defs = Definitions(assets=[payload])
"""


def start_worker(
    broker: BrokerHandle, topics: Topics, file: Path, storage: Path, location: str = "loc"
) -> subprocess.Popen[bytes]:
    """`conflux worker` of `location` in a process of its own (its log in `storage`)."""
    env = {
        **os.environ,
        "CONFLUX_BOOTSTRAP": broker.bootstrap,
        "CONFLUX_BROKER_KIND": broker.kind,
        "CONFLUX_TOPIC_PREFIX": topics.prefix,
    }
    cli = "import sys; from conflux.cli import main; sys.argv[0] = 'conflux'; main()"
    args = ["-c", cli, "worker", "--location", location, "-f", str(file)]
    args += ["--storage-dir", str(storage)]
    with (storage / f"worker-{time.monotonic_ns()}.log").open(
        "wb"
    ) as log:  # the child keeps its own
        return subprocess.Popen([sys.executable, *args], env=env, stdout=log, stderr=log)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def wait_for_start(broker: BrokerHandle, topics: Topics, partition: str) -> PartitionStarted:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for record in read_to_end(broker, topics, [topics.assets]):
            event = record.event
            if isinstance(event, PartitionStarted) and event.partition_key == partition:
                return event
        time.sleep(0.1)
    raise AssertionError(f"partition {partition} never started")


def test_killed_worker_is_replaced_and_the_partition_materializes_exactly_once(
    broker: BrokerHandle,
    topics: Topics,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    (tmp_path / "marks").mkdir()
    storage = tmp_path / "storage"
    storage.mkdir()
    file = tmp_path / "defs.py"
    file.write_text(DEFINITIONS.format(marks=str(tmp_path / "marks")))
    coordinator = Coordinator(
        broker.bootstrap, topics, broker_kind=broker.kind, heartbeat_timeout_s=3.0
    )
    with running(coordinator):
        processes.append(start_worker(broker, topics, file, storage))
        wait_for_definitions(broker, topics, "loc")
        run_id = request(broker, topics, ("payload",), ("slow",))
        started = wait_for_start(broker, topics, "slow")
        # Requested while the worker is stuck in "slow": it stays in the work topic (a
        # worker claims only the batch it polled), so only "slow" is lost with the worker.
        flaky_run = request(broker, topics, ("payload",), ("flaky",))
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait(timeout=10)
        processes.append(start_worker(broker, topics, file, storage))
        done = wait_for_run(broker, topics, run_id, timeout=120)
        flaky = wait_for_run(broker, topics, flaky_run, timeout=120)
    assert (done.status, done.materialized) == ("success", 1)
    assert (flaky.status, flaky.materialized) == ("success", 1)
    runs = [r.event for r in read_to_end(broker, topics, [topics.runs])]
    (lost,) = [e for e in runs if isinstance(e, WorkItemAbandoned)]
    assert (lost.attempt, lost.worker_id) == (1, started.worker_id)
    attempts = sorted(
        (e.partition_key, e.attempt) for e in runs if isinstance(e, WorkItemDispatched)
    )
    assert attempts == [("flaky", 1), ("flaky", 2), ("slow", 1), ("slow", 2)]
    log = [
        r.event
        for r in read_to_end(broker, topics, [topics.definitions, topics.requests, topics.runs])
    ]
    assets = [r.event for r in read_to_end(broker, topics, [topics.assets])]
    made = [e for e in assets if isinstance(e, AssetMaterialized) and e.partition_key == "slow"]
    assert len(made) == 1 and made[0].attempt == 2
    # Every projection, rebuilt from the log, agrees: materialized once, by attempt 2.
    state = CoordinatorState()
    model = ReadModel()
    for event in [*log, *assets]:
        state.apply(event)
        model.apply(event)
    assert state.runs[run_id].completed is not None
    partition = state.assets.get("payload", "slow")
    assert partition is not None and partition.materialized is not None
    assert partition.materialized.event_id == made[0].event_id
    summary = model.run_summary(run_id)
    assert summary is not None and (summary.status, summary.materialized) == ("success", 1)
