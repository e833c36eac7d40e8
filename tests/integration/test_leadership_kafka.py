"""Several coordinators on one log: one decides, the others stand by, and a paused one is
fenced (issue 18). Counted from the log, as the folds see it."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from brokers import BrokerHandle, read_to_end
from test_worker import running, wait_for_definitions

from conflux import DailyPartitionsDefinition, Definitions, asset
from conflux.coordinator import Coordinator
from conflux.events import (
    AssetMaterialized,
    BackfillCompleted,
    BackfillRequested,
    EventProducer,
    PartitionRange,
    Topics,
)
from conflux.workers import Worker

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

days = DailyPartitionsDefinition(start_date="2023-01-01", end_date="2024-01-01")


@asset(partitions_def=days)
def daily() -> int:
    return 1


def backfill(broker: BrokerHandle, topics: Topics, backfill_id: str) -> None:
    with EventProducer(broker.bootstrap, topics, broker_kind=broker.kind) as producer:
        producer.emit(
            BackfillRequested(
                backfill_id=backfill_id,
                selection="daily",
                asset_keys=("daily",),
                partition_range=PartitionRange(start="2023-01-01", end="2023-12-31"),
                producer="test",
            )
        )


def wait_for_backfill(
    broker: BrokerHandle, topics: Topics, backfill_id: str, timeout: float = 120
) -> BackfillCompleted:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in read_to_end(broker, topics, [topics.runs]):
            event = record.event
            if isinstance(event, BackfillCompleted) and event.backfill_id == backfill_id:
                return event
        time.sleep(0.5)
    raise AssertionError(f"backfill {backfill_id} did not complete within {timeout}s")


def make_worker(broker: BrokerHandle, topics: Topics, storage: Path) -> Worker:
    return Worker(
        location="loc",
        load=lambda: Definitions(assets=[daily]),
        bootstrap=broker.bootstrap,
        topics=topics,
        storage_dir=storage,
        broker_kind=broker.kind,
    )


def test_two_coordinators_execute_a_backfill_of_365_partitions_once(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    """The issue's trial: `conflux coordinator` twice against one Kafka, one backfill."""
    first = Coordinator(broker.bootstrap, topics, broker_kind=broker.kind)
    second = Coordinator(broker.bootstrap, topics, broker_kind=broker.kind)
    worker = make_worker(broker, topics, tmp_path)
    with running(first, second, worker):
        wait_for_definitions(broker, topics, "loc")
        backfill(broker, topics, "bf-365")
        done = wait_for_backfill(broker, topics, "bf-365")
    assert (done.status, done.materialized) == ("success", 365)
    made = [
        r.event
        for r in read_to_end(broker, topics, [topics.assets])
        if isinstance(r.event, AssetMaterialized)
    ]
    per_partition = Counter(e.partition_key for e in made)
    assert len(per_partition) == 365
    assert len(made) == 365, f"{len(made) - 365} partitions executed more than once"
