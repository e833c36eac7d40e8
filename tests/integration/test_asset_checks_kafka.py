"""Asset checks end to end on a real broker: worker runs them, coordinator gates, reads show them.

A coordinator, a worker and a projector (with a chdb archive) run in threads, stopped on
exit whatever happens; the test requests runs as the CLI would and reads the log, the
query API and the archive.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from brokers import BrokerHandle, read_to_end

from conflux import (
    AssetCheckResult,
    AssetExecutionContext,
    Definitions,
    StaticPartitionsDefinition,
    asset,
    asset_check,
)
from conflux.coordinator import Coordinator
from conflux.events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    ConfluxError,
    DefinitionsPublished,
    EventProducer,
    MaterializationRequested,
    RunCompleted,
    Topics,
    WorkItemSkipped,
    new_id,
)
from conflux.projections.api import ApiClient, AssetSummary, EventQuery
from conflux.projections.archive import ChdbStore
from conflux.projections.projector import Projector
from conflux.workers import Worker

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from test_worker import Part

pytestmark = pytest.mark.integration

colors = StaticPartitionsDefinition(["red", "green", "blue"])


@asset(partitions_def=colors)
def orders(context: AssetExecutionContext) -> list[int | None]:
    return [1, None] if context.partition_key == "blue" else [1, 2]


@asset(partitions_def=colors)
def summary(orders: list[int | None]) -> int:
    return len(orders)


@asset_check(asset=orders, blocking=True)
def no_nulls(orders: list[int | None]) -> AssetCheckResult:
    nulls = sum(1 for o in orders if o is None)
    return AssetCheckResult(passed=nulls == 0, metadata={"nulls": nulls})


@asset
def raw() -> int:
    return 1


@asset
def cooked(raw: int) -> int:
    return raw + 1


@asset_check(asset=raw)
def never_good(raw: int) -> bool:
    return False


@asset_check(asset=raw)
def explodes() -> bool:
    raise RuntimeError("check crashed")


DEFS = Definitions(
    assets=[orders, summary, raw, cooked], asset_checks=[no_nulls, never_good, explodes]
)


@contextmanager
def running(*targets: Part) -> Iterator[None]:
    """Run each target's `run(stop)` in a thread; stop and join them all on exit."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def guard(target: Part) -> None:
        try:
            target.run(stop)
        except BaseException as exc:  # re-raised below: a part's crash fails the test
            errors.append(exc)

    threads = [threading.Thread(target=guard, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert not [t for t in threads if t.is_alive()], "a part did not stop"
        if errors:
            raise errors[0]


def wait_for(what: str, probe: Callable[[], object], timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout}s")


def request(broker: BrokerHandle, topics: Topics, keys: tuple[str, ...], *parts: str) -> str:
    run_id = new_id()
    with EventProducer(broker.bootstrap, topics, broker_kind=broker.kind) as producer:
        producer.emit(
            MaterializationRequested(
                run_id=run_id,
                selection=",".join(keys),
                asset_keys=keys,
                partition_keys=parts or None,
            )
        )
        producer.flush()
    return run_id


def completed(broker: BrokerHandle, topics: Topics, run_id: str) -> RunCompleted:
    def probe() -> RunCompleted | None:
        for record in read_to_end(broker, topics, [topics.runs]):
            if isinstance(record.event, RunCompleted) and record.event.run_id == run_id:
                return record.event
        return None

    done = wait_for(f"run {run_id} completed", probe)
    assert isinstance(done, RunCompleted)
    return done


def test_blocking_checks_gate_dependents_and_results_reach_every_reader(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    worker = Worker(
        location="shop",
        load=lambda: DEFS,
        bootstrap=broker.bootstrap,
        topics=topics,
        storage_dir=tmp_path / "storage",
        broker_kind=broker.kind,
    )
    coordinator = Coordinator(broker.bootstrap, topics, broker_kind=broker.kind)
    archive = ChdbStore(str(tmp_path / "archive"))
    projector = Projector(broker.bootstrap, topics, broker_kind=broker.kind, archive=archive)
    client = ApiClient(projector.api_url)
    try:
        with running(coordinator, worker, projector):
            wait_for(
                "the location's definitions",
                lambda: any(
                    isinstance(r.event, DefinitionsPublished)
                    for r in read_to_end(broker, topics, [topics.definitions])
                ),
            )
            gated = request(broker, topics, ("orders", "summary"), "red", "blue")
            done = completed(broker, topics, gated)
            assert (done.status, done.materialized, done.skipped) == ("failed", 3, 1)
            ungated = request(broker, topics, ("raw", "cooked"))
            done = completed(broker, topics, ungated)
            assert (done.status, done.materialized, done.skipped) == ("success", 2, 0)

            def read(key: str, results: int) -> Callable[[], AssetSummary | None]:
                def probe() -> AssetSummary | None:
                    try:
                        found = client.asset(key)
                    except ConfluxError:  # the projector has not folded the definitions yet
                        return None
                    seen = sum(c.passed + c.failed for c in found.checks)
                    return found if seen == results else None

                return probe

            orders_read = wait_for("orders' check results", read("orders", 2))
            raw_read = wait_for("raw's check results", read("raw", 2))
            history = client.events(EventQuery(asset="orders", partition="blue"))
    finally:
        archive.close()

    skips = [
        r.event
        for r in read_to_end(broker, topics, [topics.runs])
        if isinstance(r.event, WorkItemSkipped)
    ]
    assert [(s.asset_keys, s.partition_key, s.reason) for s in skips] == [
        (("summary",), "blue", "blocking check no_nulls on orders partition blue failed")
    ]
    asset_events = [r.event for r in read_to_end(broker, topics, [topics.assets])]
    checks = [e for e in asset_events if isinstance(e, AssetCheckEvaluated)]
    by_part = {(c.asset_key, c.check_name, c.partition_key): c for c in checks}
    blue = by_part[("orders", "no_nulls", "blue")]
    assert (blue.passed, blue.metadata, blue.worker_id) == (False, {"nulls": 1}, worker.worker_id)
    assert skips[0].causation_id == blue.event_id
    mats = {e.event_id: e for e in asset_events if isinstance(e, AssetMaterialized)}
    assert mats[blue.materialization_event_id or ""].partition_key == "blue"
    assert by_part[("orders", "no_nulls", "red")].passed
    crashed = by_part[("raw", "explodes", None)]
    assert (crashed.passed, crashed.error_type, crashed.message) == (
        False,
        "RuntimeError",
        "check crashed",
    )
    # the read model: per check, its newest result and the partitions' counts
    assert isinstance(orders_read, AssetSummary) and isinstance(raw_read, AssetSummary)
    [nulls] = orders_read.checks
    assert (nulls.name, nulls.blocking, nulls.passed, nulls.failed) == ("no_nulls", True, 1, 1)
    raw_checks = {c.name: c.status for c in raw_read.checks}
    assert raw_checks == {"explodes": "failed", "never_good": "failed"}
    assert "AssetCheckEvaluated" in [r.type for r in history]
    # the archive: one row per evaluation
    with ChdbStore(str(tmp_path / "archive")) as store:
        [row] = store.check_results("orders", "blue")
        assert (row.check_name, row.passed, row.blocking, row.metadata) == (
            "no_nulls",
            False,
            True,
            '{"nulls":1}',
        )
        assert store.count("check_results") == len({c.event_id for c in checks}) == 4
