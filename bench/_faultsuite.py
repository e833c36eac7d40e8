"""The fault suite both benches run: a backfill under `conflux dev`, faults one at a time.

`run_suite(config)` starts `conflux dev` in a fresh folder, requests the backfill through
the CLI, and injects each fault of `config.faults` in turn, a seeded random while after
the system recovered from the one before (so the moments differ between seeds and
repeat with one). For each fault it reports the seconds until work goes on and until
`status` is ready (see `_faultkit.recovery`), and the log counted so far; at the end, once
every backfill completed, the whole log counted from offset 0, `conflux replay` against
the live system, and the processes left behind (none, or the suite failed).

Faults:

- `worker`: kill -9 one worker (`dev` starts another; the coordinator dispatches the dead
  worker's unfinished items again once its heartbeats stop);
- `coordinator`: kill -9 the active coordinator (a standby, or `dev`'s restart, leads);
- `zombie`: SIGSTOP the active coordinator until a standby dispatched under a newer
  epoch, then a little longer, then SIGCONT (none of its later decisions may count);
- `broker`: kill -9 one Kafka broker (with one broker, `dev` has to bring it back; if it
  does not within the recovery timeout, the suite restarts `dev`, as a person would, and
  says so);
- `projector`: kill -9 the projector;
- `dev`: kill -9 the whole `dev` process tree, then start `conflux dev` again on the same
  state folder.

While `conflux dev` has no `--coordinators`, a standby is a `conflux coordinator` the suite
starts by hand against dev's broker (docs/operations.md), and starts again after a fault.
"""

from __future__ import annotations

import os
import random
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _faultkit import (
    Dev,
    alive,
    key_at,
    kill,
    live_materialized,
    replay_matches_live,
    request_backfill,
    say,
    status,
    write_definitions,
)
from _faultlog import Watch, count_log, read_log, recovery, since

FAULTS = ("worker", "coordinator", "zombie", "broker", "projector", "dev")


@dataclass(frozen=True)
class Config:
    """What one run of the suite does."""

    name: str
    workers: int
    chain: bool
    """Two assets, `down` reading `up` (else `up` alone)."""
    partitions: int
    """Partitions of the first backfill (more follow, see `work_ahead_s`)."""
    partition_ms: float
    faults: tuple[str, ...]
    seed: int
    gap_s: tuple[float, float]
    """The random while between one recovery and the next fault."""
    recovery_timeout_s: float
    brokers: int
    coordinators: int
    work_ahead_s: float = 30.0
    """Before each fault, at least this many seconds of work (at the current rate) stay
    queued: more backfills are requested when less remains."""
    standby_session_s: float = 3.0
    """`--session-timeout` of a standby started by hand."""
    root: str | None = None
    """The folder to run in (default: a new temporary one, removed after)."""


def run_suite(config: Config) -> dict[str, Any]:
    """Run the suite; the result is one JSON-able dict.

    SIGTERM stops it as Ctrl-C does: what it started is stopped before it exits.
    """
    unknown = set(config.faults) - set(FAULTS)
    if unknown:
        raise ValueError(f"unknown faults {sorted(unknown)}: choose from {', '.join(FAULTS)}")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if config.root is not None:
        root = Path(config.root)
        root.mkdir(parents=True, exist_ok=True)
        return _run_in(config, root)
    with tempfile.TemporaryDirectory(prefix=f"conflux-bench-{config.name}-") as tmp:
        return _run_in(config, Path(tmp))


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` that stops `dev`


def _run_in(config: Config, root: Path) -> dict[str, Any]:
    definitions = write_definitions(root, chain=config.chain, partition_ms=config.partition_ms)
    extra: list[str] = []
    notes: list[str] = []
    if config.brokers > 1:
        if Dev.supports("--brokers"):
            extra += ["--brokers", str(config.brokers)]
        else:
            notes.append(
                f"conflux dev has no --brokers yet: one broker instead of {config.brokers}"
            )
    by_hand = False
    if config.coordinators > 1:
        if Dev.supports("--coordinators"):
            extra += ["--coordinators", str(config.coordinators)]
        else:
            by_hand = True
            notes.append(
                "conflux dev has no --coordinators yet: the standby is a `conflux "
                f"coordinator --session-timeout {config.standby_session_s:g}` started by hand"
            )
    dev = Dev(root, definitions, workers=config.workers, extra=extra)
    suite = _Suite(config, dev, by_hand)
    result: dict[str, Any] = {"benchmark": config.name, "seed": config.seed, "notes": notes}
    try:
        result.update(suite.run())
    except Exception as exc:  # reported in the JSON, with what was measured before it
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["faults"] = suite.faults
    finally:
        survivors = dev.close()
        if suite.watch is not None:
            suite.watch.close()
    result["survivors"] = survivors
    result["loadavg_1m"] = round(os.getloadavg()[0], 1)
    return result


class _Suite:
    def __init__(self, config: Config, dev: Dev, by_hand: bool) -> None:
        self.config = config
        self.dev = dev
        self.by_hand = by_hand
        self.rng = random.Random(config.seed)
        self.watch: Watch | None = None
        self.assets = ("up", "down") if config.chain else ("up",)
        self.backfills: list[tuple[str, int, int]] = []
        """(id, first index, count) of every backfill requested."""
        self.zombies: list[tuple[int, float]] = []
        self.previous: dict[str, Any] = {}
        self.faults: list[dict[str, Any]] = []
        self.peak_rate = 0.0

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        config, dev = self.config, self.dev
        say(f"{config.name}: seed {config.seed}; starting conflux dev in {dev.root}")
        first_ready = dev.start()
        say(f"dev ready in {first_ready:.1f} s")
        info = dev.info()
        self.watch = watch = Watch(info["bootstrap"], info["topic_prefix"])
        watch.open()
        if self.by_hand:
            self._standby()
        started = time.time()
        self._backfill(config.partitions)
        watch.wait(lambda: len(watch.done) >= 100, "no work done", 180)
        say(f"backfill under way: {len(watch.done)} done")
        faults = self.faults
        for n, fault in enumerate(config.faults, 1):
            self._idle(self.rng.uniform(*config.gap_s))
            self._top_up()
            say(f"fault {n}/{len(config.faults)}: {fault} ({len(watch.done)} done so far)")
            outcome = getattr(self, f"_fault_{fault}")()
            outcome = {"fault": fault, **outcome, **self._count_so_far()}
            say(f"  {outcome}")
            faults.append(outcome)
            if self.by_hand:
                self._standby()
        say("faults done; waiting for the backfills to complete")
        ids = {b for b, _, _ in self.backfills}
        watch.wait(lambda: ids <= watch.completed, "the backfills did not complete", 1800)
        finished_s = time.time() - started
        expected = self._expected()
        live = self._settle(len(expected))
        say("replaying from zero against the live system")
        replay = replay_matches_live(dev)
        say(f"  replay: {replay}")
        info = dev.info()  # a restarted dev's broker may listen elsewhere
        records = read_log(info["bootstrap"], info["topic_prefix"], ["chaos_defs"])
        counts = count_log(
            records, prefix=info["topic_prefix"], expected=expected, zombies=self.zombies
        )
        return {
            "workers": config.workers,
            "assets": list(self.assets),
            "partition_ms": config.partition_ms,
            "backfills": [{"id": b, "from": key_at(f), "count": c} for b, f, c in self.backfills],
            "partitions": sum(c for _, _, c in self.backfills),
            "first_dev_ready_s": round(first_ready, 1),
            "faults": faults,
            "backfills_completed_s": round(finished_s, 1),
            "events_in_log": len(records),
            **counts,
            "replay_equals_live": replay["matches_live"],
            "replay": replay,
            "live_materialized": live,
            "live_equals_log": all(
                live.get(a) == counts["counted_by_asset"].get(a) for a in self.assets
            ),
        }

    # -- faults --------------------------------------------------------------------------------

    def _fault_worker(self) -> dict[str, Any]:
        assert self.watch is not None
        watch = self.watch
        workers = [p.pid for p in self.dev.parts("worker")]
        pid = self.dev.kill_part("worker", self.rng.choice(workers))
        at = time.time()
        self._idle(1.0)  # its last starts, still on their way
        orphans = watch.orphans(pid)

        def again() -> dict[str, float | None]:
            return {
                "items_sent_again_s": since(at, watch.first_dispatch_after(at, attempt_above=1)),
                "its_unfinished_done_s": since(at, watch.finished_by_others(orphans, at)),
            }

        result = recovery(
            self.dev,
            watch,
            at,
            timeout=self.config.recovery_timeout_s,
            also=lambda: not orphans or watch.finished_by_others(orphans, at) is not None,
            extra=again,
        )
        return {"pid": pid, "started_unfinished": len(orphans), **result}

    def _active(self) -> tuple[int, int]:
        """The active coordinator's pid and epoch, from `status`."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            report = status(self.dev.api_url)
            active = (report or {}).get("coordinator") or {}
            if active.get("pid") and active.get("alive") and alive(active["pid"]):
                return int(active["pid"]), int(active.get("epoch") or 0)
            time.sleep(0.3)
        raise RuntimeError("status named no live active coordinator within 60 s")

    def _fault_coordinator(self) -> dict[str, Any]:
        assert self.watch is not None
        watch = self.watch
        pid, epoch = self._active()
        by_hand = pid in self.dev.standby_pids()
        self.dev.kill_part("coordinator", pid)
        at = time.time()

        def newer() -> dict[str, float | None]:
            return {
                "newer_epoch_mark_s": since(at, watch.first_mark_after(at, epoch_above=epoch)),
                "newer_epoch_dispatch_s": since(
                    at, watch.first_dispatch_after(at, epoch_above=epoch)
                ),
            }

        result = recovery(self.dev, watch, at, timeout=self.config.recovery_timeout_s, extra=newer)
        return {"pid": pid, "epoch": epoch, "started_by_hand": by_hand, **result}

    def _fault_zombie(self) -> dict[str, Any]:
        assert self.watch is not None
        watch = self.watch
        pid, epoch = self._active()
        kill(pid, signal.SIGSTOP)
        at = time.time()
        try:
            watch.wait(
                lambda: watch.first_mark_after(at, epoch_above=epoch) is not None,
                "no standby took over from the paused coordinator",
                self.config.recovery_timeout_s,
            )
            took_over = watch.first_mark_after(at, epoch_above=epoch)
            self._idle(2.0)
        finally:
            kill(pid, signal.SIGCONT)
        woke = time.time()
        self.zombies.append((epoch, woke))
        result = recovery(self.dev, watch, at, timeout=self.config.recovery_timeout_s)
        stepped_down = self._stepped_down(pid)
        return {
            "pid": pid,
            "epoch": epoch,
            "paused_s": round(woke - at, 2),
            "takeover_s": since(at, took_over),
            "stepped_down_s_after_waking": since(woke, stepped_down),
            **result,
        }

    def _stepped_down(self, pid: int, timeout: float = 30.0) -> float | None:
        """When `status` first shows the woken coordinator as a standby (None: not seen)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.watch is not None
            self.watch.poll(0.1)
            report = status(self.dev.api_url) or {}
            for c in report.get("coordinators", []):
                if c.get("pid") == pid and c.get("role") == "standby":
                    return time.time()
            if not alive(pid):
                return None
            time.sleep(0.3)
        return None

    def _fault_broker(self) -> dict[str, Any]:
        assert self.watch is not None
        brokers = [p.pid for p in self.dev.parts("broker")]
        pid = self.dev.kill_part("broker", self.rng.choice(brokers))
        at = time.time()
        result = recovery(self.dev, self.watch, at, timeout=self.config.recovery_timeout_s)
        result = {"pid": pid, "brokers": len(brokers), **result}
        if result["work_continues_s"] is None or result["status_ready_s"] is None:
            say("  dev did not recover from the broker's loss: restarting dev, as a person would")
            result["recovered_by"] = (
                f"the suite restarted dev {self.config.recovery_timeout_s:g} s after the "
                "kill (dev did not bring its broker back)"
            )
            result["after_restart"] = self._restart_dev(at)
        else:
            result["recovered_by"] = "dev"
        return result

    def _fault_projector(self) -> dict[str, Any]:
        assert self.watch is not None
        pid = self.dev.kill_part("projector")
        at = time.time()
        result = recovery(self.dev, self.watch, at, timeout=self.config.recovery_timeout_s)
        return {"pid": pid, **result}

    def _fault_dev(self) -> dict[str, Any]:
        killed = self.dev.kill_tree()
        at = time.time()
        restart = self._restart_dev(at)
        return {"killed": len(killed), **restart}

    def _restart_dev(self, at: float) -> dict[str, Any]:
        """Kill what is left, start `dev` again on the same folder, time the recovery."""
        assert self.watch is not None
        self.dev.kill_tree()
        ready = self.dev.start()
        self.watch.reopen(self.dev.info()["bootstrap"])
        if self.by_hand:
            self._standby()
        result = recovery(self.dev, self.watch, at, timeout=self.config.recovery_timeout_s)
        return {"dev_ready_in_s": round(ready, 1), **result}

    # -- helpers ---------------------------------------------------------------------------------

    def _standby(self) -> None:
        """Keep one hand-started standby running (while `dev` has no --coordinators)."""
        if self.dev.standby_pids() & {p.pid for p in self.dev.parts("coordinator")}:
            return
        proc = self.dev.start_standby(self.config.standby_session_s)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.watch is not None
            self.watch.poll(0.2)
            report = status(self.dev.api_url) or {}
            if any(
                c.get("pid") == proc.pid and c.get("ready") and c.get("alive")
                for c in report.get("coordinators", [])
            ):
                return
        raise RuntimeError("the standby coordinator did not catch up within 120 s")

    def _backfill(self, count: int) -> None:
        first = sum(c for _, _, c in self.backfills)
        backfill_id = request_backfill(self.dev, "*", first, count)
        self.backfills.append((backfill_id, first, count))
        say(f"backfill {backfill_id}: {count} partitions from {key_at(first)}")

    def _top_up(self) -> None:
        """Keep enough work queued that the next fault meets work still to dispatch.

        Enough: what the workers do in `work_ahead_s` at the current rate, plus what the
        run queue keeps in flight. (A fault met with everything dispatched would show no
        new decision after it, however well the system recovered.)
        """
        assert self.watch is not None
        self.peak_rate = max(self.peak_rate, self.watch.rate())  # the rate falls when idle
        needed = int(self.peak_rate * self.config.work_ahead_s) + 1000
        remaining = self._remaining()
        if remaining < needed:
            count = max(100, -(-(needed - remaining) // len(self.assets)))
            self._backfill(count)

    def _expected(self) -> list[tuple[str, str]]:
        return [
            (asset, key_at(i))
            for _, first, count in self.backfills
            for i in range(first, first + count)
            for asset in self.assets
        ]

    def _remaining(self) -> int:
        assert self.watch is not None
        total = sum(c for _, _, c in self.backfills) * len(self.assets)
        return total - len(self.watch.done)

    def _idle(self, seconds: float) -> None:
        assert self.watch is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.watch.poll(0.1)

    def _count_so_far(self) -> dict[str, Any]:
        """The log so far, counted: what a fault may never cause, at any moment."""
        assert self.watch is not None
        info = self.dev.info()
        counts = count_log(
            read_log(info["bootstrap"], info["topic_prefix"], ["chaos_defs"]),
            prefix=info["topic_prefix"],
            expected=[],
            zombies=self.zombies,
        )
        now = {
            "double_counted": counts["double_counted"],
            "executions_repeated": counts["executions_repeated"],
            "refused_decisions": counts["refused_decisions"],
            "executed_fenced_deliveries": counts["executed_fenced_deliveries"],
        }
        delta = {
            f"{k}_since_last": v - self.previous.get(k, 0)
            for k, v in now.items()
            if k in ("executions_repeated", "refused_decisions")
        }
        self.previous = now
        return {"so_far": {**now, **delta, "zombie": counts["zombie_decisions_after_waking"]}}

    def _settle(self, expected: int, timeout: float = 180.0) -> dict[str, int]:
        """Wait until the read model shows every partition (the projector caught up)."""
        deadline = time.monotonic() + timeout
        live: dict[str, int] = {}
        while time.monotonic() < deadline:
            live = live_materialized(self.dev)
            if sum(live.get(a, 0) for a in self.assets) >= expected:
                break
            time.sleep(1.0)
        return live
