"""Failover: kill -9 the active coordinator during a backfill; how soon does work go on?

A small standalone system on Apache Kafka (started with `conflux.events.brokers`): two
`conflux coordinator` processes (one leads, one stands by) and one `conflux worker`, a
backfill of BENCH_PARTITIONS minutely partitions of a no-op asset (each ~1 ms). Then,
BENCH_KILLS times (default 5): find the active coordinator by its heartbeat, kill -9 it,
and time until the first `WorkItemDispatched` of a newer epoch arrives on the runs topic
(the standby dispatching again); then start a new standby in its place and wait until it
has caught up. Then the leader is stopped cleanly (SIGTERM: it leaves the group, no
session to wait out) and the same is timed. At the end the backfill runs out, everything
stops, and the log is counted:

- lost: partitions of the backfill with no counted materialization (must be 0);
- double counted: partitions with more than one counted materialization (must be 0). A
  materialization counts as the folds count it: one per (work item, attempt), attempts
  that the coordinator abandoned (their worker fell silent) excluded;
- repeated executions: `AssetMaterialized` events beyond one per partition (at-least-once
  execution may repeat work; workers skip redeliveries they already took);
- refused decisions: decisions the folds refused (a newer epoch's mark came first);
- whether a replay of the log from zero equals each surviving coordinator's fold (its
  checkpoint, written on a clean stop).

The leader group's session (BENCH_SESSION_S, default 3 s) bounds the takeover: the broker
notices a crashed member after it, and the standby then claims, marks and reads to its
marks. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from conflux.coordinator import coordinator_fold
from conflux.coordinator._checkpoint import load_checkpoint
from conflux.events import (
    AssetMaterialized,
    BackfillCompleted,
    BackfillRequested,
    ComponentHeartbeat,
    EventConsumer,
    EventProducer,
    PartitionRange,
    Topics,
    WorkItemAbandoned,
    WorkItemDispatched,
    ensure_topics,
)
from conflux.events.brokers import KafkaBroker

PARTITIONS = int(os.environ.get("BENCH_PARTITIONS", "40000"))
KILLS = int(os.environ.get("BENCH_KILLS", "5"))
SESSION_S = float(os.environ.get("BENCH_SESSION_S", "3"))
START = datetime(2020, 1, 1)

DEFINITIONS = """
import time
from conflux import Definitions, TimeWindowPartitionsDefinition, asset

minutes = TimeWindowPartitionsDefinition(
    cron_schedule="* * * * *", start="2020-01-01-00:00", fmt="%Y-%m-%d-%H:%M"
)

@asset(partitions_def=minutes)
def noop() -> None:
    time.sleep(0.001)

defs = Definitions(assets=[noop])
"""


class System:
    """The broker's address, the topics, and the parts' processes (stopped by `close`)."""

    def __init__(self, root: Path, bootstrap: str) -> None:
        self.root = root
        self.bootstrap = bootstrap
        self.topics = Topics("bench")
        self.env = {
            **os.environ,
            "CONFLUX_BOOTSTRAP": bootstrap,
            "CONFLUX_BROKER_KIND": "kafka",
            "CONFLUX_TOPIC_PREFIX": self.topics.prefix,
            "CONFLUX_LOG_LEVEL": "INFO",
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.dirs: dict[int, Path] = {}
        """Process id -> its state folder (its log, a coordinator's checkpoint)."""
        self._started = 0

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        self._started += 1
        state = self.root / f"part-{self._started}"
        state.mkdir()
        conflux = str(Path(sys.executable).with_name("conflux"))
        with (state / "log").open("wb") as log:
            proc = subprocess.Popen(
                [conflux, *args, "--state-dir", str(state)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        self.procs.append(proc)
        self.dirs[proc.pid] = state
        return proc

    def coordinator(self) -> subprocess.Popen[bytes]:
        return self.start("coordinator", "--session-timeout", str(SESSION_S))

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


class Watch:
    """Heartbeats and dispatches as they arrive, with when they arrived (monotonic)."""

    def __init__(self, system: System) -> None:
        t = system.topics
        self.consumer = EventConsumer(
            system.bootstrap, t, [t.heartbeats, t.runs], broker_kind="kafka"
        )
        self.beats: dict[int, ComponentHeartbeat] = {}
        self.dispatches: list[tuple[float, int]] = []
        """(arrival, epoch) of every dispatch."""
        self.done: BackfillCompleted | None = None

    def poll(self) -> None:
        for record in self.consumer.poll(timeout=0.05, max_records=5000):
            event = record.event
            if isinstance(event, ComponentHeartbeat) and event.pid is not None:
                self.beats[event.pid] = event
            elif isinstance(event, WorkItemDispatched):
                self.dispatches.append((time.monotonic(), event.epoch))
            elif isinstance(event, BackfillCompleted):
                self.done = event

    def until(self, done: object, what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not done():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} within {timeout:g} s")
            self.poll()

    def active(self) -> ComponentHeartbeat | None:
        fresh = [
            b
            for b in self.beats.values()
            if b.component == "coordinator"
            and b.role == "active"
            and (datetime.now(b.time.tzinfo) - b.time).total_seconds() < 3
        ]
        return max(fresh, key=lambda b: b.epoch or 0, default=None)


def counted(bootstrap: str, topics: Topics) -> dict[str, object]:
    """Count the log as the folds do (see the module doc); replay the coordinator's fold."""
    names = [topics.definitions, topics.requests, topics.runs, topics.assets, topics.ticks]
    records = []
    with EventConsumer(bootstrap, topics, [*names, topics.leader], broker_kind="kafka") as c:
        while not c.caught_up():
            records += c.poll(timeout=0.5, max_records=10_000)
    state, fold = coordinator_fold()
    fold(records)
    abandoned = {
        (r.event.work_item_id, r.event.attempt)
        for r in records
        if isinstance(r.event, WorkItemAbandoned)
    }
    executions: Counter[str | None] = Counter()
    attempts: dict[str | None, set[tuple[str | None, int | None]]] = {}
    for r in records:
        event = r.event
        if isinstance(event, AssetMaterialized):
            executions[event.partition_key] += 1
            if (event.work_item_id, event.attempt) not in abandoned:
                attempts.setdefault(event.partition_key, set()).add(
                    (event.work_item_id, event.attempt)
                )
    keys = {(START + timedelta(minutes=i)).strftime("%Y-%m-%d-%H:%M") for i in range(PARTITIONS)}
    backfill = state.backfills["bf"].completed
    return {
        "state": state,
        "lost": sum(1 for k in keys if not attempts.get(k)),
        "double_counted": sum(1 for k in keys if len(attempts.get(k, ())) > 1),
        "repeated_executions": sum(executions.values()) - len(executions),
        "refused_decisions": state.fence.fenced,
        "abandoned_attempts": len(abandoned),
        "backfill": (backfill.status, backfill.materialized) if backfill else None,
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="conflux-bench-failover-") as tmp:
        root = Path(tmp)
        (root / "defs.py").write_text(DEFINITIONS)
        broker = KafkaBroker(root / "broker")
        broker.start(timeout=600)
        system = System(root, broker.bootstrap)
        try:
            result = run(system)
        finally:
            system.close()
            broker.stop()
    print(json.dumps(result))


def run(system: System) -> dict[str, object]:
    topics = system.topics
    ensure_topics(system.bootstrap, [*topics.core(), topics.leader_spec()])
    watch = Watch(system)
    coordinators = [system.coordinator()]
    watch.until(lambda: watch.active() is not None, "no coordinator led")
    coordinators.append(system.coordinator())
    standby = coordinators[1].pid
    watch.until(
        lambda: standby in watch.beats and watch.beats[standby].ready, "the standby not ready"
    )
    system.start("worker", "--location", "bench", "-f", str(system.root / "defs.py"))
    last = (START + timedelta(minutes=PARTITIONS - 1)).strftime("%Y-%m-%d-%H:%M")
    with EventProducer(system.bootstrap, topics, broker_kind="kafka") as producer:
        watch.until(lambda: _defined(system), "the worker published no definitions")
        producer.emit(
            BackfillRequested(
                backfill_id="bf",
                selection="noop",
                asset_keys=("noop",),
                partition_range=PartitionRange(start="2020-01-01-00:00", end=last),
                producer="bench",
            )
        )
    watch.until(lambda: len(watch.dispatches) > 500, "the backfill did not start")
    takeovers: list[float] = []
    for _ in range(KILLS):
        leader = watch.active()
        assert leader is not None and leader.pid is not None
        victim = next(p for p in coordinators if p.pid == leader.pid)
        old = leader.epoch or 0
        os.kill(victim.pid, signal.SIGKILL)
        killed = time.monotonic()
        victim.wait(timeout=30)
        watch.until(
            lambda old=old, killed=killed: any(t > killed and e > old for t, e in watch.dispatches),
            "no dispatch of a newer epoch",
        )
        first = min(t for t, e in watch.dispatches if t > killed and e > old)
        takeovers.append(first - killed)
        coordinators.remove(victim)
        coordinators.append(system.coordinator())
        fresh = coordinators[-1].pid
        watch.until(
            lambda fresh=fresh: fresh in watch.beats and watch.beats[fresh].ready,
            "the new standby did not catch up",
        )
        time.sleep(1.0)
    # Then a clean stop (a deploy): the leader leaves the group, no session to wait out.
    leader = watch.active()
    assert leader is not None and leader.pid is not None
    victim = next(p for p in coordinators if p.pid == leader.pid)
    old = leader.epoch or 0
    victim.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    watch.until(
        lambda: any(t > stopped and e > old for t, e in watch.dispatches),
        "no dispatch of a newer epoch after a clean stop",
    )
    clean_stop = min(t for t, e in watch.dispatches if t > stopped and e > old) - stopped
    victim.wait(timeout=60)
    coordinators.remove(victim)
    killed_all_at = time.monotonic()
    watch.until(lambda: watch.done is not None, "the backfill did not complete", timeout=900)
    finished_s = time.monotonic() - killed_all_at
    for proc in coordinators:
        proc.send_signal(signal.SIGTERM)
    for proc in coordinators:
        proc.wait(timeout=60)
    counts = counted(system.bootstrap, topics)
    state = counts.pop("state")
    replay_equal = []
    for proc in coordinators:
        part = system.dirs[proc.pid]
        saved = load_checkpoint(part / "coordinator" / "checkpoint", prefix=topics.prefix)
        replay_equal.append(
            saved is not None
            and saved.state.progress() == state.progress()  # type: ignore[attr-defined]
            and saved.state.assets.partitions == state.assets.partitions  # type: ignore[attr-defined]
        )
    return {
        "benchmark": "failover",
        "broker": "kafka",
        "partitions": PARTITIONS,
        "kills": KILLS,
        "session_timeout_s": SESSION_S,
        "takeover_s": [round(t, 2) for t in takeovers],
        "takeover_p50_s": round(statistics.median(takeovers), 2),
        "takeover_max_s": round(max(takeovers), 2),
        "target_p50_s": 5.0,
        "clean_stop_takeover_s": round(clean_stop, 2),
        **counts,
        "replay_equals_live": replay_equal,
        "backfill_finished_s_after_last_kill": round(finished_s, 1),
        "loadavg_1m": os.getloadavg()[0],
    }


def _defined(system: System) -> bool:
    t = system.topics
    with EventConsumer(system.bootstrap, t, [t.definitions], broker_kind="kafka") as c:
        records = []
        while not c.caught_up():
            records += c.poll(timeout=0.2)
    return any(r.event.type == "DefinitionsPublished" for r in records)


if __name__ == "__main__":
    main()
