"""Helpers for tests that talk to a real broker (import as `from brokers import ...`)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from conflux.events import EventConsumer, Topics, ensure_topics

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conflux.events import ConsumedEvent
    from conflux.events.brokers import BrokerKind


class BrokerHandle(Protocol):
    """What the `kafka_broker` / `tansu_broker` fixtures yield."""

    @property
    def bootstrap(self) -> str: ...

    @property
    def kind(self) -> BrokerKind: ...


@dataclass(frozen=True)
class ExternalBroker:
    """A broker the test run did not start (`KAFKA_BOOTSTRAP`)."""

    bootstrap: str
    kind: BrokerKind = "kafka"
    version: str = "external"


def make_topics(bootstrap: str, prefix: str | None = None, *locations: str) -> Topics:
    """A `Topics` with a unique prefix, its core topics (and work topics) created."""
    topics = Topics(prefix=prefix or f"t{uuid.uuid4().hex[:10]}")
    ensure_topics(bootstrap, [*topics.core(), *(topics.work_spec(loc) for loc in locations)])
    return topics


def read_to_end(
    broker: BrokerHandle,
    topics: Topics,
    names: Sequence[str],
    *,
    timeout: float = 30.0,
    expect: int | None = None,
) -> list[ConsumedEvent]:
    """Every valid event on `names` (assign mode, from the beginning), read to the end.

    With `expect`, waits until that many events arrived (and the end was reached).
    """
    with EventConsumer(broker.bootstrap, topics, names, broker_kind=broker.kind) as consumer:
        return drain(consumer, timeout=timeout, expect=expect)


def drain(
    consumer: EventConsumer, *, timeout: float = 30.0, expect: int | None = None
) -> list[ConsumedEvent]:
    """Poll `consumer` until it is caught up (and has `expect` events); fail on timeout."""
    events: list[ConsumedEvent] = []
    deadline = time.monotonic() + timeout
    while not (consumer.caught_up() and (expect is None or len(events) >= expect)):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not caught up within {timeout}s: {len(events)} events (expected {expect}), "
                f"assigned {sorted(consumer.assignment)}"
            )
        events += consumer.poll(0.2)
    return events
