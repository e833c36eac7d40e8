"""Run logs on the projector: the logs topic into the archive, and `/runs/<id>/logs`.

The logs topic is read by a consumer and a thread of its own, not by the projector's main
loop: the read model never needs a line, and a run that writes a million of them must not
delay a decision's way into the read model (or the archive's event ingest). Lines are
stored in batches (`FLUSH_S`, `FLUSH_LINES`) by `RunLogWriter`, which keeps its own
position, so a restart resumes where the rows end.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

from conflux.projections.api import NotFoundError, RunLogDrops, RunLogLine, RunLogs

if TYPE_CHECKING:
    from conflux.events import ConsumedEvent, Topics
    from conflux.events.brokers import BrokerKind
    from conflux.projections.archive import ArchiveStore, RunLogRow
    from conflux.projections.projector._read_model import ReadModel

_log = logging.getLogger("conflux.projector.logs")

FLUSH_S = 0.25
"""How long lines wait to be stored at most (what `conflux logs --follow` lags by)."""
FLUSH_LINES = 20_000
"""Lines stored at once at most."""
SETTLE_S = 2.0
"""How long a read waits for the lines written before it to be stored."""


class RunLogIngest:
    """Reads `<prefix>.logs` into the archive's `run_logs` on a thread of its own."""

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        store: ArchiveStore,
        *,
        broker_kind: BrokerKind | None = None,
    ) -> None:
        """Create the tables; nothing is read until `start`."""
        from conflux.projections.archive import RunLogWriter

        self.bootstrap = bootstrap
        self.topics = topics
        self.store = store
        self.broker_kind = broker_kind
        self.writer = RunLogWriter(store)
        self.writer.create_schema()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = 0
        """Times the thread found nothing more to read with everything stored."""
        self._idle_changed = threading.Condition()
        self.error: BaseException | None = None
        """What stopped the thread, if an error did (reads then answer without settling)."""

    def start(self) -> None:
        """Read and store in a daemon thread until `close`."""
        self._thread = threading.Thread(target=self._run, name="conflux-run-logs", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Store what was read and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def settle(self, timeout: float = SETTLE_S) -> bool:
        """Wait until what was on the logs topic when called is stored (False: not in time)."""
        if self._thread is None or self.error is not None:
            return False
        with self._idle_changed:
            target = self._idle + 1
            return self._idle_changed.wait_for(lambda: self._idle >= target, timeout)

    def _run(self) -> None:
        from conflux.events import EventConsumer, ensure_topics

        try:
            ensure_topics(self.bootstrap, [self.topics.logs_spec()])
            consumer = EventConsumer(
                self.bootstrap,
                self.topics,
                [self.topics.logs],
                start_offsets=self.writer.resume_offsets(),
                client_id="conflux-projector-logs",
                broker_kind=self.broker_kind,
            )
        except Exception as exc:  # e.g. an older system's broker without the logs topic
            _log.error("run logs are not archived: %s", exc)
            self.error = exc
            return
        pending: list[ConsumedEvent] = []
        lines = 0
        due = time.monotonic() + FLUSH_S
        try:
            while not self._stop.is_set():
                records = consumer.poll(timeout=0.05, max_records=2000)
                pending += records
                lines += sum(len(getattr(r.event, "messages", ())) for r in records)
                now = time.monotonic()
                if pending and (lines >= FLUSH_LINES or now >= due or not records):
                    self.writer.write(pending)
                    pending, lines = [], 0
                if not records:
                    due = now + FLUSH_S
                    with self._idle_changed:
                        self._idle += 1
                        self._idle_changed.notify_all()
            if pending:
                self.writer.write(pending)
        except Exception as exc:  # kept for `/status`-like reads; the projector goes on
            _log.exception("run logs stopped being archived")
            self.error = exc
        finally:
            consumer.close()


def answer_run_logs(
    ingest: RunLogIngest | None,
    model: ReadModel,
    run_id: str,
    query: dict[str, str],
) -> RunLogs:
    """`/runs/<id>/logs?asset=&partition=&after=`: the run's lines, as `RunLogs`.

    Raises:
        NotFoundError: the projector keeps no archive (so no logs).
        ValueError: `after` is not a cursor this API gave.
    """
    from conflux.projections.archive import read_run_logs

    if ingest is None:
        raise NotFoundError(
            "this projector keeps no archive, so it has no run logs: run it with one"
            " (`conflux dev` always does; set CONFLUX_CLICKHOUSE_URL for a server)"
        )
    ingest.settle()
    run = model.run_summary(run_id)
    after = datetime.fromisoformat(query["after"]) if query.get("after") else None
    limit = 100_000
    found, drops = read_run_logs(
        ingest.store,
        run_id,
        asset_key=query.get("asset") or None,
        partition_key=query.get("partition") or None,
        after=after,
        limit=limit + 1,
    )
    truncated = len(found) > limit
    found = found[:limit]
    stored = [r.archived for r in found if r.archived is not None]
    cursor = max(stored).isoformat() if stored else query.get("after") or None
    return RunLogs(
        run_id=run_id,
        run_status=run.status if run is not None else None,
        lines=[_line(r) for r in found],
        dropped=[
            RunLogDrops(
                asset_key=d.asset_key,
                partition_key=d.partition_key,
                work_item_id=d.work_item_id,
                attempt=d.attempt,
                dropped=d.seq,
            )
            for d in drops
        ],
        cursor=cursor,
        truncated=truncated,
    )


def _line(row: RunLogRow) -> RunLogLine:
    return RunLogLine(
        asset_key=row.asset_key,
        partition_key=row.partition_key,
        work_item_id=row.work_item_id,
        attempt=row.attempt,
        seq=row.seq,
        time=row.time,
        stream=row.stream,
        level=row.level,
        message=row.message,
    )
