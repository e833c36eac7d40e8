"""How far one active coordinator goes: decisions and dispatches per second at one core.

Workers scale out as a consumer group; the active coordinator does not (issue 18, 4). This
measures its ceiling with workers that answer at once, two ways:

- `no_broker`: the coordinator's own work alone, in this thread: `decide`, folding its
  decisions and folding the workers' outcomes (built outside the timed part). Thread CPU
  time, so it reads as "at one full core" whatever else runs on the machine.
- `kafka`: a real `Coordinator` in a thread of this process against Apache Kafka, with a
  responder process that answers every work item at once (an `AssetMaterialized` per
  asset, nothing executed). The coordinator thread's CPU time (`pthread_getcpuclockid`)
  gives the rate at one full core: decisions / CPU seconds; `cpu_share` is how much of
  the wall time that thread ran (1.0: it was the bottleneck, saturated).

Two workloads each:

- `backfill`: one minutely asset, BENCH_CEILING_PARTITIONS partitions (default 50,000
  on Kafka, 100,000 without), BENCH_CEILING_INFLIGHT work items in flight (default 2,048;
  the run queue's default, 256, leaves the coordinator waiting on round trips);
- `automation`: a root asset and BENCH_CEILING_WIDTH (default 500) eager children; the
  root is reported materialized BENCH_CEILING_ROUNDS times (default 10), each time
  after every child's run of the round before completed: per child and round, one
  evaluation, one request, one run started, one dispatch, one run completed.

Decisions are everything the coordinator emits (a dispatch counts once, though written
to the runs topic and delivered on the work topic). Prints one JSON object.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from conflux import AutomationCondition, Definitions, TimeWindowPartitionsDefinition, asset
from conflux.events import (
    AssetMaterialized,
    BackfillRequested,
    DefinitionsPublished,
    EventConsumer,
    EventProducer,
    PartitionRange,
    Topics,
    WorkItemDispatched,
    ensure_topics,
)
from conflux.sdk.runtime import build_location_snapshot, snapshot_id

if TYPE_CHECKING:
    from conflux.coordinator import Coordinator, CoordinatorState

PARTITIONS = int(os.environ.get("BENCH_CEILING_PARTITIONS", "0"))
WIDTH = int(os.environ.get("BENCH_CEILING_WIDTH", "500"))
ROUNDS = int(os.environ.get("BENCH_CEILING_ROUNDS", "10"))
INFLIGHT = int(os.environ.get("BENCH_CEILING_INFLIGHT", "2048"))
"""Work items in flight at once: enough that each decision step carries a full batch, so
the broker's round trip (acks=all) is not what bounds the rate."""
LOCATION = "bench"
START = datetime(2020, 1, 1, tzinfo=UTC)

minutes = TimeWindowPartitionsDefinition(
    cron_schedule="* * * * *", start="2020-01-01-00:00", fmt="%Y-%m-%d-%H:%M"
)


@asset(partitions_def=minutes)
def noop() -> None:
    return None


@asset
def root() -> None:
    return None


def _child(i: int) -> object:
    @asset(name=f"child_{i:04d}", deps=[root], automation_condition=AutomationCondition.eager())
    def child() -> None:
        return None

    return child


def definitions(workload: str) -> DefinitionsPublished:
    if workload == "backfill":
        defs = Definitions(assets=[noop])
    else:
        defs = Definitions(assets=[root, *(_child(i) for i in range(WIDTH))])  # type: ignore[list-item]
    snapshot = build_location_snapshot(defs, LOCATION)
    return DefinitionsPublished(
        location=LOCATION, snapshot_id=snapshot_id(snapshot), snapshot=snapshot, producer="bench"
    )


def backfill_request(partitions: int) -> BackfillRequested:
    last = (START + timedelta(minutes=partitions - 1)).strftime("%Y-%m-%d-%H:%M")
    return BackfillRequested(
        backfill_id="bf",
        selection="noop",
        asset_keys=("noop",),
        partition_range=PartitionRange(start="2020-01-01-00:00", end=last),
        producer="bench",
    )


def root_materialized(n: int) -> AssetMaterialized:
    return AssetMaterialized(
        asset_key="root", data_version=f"v{n}", source="reported", producer="bench"
    )


def answer(item: WorkItemDispatched) -> list[AssetMaterialized]:
    """What a worker that does nothing reports for a work item."""
    return [
        AssetMaterialized(
            asset_key=key,
            partition_key=item.partition_key,
            data_version="v",
            run_id=item.run_id,
            work_item_id=item.work_item_id,
            worker_id="responder",
            attempt=item.attempt,
            upstream=item.upstream,
            producer="worker:responder",
        )
        for key in item.asset_keys
    ]


# -- no broker ------------------------------------------------------------------------------


def no_broker(workload: str) -> dict[str, object]:
    """Decide and fold in this thread, answering every dispatch at once."""
    import gc

    from conflux.coordinator import CoordinatorState, QueueLimits, decide

    limits = QueueLimits(max_concurrent=INFLIGHT)
    state = CoordinatorState()
    state.epoch = 1
    state.apply(definitions(workload))
    now = datetime.now(UTC)
    cpu = 0.0
    decisions = dispatches = 0
    rounds = ROUNDS if workload == "automation" else 1
    gc.freeze()
    for n in range(rounds):
        kick = (
            backfill_request(PARTITIONS or 100_000)
            if workload == "backfill"
            else root_materialized(n)
        )
        started = time.thread_time()
        state.apply(kick)
        cpu += time.thread_time() - started
        while True:
            started = time.thread_time()
            events = decide(state, now, limits)
            for event in events:
                state.apply(event)
            cpu += time.thread_time() - started
            if not events:
                break
            decisions += len(events)
            outcomes = [o for e in events if isinstance(e, WorkItemDispatched) for o in answer(e)]
            dispatches += sum(isinstance(e, WorkItemDispatched) for e in events)
            started = time.thread_time()
            for outcome in outcomes:
                state.apply(outcome)
            cpu += time.thread_time() - started
    _check(state, workload)
    return {
        "decisions": decisions,
        "dispatches": dispatches,
        "cpu_s": round(cpu, 2),
        "decisions_per_cpu_s": round(decisions / cpu),
        "dispatches_per_cpu_s": round(dispatches / cpu),
    }


def _check(state: CoordinatorState, workload: str) -> None:
    if workload == "backfill":
        done = state.backfills["bf"].completed
        assert done is not None and done.status == "success", done
    else:
        open_runs = [r for r in state.runs.values() if r.completed is None]
        assert not open_runs, f"{len(open_runs)} runs did not complete"


# -- on Kafka -------------------------------------------------------------------------------


def respond(bootstrap: str, prefix: str) -> None:
    """The responder process: answer every work item at once, until killed."""
    topics = Topics(prefix)
    ensure_topics(bootstrap, [topics.work_spec(LOCATION)])
    producer = EventProducer(bootstrap, topics, broker_kind="kafka", linger_ms=2)
    with EventConsumer(
        bootstrap, topics, [topics.work(LOCATION)], broker_kind="kafka", fetch_wait_ms=5
    ) as consumer:
        while True:
            for record in consumer.poll(timeout=0.05, max_records=5000):
                if isinstance(record.event, WorkItemDispatched):
                    for outcome in answer(record.event):
                        producer.emit(outcome)
            producer.flush()


def on_kafka(workload: str) -> dict[str, object]:
    from conflux.coordinator import Coordinator, QueueLimits
    from conflux.events.brokers import KafkaBroker

    with tempfile.TemporaryDirectory(prefix="conflux-bench-ceiling-") as tmp:
        broker = KafkaBroker(Path(tmp) / "broker")
        broker.start(timeout=600)
        responder: subprocess.Popen[bytes] | None = None
        stop = threading.Event()
        thread: threading.Thread | None = None
        try:
            topics = Topics("ceiling")
            ensure_topics(broker.bootstrap, [*topics.core(), topics.work_spec(LOCATION)])
            responder = subprocess.Popen(
                [sys.executable, __file__, "respond", broker.bootstrap, topics.prefix]
            )
            coordinator = Coordinator(
                broker.bootstrap,
                topics,
                broker_kind="kafka",
                limits=QueueLimits(max_concurrent=INFLIGHT),
            )
            thread = threading.Thread(target=coordinator.run, args=(stop,), daemon=True)
            thread.start()
            with EventProducer(broker.bootstrap, topics, broker_kind="kafka") as producer:
                producer.emit(definitions(workload))
                producer.flush()
                _until(lambda: coordinator.active and _loaded(coordinator), "no leader")
                assert thread.ident is not None
                clock = time.pthread_getcpuclockid(thread.ident)
                cpu0, wall0, emitted0 = time.clock_gettime(clock), time.monotonic(), 0
                emitted0 = coordinator.emitted
                if workload == "backfill":
                    producer.emit(backfill_request(PARTITIONS or 50_000))
                    producer.flush()
                    _until(lambda: "bf" in coordinator.state.backfills, "no backfill")
                    _until(
                        lambda: coordinator.state.backfills["bf"].completed is not None,
                        "the backfill did not complete",
                        timeout=1800,
                    )
                else:
                    for n in range(ROUNDS):
                        producer.emit(root_materialized(n))
                        producer.flush()
                        _until(
                            lambda n=n: _round_done(coordinator, n + 1),
                            f"round {n} did not complete",
                            timeout=600,
                        )
                cpu = time.clock_gettime(clock) - cpu0
                wall = time.monotonic() - wall0
                decisions = coordinator.emitted - emitted0
            dispatches = _count_dispatches(broker.bootstrap, topics)
            return {
                "decisions": decisions,
                "dispatches": dispatches,
                "wall_s": round(wall, 2),
                "coordinator_cpu_s": round(cpu, 2),
                "cpu_share": round(cpu / wall, 2),
                "decisions_per_s": round(decisions / wall),
                "dispatches_per_s": round(dispatches / wall),
                "decisions_per_cpu_s": round(decisions / cpu),
                "dispatches_per_cpu_s": round(dispatches / cpu),
            }
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=60)
            if responder is not None:
                responder.kill()
                responder.wait(timeout=30)
            broker.stop()


def _loaded(coordinator: Coordinator) -> bool:
    return coordinator.state.location_loaded(LOCATION)


def _round_done(coordinator: Coordinator, rounds: int) -> bool:
    """Every child's run of `rounds` rounds completed (read across threads: counts only)."""
    done = sum(1 for r in list(coordinator.state.runs.values()) if r.completed is not None)
    return done >= rounds * WIDTH


def _count_dispatches(bootstrap: str, topics: Topics) -> int:
    count = 0
    with EventConsumer(bootstrap, topics, [topics.runs], broker_kind="kafka") as consumer:
        while not consumer.caught_up():
            records = consumer.poll(timeout=0.5, max_records=10_000)
            count += sum(isinstance(r.event, WorkItemDispatched) for r in records)
    return count


def _until(done: object, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:g} s")
        time.sleep(0.2)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    result: dict[str, object] = {"benchmark": "coordinator_ceiling", "width": WIDTH}
    for workload in ("backfill", "automation"):
        result[f"{workload}_no_broker"] = no_broker(workload)
        result[f"{workload}_kafka"] = on_kafka(workload)
    result["loadavg_1m"] = os.getloadavg()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1:2] == ["respond"]:
        respond(sys.argv[2], sys.argv[3])
    else:
        main()
