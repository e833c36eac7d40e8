"""The typed consumer of Conflux events over confluent-kafka (the adapter edge).

The consumer lives here; settings, broker checks and topic creation live in `_admin.py`,
the producer in `_producer.py`. These three modules alone import confluent-kafka, so
`import conflux.events` stays cheap. Driver exceptions leave as `BrokerUnavailableError` /
`InfrastructureError` (`raise ... from exc`).
"""

from __future__ import annotations

import base64
import gc
import logging
import uuid
from typing import TYPE_CHECKING, NamedTuple

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from conflux.events._admin import (
    BrokerKind,
    await_topics,
    describe_error,
    kafka_config,
    unavailable,
)
from conflux.events._base import derived_id
from conflux.events._errors import EventValidationError, InfrastructureError
from conflux.events._models import AnyEvent, RecordDeadLettered
from conflux.events._producer import EventProducer
from conflux.events._serde import decode_event

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from conflux.events._topics import Topics

_log = logging.getLogger("conflux.events")

DEAD_LETTER_VALUE_BYTES = 64 * 1024
"""How much of a bad record a dead letter keeps: enough to see what it was, small enough
that the dead letter (base64 or escaped JSON of it) fits in any broker's message limit."""

_REDELIVERED_ON_COMMIT_ERROR = {
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
}
"""Commit errors that mean "the group moved on": the records are redelivered elsewhere."""


class ConsumedEvent(NamedTuple):
    """A validated event with where it was read from, and the bytes it was read from.

    `value` is the record as written (its own schema version, before upcasting): what the
    archive stores, so that history is never rewritten (rule 6). Immutable; a named tuple
    rather than a frozen dataclass because one is built per record read, and a frozen
    dataclass costs ~1 us more to build (a replay reads a million).
    """

    event: AnyEvent
    topic: str
    partition: int
    offset: int
    key: str | None
    timestamp_ms: int
    value: bytes = b""


class EventConsumer:
    """Consumes and validates events; invalid records go to the dead-letter topic.

    Two modes: with `group_id`, a consumer group (cooperative-sticky, commits with
    `commit()`), as workers use it; without, explicit assignment of every partition of
    `topic_names` from `start_offsets` (default: the beginning), as folds use it, which
    store their own offsets (rule 5). Not thread-safe: one per thread.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        topic_names: Sequence[str],
        *,
        group_id: str | None = None,
        start_offsets: dict[tuple[str, int], int] | None = None,
        client_id: str = "conflux",
        broker_kind: BrokerKind | None = None,
        fetch_wait_ms: int | None = None,
        config: Mapping[str, object] | None = None,
    ) -> None:
        """Create the client and assign (or subscribe to) `topic_names`.

        Args:
            bootstrap: the broker.
            topics: the catalog (for the dead-letter topic).
            topic_names: the topics to read; all must exist.
            group_id: group mode when set, else assign mode.
            client_id: names this client in the broker's logs.
            broker_kind: see `kafka_config`.
            start_offsets: assign mode: (topic, partition) -> the next offset to read.
            fetch_wait_ms: overrides the kind's `fetch.wait.max.ms` (Tansu: 50; 5-10 gives
                lower latency, but only while partitions hold few record batches).
            config: extra librdkafka settings, applied last (e.g. `max.poll.interval.ms`).

        Raises:
            InfrastructureError: a topic in `topic_names` does not exist (the message names
                it).
            BrokerUnavailableError: the broker did not answer.
        """
        self._bootstrap = bootstrap
        self._topics = topics
        self._client_id = client_id
        self._kind = broker_kind
        self._group_mode = group_id is not None
        conf = kafka_config(bootstrap, broker_kind=broker_kind, role="consumer")
        conf.update(
            {
                "client.id": client_id,
                # librdkafka insists on a group id; assign mode never joins or commits.
                "group.id": group_id or f"conflux-assign-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": True,
                "partition.assignment.strategy": "cooperative-sticky",
            }
        )
        if fetch_wait_ms is not None:
            conf["fetch.wait.max.ms"] = fetch_wait_ms
        conf.update(config or {})
        self._assigned: set[tuple[str, int]] = set()
        self._at_end: set[tuple[str, int]] = set()
        self._positions: dict[tuple[str, int], int] = {}
        self._has_assignment = False
        self._dlq: EventProducer | None = None
        self._consumer: Consumer | None = Consumer(conf)
        try:
            counts = await_topics(self._consumer, bootstrap, list(topic_names), 2.0)
            if self._group_mode:
                self._consumer.subscribe(
                    list(topic_names),
                    on_assign=self._on_assign,
                    on_revoke=self._on_revoke,
                    on_lost=self._on_revoke,
                )
            else:
                offsets = start_offsets or {}
                partitions = [
                    TopicPartition(t, p, offsets.get((t, p), OFFSET_BEGINNING))
                    for t, n in counts.items()
                    for p in range(n)
                ]
                self._consumer.assign(partitions)
                self._assigned = {(tp.topic, tp.partition) for tp in partitions}
                self._has_assignment = True
        except BaseException:
            self.close()
            raise

    @property
    def assignment(self) -> frozenset[tuple[str, int]]:
        """The (topic, partition) pairs this consumer holds now (group mode: may change)."""
        return frozenset(self._assigned)

    def poll(self, timeout: float = 0.1, max_records: int = 500) -> list[ConsumedEvent]:
        """Up to `max_records` valid events (possibly none) within `timeout` seconds.

        Returns as soon as records are there: `timeout` bounds the wait for the first one,
        and what arrived with it is returned at once (latency is the broker's, not
        `timeout`).
        Invalid records are dead-lettered (a `RecordDeadLettered` event on `topics.dlq`)
        and skipped; consumption goes on. The dead letters are flushed before this returns,
        so a record is never skipped without being kept.

        Raises:
            BrokerUnavailableError: dead letters could not be delivered.
            InfrastructureError: a topic disappeared, or the client failed fatally.
        """
        consumer = self._client()
        try:
            # consume() waits its whole timeout unless it fills the batch: take what is
            # queued, else wait for the first record only, then take what came with it.
            messages = consumer.consume(num_messages=max_records, timeout=0)
            if not messages:
                first = consumer.poll(timeout)
                if first is not None:
                    messages = [first]
                    if max_records > 1:
                        messages += consumer.consume(num_messages=max_records - 1, timeout=0)
        except KafkaException as exc:
            raise InfrastructureError(f"consumer failed: {describe_error(exc)}") from exc
        # Every event built here outlives the loop (it is returned), and events hold no
        # reference cycles: the cyclic GC would run ~70 young collections per 10,000
        # records and promote them all, then rescan them in older generations, for nothing
        # (a third of the decoding time). Paused for the loop; the next allocation after
        # it runs one young collection.
        collecting = gc.isenabled()
        if collecting:
            gc.disable()
        try:
            events, dead = self._decode(messages)
        finally:
            if collecting:
                gc.enable()
        if dead:
            self._send_dead_letters(dead)
        return events

    def _decode(
        self, messages: list[Message]
    ) -> tuple[list[ConsumedEvent], list[RecordDeadLettered]]:
        """The valid events of `messages`, and dead letters for the invalid ones."""
        events: list[ConsumedEvent] = []
        dead: list[RecordDeadLettered] = []
        positions = self._positions
        for msg in messages:  # the hot loop of every fold: ~1 us here, the rest is decoding
            err = msg.error()
            if err is not None:
                self._on_message_error(err, msg.topic() or "", msg.partition() or 0)
                continue
            topic, partition, offset = msg.topic() or "", msg.partition() or 0, msg.offset() or 0
            positions[(topic, partition)] = offset + 1
            raw_key = msg.key()
            key = raw_key.decode("utf-8", "replace") if raw_key is not None else None
            value = msg.value()
            try:
                if value is None:
                    raise EventValidationError("no value (a tombstone is not an event)")
                event = decode_event(value)
            except EventValidationError as exc:
                dead.append(self._dead_letter(msg, key, exc.reason))
                continue
            except Exception as exc:  # decode_event promises otherwise: a bug, not a stop
                _log.exception("decoding %s[%d]@%d failed unexpectedly", topic, partition, offset)
                dead.append(self._dead_letter(msg, key, f"{type(exc).__name__}: {exc}"))
                continue
            events.append(
                ConsumedEvent(event, topic, partition, offset, key, msg.timestamp()[1], value)
            )
        return events, dead

    def positions(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the next offset to read, for partitions read from so far.

        Everything before it was returned by `poll` (or dead-lettered): what a fold stores
        with its state (rule 5) to resume from with `start_offsets`.
        """
        return dict(self._positions)

    def lags(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> records between the position and the partition's end.

        For the assigned partitions read from so far, from the high watermarks that the
        last fetches brought (librdkafka's cache: no request to the broker), so a part may
        ask every second. A partition whose end is not known yet is left out.
        """
        consumer = self._consumer
        if consumer is None:
            return {}
        out: dict[tuple[str, int], int] = {}
        for (topic, partition), position in list(self._positions.items()):
            if (topic, partition) not in self._assigned:
                continue
            try:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), cached=True
                )
            except KafkaException:
                continue
            if high is not None and high >= 0:
                out[(topic, partition)] = max(0, high - position)
        return out

    def caught_up(self) -> bool:
        """Whether every assigned partition has been read to its end at least once.

        Uses end-of-partition events from fetches (correct on Tansu too, unlike
        ListOffsets(latest)). Group mode: False until the first assignment arrives; a
        partition gained in a rebalance must be read to its end again.
        """
        return self._has_assignment and self._assigned <= self._at_end

    def commit(self) -> None:
        """Commit the positions of what `poll` returned (group mode only), synchronously.

        A commit refused because the group rebalanced is logged, not raised: those records
        are redelivered to the partition's new owner (at least once, rule 5).

        Raises:
            RuntimeError: the consumer is in assign mode (folds store their own offsets).
            BrokerUnavailableError: the commit did not reach the broker.
        """
        if not self._group_mode:
            raise RuntimeError("commit() needs a group_id; in assign mode store offsets yourself")
        offsets = [
            TopicPartition(t, p, o)
            for (t, p), o in self._positions.items()
            if (t, p) in self._assigned
        ]
        if not offsets:
            return
        try:
            result = self._client().commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() in _REDELIVERED_ON_COMMIT_ERROR:
                _log.warning(
                    "commit refused after a rebalance (%s): records will be redelivered", err.str()
                )
                return
            raise unavailable(self._bootstrap, "did not take the commit", exc) from exc
        failed = [tp for tp in result or [] if tp.error is not None]
        if failed:
            raise unavailable(
                self._bootstrap,
                f"refused the commit of {failed[0].topic}"
                f"[{failed[0].partition}] ({failed[0].error})",
            )
        for tp in offsets:
            if self._positions.get((tp.topic, tp.partition)) == tp.offset:
                del self._positions[(tp.topic, tp.partition)]

    def close(self) -> None:
        """Leave the group (if any) and release the client."""
        consumer, self._consumer = self._consumer, None
        try:
            if consumer is not None:
                consumer.close()
        finally:
            dlq, self._dlq = self._dlq, None
            if dlq is not None:
                dlq.close()

    def __enter__(self) -> EventConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _client(self) -> Consumer:
        if self._consumer is None:
            raise RuntimeError("EventConsumer is closed")
        return self._consumer

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.incremental_assign(partitions)
        for tp in partitions:
            self._assigned.add((tp.topic, tp.partition))
            self._at_end.discard((tp.topic, tp.partition))
        self._has_assignment = True

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.incremental_unassign(partitions)
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self._assigned.discard(key)
            self._at_end.discard(key)
            self._positions.pop(key, None)

    def _on_message_error(self, err: KafkaError, topic: str, partition: int) -> None:
        if err.code() == KafkaError._PARTITION_EOF:
            self._at_end.add((topic, partition))
        elif err.code() == KafkaError.INVALID_SESSION_TIMEOUT:
            # The group would never assign anything: say so rather than wait forever.
            raise InfrastructureError(
                f"the broker at {self._bootstrap} refused the consumer group's session "
                f"({err.str()}): it must lie within the brokers' group.min.session.timeout.ms "
                "and group.max.session.timeout.ms (a coordinator's is --session-timeout)"
            )
        elif err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART or err.fatal():
            raise InfrastructureError(f"consuming {topic} failed: {err.str()}")
        else:  # transient (transport, leader change): librdkafka retries by itself
            _log.debug("consumer error on %s[%d]: %s", topic, partition, err.str())

    def _dead_letter(self, msg: Message, key: str | None, reason: str) -> RecordDeadLettered:
        raw = msg.value() or b""
        size = len(raw) if len(raw) > DEAD_LETTER_VALUE_BYTES else None
        raw = raw[:DEAD_LETTER_VALUE_BYTES]
        try:
            value, as_base64 = raw.decode("utf-8"), False
        except UnicodeDecodeError:
            value, as_base64 = base64.b64encode(raw).decode("ascii"), True
        topic, partition, offset = msg.topic() or "", msg.partition() or 0, msg.offset() or 0
        _log.warning("dead-lettered %s[%d]@%d: %s", topic, partition, offset, reason)
        return RecordDeadLettered(
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            key=key,
            value=value,
            value_base64=as_base64,
            reason=reason[:1000],
            value_size=size,
            producer=self._client_id,
            # One id per source record: consumers that dead-letter the same record make
            # duplicates that folds drop (rule 5).
            event_id=derived_id("dead-letter", topic, str(partition), str(offset)),
        )

    def _send_dead_letters(self, dead: list[RecordDeadLettered]) -> None:
        if self._dlq is None:
            self._dlq = EventProducer(
                self._bootstrap,
                self._topics,
                client_id=f"{self._client_id}-dlq",
                broker_kind=self._kind,
                linger_ms=0,
            )
        for event in dead:
            if event.source_topic == self._topics.dlq:  # never feed the dead-letter topic
                continue  # its own records in a loop
            self._dlq.emit(event)
        self._dlq.flush()
