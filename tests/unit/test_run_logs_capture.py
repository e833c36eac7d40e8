"""Run logs in the worker: what an attempt writes is captured, capped, and kept apart."""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import TYPE_CHECKING

from conflux.events import (
    AssetMaterialized,
    LogLinesCaptured,
    PartitionFailed,
    PartitionStarted,
    Topics,
    decode_event,
    encode_event,
)
from conflux.sdk import get_dagster_logger
from conflux.workers._logs import BATCH_LINES, AttemptLog, attempt_logs, capture_output

if TYPE_CHECKING:
    from collections.abc import Callable


def _started(item: str = "w1", attempt: int = 1) -> PartitionStarted:
    return PartitionStarted(
        asset_key="a",
        partition_key="2024-01-01",
        run_id="r1",
        work_item_id=item,
        worker_id="w",
        attempt=attempt,
    )


def _collect(
    item: str = "w1", attempt: int = 1, max_lines: int = 10_000
) -> tuple[AttemptLog, list[LogLinesCaptured]]:
    sent: list[LogLinesCaptured] = []
    return AttemptLog(_started(item, attempt), send=sent.append, max_lines=max_lines), sent


def _lines(sent: list[LogLinesCaptured]) -> list[tuple[int, str, str, str]]:
    return [
        (b.first_seq + i, stream, level, message)
        for b in sent
        for i, (stream, level, message) in enumerate(
            zip(b.streams, b.levels, b.messages, strict=True)
        )
    ]


def test_stdout_stderr_and_context_log_are_captured_in_order() -> None:
    log, sent = _collect()
    with capture_output(), attempt_logs(log):
        print("hello")
        logging.getLogger("conflux.asset.a").info("loaded %d rows", 3)
        sys.stderr.write("partial ")
        sys.stderr.write("warning\n")
        logging.getLogger("conflux.asset.a").debug("debug is kept too")
        get_dagster_logger().warning("from get_dagster_logger")
        print("no newline at the end", end="")
    assert _lines(sent) == [
        (0, "stdout", "", "hello"),
        (1, "log", "INFO", "loaded 3 rows"),
        (2, "stderr", "", "partial warning"),
        (3, "log", "DEBUG", "debug is kept too"),
        (4, "log", "WARNING", "from get_dagster_logger"),
        (5, "stdout", "", "no newline at the end"),
    ]
    assert all(b.run_id == "r1" and b.attempt == 1 and b.asset_key == "a" for b in sent)


def test_context_log_exception_carries_the_traceback() -> None:
    log, sent = _collect()
    with capture_output(), attempt_logs(log):
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("conflux.asset.a").exception("it failed")
    ((_, stream, level, message),) = _lines(sent)
    assert (stream, level) == ("log", "ERROR")
    assert message.startswith("it failed\nTraceback") and "ValueError: boom" in message


def test_lines_past_the_cap_are_counted_not_kept() -> None:
    log, sent = _collect(max_lines=5)
    with capture_output(), attempt_logs(log):
        for i in range(12):
            print(f"line {i}")
    assert [m for _, _, _, m in _lines(sent)] == [f"line {i}" for i in range(5)]
    assert (log.kept, log.dropped) == (5, 7)
    assert sent[-1].dropped == 7
    stamped = log.stamp(
        [
            AssetMaterialized(asset_key="a", data_version="v"),
            PartitionStarted(asset_key="a", run_id="r1", work_item_id="w1", worker_id="w"),
        ]
    )
    assert isinstance(stamped[0], AssetMaterialized)
    assert (stamped[0].log_lines, stamped[0].log_dropped) == (5, 7)
    assert stamped[1] is not None and not hasattr(stamped[1], "log_lines")


def test_lines_go_out_in_batches_in_order() -> None:
    log, sent = _collect()
    with capture_output(), attempt_logs(log):
        for i in range(BATCH_LINES * 2 + 10):
            print(i)
        assert len(sent) == 2, "full batches are sent while the attempt runs"
    assert len(sent) == 3
    seqs = [seq for seq, _, _, _ in _lines(sent)]
    assert seqs == list(range(BATCH_LINES * 2 + 10))
    assert [int(message) for _, _, _, message in _lines(sent)] == seqs


def test_threads_do_not_mix() -> None:
    """Two attempts on two threads at once, and a thread in no attempt, stay apart."""
    logs = {name: _collect(item=name) for name in ("one", "two")}
    barrier = threading.Barrier(2)

    def attempt(name: str) -> None:
        log, _ = logs[name]
        with attempt_logs(log):
            barrier.wait()
            for i in range(300):
                print(f"{name} {i}")
                logging.getLogger(f"conflux.asset.{name}").info("%s log %d", name, i)

    outside: list[str] = []

    class _Real:
        def write(self, text: str) -> int:
            outside.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    real = sys.stdout
    sys.stdout = _Real()
    try:
        with capture_output():
            threads = [threading.Thread(target=attempt, args=(n,)) for n in logs]
            for t in threads:
                t.start()
            print("the worker's own line")
            for t in threads:
                t.join()
    finally:
        sys.stdout = real
    for name, (_, sent) in logs.items():
        messages = [m for _, _, _, m in _lines(sent)]
        assert len(messages) == 600 and all(m.startswith(name) for m in messages)
        assert [m for m in messages if " log " not in m] == [f"{name} {i}" for i in range(300)]
        assert all(b.work_item_id == name for b in sent)
    assert "".join(outside) == "the worker's own line\n"


def test_outside_an_attempt_records_reach_the_worker_log_as_before(
    caplog: object,
) -> None:
    import pytest

    assert isinstance(caplog, pytest.LogCaptureFixture)
    with caplog.at_level(logging.INFO), capture_output():
        logging.getLogger("conflux.asset.a").info("no attempt here")
    assert "no attempt here" in caplog.text
    assert logging.getLogger("conflux.asset").propagate, "put back once capture ends"


def test_capture_restores_the_streams() -> None:
    before = (sys.stdout, sys.stderr)
    with capture_output():
        with capture_output():
            assert sys.stdout is not before[0]
        assert sys.stdout is not before[0]
    assert (sys.stdout, sys.stderr) == before


def test_the_batch_and_the_counts_round_trip_on_their_topic() -> None:
    log, sent = _collect()
    with capture_output(), attempt_logs(log):
        print("x")
    (batch,) = sent
    assert decode_event(encode_event(batch)) == batch
    assert Topics("t").route(batch) == ("t.logs", "a#2024-01-01")
    assert "t.logs" in [s.name for s in Topics("t").core()]
    old = PartitionFailed(
        asset_key="a", run_id="r", work_item_id="w", worker_id="w", error_type="E", message="m"
    )
    data = json.loads(encode_event(old))
    del data["log_lines"], data["log_dropped"]  # as written before run logs existed
    decoded = decode_event(json.dumps(data).encode())
    assert isinstance(decoded, PartitionFailed) and decoded.log_lines is None


def _as_logging_writes(logger: logging.Logger, call: Callable[[logging.Logger], None]) -> str:
    """What logging's own path makes of the same call: the record, formatted `%(message)s`."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.DEBUG
    try:
        call(logger)
    finally:
        logger.removeHandler(handler)
        logger.level = level
    (record,) = records
    return logging.Formatter("%(message)s").format(record)


def test_captured_context_log_keeps_level_args_and_exception_as_logging_would() -> None:
    from conflux.sdk._context_log import context_logger

    context_log = context_logger("conflux.asset.fast")
    assert isinstance(context_log, logging.Logger)  # as Dagster's DagsterLogManager is

    def failed(logger: logging.Logger) -> None:
        try:
            raise ValueError("boom 42")
        except ValueError:
            logger.exception("step %s of %d failed", "load", 3)

    calls: list[tuple[str, Callable[[logging.Logger], None]]] = [
        ("WARNING", lambda lg: lg.warning("loaded %d rows of %s", 3, "sales")),
        ("DEBUG", lambda lg: lg.debug("debug %(n)d", {"n": 7})),
        ("ERROR", failed),
        ("ERROR", lambda lg: lg.error("given %s", "it", exc_info=KeyError("k"))),
        ("CRITICAL", lambda lg: lg.log(logging.CRITICAL, "100%% done")),
        ("INFO", lambda lg: lg.info({"not": "a string"})),
    ]
    log, sent = _collect()
    with capture_output(), attempt_logs(log):
        for _, call in calls:
            call(context_log)
    lines = _lines(sent)
    assert [(stream, level) for _, stream, level, _ in lines] == [
        ("log", level) for level, _ in calls
    ]
    plain = logging.Logger("plain")  # logging's own path, outside any capture
    for (_, _, _, message), (_, call) in zip(lines, calls, strict=True):
        assert message == _as_logging_writes(plain, call)
    assert lines[0][3] == "loaded 3 rows of sales"
    assert lines[2][3].startswith("step load of 3 failed\nTraceback (most recent call last):")
    assert lines[2][3].endswith("ValueError: boom 42")
    assert lines[3][3] == "given it\nKeyError: 'k'"


def test_a_context_log_line_that_does_not_format_is_reported_as_logging_does() -> None:
    from conflux.sdk._context_log import context_logger

    log, sent = _collect()
    with capture_output(), attempt_logs(log):
        context_logger("conflux.asset.fast").info("%d rows", "not a number")
    text = "\n".join(m for _, _, _, m in _lines(sent))
    assert "--- Logging error ---" in text
    assert "TypeError" in text


def test_context_log_outside_capture_takes_logging_path(caplog: object) -> None:
    import pytest

    from conflux.sdk._context_log import context_logger

    assert isinstance(caplog, pytest.LogCaptureFixture)
    with caplog.at_level(logging.INFO, logger="conflux.asset.fast"):
        context_logger("conflux.asset.fast").info("hello %s", "there")
        context_logger("conflux.asset.fast").debug("below the level")
    (record,) = caplog.records
    assert (record.name, record.getMessage()) == ("conflux.asset.fast", "hello there")
    assert record.funcName == "test_context_log_outside_capture_takes_logging_path"


def test_one_attempts_threads_keep_their_partial_lines_apart() -> None:
    """Threads of one attempt (run in copies of its context) write whole lines of their own."""
    import contextvars

    log, sent = _collect()
    barrier = threading.Barrier(2)

    def writer(name: str) -> None:
        barrier.wait()
        for i in range(500):
            sys.stdout.write(f"{name}-")
            sys.stdout.write(f"{i}\n")

    with capture_output(), attempt_logs(log):
        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(writer, name))
            for name in ("a", "b")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lines = _lines(sent)
    assert [seq for seq, _, _, _ in lines] == list(range(1000))
    for name in ("a", "b"):
        mine = [m for _, _, _, m in lines if m.startswith(f"{name}-")]
        assert mine == [f"{name}-{i}" for i in range(500)]
    assert log.kept == 1000
