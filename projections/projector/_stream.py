"""Live events for the web UI: the projector fans what it applies out to subscribers.

Each subscriber (one server-sent-events connection) has a bounded queue of compact event
summaries. A subscriber that falls behind by more than `MAX_PENDING` events is told to
`reset` (refetch what it shows) instead of holding the projector back: the projector
never waits for a reader, and a slow page loses nothing it cannot read again.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Literal

from pydantic import JsonValue

if TYPE_CHECKING:
    from collections.abc import Iterable

    from conflux.events import AnyEvent

MAX_PENDING = 10_000
"""Summaries a subscriber may have unread before it is told to reset."""

Summary = dict[str, JsonValue]


def summarize(seq: int, event: AnyEvent) -> Summary:
    """The fields a page needs to tell whether an event touches what it shows."""
    keys = getattr(event, "asset_keys", None)
    asset_key = getattr(event, "asset_key", None)
    if asset_key is None and keys:
        asset_key = ",".join(keys)
    return {
        "seq": seq,
        "type": event.type,
        "time": event.time.isoformat(),
        "event_id": event.event_id,
        "asset_key": asset_key,
        "partition_key": getattr(event, "partition_key", None),
        "run_id": getattr(event, "run_id", None),
        "backfill_id": getattr(event, "backfill_id", None),
        "name": getattr(event, "name", None),
    }


class Subscription:
    """One reader's queue; `take` blocks until there is something to read."""

    def __init__(self, stream: EventStream) -> None:
        self._stream = stream
        self._cond = threading.Condition()
        self._pending: deque[Summary] = deque()
        self._reset = False
        self.closed = False

    def put(self, summaries: list[Summary]) -> None:
        with self._cond:
            if self._reset:
                return
            if len(self._pending) + len(summaries) > MAX_PENDING:
                self._pending.clear()
                self._reset = True
            else:
                self._pending.extend(summaries)
            self._cond.notify()

    def take(self, timeout: float) -> list[Summary] | Literal["reset", "closed"] | None:
        """The summaries queued so far, `reset`, `closed`, or None after `timeout` idle."""
        with self._cond:
            if not (self._pending or self._reset or self.closed):
                self._cond.wait(timeout)
            if self.closed:
                return "closed"
            if self._reset:
                self._reset = False
                return "reset"
            if not self._pending:
                return None
            out = list(self._pending)
            self._pending.clear()
            return out

    def close(self) -> None:
        """Stop reading (the connection ended, or the server is closing)."""
        with self._cond:
            self.closed = True
            self._cond.notify()
        self._stream.unsubscribe(self)


class EventStream:
    """Fan-out of applied events to live subscribers (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()

    @property
    def listening(self) -> bool:
        """Whether anyone subscribes: the projector skips summarizing when not."""
        return bool(self._subscribers)

    def subscribe(self) -> Subscription:
        """A new subscription; the caller must `close()` it."""
        sub = Subscription(self)
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def publish(self, applied: Iterable[tuple[int, AnyEvent]]) -> None:
        """Queue events (with their log sequence numbers) for every subscriber.

        Heartbeats are left out: parts beat every few seconds, and no page shows them live.
        """
        with self._lock:
            subscribers = list(self._subscribers)
        if not subscribers:
            return
        batch = [summarize(seq, e) for seq, e in applied if e.type != "ComponentHeartbeat"]
        if batch:
            for sub in subscribers:
                sub.put(batch)

    def close(self) -> None:
        """End every subscription (their connections then close)."""
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            sub.close()
