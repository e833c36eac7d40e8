"""How `conflux dev` keeps its processes up: restarts with backoff, said out loud, recorded.

Every child of `dev` (each broker node, the projector, the coordinators, the workers) is
supervised alike:

- **Restarts never run out.** A part that dies is started again after a delay that
  doubles from `BACKOFF_START_S` to `BACKOFF_MAX_S`, and falls back to the start once the
  part has stayed up `HEALTHY_S`. Each death is printed with what died, why (exit code or
  signal, and the last lines of its log) and what `dev` does about it.
- **The broker first.** While a broker node is down, parts that die wait for it; once it
  answers again, every part that is down starts at once.
- **`status` knows.** The parts' states go to `<state-dir>/parts.json` whenever one
  changes; `conflux status` reads it, so a part that is down (or restarting) makes the
  system not ready, named, with its log's last line.
- **No orphans.** On Linux each child asks the kernel for SIGTERM when `dev` dies
  (PR_SET_PDEATHSIG), and each child's pid and start time go to `<state-dir>/pids/`;
  a new `dev` stops what an old one (killed with SIGKILL) left running there.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from conflux.events.brokers import LocalBroker

BACKOFF_START_S = float(os.environ.get("CONFLUX_DEV_RESTART_DELAY_S") or 0.5)
"""The first restart's delay; `CONFLUX_DEV_RESTART_DELAY_S` changes it (tests hold a
killed process down a while with it)."""
BACKOFF_MAX_S = 30.0
HEALTHY_S = 60.0
"""A part up this long has its backoff reset: its next death restarts it at once."""
PARTS_FILE = "parts.json"
PIDS_DIR = "pids"
BROKER_START_S = 90.0
"""How long a restarted broker node may take to answer (log recovery after a kill)."""
TAIL_LINES = 8
"""Lines of a dead part's log shown on the terminal."""


def tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last `lines` non-empty lines of a log file (none if it is missing)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(f.tell() - 32 * 1024, 0))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def describe_exit(code: int) -> str:
    """`exited with code 1`, or `killed by SIGKILL` for a negative (signal) code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when `dev` dies (main thread only).

    It also gives the child SIGTERM's default action: an ignored signal survives exec, so
    a `dev` started with SIGTERM ignored (by a test runner, or `nohup`-like tools) would
    pass that on, and every polite stop would end in SIGKILL after its grace period.
    (libc's `signal`, not Python's: the fork may happen on a thread other than the main.)
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    parent = os.getpid()

    def preexec() -> None:
        libc.signal(signal.SIGTERM, 0)  # SIG_DFL
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # dev died between fork and prctl
            os._exit(1)

    return preexec


def _start_time(pid: int) -> float | None:
    """The process's start time (psutil), None when it is gone."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def record_pid(state_dir: Path, name: str, pid: int) -> None:
    """Write `<state-dir>/pids/<name>.json`: the pid and its start time (a reused pid differs)."""
    folder = state_dir / PIDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    started = _start_time(pid)
    (folder / f"{name}.json").write_text(json.dumps({"pid": pid, "started": started}))


def stop_leftovers(state_dir: Path, grace: float = 10.0) -> list[str]:
    """Stop the processes an earlier `dev` left in `state_dir` (its pid files); name them.

    SIGTERM first (the projector then releases the archive, the coordinator writes its
    checkpoint), SIGKILL after `grace` seconds. A pid now held by another process (its
    start time differs) is left alone.
    """
    import psutil

    folder = state_dir / PIDS_DIR
    found: list[tuple[str, psutil.Process]] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, psutil.Error):
            data = json.loads(path.read_text())
            proc = psutil.Process(int(data["pid"]))
            if data.get("started") is None or abs(proc.create_time() - data["started"]) < 0.5:
                found.append((path.stem, proc))
        path.unlink(missing_ok=True)
    alive = []
    for name, proc in found:
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE:
                proc.terminate()
                proc.resume()  # a stopped one (SIGSTOP) handles its SIGTERM only once resumed
                alive.append((name, proc))
    if not alive:
        return []
    _, still = psutil.wait_procs([p for _, p in alive], timeout=grace)
    for proc in still:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(still, timeout=5)
    return [f"{name} (pid {proc.pid})" for name, proc in alive]


@dataclass
class _Backoff:
    """When a part may start again, and how long the next wait is."""

    delay: float = BACKOFF_START_S
    due: float | None = None
    """`time.monotonic()` when it starts again (None: not waiting)."""
    restarts: int = 0
    reason: str = ""
    """Why it is down (empty while it runs)."""
    log_tail: list[str] = field(default_factory=list)

    def died(self, uptime: float) -> float:
        """Schedule the restart; return the wait."""
        if uptime >= HEALTHY_S:
            self.delay = BACKOFF_START_S
        wait = self.delay
        self.due = time.monotonic() + wait
        self.delay = min(self.delay * 2, BACKOFF_MAX_S)
        self.restarts += 1
        return wait


class Supervisor:
    """The child processes of `dev`, each in its own session so Ctrl-C reaches only `dev`."""

    def __init__(
        self,
        state_dir: Path,
        env: dict[str, str],
        brokers: Sequence[LocalBroker] = (),
        on_broker_back: Callable[[], None] | None = None,
    ) -> None:
        """Supervise parts in `state_dir` with `env`, and the broker nodes `brokers`.

        `on_broker_back` runs once a restarted broker answers, before the parts that are
        down start again (`dev` creates missing topics there, and refills a Tansu).
        """
        self.state_dir = state_dir
        self.on_broker_back = on_broker_back
        self.env = env
        self.brokers = list(brokers)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.commands: dict[str, list[str]] = {}
        self.logs: dict[str, IO[bytes]] = {}
        self.cwds: dict[str, str | None] = {}
        self.started: dict[str, float] = {}
        self.backoff: dict[str, _Backoff] = {}
        self.draining: dict[str, float] = {}
        """Parts asked to stop for a restart -> when they get SIGKILL instead."""
        self.grace: dict[str, float] = {}
        self.starting: dict[str, float] = {}
        """Broker nodes started again and not answering yet -> when they were started."""
        for broker in self.brokers:
            name = self.broker_name(broker)
            self.backoff[name] = _Backoff()
            self.started[name] = time.monotonic()
            if broker.pid is not None:
                record_pid(state_dir, name, broker.pid)
        self._written = ""

    @staticmethod
    def broker_name(broker: LocalBroker) -> str:
        """`kafka` (node 1, or Tansu's `tansu`), `kafka-2`, ...: its log file's name."""
        return broker.log_path.stem

    def start(
        self,
        name: str,
        args: list[str],
        executable: str | None = None,
        cwd: str | None = None,
        state_dir: Path | None = None,
    ) -> None:
        """Start `conflux ARGS --state-dir DIR` as the part `name`, its output in its log."""
        self.commands[name] = [
            executable or sys.executable,
            "-m",
            "conflux",
            *args,
            "--state-dir",
            str(state_dir or self.state_dir),
        ]
        self.cwds[name] = cwd
        self.backoff[name] = _Backoff()
        self.logs[name] = self.logs.get(name) or open(  # noqa: SIM115
            self.state_dir / "logs" / f"{name}.log", "ab"
        )
        self._spawn(name)

    def _spawn(self, name: str) -> None:
        proc = subprocess.Popen(
            self.commands[name],
            stdout=self.logs[name],
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwds.get(name),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(),
        )
        self.procs[name] = proc
        self.backoff.setdefault(name, _Backoff())
        self.started[name] = time.monotonic()
        record_pid(self.state_dir, name, proc.pid)

    def restart(self, names: list[str], grace: float = 30.0) -> None:
        """Ask `names` to stop (SIGTERM); `step` starts each again once it has exited.

        A part already restarting keeps its deadline: the new process loads the code as it
        is when it starts, so one restart covers every change made while it drained.
        """
        for name in names:
            if name in self.draining:
                continue
            self.draining[name] = time.monotonic() + grace
            self.grace[name] = grace
            proc = self.procs[name]
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)

    def step(self) -> list[str]:
        """Start again the restarting parts that exited; kill those past their grace."""
        return self._step_draining()

    def _step_draining(self) -> list[str]:
        lines = []
        for name, deadline in list(self.draining.items()):
            proc = self.procs[name]
            if proc.poll() is None:
                if time.monotonic() < deadline:
                    continue
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                lines.append(
                    f"{name} did not stop within {self.grace[name]:.0f} s: killed; "
                    "the coordinator dispatches its unfinished work again"
                )
            del self.draining[name]
            self.backoff[name] = _Backoff()
            self._spawn(name)
        return lines

    def _died(self, name: str, code: int, log: Path, then: str) -> list[str]:
        """Record that `name` died; the lines that say so on the terminal."""
        state = self.backoff[name]
        uptime = time.monotonic() - self.started.get(name, time.monotonic())
        wait = state.died(uptime)
        state.reason = describe_exit(code)
        state.log_tail = tail(log)
        shown = [f"    {line[:240]}" for line in state.log_tail] or ["    (the log is empty)"]
        try:
            where = log.relative_to(self.state_dir)
        except ValueError:
            where = log
        return [
            f"{name} {state.reason} after {uptime:.1f} s up; {where} ends with:",
            *shown,
            f"  -> {then.format(wait=wait, n=state.restarts)}",
        ]

    def broker_down(self) -> bool:
        """Whether the brokers cannot serve: the single one is down, or a cluster's majority."""
        if not self.brokers:
            return False
        lost = sum(1 for b in self.brokers if b.pid is None or b.log_path.stem in self.starting)
        return lost > (len(self.brokers) - 1) // 2

    def check(self) -> list[str]:
        """Notice deaths, restart what is due; return the lines to print."""
        lines = self._step_draining()
        now = time.monotonic()
        for broker in self.brokers:
            name = self.broker_name(broker)
            state = self.backoff[name]
            if name in self.starting:
                lines += self._broker_started(broker, name)
                continue
            code = broker.exit_code()
            if code is not None and state.due is None:
                how = (
                    "on the same log"
                    if broker.kind == "kafka"
                    else "(empty: Tansu keeps nothing; dev refills it from the archive)"
                )
                lines += self._died(
                    name,
                    code,
                    broker.log_path,
                    f"starting it again {how} in {{wait:g}} s (restart {{n}}); "
                    "parts that die meanwhile wait for it",
                )
            if state.due is not None and now >= state.due:
                lines += self._restart_broker(broker, name)
        broker_up = not self.broker_down()
        for name, proc in self.procs.items():
            if name in self.draining:
                continue
            state = self.backoff[name]
            code = proc.poll()
            if code is not None and state.due is None:
                then = "restarting it in {wait:g} s (restart {n})"
                if not broker_up:
                    then = "restarting it once the broker answers again"
                lines += self._died(name, code, self.state_dir / "logs" / f"{name}.log", then)
            if state.due is not None and now >= state.due and broker_up:
                state.due = None
                state.reason = ""
                self._spawn(name)
        self.write_state()
        return lines

    def _restart_broker(self, broker: LocalBroker, name: str) -> list[str]:
        """Start a dead broker node again on its log (`_broker_started` sees it answer)."""
        state = self.backoff[name]
        state.due = None
        state.reason = "starting again"
        try:
            broker.launch(BROKER_START_S)
        except Exception as exc:
            return self._died(
                name,
                broker.exit_code() or 1,
                broker.log_path,
                f"it did not start ({str(exc).splitlines()[0]}); trying again in "
                "{wait:g} s (restart {n})",
            )
        self.starting[name] = time.monotonic()
        if broker.pid is not None:
            record_pid(self.state_dir, name, broker.pid)
        return []

    def _broker_started(self, broker: LocalBroker, name: str) -> list[str]:
        """A restarting node: answered (then the parts that are down start), died, or late."""
        began = self.starting[name]
        code = broker.exit_code()
        late = time.monotonic() - began > BROKER_START_S
        if code is not None or late:
            del self.starting[name]
            if late:
                broker.stop(timeout=5)
            why = f"it did not answer within {BROKER_START_S:.0f} s" if late else "it died"
            then = why + " while starting; trying again in {wait:g} s (restart {n})"
            return self._died(name, code if code is not None else 1, broker.log_path, then)
        if not broker.answers():
            return []
        del self.starting[name]
        state = self.backoff[name]
        state.reason = ""
        self.started[name] = time.monotonic()
        lines = [f"{name} answers again at {broker.bootstrap} ({time.monotonic() - began:.1f} s)"]
        if not self.broker_down():
            if self.on_broker_back is not None:
                try:
                    self.on_broker_back()
                except Exception as exc:
                    lines.append(f"  after the broker's restart: {type(exc).__name__}: {exc}")
            waiting = [n for n, s in self.backoff.items() if s.due is not None and n in self.procs]
            for part in waiting:
                self.backoff[part].due = time.monotonic()
                self.backoff[part].delay = BACKOFF_START_S
            if waiting:
                lines.append(f"  -> starting again: {', '.join(sorted(waiting))}")
        return lines

    def pause(self, timeout: float = 10.0) -> None:
        """Stop every part (SIGTERM, then SIGKILL) and mark each due to start at once."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, proc in self.procs.items():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self.draining.pop(name, None)
            self.backoff[name].due = time.monotonic()
            self.backoff[name].reason = "stopped while the broker restarted"

    def down(self, countdown: bool = True) -> dict[str, str]:
        """Part -> why it is down (what `status` shows), for each part not running now.

        With `countdown`, when it starts again (not in `parts.json`: it would change
        every second).
        """
        found = {}
        for name, state in self.backoff.items():
            if state.due is None and not state.reason:
                continue
            why = state.reason or "down"
            if countdown and state.due is not None:
                why += f"; starting again in {max(0.0, state.due - time.monotonic()):.0f} s"
            if state.log_tail:
                why += f"; its log ends with: {state.log_tail[-1].strip()[:300]}"
            found[name] = why
        return found

    def write_state(self) -> None:
        """Write `<state-dir>/parts.json` when something changed (atomically)."""
        text = json.dumps(self.state(), indent=2, sort_keys=True)
        if text == self._written:
            return
        tmp = self.state_dir / (PARTS_FILE + ".tmp")
        tmp.write_text(text)
        tmp.replace(self.state_dir / PARTS_FILE)
        self._written = text

    def state(self) -> dict[str, Any]:
        """What `parts.json` holds: each process, and what is down and why."""
        brokers = {self.broker_name(b) for b in self.brokers}
        return {
            "pid": os.getpid(),
            "parts": {
                name: {"pid": proc.pid, "restarts": self.backoff[name].restarts}
                for name, proc in self.procs.items()
            },
            "brokers": {
                self.broker_name(b): {
                    "pid": b.pid,
                    "restarts": self.backoff[self.broker_name(b)].restarts,
                }
                for b in self.brokers
            },
            "down": {k: v for k, v in self.down(False).items() if k not in brokers},
            "brokers_down": {k: v for k, v in self.down(False).items() if k in brokers},
            "brokers_total": len(self.brokers),
        }

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every part, wait, SIGKILL what is left; forget their pid files."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for name in self.procs:
            (self.state_dir / PIDS_DIR / f"{name}.json").unlink(missing_ok=True)
        for log in self.logs.values():
            log.close()
        (self.state_dir / PARTS_FILE).unlink(missing_ok=True)

    def forget_brokers(self) -> None:
        """Remove the brokers' pid files (call once they are stopped)."""
        for broker in self.brokers:
            (self.state_dir / PIDS_DIR / f"{self.broker_name(broker)}.json").unlink(missing_ok=True)
