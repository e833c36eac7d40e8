"""The broker contract on Apache Kafka, plus what only Kafka keeps: its log across restarts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from broker_contract import BrokerContract
from brokers import BrokerHandle, make_topics, read_to_end

from conflux.events import EventProducer, RunStarted
from conflux.events.brokers import KafkaBroker, kafka_available

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration


class TestKafkaBroker(BrokerContract):
    __test__ = True

    @pytest.fixture
    def broker(self, kafka_broker: BrokerHandle) -> BrokerHandle:
        return kafka_broker


def test_restart_on_the_same_state_dir_keeps_records(tmp_path: Path) -> None:
    ok, why = kafka_available()
    if not ok:
        pytest.skip(why)
    broker = KafkaBroker(tmp_path)
    try:
        broker.start()
        bootstrap = broker.bootstrap
        topics = make_topics(bootstrap)
        sent = [RunStarted(run_id=f"r{i}", asset_keys=("a",), partition_count=1) for i in range(20)]
        with EventProducer(bootstrap, topics, broker_kind="kafka") as producer:
            for event in sent:
                producer.emit(event)
        broker.stop()
        assert broker.pid is None
        broker.start()
        assert broker.bootstrap == bootstrap  # the recorded port, free again, is reused
        got = read_to_end(broker, topics, [topics.runs], expect=len(sent))
        assert sorted(c.event.event_id for c in got) == sorted(e.event_id for e in sent)
    finally:
        broker.stop()
