"""Client settings, broker checks, topic creation and the event producer (confluent-kafka).

With `_kafka.py` (the consumer), the only modules of `conflux.events` that import
confluent-kafka. Driver exceptions become `BrokerUnavailableError` / `InfrastructureError`
(`raise ... from exc`). librdkafka's log goes to the `conflux.kafka` logger, which has a
`NullHandler`: nothing reaches a terminal unless the application configures logging.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import TYPE_CHECKING, Any, Literal

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from conflux.events._errors import BrokerUnavailableError, InfrastructureError
from conflux.events._serde import encode_event

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from conflux.events._base import Event
    from conflux.events._topics import Topics, TopicSpec

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


def topic_states(client: Any, bootstrap: str, timeout: float) -> dict[str, int]:
    """Topic -> partition count, for the topics whose every partition has a leader."""
    try:
        metadata = client.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise unavailable(bootstrap, f"did not answer within {timeout:g}s", exc) from exc
    return {
        name: len(t.partitions)
        for name, t in metadata.topics.items()
        if t.error is None and t.partitions and all(p.leader >= 0 for p in t.partitions.values())
    }


def await_topics(
    client: Any, bootstrap: str, names: Sequence[str], timeout: float
) -> dict[str, int]:
    """Partition counts of `names` once metadata shows them all.

    Raises:
        InfrastructureError: some topics are still missing after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        known = topic_states(client, bootstrap, max(deadline - time.monotonic(), 1.0))
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


def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec],
    timeout: float = 10.0,
    *,
    replication_factor: int = -1,
) -> None:
    """Create the topics that do not exist yet (idempotent).

    Returns once metadata shows every topic with a leader for each partition, so a client
    created next finds them. An existing topic is left as it is (a different partition
    count is logged, not changed).

    Args:
        bootstrap: the broker.
        specs: the topics and their partition counts.
        timeout: seconds for creation and for metadata to show the topics.
        replication_factor: -1 takes the broker's `default.replication.factor`.

    Raises:
        BrokerUnavailableError: the broker did not answer.
        InfrastructureError: the broker refused to create a topic; the message says why.
    """
    wanted = {s.name: s for s in specs}
    if not wanted:
        return
    admin = admin_client(bootstrap)
    deadline = time.monotonic() + timeout
    new = [NewTopic(s.name, s.partitions, replication_factor) for s in wanted.values()]
    futures = admin.create_topics(new, request_timeout=timeout, operation_timeout=timeout)
    for name, future in futures.items():
        try:
            future.result(timeout=max(deadline - time.monotonic(), 0.1))
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
    for name, count in counts.items():
        if count != wanted[name].partitions:
            _log.warning("topic %s has %d partitions, not %d", name, count, wanted[name].partitions)


class EventProducer:
    """Produces events to their catalog topic and key. Idempotent, acks=all.

    Delivery is asynchronous: `emit` queues, `flush` waits and raises if anything was not
    delivered (a delivery error is never dropped). Not thread-safe: one per thread.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        *,
        client_id: str = "conflux",
        broker_kind: BrokerKind | None = None,
        linger_ms: float = 1.0,
        config: Mapping[str, object] | None = None,
    ) -> None:
        """Create the client (no network round trip yet).

        Args:
            bootstrap: the broker.
            topics: the catalog `emit` routes by.
            client_id: names this client in the broker's logs.
            broker_kind: see `kafka_config`.
            linger_ms: how long librdkafka waits to batch; on Tansu, fewer, larger batches
                keep fetches fast (5+ for throughput, 0 for single latency-critical events).
            config: extra librdkafka settings, applied last (e.g. `message.max.bytes`).
        """
        self._bootstrap = bootstrap
        self._topics = topics
        conf = kafka_config(bootstrap, broker_kind=broker_kind, role="producer")
        conf.update(
            {
                "client.id": client_id,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": linger_ms,
                "error_cb": self._on_error,
            }
        )
        conf.update(config or {})
        self._producer: Producer | None = Producer(conf)
        self._pending: dict[str, int] = {}
        self._failed: list[str] = []
        self._last_error: str | None = None
        self._all_down = False

    def emit(self, event: Event) -> None:
        """Queue `event` for its catalog topic and key (asynchronous; see `flush`)."""
        topic, key = self._topics.route(event)
        self.emit_to(topic, key, event)

    def emit_to(self, topic: str, key: str | None, event: Event) -> None:
        """Queue `event` for an explicit topic and key (e.g. a location's work topic).

        Raises:
            BrokerUnavailableError: the local queue stayed full for 10 s (broker down).
        """
        producer = self._client()
        value = encode_event(event)
        headers: list[tuple[str, str | bytes | None]] = [("type", str(getattr(event, "type", "")))]
        deadline = time.monotonic() + 10.0
        while True:
            try:
                producer.produce(
                    topic, value=value, key=key, headers=headers, on_delivery=self._on_delivery
                )
                break
            except BufferError as exc:  # local queue full: serve callbacks, then retry
                if time.monotonic() > deadline:
                    raise unavailable(self._bootstrap, "took no events for 10s", exc) from exc
                producer.poll(0.1)
        self._pending[topic] = self._pending.get(topic, 0) + 1
        producer.poll(0)

    def flush(self, timeout: float = 10.0) -> None:
        """Block until every queued event is acknowledged.

        Raises:
            BrokerUnavailableError: not all events were delivered within `timeout`.
        """
        remaining = self._client().flush(timeout)
        failed, self._failed = self._failed, []
        if failed:
            raise BrokerUnavailableError(
                f"{len(failed)} event(s) were not delivered: {failed[0]}"
                + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""),
                bootstrap=self._bootstrap,
            )
        if remaining:
            waiting = ", ".join(t for t, n in self._pending.items() if n > 0)
            raise self._diagnose(
                f"did not acknowledge {remaining} event(s) to {waiting} within {timeout:g}s"
            )

    def close(self, timeout: float = 10.0) -> None:
        """Flush and release the client.

        Raises:
            BrokerUnavailableError: not all events were delivered within `timeout`; they
                are dropped, and the client is released all the same.
        """
        if self._producer is None:
            return
        try:
            self.flush(timeout)
        except BrokerUnavailableError:
            self._producer.purge()  # the caller learns of the loss from this error
            raise
        finally:
            producer, self._producer = self._producer, None
            producer.close()

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _client(self) -> Producer:
        if self._producer is None:
            raise RuntimeError("EventProducer is closed")
        return self._producer

    def _on_error(self, err: KafkaError) -> None:
        self._last_error = err.str()
        self._all_down = err.code() in _UNREACHABLE
        if err.fatal():
            self._failed.append(f"fatal producer error: {err.str()}")

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        topic = msg.topic() or "?"
        self._pending[topic] = self._pending.get(topic, 1) - 1
        if err is None:
            self._all_down = False
        else:
            self._failed.append(f"{topic}[{msg.partition()}]: {err.str()}")

    def _diagnose(self, what: str) -> BrokerUnavailableError:
        """Tell a missing topic from a broker that does not answer, for the message."""
        waiting = [t for t, n in self._pending.items() if n > 0]
        try:
            if self._all_down:  # no need to ask: librdkafka reached no broker
                raise unavailable(self._bootstrap, what)
            known = topic_states(self._client(), self._bootstrap, 1.0)
        except BrokerUnavailableError:
            return unavailable(
                self._bootstrap,
                what + (f"; last error: {self._last_error}" if self._last_error else ""),
            )
        missing = [t for t in waiting if t not in known]
        hint = (
            f"; topic(s) {', '.join(missing)} do not exist: create them with ensure_topics"
            if missing
            else ""
        )
        return BrokerUnavailableError(
            f"broker at {self._bootstrap} {what}{hint}", bootstrap=self._bootstrap
        )
