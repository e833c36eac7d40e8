"""The event producer: every event to its catalog topic and key, idempotent, acks=all.

Settings and broker checks come from `_admin.py`; with it and `_consumer.py`, the only
modules of `conflux.events` that import confluent-kafka.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, Message, Producer

from conflux.events._admin import (
    _UNREACHABLE,
    BrokerKind,
    kafka_config,
    topic_states,
    unavailable,
)
from conflux.events._errors import BrokerUnavailableError
from conflux.events._serde import encode_event

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conflux.events._base import Event
    from conflux.events._topics import Topics


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

    def emit_to(
        self, topic: str, key: str | None, event: Event, *, partition: int | None = None
    ) -> None:
        """Queue `event` for an explicit topic and key (e.g. a location's work topic).

        `partition` overrides where the key would place it (an epoch mark names its own).

        Raises:
            BrokerUnavailableError: the local queue stayed full for 10 s (broker down).
        """
        producer = self._client()
        value = encode_event(event)
        headers: list[tuple[str, str | bytes | None]] = [("type", str(getattr(event, "type", "")))]
        deadline = time.monotonic() + 10.0
        while True:
            try:
                if partition is None:
                    producer.produce(
                        topic, value=value, key=key, headers=headers, on_delivery=self._on_delivery
                    )
                else:
                    producer.produce(
                        topic,
                        value=value,
                        key=key,
                        partition=partition,
                        headers=headers,
                        on_delivery=self._on_delivery,
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
