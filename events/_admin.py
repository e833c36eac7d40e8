"""Client settings, broker checks and topic creation (confluent-kafka).

With `_producer.py` and `_consumer.py`, the only modules of `conflux.events` that import
confluent-kafka. Driver exceptions become `BrokerUnavailableError` / `InfrastructureError`
(`raise ... from exc`). librdkafka's log goes to the `conflux.kafka` logger, which has a
`NullHandler`: nothing reaches a terminal unless the application configures logging.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from confluent_kafka import KafkaError, KafkaException

from conflux.events._errors import BrokerUnavailableError, InfrastructureError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from confluent_kafka.admin import AdminClient

    from conflux.events._topics import TopicSpec

BrokerKind = Literal["kafka", "tansu"]
Role = Literal["consumer", "producer", "admin"]


class _RepeatFilter(logging.Filter):
    """Pass one copy of a librdkafka line per `window` seconds.

    An unreachable broker makes every client repeat its connect error at each backoff.
    """

    def __init__(self, window: float = 30.0) -> None:
        super().__init__()
        self._window = window
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = re.sub(r"\d+", "#", record.getMessage())
        now = time.monotonic()
        if now - self._last.get(key, -self._window) < self._window:
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = now
        return True


KAFKA_LOGGER = logging.getLogger("conflux.kafka")
"""Where librdkafka's log lines go (never to the terminal by default, repeats dropped)."""
KAFKA_LOGGER.addHandler(logging.NullHandler())
KAFKA_LOGGER.addFilter(_RepeatFilter())
_log = logging.getLogger("conflux.events")
_UNREACHABLE = {KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN}

_CONSUMER_SETTINGS: dict[BrokerKind, dict[str, object]] = {
    # Kafka answers a waiting fetch as soon as data arrives (measured p50 2 ms at 10, 100
    # and 500 ms alike), so a longer wait only saves idle fetches; a 10 s session lets a
    # crashed worker's partitions move on quickly.
    "kafka": {"session.timeout.ms": 10000, "heartbeat.interval.ms": 3000, "fetch.wait.max.ms": 100},
    # Tansu never wakes a fetch (latency ~ fetch.wait.max.ms: p50 7 ms at 10, 28 ms at
    # 50), and a fetch shorter than its walk over the partition's record batches returns
    # nothing, for good (~48 ms from offset 0 at 5k batches): 50 is the safe default. A
    # group join takes session.timeout.ms / 2.
    "tansu": {"session.timeout.ms": 3000, "heartbeat.interval.ms": 1000, "fetch.wait.max.ms": 50},
}


def _kind(broker_kind: BrokerKind | None) -> BrokerKind:
    if broker_kind is not None:
        return broker_kind
    return "tansu" if os.environ.get("CONFLUX_BROKER_KIND", "").lower() == "tansu" else "kafka"


def kafka_config(
    bootstrap: str, *, broker_kind: BrokerKind | None = None, role: Role = "consumer"
) -> dict[str, object]:
    """Return the base librdkafka settings for `bootstrap`, tuned for the broker kind.

    librdkafka's log goes to the `conflux.kafka` logger, never to the terminal.

    Args:
        bootstrap: `host:port[,host:port...]` of the broker.
        broker_kind: `"kafka"` or `"tansu"`; None reads `CONFLUX_BROKER_KIND` (default kafka).
        role: `"consumer"` (the default) adds the session and fetch settings of the kind;
            `"producer"` and `"admin"` leave them out, so librdkafka does not warn about
            properties the client ignores. Producers get the murmur2 partitioner, which
            places keys as the Java, aiokafka and faust clients do (librdkafka's default,
            CRC32, does not).
    """
    conf: dict[str, object] = {
        "bootstrap.servers": bootstrap,
        "logger": KAFKA_LOGGER,
        # A local broker restarts in seconds: do not back off to librdkafka's 10 s.
        "reconnect.backoff.max.ms": 1000,
    }
    if role == "consumer":
        conf.update(_CONSUMER_SETTINGS[_kind(broker_kind)])
    elif role == "producer":
        conf["partitioner"] = "murmur2_random"
    return conf


def admin_client(bootstrap: str) -> AdminClient:
    """Return an admin client whose log goes to `conflux.kafka`."""
    from confluent_kafka.admin import AdminClient  # here: producers need none (~5 ms)

    return AdminClient(dict(kafka_config(bootstrap, role="admin")))  # type: ignore[arg-type]


def unavailable(
    bootstrap: str, what: str, exc: BaseException | None = None
) -> BrokerUnavailableError:
    """Return the error for a broker that did not do `what`, saying how to fix it."""
    cause = f" ({describe_error(exc)})" if exc is not None else ""
    return BrokerUnavailableError(
        f"broker at {bootstrap} {what}{cause}: is `conflux dev` running? "
        "(or point CONFLUX_BOOTSTRAP at a reachable broker)",
        bootstrap=bootstrap,
    )


def describe_error(exc: BaseException) -> str:
    """Return the one-line text of a driver exception."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return str(exc.args[0].str())
    return str(exc)


def wait_for_broker(bootstrap: str, timeout: float = 10.0) -> None:
    """Return once the broker answers a metadata request.

    Raises:
        BrokerUnavailableError: no answer within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    admin = admin_client(bootstrap)
    last: BaseException | None = None
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            if admin.list_topics(timeout=min(remaining, 2.0)).brokers:
                return
        except KafkaException as exc:
            last = exc
        time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))
    raise unavailable(bootstrap, f"did not answer within {timeout:g}s", last)


def topic_states(
    client: Any, bootstrap: str, timeout: float, *, need_leaders: bool = False
) -> dict[str, int]:
    """Topic -> partition count, for the topics that exist.

    With `need_leaders`, only topics whose every partition has a leader count: what a
    topic just created needs before a client may use it. An existing topic whose
    partitions are between leaders (a broker of the cluster just died) still exists.
    """
    try:
        metadata = client.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise unavailable(bootstrap, f"did not answer within {timeout:g}s", exc) from exc
    return {
        name: len(t.partitions)
        for name, t in metadata.topics.items()
        if t.error is None
        and t.partitions
        and (not need_leaders or all(p.leader >= 0 for p in t.partitions.values()))
    }


def await_topics(
    client: Any,
    bootstrap: str,
    names: Sequence[str],
    timeout: float,
    *,
    need_leaders: bool = False,
) -> dict[str, int]:
    """Partition counts of `names` once metadata shows them all (with leaders, if asked).

    Raises:
        InfrastructureError: some topics are still missing after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = max(deadline - time.monotonic(), 1.0)
        known = topic_states(client, bootstrap, remaining, need_leaders=need_leaders)
        missing = [n for n in names if n not in known]
        if not missing:
            return {n: known[n] for n in names}
        if time.monotonic() >= deadline:
            raise InfrastructureError(
                f"topic(s) {', '.join(missing)} do not exist on the broker at {bootstrap}: "
                "create them with conflux.events.ensure_topics (`conflux dev` creates the "
                "core topics), or check the topic prefix"
            )
        time.sleep(0.1)


def partition_counts(bootstrap: str, names: Sequence[str], timeout: float = 10.0) -> dict[str, int]:
    """The partition count of each topic of `names`, as the broker has them now.

    Raises:
        BrokerUnavailableError: the broker did not answer.
        InfrastructureError: a topic does not exist (the message names it).
    """
    return await_topics(admin_client(bootstrap), bootstrap, list(names), timeout)


@dataclass(frozen=True)
class BrokerInfo:
    """One broker of the cluster, as the cluster metadata shows it."""

    id: int
    host: str
    port: int
    state: Literal["online", "offline"]
    """`offline`: partitions name it as a replica, but the cluster lists it no more."""
    controller: bool = False


def describe_brokers(bootstrap: str, timeout: float = 2.0) -> list[BrokerInfo]:
    """Every broker the cluster metadata knows: those it lists, and replicas it lacks.

    Raises:
        BrokerUnavailableError: no broker answered within `timeout`.
    """
    try:
        metadata = admin_client(bootstrap).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise unavailable(bootstrap, f"did not answer within {timeout:g}s", exc) from exc
    controller = getattr(metadata, "controller_id", -1)
    found = {
        b.id: BrokerInfo(b.id, b.host or "", b.port or 0, "online", b.id == controller)
        for b in metadata.brokers.values()
    }
    for topic in metadata.topics.values():
        for part in (topic.partitions or {}).values():
            for replica in part.replicas:
                if replica not in found:
                    found[replica] = BrokerInfo(replica, "", 0, "offline")
    return [found[k] for k in sorted(found)]


def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec],
    timeout: float = 10.0,
    *,
    replication_factor: int = -1,
) -> None:
    """Create the topics that do not exist yet (idempotent).

    Returns once metadata shows every topic, and each topic it created with a leader for
    each partition, so a client created next finds them. An existing topic is left as it
    is (a different partition count is logged, not changed), and counts even while some of
    its partitions are between leaders (a broker of the cluster just died).

    Args:
        bootstrap: the broker.
        specs: the topics and their partition counts.
        timeout: seconds for creation and for metadata to show the topics.
        replication_factor: -1 takes `CONFLUX_REPLICATION_FACTOR` when it is set, else
            the broker's `default.replication.factor` (which follows the cluster: 3 under
            `conflux dev --brokers 3`).

    Raises:
        BrokerUnavailableError: the broker did not answer.
        InfrastructureError: the broker refused to create a topic; the message says why.
    """
    wanted = {s.name: s for s in specs}
    if not wanted:
        return
    if replication_factor == -1 and os.environ.get("CONFLUX_REPLICATION_FACTOR"):
        replication_factor = int(os.environ["CONFLUX_REPLICATION_FACTOR"])
    admin = admin_client(bootstrap)
    deadline = time.monotonic() + timeout
    from confluent_kafka.cimpl import NewTopic

    new = [NewTopic(s.name, s.partitions, replication_factor) for s in wanted.values()]
    futures = admin.create_topics(new, request_timeout=timeout, operation_timeout=timeout)
    created: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout=max(deadline - time.monotonic(), 0.1))
            created.append(name)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            if isinstance(err, KafkaError) and err.code() in _UNREACHABLE:
                raise unavailable(bootstrap, "did not create topics", exc) from exc
            raise InfrastructureError(
                f"could not create topic {name}: {describe_error(exc)}"
            ) from exc
        except TimeoutError as exc:
            raise unavailable(bootstrap, f"did not create {name} within {timeout:g}s") from exc
    counts = await_topics(admin, bootstrap, list(wanted), max(deadline - time.monotonic(), 1.0))
    if created:  # a client created next must find every new partition with its leader
        remaining = max(deadline - time.monotonic(), 1.0)
        await_topics(admin, bootstrap, created, remaining, need_leaders=True)
    for name, count in counts.items():
        if count != wanted[name].partitions:
            _log.warning("topic %s has %d partitions, not %d", name, count, wanted[name].partitions)
