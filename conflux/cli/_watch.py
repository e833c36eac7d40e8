"""What makes `conflux dev` restart a location's workers: its files changed, or a reload.

`FileWatcher` polls modification times (no inotify: portable, and ~1 ms a poll for a few
hundred files). A location watches its own code, never another location's entry point:

- `python_file`: the file, plus the `*.py` files directly in its working directory (or
  the file's folder), which it may import as helpers;
- `python_module`: the top-level package's folder under the working directory (recursive),
  or the module file, plus the working directory's `*.py` as above.

A helper two locations share restarts both; another location's entry file (or top-level
module) is left out, so editing it restarts that location only. Hidden folders,
`__pycache__`, virtualenvs and site-packages are not walked.

`ReloadListener` reads `LocationReloadRequested` from the definitions topic directly
rather than through the query API: the supervisor then acts on the log whatever the
projector is doing (replaying from zero after a restart, or down), and the read model's
event log has no index by type, so polling `/events?type=` would scan every event twice a
second.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from conflux.cli._workspace import LocationSpec
    from conflux.events import EventConsumer, LocationReloadRequested, Topics

MAX_FILES = 5_000
"""A location watches at most this many files (the rest is ignored, with a warning)."""
_SKIP_DIRS = {"__pycache__", "site-packages", "node_modules", "build", "dist"}

Signature = dict[str, tuple[int, int]]
"""Path -> (mtime in ns, size)."""


def watched_roots(
    spec: LocationSpec, others: Sequence[LocationSpec]
) -> tuple[list[Path], list[Path], list[Path], set[Path]]:
    """(files, trees walked for *.py, folders listed for *.py, files left out) of `spec`."""
    files: list[Path] = []
    trees: list[Path] = []
    workdir = Path(spec.working_directory) if spec.working_directory else None
    if spec.file:
        files.append(Path(spec.file))
        workdir = workdir or Path(spec.file).parent
    elif spec.module:
        workdir = workdir or Path.cwd()
        top = spec.module.split(".")[0]
        if (workdir / top).is_dir():
            trees.append(workdir / top)
        elif (workdir / f"{top}.py").is_file():
            files.append(workdir / f"{top}.py")
    excluded: set[Path] = set()
    for other in others:
        if other.name == spec.name:
            continue
        if other.file:
            excluded.add(Path(other.file))
        elif other.module:
            base = Path(other.working_directory) if other.working_directory else Path.cwd()
            excluded.add(base / f"{other.module.split('.')[0]}.py")
    excluded -= set(files)
    return files, trees, [workdir] if workdir else [], excluded


def _walk(tree: Path, out: list[Path]) -> None:
    try:
        entries = list(os.scandir(tree))
    except OSError:
        return
    for entry in entries:
        if len(out) >= MAX_FILES:
            return
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            if entry.name in _SKIP_DIRS or os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                continue
            _walk(Path(entry.path), out)
        elif entry.name.endswith(".py"):
            out.append(Path(entry.path))


def _listed(folder: Path) -> list[Path]:
    try:
        return [
            Path(e.path)
            for e in os.scandir(folder)
            if e.name.endswith(".py") and not e.name.startswith(".") and e.is_file()
        ]
    except OSError:
        return []


def signature(files: Iterable[Path]) -> Signature:
    """(mtime, size) of each file that exists."""
    sig: Signature = {}
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        sig[str(path)] = (st.st_mtime_ns, st.st_size)
    return sig


def changed_files(before: Signature, after: Signature) -> list[str]:
    """Paths added, removed or modified between two signatures, sorted."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


class FileWatcher:
    """Tells which locations' files changed since the previous poll."""

    def __init__(self, specs: Sequence[LocationSpec]) -> None:
        self._roots = {spec.name: watched_roots(spec, specs) for spec in specs}
        self._last = {name: self._scan(name) for name in self._roots}

    def _scan(self, name: str) -> Signature:
        files, trees, folders, excluded = self._roots[name]
        found: list[Path] = list(files)
        for tree in trees:
            _walk(tree, found)
        for folder in folders:
            found += [p for p in _listed(folder) if p not in excluded]
        return signature(dict.fromkeys(found))

    def watched(self, name: str) -> list[str]:
        """The files `name` watches now (sorted)."""
        return sorted(self._last[name])

    def poll(self) -> dict[str, list[str]]:
        """Location -> the files that changed since the last poll (only locations with any)."""
        changes: dict[str, list[str]] = {}
        for name in self._roots:
            now = self._scan(name)
            diff = changed_files(self._last[name], now)
            self._last[name] = now
            if diff:
                changes[name] = diff
        return changes


class ReloadListener:
    """`LocationReloadRequested` events made at or after `since`, as they arrive.

    Reads the definitions topic (one partition) from its start in assign mode, and keeps
    the requests made since this `dev` started (earlier ones were for an earlier session).
    Each request is returned once, by event id.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        since: datetime,
        broker_kind: Literal["kafka", "tansu"] | None,
    ) -> None:
        from conflux.events import EventConsumer

        self._since = since
        self._seen: set[str] = set()
        self._consumer: EventConsumer = EventConsumer(
            bootstrap,
            topics,
            [topics.definitions],
            client_id="conflux-dev-supervisor",
            broker_kind=broker_kind,
        )

    def poll(self) -> list[LocationReloadRequested]:
        """The new requests (without waiting)."""
        from conflux.events import LocationReloadRequested

        found: list[LocationReloadRequested] = []
        while True:
            records = self._consumer.poll(timeout=0, max_records=1000)
            for record in records:
                event = record.event
                if (
                    isinstance(event, LocationReloadRequested)
                    and event.time >= self._since
                    and event.event_id not in self._seen
                ):
                    self._seen.add(event.event_id)
                    found.append(event)
            if len(records) < 1000:
                return found

    def close(self) -> None:
        """Release the consumer."""
        self._consumer.close()


class SelfReload:
    """A standalone worker's ear for `conflux locations reload NAME`.

    `conflux dev` restarts the workers it supervises; a worker started on its own
    (`conflux worker`) watches the log for a reload of its location made after it started
    and then stops gracefully (in-flight work finishes or is retried), so that its caller
    can start it again (the `worker` command re-executes the process) with the new code.
    """

    POLL_S = 0.5

    def __init__(
        self,
        listener: ReloadListener,
        location: str,
        stop: threading.Event,
    ) -> None:
        self._listener = listener
        self._location = location
        self._stop = stop
        self.requested: LocationReloadRequested | None = None
        """The request that stopped the worker (None: stopped for another reason)."""
        self._thread = threading.Thread(target=self._run, name="conflux-reload", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.POLL_S):
            for request in self._listener.poll():
                if request.location == self._location:
                    self.requested = request
                    self._stop.set()
                    return

    def close(self) -> None:
        """Stop listening and release the consumer."""
        self._thread.join(timeout=5)
        self._listener.close()
