"""The log side of the fault benches: tail it while faults happen, count it at the end.

- `Watch` tails the runs and assets topics as they grow, to tell when work goes on after a
  fault (a materialization of work dispatched after the fault: a decision and an
  execution both happened since), and `recovery` times that and `status`;
- `count_log` reads every topic from offset 0 with a plain consumer, folds it through the
  coordinator's own state (so the epoch fence refuses what the folds refuse) and counts,
  per (asset, partition) of the backfills: lost, counted twice, executed again.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from _faultkit import Dev, dev_parts, ready_without, say, status

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from conflux.events import ConsumedEvent


# -- tailing the log ---------------------------------------------------------------------------


@dataclass
class Watch:
    """The runs and assets topics as they grow, with event times (wall clock, this machine).

    Kept across broker faults (librdkafka reconnects) and `dev` restarts (`reopen` resumes
    at the positions read so far, on the new bootstrap).
    """

    bootstrap: str
    prefix: str
    dispatched: dict[tuple[str, int], float] = field(default_factory=dict)
    """(work item, attempt) -> when its first dispatch was decided (epoch-blind)."""
    dispatch_epochs: list[tuple[float, int, int]] = field(default_factory=list)
    """(time, epoch, attempt) of every dispatch, in the order read."""
    materialized: list[tuple[float, str | None, int]] = field(default_factory=list)
    """(time, work item, attempt) of every execution, in the order read."""
    done: set[tuple[str, str | None]] = field(default_factory=set)
    """(asset, partition) executed at least once."""
    completed: set[str] = field(default_factory=set)
    """Backfills that completed."""
    started: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(worker id, asset, partition) of every start, in the order read."""
    executed: dict[tuple[str, str | None], list[tuple[float, str | None]]] = field(
        default_factory=dict
    )
    """(asset, partition) -> (time, worker id) of each of its executions."""
    marks: list[tuple[float, int]] = field(default_factory=list)
    """(time, epoch) of every epoch mark on the runs topic: when a leader took over."""
    _consumer: Any = None
    _positions: dict[tuple[str, int], int] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def open(self) -> None:
        from conflux.events import EventConsumer, Topics

        topics = Topics(self.prefix)
        self._consumer = EventConsumer(
            self.bootstrap,
            topics,
            [topics.runs, topics.assets],
            broker_kind="kafka",
            start_offsets=self._positions,
        )

    def reopen(self, bootstrap: str) -> None:
        self.close()
        self.bootstrap = bootstrap
        self.open()

    def close(self) -> None:
        if self._consumer is not None:
            self._positions.update(self._consumer.positions())
            with contextlib.suppress(Exception):
                self._consumer.close()
            self._consumer = None

    def poll(self, timeout: float = 0.05) -> int:
        """Read what arrived; return how many records."""
        from conflux.events import InfrastructureError

        if self._consumer is None:
            self.open()
        try:
            records = self._consumer.poll(timeout=timeout, max_records=5000)
        except InfrastructureError as exc:
            say(f"watch: {exc}; reading on")
            time.sleep(0.5)
            return 0
        for record in records:
            event = record.event
            kind = event.type
            if kind == "AssetMaterialized":
                if event.event_id in self._seen:
                    continue
                self._seen.add(event.event_id)
                when = event.time.timestamp()
                self.materialized.append((when, event.work_item_id, event.attempt or 0))
                self.done.add((event.asset_key, event.partition_key))
                self.executed.setdefault((event.asset_key, event.partition_key), []).append(
                    (when, event.worker_id)
                )
            elif kind == "PartitionStarted":
                self.started.append((event.worker_id, event.asset_key, event.partition_key))
            elif kind == "WorkItemDispatched":
                when = event.time.timestamp()
                self.dispatched.setdefault((event.work_item_id, event.attempt), when)
                self.dispatch_epochs.append((when, event.epoch, event.attempt))
            elif kind == "BackfillCompleted":
                self.completed.add(event.backfill_id)
            elif kind == "EpochMarked":
                self.marks.append((event.time.timestamp(), event.epoch))
        return len(records)

    def work_continued(self, since: float) -> float | None:
        """When work dispatched after `since` was first executed (None: not yet)."""
        firsts = []
        for when, item, attempt in reversed(self.materialized):
            if when < since - 60:
                break  # read in about the order they happened: older ones cannot qualify
            if when > since and self.dispatched.get((item or "", attempt), 0.0) > since:
                firsts.append(when)
        return min(firsts) if firsts else None

    def first_execution_after(self, since: float) -> float | None:
        """The first execution finished after `since` (any work, dispatched whenever)."""
        return min((w for w, _, _ in self.materialized if w > since), default=None)

    def first_dispatch_after(
        self, since: float, *, epoch_above: int = -1, attempt_above: int = 0
    ) -> float | None:
        """The first dispatch decided after `since`, of a newer epoch / a later attempt."""
        return min(
            (
                w
                for w, e, a in self.dispatch_epochs
                if w > since and e > epoch_above and a > attempt_above
            ),
            default=None,
        )

    def orphans(self, pid: int) -> set[tuple[str, str | None]]:
        """What the worker process `pid` started and did not finish itself."""
        tag = f":{pid}:"
        return {
            (asset, key)
            for worker, asset, key in self.started
            if tag in worker
            and not any(w is not None and tag in w for _, w in self.executed.get((asset, key), []))
        }

    def finished_by_others(
        self, orphans: set[tuple[str, str | None]], since: float
    ) -> float | None:
        """When the last of `orphans` was executed after `since` (None: not all yet)."""
        last = 0.0
        for where in orphans:
            after = [when for when, _ in self.executed.get(where, []) if when > since]
            if not after:
                return None
            last = max(last, min(after))
        return last if orphans else None

    def first_mark_after(self, since: float, *, epoch_above: int) -> float | None:
        """When a leader of a newer epoch first marked a partition after `since`."""
        return min((w for w, e in self.marks if w > since and e > epoch_above), default=None)

    def rate(self, window: float = 10.0) -> float:
        """Executions per second over the last `window` seconds."""
        now = time.time()
        recent = 0
        for when, _, _ in reversed(self.materialized):
            if when < now - window:
                break
            recent += 1
        return recent / window

    def latest_epoch(self) -> int:
        return max((e for _, e, _ in self.dispatch_epochs), default=0)

    def wait(self, check: Callable[[], object], what: str, timeout: float) -> None:
        """Read on until `check()` holds."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} within {timeout:g} s")
            self.poll(0.1)


# -- after a fault -----------------------------------------------------------------------------


def recovery(
    dev: Dev,
    watch: Watch,
    at: float,
    *,
    timeout: float,
    also: Callable[[], object] | None = None,
    extra: Callable[[], dict[str, float | None]] | None = None,
) -> dict[str, Any]:
    """Seconds from the fault at wall time `at` until work goes on and `status` is ready.

    Work goes on: an execution of work dispatched after the fault (a decision and an
    execution both happened since). Ready: `status` says ready and counts no killed
    process as alive. With `also`, waits for it too (e.g. the dead worker's items sent
    again). Gives up after `timeout` s (the values not reached are then None).
    """
    deadline = time.monotonic() + timeout
    ready_at: float | None = None
    stale_ready = 0
    next_status = 0.0
    while time.monotonic() < deadline:
        watch.poll(0.1)
        if ready_at is None and time.monotonic() >= next_status:
            next_status = time.monotonic() + 0.25
            report = status(dev.api_url)
            if ready_without(report, dev.killed, dev_parts(dev)):
                ready_at = time.time()
            elif report is not None and report.get("ready"):
                stale_ready += 1
        if (
            ready_at is not None
            and watch.work_continued(at) is not None
            and (also is None or also())
        ):
            break
    continued = watch.work_continued(at)
    result: dict[str, Any] = {
        "work_continues_s": since(at, continued),
        "status_ready_s": since(at, ready_at),
        "first_execution_after_s": since(at, watch.first_execution_after(at)),
        "status_ready_polls_while_a_killed_part_counted_alive": stale_ready,
    }
    if extra is not None:
        result.update({k: v for k, v in extra().items()})
    return result


def since(at: float, when: float | None) -> float | None:
    """Seconds from `at` to `when`, rounded (None stays None)."""
    return None if when is None else round(max(0.0, when - at), 2)


# -- counting from the log ----------------------------------------------------------------------


def read_log(bootstrap: str, prefix: str, locations: Iterable[str]) -> list[ConsumedEvent]:
    """Every record of the system's topics but heartbeats, from offset 0, with a plain
    (assign) consumer."""
    from conflux.events import EventConsumer, Topics

    topics = Topics(prefix)
    names = [spec.name for spec in topics.core() if spec.name != topics.heartbeats]
    names += [topics.work(loc) for loc in locations]
    if topics.leader not in names:
        names.append(topics.leader)
    records: list[ConsumedEvent] = []
    with EventConsumer(bootstrap, topics, names, broker_kind="kafka") as consumer:
        while not consumer.caught_up():
            records += consumer.poll(timeout=0.5, max_records=20_000)
    return records


def count_log(
    records: list[ConsumedEvent],
    *,
    prefix: str,
    expected: Iterable[tuple[str, str]],
    zombies: Iterable[tuple[int, float]] = (),
) -> dict[str, Any]:
    """Count the log as the folds count it, per (asset, partition) in `expected`.

    The records go through the coordinator's own state (`CoordinatorState.fold`, its epoch
    fence first), so a decision counts exactly when the live folds count it. A
    materialization counts once per (work item, attempt) whose attempt the (admitted)
    decisions did not abandon; the worker's side of the fence is the work topic's own
    marks: an execution of a delivery that no admitted dispatch covers is a fenced decision
    that was executed.

    Args:
        records: the whole log (`read_log`).
        prefix: the topic prefix.
        expected: the (asset, partition) pairs the backfills asked for.
        zombies: (epoch, wall time it woke) of paused coordinators: how many of that
            epoch's decisions produced after it woke were counted (must be 0).
    """
    from conflux.coordinator import CoordinatorState
    from conflux.events import EpochFence, Topics, decision_epoch

    topics = Topics(prefix)
    work_prefix = topics.work("")
    state = CoordinatorState()
    delivery_fence = EpochFence()
    admitted_dispatch: set[tuple[str, int]] = set()
    admitted_delivery: set[tuple[str, int]] = set()
    abandoned: set[tuple[str, int | None]] = set()
    refused_by_epoch: Counter[int] = Counter()
    zombie_list = list(zombies)
    zombie_counted: Counter[int] = Counter()
    zombie_refused: Counter[int] = Counter()
    materializations: list[Any] = []
    starts: Counter[tuple[str, str | None]] = Counter()
    for record in records:
        event, topic = record.event, record.topic
        if topic.startswith(work_prefix):
            if delivery_fence.admit(event, topic, record.partition) and (
                event.type == "WorkItemDispatched"
            ):
                admitted_delivery.add((event.work_item_id, event.attempt))
            continue
        admitted = state.fold(event, topic, record.partition)
        epoch = decision_epoch(event)
        if epoch is not None:
            for zombie_epoch, woke in zombie_list:
                if epoch == zombie_epoch and record.timestamp_ms / 1000 >= woke:
                    (zombie_counted if admitted else zombie_refused)[zombie_epoch] += 1
            if not admitted:
                refused_by_epoch[epoch] += 1
                continue
        match event.type:
            case "WorkItemDispatched":
                admitted_dispatch.add((event.work_item_id, event.attempt))
            case "WorkItemAbandoned":
                abandoned.add((event.work_item_id, event.attempt))
            case "AssetMaterialized":
                materializations.append(event)
            case "PartitionStarted":
                starts[(event.asset_key, event.partition_key)] += 1
    counted: dict[tuple[str, str | None], set[tuple[str | None, int | None]]] = {}
    executions: Counter[tuple[str, str | None]] = Counter()
    fenced_executed = 0
    for event in materializations:
        where = (event.asset_key, event.partition_key)
        executions[where] += 1
        attempt = (event.work_item_id, event.attempt)
        if event.work_item_id is not None and attempt not in admitted_delivery:
            fenced_executed += 1
        if attempt not in abandoned:
            counted.setdefault(where, set()).add(attempt)
    wanted = list(expected)
    lost = [w for w in wanted if not counted.get(w)]
    twice = sorted((w for w, attempts in counted.items() if len(attempts) > 1), key=str)
    by_asset: Counter[str] = Counter(asset for asset, key in wanted if counted.get((asset, key)))
    fold_states = [state.assets.get(asset, key) for asset, key in wanted]
    fold_done = sum(1 for p in fold_states if p is not None and p.status == "materialized")
    return {
        "partitions_expected": len(wanted),
        "lost": len(lost),
        "lost_examples": [f"{a}[{k}]" for a, k in lost[:5]],
        "double_counted": len(twice),
        "double_counted_examples": [f"{a}[{k}]" for a, k in twice[:5]],
        "counted_by_asset": dict(sorted(by_asset.items())),
        "executions_repeated": sum(executions.values()) - len(executions),
        "starts_repeated": sum(n - 1 for n in starts.values() if n > 1),
        "attempts_abandoned": len(abandoned),
        "refused_decisions": sum(refused_by_epoch.values()),
        "refused_decisions_by_epoch": {str(e): n for e, n in sorted(refused_by_epoch.items())},
        "executed_fenced_deliveries": fenced_executed,
        "zombie_decisions_after_waking": {
            str(e): {"counted": zombie_counted[e], "refused": zombie_refused[e]}
            for e, _ in zombie_list
        },
        "coordinator_fold_materialized": fold_done,
        "highest_epoch": max(state.fence.marks.values(), default=0),
        "backfills_status": {
            b: (s.completed.status if s.completed else None) for b, s in state.backfills.items()
        },
    }
