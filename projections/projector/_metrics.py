"""The projector's metrics: events folded, consumer lag, and how the archive keeps up.

Served on the query API at `/metrics`. The projector's loop calls `observe` once per poll
(a few additions; the lag is read from the consumer's cache at most every
`LAG_INTERVAL_S`). The archive's delay is how long the oldest record the projector has
read and the archive has not stored yet has waited (0 when the archive holds everything
read), measured from when the projector handed it to the archive's sink.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING

from conflux.events import FoldSeries, new_registry

if TYPE_CHECKING:
    from collections.abc import Sequence

    from prometheus_client import CollectorRegistry

    from conflux.events import ConsumedEvent, EventConsumer
    from conflux.projections.archive import ArchiveSink

LAG_INTERVAL_S = 1.0
"""How often the consumer lag is read again."""
MAX_PENDING = 10_000
"""Batches remembered while the archive is behind (past it, the newest ones merge)."""


class ProjectorMetrics:
    """The projector's series, in a registry of its own.

    Raises:
        MetricsUnavailableError: prometheus_client is not installed.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else new_registry()
        from prometheus_client import Counter as PCounter, Gauge

        r = self.registry
        self.fold = FoldSeries(r)
        self.archived = PCounter(
            "conflux_archive_records",
            "Records stored in the archive by this projector (rate(): the ingest rate).",
            registry=r,
        )
        self.backlog = Gauge(
            "conflux_archive_backlog_records",
            "Records read from the log and not stored in the archive yet.",
            registry=r,
        )
        self.delay = Gauge(
            "conflux_archive_delay_seconds",
            "How long the oldest record not yet in the archive has waited (0: none waits).",
            registry=r,
        )
        self.caught_up = Gauge(
            "conflux_projector_caught_up",
            "1 once the projector read every topic to its end.",
            registry=r,
        )
        self._next_lag = 0.0
        self._archived_seen = 0
        self._accepted_seen = 0
        self._pending: deque[tuple[int, float]] = deque()
        """(sink's `accepted` after a batch, when that batch was handed over)."""

    def observe(
        self,
        records: Sequence[ConsumedEvent],
        consumer: EventConsumer,
        sink: ArchiveSink | None,
        *,
        caught_up: bool,
    ) -> None:
        """Note one poll's records (after the read model and the sink took them)."""
        now = time.monotonic()
        if records:
            self.fold.count(records)
        if sink is not None:
            self._archive(sink, now)
        if now >= self._next_lag:
            self._next_lag = now + LAG_INTERVAL_S
            self.caught_up.set(1 if caught_up else 0)
            self.fold.set_lags(consumer)

    def _archive(self, sink: ArchiveSink, now: float) -> None:
        accepted, archived = sink.accepted, sink.archived
        if accepted > self._accepted_seen:
            self._accepted_seen = accepted
            if len(self._pending) >= MAX_PENDING:
                self._pending[-1] = (accepted, self._pending[-1][1])
            else:
                self._pending.append((accepted, now))
        if archived > self._archived_seen:
            self.archived.inc(archived - self._archived_seen)
            self._archived_seen = archived
        pending = self._pending
        while pending and pending[0][0] <= archived:
            pending.popleft()
        self.delay.set(now - pending[0][1] if pending else 0.0)
        self.backlog.set(max(0, accepted - archived))
