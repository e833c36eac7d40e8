"""The coordinator's asset-state projection at a million materialized partitions (issue 5c).

Folds N synthetic `AssetMaterialized` events (N = 1,000,000; override with
BENCH_ASSET_STATE_EVENTS) into a fresh `AssetStateProjection`: 10 assets, hourly partition
keys (`2000-01-01-13:00`), uuid4 event ids, data versions of 16 to 64 hex characters, a
handful of run ids. Events are decoded from JSON by `decode_event`, as the coordinator
gets them from Kafka, in chunks that are dropped after folding, so that whatever the
projection keeps (partition keys, ids, datetimes) is its own cost.

Prints one JSON object:

- `bytes_per_partition`: memory the fold holds, by tracemalloc (bytes Python asked for,
  after the last chunk of events is freed; the target is <= 200), measured in a second,
  traced fold of the same events; `rss_bytes_per_partition` is the RSS growth of the
  untraced fold (coarser: allocator rounding, arenas kept by the chunks);
- `fold_events_per_s`: `apply` alone (decoding is outside the clock), by this process's
  CPU time (`time.process_time`: the machine is shared, and wall time swings with it);
- `get_p50_us` / `get_p99_us`: one `get(asset, partition)` of a random partition, by a
  freshly built key string (as a reader passes it);
- `checkpoint_*`: `save_checkpoint` / `load_checkpoint` of a coordinator state holding
  the projection (the restart path; the load target is well under 5 s).
"""

from __future__ import annotations

import gc
import json
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from conflux.coordinator._checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from conflux.coordinator._state import CoordinatorState
from conflux.events import decode_event
from conflux.projections.folds import AssetStateProjection

ASSETS = 10
CHUNK = 50_000
START = datetime(2000, 1, 1, tzinfo=UTC)
RUN_IDS = [f"{random.Random(i).getrandbits(128):032x}" for i in range(8)]


def _key(hour: int) -> str:
    return (START + timedelta(hours=hour)).strftime("%Y-%m-%d-%H:00")


def records(n: int, seed: int = 5) -> list[list[bytes]]:
    """n events as JSON, in chunks; event i is partition i // ASSETS of asset i % ASSETS."""
    rng = random.Random(seed)
    base = datetime(2024, 6, 1, tzinfo=UTC)
    chunks: list[list[bytes]] = []
    for first in range(0, n, CHUNK):
        chunk = []
        for i in range(first, min(n, first + CHUNK)):
            width = rng.choice((16, 16, 32, 40, 64))
            event = {
                "type": "AssetMaterialized",
                "event_id": f"{rng.getrandbits(128):032x}",
                "time": (base + timedelta(microseconds=i * 1_000_003)).isoformat(),
                "producer": "worker:bench:1",
                "asset_key": f"bench/asset_{i % ASSETS}",
                "partition_key": _key(i // ASSETS),
                "data_version": f"{rng.getrandbits(width * 4):0{width}x}",
                "source": "executed",
                "run_id": rng.choice(RUN_IDS),
                "work_item_id": f"{rng.getrandbits(128):032x}",
            }
            chunk.append(json.dumps(event).encode())
        chunks.append(chunk)
    return chunks


def fold(chunks: list[list[bytes]]) -> tuple[AssetStateProjection, float]:
    """A fresh projection with every chunk folded; the seconds spent in `apply`."""
    state = AssetStateProjection()
    spent = 0.0
    for chunk in chunks:
        events = [decode_event(raw) for raw in chunk]
        apply = state.apply
        started = time.process_time()
        for event in events:
            apply(event)
        spent += time.process_time() - started
        del events
    return state, spent


def traced_bytes(chunks: list[list[bytes]]) -> int:
    """Bytes the folded projection holds, by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        state, _ = fold(chunks)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del state
    return held


def get_latency(state: AssetStateProjection, n: int, samples: int = 100_000) -> list[float]:
    rng = random.Random(7)
    partitions = n // ASSETS
    lookups = [
        (f"bench/asset_{rng.randrange(ASSETS)}", _key(rng.randrange(partitions)))
        for _ in range(samples)
    ]
    clock = time.perf_counter_ns
    get = state.get
    spent = []
    for asset, key in lookups:
        started = clock()
        found = get(asset, key)
        spent.append((clock() - started) / 1000)
        assert found is not None and found.materialized is not None
    spent.sort()
    return spent


def checkpoint(state: AssetStateProjection, n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint"
        saved = Checkpoint(CoordinatorState(assets=state), {("bench.assets", 0): n}, n)
        write_s = save_checkpoint(path, saved, prefix="bench")
        size = path.stat().st_size
        started = time.perf_counter()
        loaded = load_checkpoint(path, prefix="bench")
        load_s = time.perf_counter() - started
        assert loaded is not None
        probe = loaded.state.assets.get("bench/asset_3", _key(n // ASSETS - 1))
        assert probe is not None and probe == state.get("bench/asset_3", _key(n // ASSETS - 1))
    return {
        "checkpoint_write_s": round(write_s, 2),
        "checkpoint_load_s": round(load_s, 2),
        "checkpoint_bytes": size,
        "checkpoint_bytes_per_partition": round(size / n, 1),
    }


def main() -> None:
    n = int(os.environ.get("BENCH_ASSET_STATE_EVENTS", "1000000"))
    chunks = records(n)
    held = traced_bytes(chunks)
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    state, spent = fold(chunks)
    gc.collect()
    rss_growth = psutil.Process().memory_info().rss - rss_before
    partitions = sum(len(by_key) for by_key in state.partitions.values())
    latency = get_latency(state, n)
    result: dict[str, object] = {
        "benchmark": "asset_state",
        "partitions": partitions,
        "memory_measure": "tracemalloc",
        "bytes_per_partition": round(held / n, 1),
        "rss_bytes_per_partition": round(rss_growth / n, 1),
        "fold_events_per_s": round(n / spent),
        "get_p50_us": round(statistics.median(latency), 2),
        "get_p99_us": round(latency[int(len(latency) * 0.99)], 2),
        "target_bytes_per_partition": 200,
    }
    del chunks
    result.update(checkpoint(state, n))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
