"""Run logs in the archive (chdb): stored once however often they are read, in order."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta

from conflux.events import ConsumedEvent, LogLinesCaptured, encode_event
from conflux.projections.archive import ChdbStore, RunLogWriter, read_run_logs

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _batch(item: str, attempt: int, first: int, n: int, *, dropped: int = 0) -> LogLinesCaptured:
    return LogLinesCaptured(
        run_id="r1",
        asset_key=item.split("#")[0],
        partition_key=item.split("#")[1],
        work_item_id=item,
        worker_id="w",
        attempt=attempt,
        first_seq=first,
        times=tuple(
            (T0 + timedelta(seconds=attempt * 10 + first + i)).timestamp() for i in range(n)
        ),
        streams=("stdout",) * n,
        levels=("",) * n,
        messages=tuple(f"{item} a{attempt} {first + i}" for i in range(n)),
        dropped=dropped,
    )


def _consumed(event: LogLinesCaptured, offset: int) -> ConsumedEvent:
    return ConsumedEvent(event, "c.logs", 0, offset, None, 0, encode_event(event))


def test_lines_are_stored_once_in_order_with_drops_and_a_cursor() -> None:
    batches = [
        _batch("a#p1", 1, 0, 3),
        _batch("b#p1", 1, 0, 2),
        _batch("a#p1", 1, 3, 2, dropped=5),
        _batch("a#p1", 2, 0, 2),
    ]
    with tempfile.TemporaryDirectory() as folder, ChdbStore(folder) as store:
        store.create_schema()  # `positions` is the archive's
        writer = RunLogWriter(store)
        writer.create_schema()
        writer.write([_consumed(b, i) for i, b in enumerate(batches)])
        writer.write([_consumed(batches[0], 0)])  # read again (at least once delivery)
        assert writer.resume_offsets() == {("c.logs", 0): 4}
        lines, drops = read_run_logs(store, "r1")
        assert [line.message for line in lines] == [
            *(f"a#p1 a1 {i}" for i in range(5)),
            "b#p1 a1 0",
            "b#p1 a1 1",
            "a#p1 a2 0",
            "a#p1 a2 1",
        ]
        assert [(d.work_item_id, d.attempt, d.seq) for d in drops] == [("a#p1", 1, 5)]
        only_b, _ = read_run_logs(store, "r1", asset_key="b", partition_key="p1")
        assert [line.seq for line in only_b] == [0, 1]
        assert read_run_logs(store, "other") == ([], [])
        cursor = max(line.archived for line in lines if line.archived is not None)
        time.sleep(0.01)
        writer.write([_consumed(_batch("a#p1", 2, 2, 1), 4)])
        newer, _ = read_run_logs(store, "r1", after=cursor)
        assert [line.message for line in newer] == ["a#p1 a2 2"]
