"""A cluster of Apache Kafka brokers on one machine (`conflux dev --brokers 3`).

Each node is a `KafkaBroker` (broker and controller in one process, KRaft) on its own
loopback ports, with its own log under the state folder; all of them vote in the
controller quorum. Every topic gets a replication factor of the cluster's size (at most
3) and `min.insync.replicas` one less, so the loss of one broker loses no acknowledged
write and stops nothing. The nodes are separate processes so that each can be killed
and started again alone (`conflux dev` supervises each).
"""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
from typing import TYPE_CHECKING, ClassVar, Literal

from conflux.events._errors import BrokerStartError
from conflux.events.brokers._kafka import KAFKA_VERSION, KafkaBroker

if TYPE_CHECKING:
    from pathlib import Path


class KafkaCluster:
    """`size` Apache Kafka nodes in `state_dir` (node 1 in `kafka/`, node N in `kafka-N/`).

    Offers what `conflux dev` uses of a `LocalBroker` (`kind`, `version`, `bootstrap`,
    `start`, `stop`) and its `nodes`, each a `KafkaBroker` to watch and restart alone.
    """

    kind: ClassVar[Literal["kafka"]] = "kafka"

    def __init__(self, state_dir: str | Path, size: int) -> None:
        """Prepare `size` nodes (not started)."""
        if size < 2:
            raise ValueError(f"a cluster has 2 or more nodes, not {size}: use KafkaBroker")
        replicas = min(size, 3)
        self.nodes = [
            KafkaBroker(
                state_dir,
                node_id=n,
                peers=lambda: self.nodes,
                replicas=replicas,
                cluster_id=self._cluster_id,
            )
            for n in range(1, size + 1)
        ]
        self._id: str | None = None

    @property
    def version(self) -> str:
        """The Apache Kafka version."""
        return KAFKA_VERSION

    @property
    def bootstrap(self) -> str:
        """Every node's `127.0.0.1:PORT`, comma-separated (clients find the rest)."""
        return ",".join(node.bootstrap for node in self.nodes)

    def _cluster_id(self) -> str:
        """The id every node's storage is formatted with: the stored one, else a new one."""
        if self._id is None:
            stored = {n.stored_cluster_id() for n in self.nodes} - {None}
            if len(stored) > 1:
                raise BrokerStartError(
                    f"the Kafka nodes in {self.nodes[0].state_dir} belong to different "
                    f"clusters ({sorted(s for s in stored if s)}): use a new --state-dir"
                )
            self._id = stored.pop() if stored else None
            while self._id is None or self._id.startswith("-"):
                self._id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        return self._id

    def start(self, timeout: float = 120.0) -> KafkaCluster:
        """Start every node, then wait until each answers.

        Raises:
            BrokerStartError: a node did not start; the others are stopped.
        """
        formatted = [n.stored_cluster_id() is not None for n in self.nodes]
        if formatted[0] and not all(formatted[1:]):
            raise BrokerStartError(
                f"{self.nodes[0].state_dir} holds a single Kafka broker's log: a cluster "
                "cannot grow from it; use a new --state-dir for --brokers "
                f"{len(self.nodes)}"
            )
        began = time.monotonic()
        try:
            for node in self.nodes:  # every voter's port before any node's configuration
                node.reserve_ports()
            for node in self.nodes:
                node.launch(timeout)
            for node in self.nodes:
                node.await_ready(began + timeout, began)
            self._await_members(began + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _await_members(self, deadline: float) -> None:
        """Wait until the metadata lists every node: topics then get all their replicas."""
        from conflux.events._admin import admin_client

        admin = admin_client(self.bootstrap)
        listed = 0
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                listed = len(admin.list_topics(timeout=2.0).brokers)
                if listed >= len(self.nodes):
                    return
            time.sleep(0.1)
        raise BrokerStartError(
            f"only {listed} of {len(self.nodes)} Kafka brokers joined the cluster; see "
            f"{self.nodes[0].log_path.parent}/kafka*.log"
        )

    def stop(self, timeout: float | None = None) -> None:
        """Stop every node (SIGTERM together, then wait for each)."""
        for node in self.nodes:
            node.signal_stop()
        for node in self.nodes:
            node.stop(timeout)

    def __repr__(self) -> str:
        return f"<KafkaCluster {self.version} {len(self.nodes)} nodes>"
