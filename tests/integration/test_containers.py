"""The container path of the fixtures: Kafka and ClickHouse as compose/ pins them.

Where a Docker daemon answers, `kafka_broker` and `clickhouse_url` are containers of the
images compose/docker-compose.yml runs, and these tests check that Conflux works on them.
Without a daemon they are skipped with the one-line reason, and asking must stay cheap:
the whole suite asks once.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import pytest
from brokers import make_topics, read_to_end
from containers import ContainerBroker, compose_image, docker_daemon

from conflux.events import EventProducer, RunStarted

if TYPE_CHECKING:
    from brokers import BrokerHandle

pytestmark = pytest.mark.integration


def skip_unless_container(variable: str) -> None:
    """Skip, saying why, when the fixture is not a container (before it starts anything)."""
    if os.environ.get(variable):
        pytest.skip(f"{variable} names the server, so no container is started")
    ok, why = docker_daemon()
    if not ok:
        pytest.skip(why)


def test_asking_for_docker_is_quick_and_says_why_in_one_line() -> None:
    began = time.monotonic()
    ok, why = docker_daemon.__wrapped__()  # not the cached answer
    took = time.monotonic() - began
    assert took < 3.0, f"asking for a Docker daemon took {took:.1f} s"
    assert why and "\n" not in why, why
    assert ok is docker_daemon()[0]


def test_kafka_in_a_container_is_compose_s_image_and_carries_events(
    request: pytest.FixtureRequest,
) -> None:
    skip_unless_container("KAFKA_BOOTSTRAP")
    kafka_broker: BrokerHandle = request.getfixturevalue("kafka_broker")
    assert isinstance(kafka_broker, ContainerBroker)
    assert kafka_broker.version == compose_image("kafka-1")
    topics = make_topics(kafka_broker.bootstrap)
    sent = [RunStarted(run_id=f"r{i}", asset_keys=("a",), partition_count=1) for i in range(5)]
    with EventProducer(kafka_broker.bootstrap, topics, broker_kind="kafka") as producer:
        for event in sent:
            producer.emit(event)
    got = read_to_end(kafka_broker, topics, [topics.runs], expect=len(sent))
    assert sorted(c.event.event_id for c in got) == sorted(e.event_id for e in sent)


def test_clickhouse_in_a_container_is_compose_s_version(request: pytest.FixtureRequest) -> None:
    from conflux.projections.archive import ServerStore

    skip_unless_container("CLICKHOUSE_URL")
    container_url: str = request.getfixturevalue("clickhouse_url")
    tag = compose_image("clickhouse").rpartition(":")[2]
    with ServerStore(container_url) as store:
        [(version,)] = store.query("SELECT version()")
    assert str(version).startswith(tag), (version, tag)
