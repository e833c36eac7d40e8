"""Declarative automation on a real broker: a worker's materialization drives the next."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from brokers import BrokerHandle, read_to_end
from test_worker import running, wait_for_definitions

from conflux import AutomationCondition, Definitions, asset
from conflux.coordinator import Coordinator
from conflux.events import (
    AssetMaterialized,
    AutomationEvaluated,
    EventProducer,
    RunStarted,
    Topics,
)
from conflux.workers import Worker

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration


@asset
def source() -> int:
    return 1


@asset(deps=[source], automation_condition=AutomationCondition.eager())
def doubled() -> int:
    return 2


@asset(automation_condition=AutomationCondition.eager())
def quadrupled(doubled: int) -> int:
    return doubled * 2


def _materializations(broker: BrokerHandle, topics: Topics, key: str) -> list[AssetMaterialized]:
    return [
        r.event
        for r in read_to_end(broker, topics, [topics.assets])
        if isinstance(r.event, AssetMaterialized) and r.event.asset_key == key
    ]


def test_eager_chain_follows_a_reported_upstream(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    worker = Worker(
        location="auto",
        load=lambda: Definitions(assets=[source, doubled, quadrupled]),
        bootstrap=broker.bootstrap,
        topics=topics,
        storage_dir=tmp_path / "storage",
        broker_kind=broker.kind,
    )
    coordinator = Coordinator(broker.bootstrap, topics, broker_kind=broker.kind)
    with running(coordinator, worker):
        wait_for_definitions(broker, topics, "auto")
        # The source is updated outside Conflux and reported (as `conflux report` does).
        with EventProducer(broker.bootstrap, topics, broker_kind=broker.kind) as producer:
            producer.emit(
                AssetMaterialized(asset_key="source", data_version="1", source="reported")
            )
            producer.flush()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _materializations(broker, topics, "quadrupled"):
            time.sleep(0.2)
        assert [m.data_version for m in _materializations(broker, topics, "quadrupled")]
        ticks = [
            r.event
            for r in read_to_end(broker, topics, [topics.ticks])
            if isinstance(r.event, AutomationEvaluated)
        ]
        assert sorted(e.asset_key for e in ticks) == ["doubled", "quadrupled"]
        starts = [
            r.event
            for r in read_to_end(broker, topics, [topics.runs])
            if isinstance(r.event, RunStarted)
        ]
        assert {s.trigger for s in starts} == {"automation"}
        assert {s.run_id for s in starts} == {e.run_id for e in ticks}
        # Settled: nothing else is requested while nothing changes upstream.
        time.sleep(1.0)
        assert len(_materializations(broker, topics, "doubled")) == 1
