"""Typed producer and consumer of Conflux events over confluent-kafka (the adapter edge).

INTERFACE STUB: helper A implements the bodies; the signatures are the contract other
parts code against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from conflux.events._base import Event
from conflux.events._models import AnyEvent
from conflux.events._topics import Topics, TopicSpec

BrokerKind = Literal["kafka", "tansu"]


@dataclass(frozen=True)
class ConsumedEvent:
    """A validated event with where it was read from."""

    event: AnyEvent
    topic: str
    partition: int
    offset: int
    key: str | None
    timestamp_ms: int


def kafka_config(bootstrap: str, *, broker_kind: BrokerKind | None = None) -> dict[str, object]:
    """Base librdkafka settings for `bootstrap`, tuned for the broker kind; logs go to the
    `conflux.kafka` logger, never to the terminal."""
    raise NotImplementedError


def wait_for_broker(bootstrap: str, timeout: float = 10.0) -> None:
    """Return once the broker answers a metadata request.

    Raises:
        BrokerUnavailableError: no answer within `timeout` seconds.
    """
    raise NotImplementedError


def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec], timeout: float = 10.0) -> None:
    """Create the topics that do not exist yet (idempotent)."""
    raise NotImplementedError


class EventProducer:
    """Produces events to their catalog topic and key. Idempotent, acks=all."""

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        *,
        client_id: str = "conflux",
        broker_kind: BrokerKind | None = None,
        linger_ms: float = 1.0,
    ) -> None:
        raise NotImplementedError

    def emit(self, event: Event) -> None:
        """Queue `event` for its catalog topic and key (asynchronous; see `flush`)."""
        raise NotImplementedError

    def emit_to(self, topic: str, key: str | None, event: Event) -> None:
        """Queue `event` for an explicit topic and key (e.g. a location's work topic)."""
        raise NotImplementedError

    def flush(self, timeout: float = 10.0) -> None:
        """Block until every queued event is acknowledged.

        Raises:
            BrokerUnavailableError: not all events were delivered within `timeout`.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release the client."""
        raise NotImplementedError

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventConsumer:
    """Consumes and validates events; invalid records go to the dead-letter topic.

    Two modes: with `group_id`, a consumer group (cooperative-sticky, commits with
    `commit()`), as workers use it; without, explicit assignment of every partition of
    `topic_names` from `start_offsets` (default: the beginning), as folds use it, which
    store their own offsets (rule 5).
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
    ) -> None:
        raise NotImplementedError

    def poll(self, timeout: float = 0.1, max_records: int = 500) -> list[ConsumedEvent]:
        """Up to `max_records` valid events (possibly none) within `timeout` seconds.

        Invalid records are dead-lettered (a `RecordDeadLettered` event on `topics.dlq`)
        and skipped; consumption goes on.
        """
        raise NotImplementedError

    def caught_up(self) -> bool:
        """True once every assigned partition has been read to its end at least once."""
        raise NotImplementedError

    def commit(self) -> None:
        """Commit the positions of what `poll` returned (group mode only), synchronously."""
        raise NotImplementedError

    def close(self) -> None:
        """Leave the group (if any) and release the client."""
        raise NotImplementedError

    def __enter__(self) -> EventConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
