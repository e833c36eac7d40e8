"""Replay and restart at scale: fold rate from the log, checkpoint size, restart-to-ready.

Fills the log as a location would: its definitions snapshot (one asset with dynamic
partitions, no sensor), then N `AssetMaterialized` records on the assets topic (N
partitions: the coordinator's asset-state projection ends with N), then measures on each
broker:

- `consume_only`: records/s read and validated into events, nothing folded (the ceiling);
- `read_model_replay`: `conflux replay read-model`'s path (`projections._replay.replay`);
- `coordinator_cold_start`: a coordinator with no checkpoint, start to ready (a replay of
  everything), then the checkpoint it writes on a clean stop (seconds, bytes);
- `coordinator_restart`: a coordinator with that checkpoint, start to ready;
- `decode_and_fold_us` (no broker): per record, `decode_event` alone and the coordinator's
  fold alone (the epoch fence's type check, then `CoordinatorState.apply`, as the
  coordinator's catch-up loop folds), thread CPU time, over the same records.

Timed phases also report `other_processes_cores`: how many cores other processes kept busy
meanwhile (the machine has 2, shared), so that a contended figure reads as one.

N is 1,000,000 on Apache Kafka and 200,000 on Tansu (memory only); override with
BENCH_REPLAY_EVENTS. Prints one JSON object per broker.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from conflux.coordinator import Coordinator
from conflux.events import (
    AssetMaterialized,
    DefinitionsPublished,
    EventConsumer,
    EventProducer,
    Topics,
    encode_event,
    ensure_topics,
)
from conflux.projections.projector import read_model_fold, replay

if TYPE_CHECKING:
    from conflux.events.brokers import BrokerKind

TEMPLATE = encode_event(
    AssetMaterialized(
        asset_key="events",
        partition_key="PARTITIONKEY",
        data_version="v1",
        source="reported",
        producer="bench",
    )
)


def snapshot_event() -> DefinitionsPublished:
    """The snapshot a location publishes first: the asset "events", dynamic partitions."""
    from conflux import Definitions, DynamicPartitionsDefinition, asset
    from conflux.sdk.runtime import build_location_snapshot, snapshot_id

    @asset(name="events", partitions_def=DynamicPartitionsDefinition(name="events"))
    def events() -> None: ...

    snapshot = build_location_snapshot(Definitions(assets=[events]), "bench")
    return DefinitionsPublished(
        location="bench", snapshot_id=snapshot_id(snapshot), snapshot=snapshot, producer="bench"
    )


def fill(bootstrap: str, topics: Topics, n: int) -> float:
    """Publish the snapshot, then produce n distinct materializations; return the seconds."""
    from confluent_kafka import Producer

    from conflux.events import kafka_config

    with EventProducer(bootstrap, topics) as definitions:
        definitions.emit(snapshot_event())
        definitions.flush()
    conf = kafka_config(bootstrap, role="producer")
    conf.update({"linger.ms": 50, "batch.size": 1_000_000, "compression.type": "lz4"})
    producer = Producer(conf)
    head, _, tail = TEMPLATE.partition(b'"event_id":"')
    event_id, rest = tail[:32], tail[32:]
    assert len(event_id) == 32
    started = time.monotonic()
    for i in range(n):
        key = f"p{i:07d}"
        value = (
            head
            + b'"event_id":"'
            + f"{i:032x}".encode()
            + rest.replace(b"PARTITIONKEY", key.encode())
        )
        while True:
            try:
                producer.produce(topics.assets, value, f"events#{key}")
                break
            except BufferError:
                producer.poll(0.05)
        if not i % 10_000:
            producer.poll(0)
    assert producer.flush(120) == 0
    return time.monotonic() - started


def _busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all cores)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


class Contention:
    """Cores kept busy by other processes while a phase ran (this process's CPU excluded)."""

    def __enter__(self) -> Contention:
        self.busy, self.cpu, self.wall = _busy_s(), time.process_time(), time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        own = time.process_time() - self.cpu
        wall = max(time.monotonic() - self.wall, 1e-9)
        self.cores = round(max(_busy_s() - self.busy - own, 0.0) / wall, 2)


def consume_only(bootstrap: str, topics: Topics, kind: BrokerKind) -> dict[str, float]:
    names = [topics.definitions, topics.requests, topics.runs, topics.assets]
    count = 0
    started = time.monotonic()
    with Contention() as others, EventConsumer(
        bootstrap, topics, names, broker_kind=kind,
        config={"fetch.wait.max.ms": 10},
    ) as consumer:  # fmt: skip
        while not consumer.caught_up():
            count += len(consumer.poll(timeout=0.2, max_records=10_000))
    seconds = time.monotonic() - started
    return {"events": count, "seconds": round(seconds, 2), "events_per_s": round(count / seconds),
            "other_processes_cores": others.cores}  # fmt: skip


def decode_and_fold(n: int = 200_000, chunk: int = 1000) -> dict[str, float]:
    """Thread CPU per record of decoding alone and of the coordinator's fold alone.

    Decoding runs with the cyclic GC paused, as in `EventConsumer.poll`; the fold as the
    coordinator runs it.
    """
    from conflux.coordinator import CoordinatorState
    from conflux.events import FENCED_TYPES, decode_event

    head, _, tail = TEMPLATE.partition(b'"event_id":"')
    rest = tail[32:]
    state = CoordinatorState()
    state.apply(snapshot_event())
    decoding = folding = 0.0
    for first in range(0, n, chunk):
        values = [
            head + b'"event_id":"' + f"{i:032x}".encode()
            + rest.replace(b"PARTITIONKEY", f"p{i:07d}".encode())
            for i in range(first, min(n, first + chunk))
        ]  # fmt: skip
        started = time.thread_time()
        gc.disable()  # as EventConsumer.poll decodes
        events = [decode_event(v) for v in values]
        gc.enable()
        decoded = time.thread_time()
        apply, admit = state.apply, state.fence.admit
        for i, event in enumerate(events, first):  # through the fence, as `_catch_up` folds
            if event.type not in FENCED_TYPES or admit(event, "bench.assets", i % 6):
                apply(event)
        decoding += decoded - started
        folding += time.thread_time() - decoded
    return {
        "records": n,
        "decode": round(decoding / n * 1e6, 2),
        "fold": round(folding / n * 1e6, 2),
    }


def coordinator_until_ready(
    bootstrap: str, topics: Topics, kind: BrokerKind, checkpoint: Path
) -> tuple[Coordinator, float, float, float]:
    """Start a coordinator, wait until ready, stop it.

    Returns it, the seconds to ready, the seconds to stop, and the cores that other
    processes kept busy until it was ready.
    """
    coordinator = Coordinator(bootstrap, topics, broker_kind=kind, checkpoint=checkpoint)
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            coordinator.run(stop)
        except BaseException as exc:
            errors.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    with Contention() as others:
        thread.start()
        while not coordinator.ready:
            if errors:
                raise errors[0]
            time.sleep(0.01)
    ready = time.monotonic() - started
    stopping = time.monotonic()
    stop.set()
    thread.join()
    if errors:
        raise errors[0]
    return coordinator, ready, time.monotonic() - stopping, others.cores


def on_broker(kind: BrokerKind, n: int) -> dict[str, object]:
    from conflux.events.brokers import KafkaBroker, TansuBroker

    with tempfile.TemporaryDirectory() as tmp:
        broker = (KafkaBroker if kind == "kafka" else TansuBroker)(Path(tmp) / "broker")
        broker.start()
        try:
            topics = Topics("bench")
            ensure_topics(broker.bootstrap, topics.core())
            produce_s = fill(broker.bootstrap, topics, n)
            result: dict[str, object] = {
                "benchmark": "replay",
                "broker": kind,
                "events": n,
                "fill_s": round(produce_s, 2),
                "consume_only": consume_only(broker.bootstrap, topics, kind),
            }
            model, fold = read_model_fold()
            done = replay(broker.bootstrap, topics, "read-model", fold, broker_kind=kind)
            result["read_model_replay"] = {
                "events": done.events,
                "seconds": round(done.seconds, 2),
                "events_per_s": round(done.rate),
            }
            del model, fold
            rss_before = psutil.Process().memory_info().rss
            checkpoint = Path(tmp) / "checkpoint"
            cold, ready, stopped, others_cores = coordinator_until_ready(
                broker.bootstrap, topics, kind, checkpoint
            )
            result["coordinator_cold_start"] = {
                "ready_s": round(ready, 2),
                "events_per_s": round(cold.applied / ready),
                "applied": cold.applied,
                "other_processes_cores": others_cores,
                "rss_growth_mb": round((psutil.Process().memory_info().rss - rss_before) / 2**20),
                "checkpoint_write_s": round(stopped, 2),
                "checkpoint_bytes": checkpoint.stat().st_size,
                "checkpoint_bytes_per_partition": round(checkpoint.stat().st_size / n, 1),
            }
            del cold
            warm, ready, _, _ = coordinator_until_ready(broker.bootstrap, topics, kind, checkpoint)
            assert warm.resumed_from is not None, "the checkpoint was not used"
            result["coordinator_restart"] = {"ready_s": round(ready, 2), "target_s": 5.0}
            result["decode_and_fold_us"] = decode_and_fold()
            return result
        finally:
            broker.stop()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    override = os.environ.get("BENCH_REPLAY_EVENTS")
    sizes: tuple[tuple[BrokerKind, int], ...] = (("kafka", 1_000_000), ("tansu", 200_000))
    for kind, n in sizes:
        print(json.dumps(on_broker(kind, int(override) if override else n)), flush=True)


if __name__ == "__main__":
    main()
