"""Archive ingest rate, bytes stored per event, and depth-5 lineage latency, in chdb.

Generates 1,000,000 encoded events shaped like a busy system's log: runs over a layered
asset graph (50 assets in 6 layers, each reading two assets of the layer below) and 365
daily partitions, each run a request, a start, per asset a dispatch (on the runs topic
and its delivery copy on the work topic), a start and a materialization that names the
upstream materializations it read, then a completion; plus heartbeats. The bytes are
exactly what `encode_event` writes (checked on a sample). Then it times bytes -> rows
stored through `ArchiveSink` into a fresh chdb folder, reads the bytes on disk from
`system.parts`, and times lineage walks of depth 5, upstream and downstream, from the
latest materialization of random top-layer (or bottom-layer) partitions.

Prints one JSON object per figure. `ARCHIVE_EVENTS` shrinks the run (e.g. 100000);
`ARCHIVE_BATCH` sets the records per insert (default: the sink's). The figures include the
machine's load average at the start and end of the ingest (the machine is shared).
"""

from __future__ import annotations

import gc
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic_core import to_json

from conflux.events import EVENT_TYPES, decode_event, encode_event
from conflux.projections.archive import ArchiveSink, ChdbStore, RawRecord

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conflux.projections.archive import Direction

N = int(os.environ.get("ARCHIVE_EVENTS", "1000000"))
BATCH = int(os.environ.get("ARCHIVE_BATCH", "0"))
"""Records per insert; 0: the sink's default."""
LAYERS = (5, 8, 10, 10, 9, 8)
LINEAGE_QUERIES = 200
PREFIX = "conflux"

_rng = random.Random(42)


def _int(value: object) -> int:
    """A count from a query row (rows hold plain objects; these columns are integers)."""
    assert isinstance(value, int), value
    return value


def _hex() -> str:
    return uuid.UUID(int=_rng.getrandbits(128), version=4).hex


def _envelope(kind: str, t: datetime, producer: str, run_id: str | None) -> dict[str, object]:
    return {
        "event_id": _hex(),
        "schema_version": 1,
        "time": t.isoformat().replace("+00:00", "Z"),
        "producer": producer,
        "correlation_id": run_id,
        "causation_id": None,
        "type": kind,
    }


def _graph() -> list[list[tuple[str, tuple[str, ...]]]]:
    layers: list[list[tuple[str, tuple[str, ...]]]] = []
    for depth, width in enumerate(LAYERS):
        below = [name for name, _ in layers[-1]] if layers else []
        layer = []
        for i in range(width):
            deps = tuple(_rng.sample(below, 2)) if below else ()
            layer.append((f"warehouse/l{depth}_asset_{i}", deps))
        layers.append(layer)
    return layers


def generate(n: int) -> Iterator[tuple[bytes, str, int, str]]:
    """(value, topic, partition, key) of `n` events in log order."""
    layers = _graph()
    latest: dict[tuple[str, str], tuple[str, str]] = {}
    t = datetime(2024, 1, 1, tzinfo=UTC)
    made = 0
    while made < n:
        run_id = _hex()
        day = (datetime(2023, 1, 1) + timedelta(days=_rng.randrange(365))).strftime("%Y-%m-%d")
        nodes = [node for layer in layers for node in layer]
        t += timedelta(seconds=1)

        def emit(d: dict[str, object], topic: str, key: str) -> tuple[bytes, str, int, str]:
            # in the model's field order, as a producer writes it (`type` comes where the
            # event's class declares it, e.g. after fields shared through a base class)
            # (fields this generator does not set, like a decision's `epoch`, at their default)
            fields = EVENT_TYPES[str(d["type"])].model_fields
            doc = {n: d[n] if n in d else f.get_default(call_default_factory=True)
                   for n, f in fields.items()}  # fmt: skip
            return to_json(doc), f"{PREFIX}.{topic}", hash(key) % 6, key

        req = _envelope("MaterializationRequested", t, "cli", run_id)
        req.update(run_id=run_id, selection="*", asset_keys=[k for k, _ in nodes],
                   partition_keys=[day], partition_range=None, requested_by="alice",
                   tags={})  # fmt: skip
        batch = [emit(req, "requests", run_id)]
        started = _envelope("RunStarted", t, "coordinator", run_id)
        started.update(run_id=run_id, asset_keys=[k for k, _ in nodes],
                       partition_count=len(nodes), trigger="manual")  # fmt: skip
        batch.append(emit(started, "runs", run_id))
        for key, deps in nodes:
            t += timedelta(milliseconds=7)
            ap = f"{key}#{day}"
            refs = [
                {
                    "asset_key": dep,
                    "partition_key": day,
                    "data_version": latest.get((dep, day), (None, None))[0],
                    "event_id": latest.get((dep, day), (None, None))[1],
                }
                for dep in deps
            ]
            item = uuid.uuid5(uuid.NAMESPACE_OID, run_id + key).hex
            disp = _envelope("WorkItemDispatched", t, "coordinator", run_id)
            disp.update(work_item_id=item, run_id=run_id, location="shop", node=key,
                        asset_keys=[key], partition_key=day, attempt=1, upstream=refs,
                        partition_range=None, partition_count=1, partition_keys=None,
                        upstream_spans=[])  # fmt: skip
            batch.append(emit(disp, "runs", run_id))
            batch.append(emit(disp, "work.shop", ap))
            worker = f"worker:shop:{_rng.randrange(4)}"
            st = _envelope("PartitionStarted", t, worker, run_id)
            st.update(asset_key=key, partition_key=day, run_id=run_id, work_item_id=item,
                      worker_id=worker, attempt=1)  # fmt: skip
            st["type"] = st.pop("type")  # the model writes its type last (as encode_event does)
            batch.append(emit(st, "assets", ap))
            mat = _envelope("AssetMaterialized", t + timedelta(milliseconds=3), worker, run_id)
            version = _hex()[:16]
            mat.update(asset_key=key, partition_key=day, data_version=version,
                       code_version="v3", source="executed", upstream=refs,
                       metadata={"rows": _rng.randrange(10**6), "path": f"s3://lake/{ap}"},
                       run_id=run_id, work_item_id=item, worker_id=worker, attempt=1,
                       duration_ms=round(_rng.uniform(5, 5000), 3))  # fmt: skip
            latest[(key, day)] = (version, str(mat["event_id"]))
            batch.append(emit(mat, "assets", ap))
        done = _envelope("RunCompleted", t, "coordinator", run_id)
        done.update(run_id=run_id, status="success", materialized=len(nodes), failed=0,
                    skipped=0, reason=None)  # fmt: skip
        batch.append(emit(done, "runs", run_id))
        beat = _envelope("ComponentHeartbeat", t, "coordinator", None)
        beat.update(component="coordinator", instance_id="c1", location=None, ready=True,
                    work_item_id=None, interval_s=2.0)  # fmt: skip
        batch.append(emit(beat, "heartbeats", "c1"))
        yield from batch[: n - made]
        made += len(batch)


def records(n: int) -> list[RawRecord]:
    offsets: dict[tuple[str, int], int] = {}
    out = []
    for value, topic, partition, key in generate(n):
        offset = offsets.get((topic, partition), 0)
        offsets[(topic, partition)] = offset + 1
        out.append(RawRecord(value, topic, partition, offset, key))
    for record in random.Random(1).sample(out, 1000):  # exactly what producers write
        assert encode_event(decode_event(record.value)) == record.value, record.value
    return out


def _busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all cores)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def _load() -> float:
    """The 1-minute load average (it counts this benchmark too)."""
    return round(os.getloadavg()[0], 2)


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 3)


def main() -> None:
    t0 = time.perf_counter()
    recs = records(N)
    gen_s = time.perf_counter() - t0
    # The generated records are this benchmark's input, not the archive's work: keep the
    # collector from rescanning a million of them (a consumer streams, and holds few).
    gc.collect()
    gc.freeze()
    payload = sum(len(r.value) for r in recs)
    with tempfile.TemporaryDirectory() as tmp, ChdbStore(tmp) as store:
        store.create_schema()
        sink = (
            ArchiveSink(store, batch_size=BATCH, flush_interval_s=3600)
            if BATCH
            else ArchiveSink(store, flush_interval_s=3600)
        )
        load_before = _load()
        t0, c0, b0 = time.perf_counter(), time.process_time(), _busy_s()
        for i in range(0, len(recs), 5000):  # as a consumer hands them over
            sink.add(recs[i : i + 5000])
        sink.close()
        ingest_s = time.perf_counter() - t0
        cpu_s = time.process_time() - c0  # every thread of the process: Python and engine
        others = (_busy_s() - b0 - cpu_s) / ingest_s  # cores that other processes kept busy
        store.execute("OPTIMIZE TABLE events FINAL")  # disk figures after merges
        sizes = {
            str(t): (_int(r), _int(b))
            for t, r, b in store.query(
                "SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts"
                " WHERE active AND database = currentDatabase() GROUP BY table"
            )
        }
        stored = sum(b for _, b in sizes.values())
        in_memory = {  # tables that hold their rows in memory (none since 2026-12-08)
            str(name): size
            for name, size in store.query(
                "SELECT name, total_bytes FROM system.tables WHERE database = currentDatabase()"
                " AND engine IN ('Join', 'Memory', 'Set')"
            )
        }
        print(json.dumps({
            "benchmark": "archive_ingest", "backend": "chdb", "events": len(recs),
            "batch_size": sink.batch_size, "seconds": round(ingest_s, 3),
            "events_per_s": round(len(recs) / ingest_s), "target_events_per_s": 100_000,
            "generate_s": round(gen_s, 1), "rejected": sink.rejected_count,
            "cpu_s": round(cpu_s, 2), "load": [load_before, _load()],
            "other_processes_cores": round(max(others, 0.0), 2),
        }))  # fmt: skip
        print(json.dumps({
            "benchmark": "archive_bytes_per_event", "backend": "chdb", "events": len(recs),
            "payload_bytes_per_event": round(payload / len(recs), 1),
            "stored_bytes_per_event": round(stored / len(recs), 1),
            "tables": {name: {"rows": r, "bytes": b} for name, (r, b) in sorted(sizes.items())},
            "table_bytes_in_memory": in_memory,
        }))  # fmt: skip
        # Latency is measured on the archive at rest: background merges of the parts the
        # ingest just wrote would otherwise take the cores the queries need.
        settle0 = time.perf_counter()
        while store.query("SELECT count() FROM system.merges")[0][0] and (
            time.perf_counter() - settle0 < 120
        ):
            time.sleep(0.2)
        settled_s = round(time.perf_counter() - settle0, 1)
        layer_sql = (
            "SELECT DISTINCT asset_key FROM materializations"
            " WHERE startsWith(asset_key, {p:String})"
        )
        top = [str(r[0]) for r in store.query(layer_sql, {"p": f"warehouse/l{len(LAYERS) - 1}_"})]
        bottom = [str(r[0]) for r in store.query(layer_sql, {"p": "warehouse/l0_"})]
        rng = random.Random(7)
        directions: tuple[tuple[Direction, list[str]], ...] = (
            ("upstream", top),
            ("downstream", bottom),
        )
        for direction, assets in directions:
            samples, walks, latests, sizes_seen = [], [], [], []
            for i in range(LINEAGE_QUERIES + 10):
                day = (datetime(2023, 1, 1) + timedelta(days=rng.randrange(365))).strftime(
                    "%Y-%m-%d"
                )
                q0 = time.perf_counter()
                latest = store.latest_materialization(rng.choice(assets), day)
                q1 = time.perf_counter()
                edges = (
                    store.lineage(latest.event_id, direction=direction, depth=5) if latest else []
                )
                if i >= 10:  # warm-up
                    samples.append(time.perf_counter() - q0)
                    latests.append(q1 - q0)
                    walks.append(time.perf_counter() - q1)
                    sizes_seen.append(len(edges))
            print(json.dumps({
                "benchmark": "lineage_depth5", "backend": "chdb", "direction": direction,
                "archive_events": len(recs), "queries": len(samples),
                "includes": "latest-materialization lookup + 5 hops",
                "edges_mean": round(statistics.fmean(sizes_seen), 1),
                "p50_ms": pct(samples, 0.5), "p95_ms": pct(samples, 0.95),
                "max_ms": round(max(samples) * 1000, 3), "target_p95_ms": 30,
                "walk_only_p50_ms": pct(walks, 0.5), "walk_only_p95_ms": pct(walks, 0.95),
                "latest_lookup_p50_ms": pct(latests, 0.5),
                "merges_settled_after_s": settled_s,
            }))  # fmt: skip


if __name__ == "__main__":
    main()
