"""Kafka and ClickHouse in containers, where a Docker daemon answers (`from containers import`).

The integration fixtures (conftest.py) take, in order: what an environment variable names
(`KAFKA_BOOTSTRAP`, `CLICKHOUSE_URL`), a container started here through testcontainers,
then what runs without Docker (Kafka from the Maven jars; chdb). The images are the ones
compose/docker-compose.yml pins, so tests and deployments run the same versions. Neither
docker nor testcontainers is imported until a daemon is known to be there: without one,
asking costs a file check (no socket) or one ping with a 2 s timeout.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from conflux.events import wait_for_broker

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conflux.events.brokers import BrokerKind

COMPOSE = Path(__file__).parents[2] / "compose" / "docker-compose.yml"
DEFAULT_SOCKET = "/var/run/docker.sock"
"""Where docker-py looks when DOCKER_HOST is unset (it does not read docker contexts)."""


def compose_image(service: str) -> str:
    """The image compose/ pins for `service`."""
    import yaml

    image = yaml.safe_load(COMPOSE.read_text())["services"][service]["image"]
    assert isinstance(image, str)
    return image


@cache
def docker_daemon(timeout: float = 2.0) -> tuple[bool, str]:
    """Whether a Docker daemon answers a ping; if not, why, in one line."""
    if not os.environ.get("DOCKER_HOST") and not os.path.exists(DEFAULT_SOCKET):
        return False, f"no Docker daemon (DOCKER_HOST is unset and {DEFAULT_SOCKET} is absent)"
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return False, "the docker package is missing (pip install -e '.[dev]')"
    try:
        client = docker.from_env(timeout=int(max(timeout, 1)))
        try:
            client.ping()
        finally:
            client.close()
    except (DockerException, OSError) as exc:  # requests' errors are OSErrors
        return False, "no Docker daemon: " + " ".join(str(exc).split())[:200]
    return True, "a Docker daemon answers"


@dataclass(frozen=True)
class ContainerBroker:
    """Apache Kafka in a container this test run started."""

    bootstrap: str
    version: str
    kind: BrokerKind = "kafka"


_START = "/conflux-start.sh"
"""The container waits for this script, written once its mapped port is known."""

# One KRaft node, configured as `conflux dev`'s (events/brokers/_kafka.py). Clients reach
# PLAINTEXT through the mapped port; the broker talks to itself on BROKER.
_KAFKA_ENV = {
    "CLUSTER_ID": "c0nf1uxTestC0ntainer0A",
    "KAFKA_NODE_ID": "1",
    "KAFKA_PROCESS_ROLES": "broker,controller",
    "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9094",
    "KAFKA_LISTENERS": "PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9093,CONTROLLER://0.0.0.0:9094",
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
        "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT"
    ),
    "KAFKA_INTER_BROKER_LISTENER_NAME": "BROKER",
    "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
    "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    "KAFKA_DEFAULT_REPLICATION_FACTOR": "1",
    "KAFKA_MIN_INSYNC_REPLICAS": "1",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
    "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
}


@contextmanager
def kafka_container(timeout: float = 180.0) -> Iterator[ContainerBroker]:
    """Apache Kafka (compose's image, one KRaft node) in a container, removed on exit."""
    import io
    import tarfile

    from testcontainers.core.container import DockerContainer

    image = compose_image("kafka-1")
    container = DockerContainer(image).with_exposed_ports(9092)
    for key, value in _KAFKA_ENV.items():
        container = container.with_env(key, value)
    # The image has no entrypoint: its CMD, /etc/kafka/docker/run, is started by the script.
    container = container.with_command(
        ["sh", "-c", f"while [ ! -f {_START} ]; do sleep 0.1; done; exec sh {_START}"]
    )
    with container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(9092)
        script = (
            f"export KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://{host}:{port},BROKER://localhost:9093\n"
            "exec /etc/kafka/docker/run\n"
        ).encode()
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo(_START.lstrip("/"))
            info.size, info.mtime = len(script), int(time.time())
            tar.addfile(info, io.BytesIO(script))
        container.get_wrapped_container().put_archive("/", archive.getvalue())
        bootstrap = f"{host}:{port}"
        wait_for_broker(bootstrap, timeout=timeout)
        yield ContainerBroker(bootstrap, version=image)


@contextmanager
def clickhouse_container(timeout: float = 120.0) -> Iterator[str]:
    """A ClickHouse server (compose's image) in a container; yields its URL; removed on exit."""
    from testcontainers.core.container import DockerContainer

    from conflux.projections.archive import ArchiveUnavailableError, ServerStore

    container = (
        DockerContainer(compose_image("clickhouse"))
        .with_exposed_ports(8123)
        .with_env("CLICKHOUSE_USER", "conflux")
        .with_env("CLICKHOUSE_PASSWORD", "conflux")
        .with_env("CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT", "1")  # tests create databases
    )
    with container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(8123)
        url = f"http://conflux:conflux@{host}:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                ServerStore(url).close()
                break
            except ArchiveUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield url
