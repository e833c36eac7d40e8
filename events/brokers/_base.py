"""The launcher interface every local broker implements, and the process handling they share.

A `LocalBroker` owns one child process. Whatever happens to its owner, the child does not
outlive it: `stop()` escalates SIGTERM to SIGKILL, an `atexit` hook stops brokers still
running at interpreter exit, and on Linux a broker started from the main thread also gets
SIGTERM when its owner dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO, TYPE_CHECKING, ClassVar, Literal

from conflux.events._errors import BrokerStartError, BrokerUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable

BrokerKind = Literal["kafka", "tansu"]

_log = logging.getLogger("conflux.brokers")
_RUNNING: weakref.WeakSet[LocalBroker] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for broker in list(_RUNNING):
        with contextlib.suppress(Exception):
            broker.stop()


def free_port(preferred: int | None = None) -> int:
    """Return `preferred` if nothing listens on it on loopback, else a free port."""
    if preferred:
        with socket.socket() as sock:
            # As the broker binds (the JVM sets SO_REUSEADDR): a port whose last broker was
            # killed a moment ago, with its connections still in TIME_WAIT, is free to it.
            # Without this a restarted broker would move to another port, and every client
            # of `dev`, which knows only the old one, would lose it.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 20) -> str:
    """Return the last `lines` lines of a log file (empty if there is none)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(f.tell() - 64 * 1024, 0))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that asks Linux to SIGTERM the child when the starting thread exits."""
    if (
        not sys.platform.startswith("linux")
        or threading.current_thread() is not threading.main_thread()
    ):
        return None  # PDEATHSIG fires when the *thread* that forked exits: main thread only
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None

    def preexec() -> None:
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return preexec


class LocalBroker(ABC):
    """A Kafka-protocol broker run as a child process on a free loopback port.

    Use as a context manager (`with KafkaBroker(dir) as broker:` starts and stops it) or
    call `start()` / `stop()`. Nothing is printed: the broker's output goes to
    `log_path`, and this module logs to `conflux.brokers`.
    """

    kind: ClassVar[BrokerKind]
    """`"kafka"` or `"tansu"`."""
    stop_grace: ClassVar[float] = 15.0
    """Seconds `stop()` waits after SIGTERM before SIGKILL."""

    def __init__(self, state_dir: str | Path) -> None:
        """Prepare a broker whose files live under `state_dir` (created if missing)."""
        self.state_dir = Path(state_dir).resolve()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._port: int | None = None
        self._cluster_id: str | None = None
        """Set by `_prepare`: readiness then also checks that the answer came from this
        broker, not from another one that took the port in the meantime."""

    @property
    @abstractmethod
    def version(self) -> str:
        """The broker's version, e.g. `4.1.1` or `0.6.0`."""

    @property
    @abstractmethod
    def log_path(self) -> Path:
        """The file the broker's own output goes to."""

    @abstractmethod
    def _prepare(self, timeout: float) -> list[str]:
        """Make everything the process needs (ports, files) and return its command line."""

    @property
    def bootstrap(self) -> str:
        """`127.0.0.1:PORT`, once `start()` has chosen the port.

        Raises:
            BrokerUnavailableError: the broker was never started.
        """
        if self._port is None:
            raise BrokerUnavailableError(
                f"the {self.kind} broker in {self.state_dir} is not started: call start()",
                bootstrap="",
            )
        return f"127.0.0.1:{self._port}"

    @property
    def pid(self) -> int | None:
        """The broker process's id while it runs, else None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self, timeout: float = 60.0) -> LocalBroker:
        """Start the broker and return once it answers a metadata request.

        Idempotent: a running broker is left alone.

        Raises:
            BrokerStartError: the process exited or did not answer within `timeout`; the
                message names the log file and quotes its last lines.
        """
        if self.pid is not None:
            return self
        began = time.monotonic()
        self.launch(timeout)
        self.await_ready(began + timeout, began)
        return self

    def launch(self, timeout: float = 60.0) -> None:
        """Start the process without waiting for it to answer (see `await_ready`).

        A cluster launches every node before it waits for any: a node of a KRaft quorum
        answers only once a majority of the controllers runs.

        Raises:
            BrokerStartError: the process could not be started.
        """
        if self._proc is not None:  # it died: reap it and release its log before anew
            self.stop(timeout=0)
        command = self._prepare(timeout)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("ab")
        self._log_file.write(f"\n--- conflux: starting {' '.join(command)}\n".encode())
        self._log_file.flush()
        try:
            self._proc = subprocess.Popen(
                command,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.state_dir,
                env=self._env(),
                preexec_fn=_die_with_parent(),
            )
        except OSError as exc:
            self.stop()
            raise BrokerStartError(f"could not run {command[0]}: {exc}") from exc
        _RUNNING.add(self)

    def await_ready(self, deadline: float, began: float | None = None) -> None:
        """Wait until the launched process answers a metadata request.

        Raises:
            BrokerStartError: the process exited, or did not answer by `deadline`
                (a `time.monotonic()` value); the message quotes its log.
        """
        from conflux.events._admin import admin_client

        began = time.monotonic() if began is None else began
        admin = None  # created once the port is open: librdkafka backs off after refusals
        while True:
            proc = self._proc
            code = -1 if proc is None else proc.poll()
            if code is not None:
                self.stop()
                raise self._start_error(f"exited with code {code} while starting")
            with contextlib.suppress(Exception):
                if admin is None:
                    socket.create_connection(("127.0.0.1", self._port or 0), 0.5).close()
                    admin = admin_client(self.bootstrap)
                metadata = admin.list_topics(timeout=0.5)
                if metadata.brokers and self._cluster_id in (None, metadata.cluster_id):
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise self._start_error(f"did not answer within {deadline - began:.0f}s")
            time.sleep(0.05)
        _log.info(
            "%s %s ready at %s in %.2fs (log: %s)",
            self.kind,
            self.version,
            self.bootstrap,
            time.monotonic() - began,
            self.log_path,
        )

    def answers(self, timeout: float = 0.5) -> bool:
        """Whether the running process answers a metadata request now (as `await_ready`)."""
        from conflux.events._admin import admin_client

        if self.pid is None or self._port is None:
            return False
        try:
            socket.create_connection(("127.0.0.1", self._port), timeout).close()
            metadata = admin_client(self.bootstrap).list_topics(timeout=timeout)
        except Exception:
            return False
        return bool(metadata.brokers) and self._cluster_id in (None, metadata.cluster_id)

    def signal_stop(self) -> None:
        """Send SIGTERM without waiting (`stop()` then waits): stops several at once."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()

    def exit_code(self) -> int | None:
        """The process's exit code once it has exited on its own (None: running, or stopped)."""
        proc = self._proc
        return None if proc is None else proc.poll()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the broker: SIGTERM, wait up to `timeout` seconds, then SIGKILL.

        Idempotent, and safe on a broker that never started. `timeout` defaults to the
        kind's `stop_grace`.
        """
        timeout = self.stop_grace if timeout is None else timeout
        proc, self._proc = self._proc, None
        _RUNNING.discard(self)
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _log.info(
                        "%s broker pid %d still up after SIGTERM: killing it", self.kind, proc.pid
                    )
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    proc.wait()
            self._after_stop()
        log, self._log_file = self._log_file, None
        if log is not None:
            log.close()

    def _after_stop(self) -> None:
        """Hook run after the process has exited (default: nothing)."""
        return None

    def _env(self) -> dict[str, str] | None:
        """Environment of the process (default: inherit)."""
        return None

    def _start_error(self, what: str) -> BrokerStartError:
        return BrokerStartError(
            f"{self.kind} broker {what}; see {self.log_path}, which ends with:\n"
            f"{tail(self.log_path)}"
        )

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"127.0.0.1:{self._port}" if self._port else "not started"
        return f"<{type(self).__name__} {self.version} {where} pid={self.pid}>"
