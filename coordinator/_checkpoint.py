"""Coordinator checkpoints: the folded state with the offsets it has applied (rule 5).

A restart loads the checkpoint and reads the log from its offsets instead of from zero, so
restart time no longer grows with the log. A checkpoint is a cache of the fold, never a
source of truth: it is refused (and the log replayed from zero) when it is unreadable,
was written by other code (a fingerprint of the modules whose objects it holds), or for
another topic prefix. It is written atomically (a temporary file, then a rename).

The format is pickle: the state is Conflux's own objects, written and read only by the
coordinator in its own state folder (the trust of the code that runs it), and pickle is
the fastest way to dump a million folded partitions (see docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import gc
import hashlib
import logging
import os
import pickle
import time
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from conflux.coordinator._state import CoordinatorState

_log = logging.getLogger("conflux.coordinator.checkpoint")

FORMAT = 1
_PACKAGES = ("conflux.coordinator", "conflux.projections", "conflux.events", "conflux.sdk")


@dataclass
class Checkpoint:
    """A folded state and, per (topic, partition), the next offset to read."""

    state: CoordinatorState
    offsets: dict[tuple[str, int], int]
    applied: int
    """Events folded into `state` (for logs and benchmarks)."""


@functools.cache
def code_fingerprint() -> str:
    """A digest of the sources whose classes a checkpoint holds: other code, other state."""
    digest = hashlib.sha256()
    for package in _PACKAGES:
        for path in sorted(_sources(resources.files(package)), key=str):
            digest.update(str(path).rsplit("conflux", 1)[-1].encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _sources(folder: resources.abc.Traversable) -> list[resources.abc.Traversable]:
    found = []
    for entry in folder.iterdir():
        if entry.is_dir() and entry.name != "__pycache__":
            found += _sources(entry)
        elif entry.name.endswith(".py"):
            found.append(entry)
    return found


def save_checkpoint(path: Path, checkpoint: Checkpoint, *, prefix: str) -> float:
    """Write `checkpoint` atomically to `path`; return the seconds it took."""
    started = time.monotonic()
    header = {"format": FORMAT, "code": code_fingerprint(), "prefix": prefix}
    path.parent.mkdir(parents=True, exist_ok=True)
    # One temporary file per process: coordinators sharing a state folder (a standby and
    # the leader on one machine) each write whole checkpoints, the last rename wins.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        pickle.dump(header, f, protocol=pickle.HIGHEST_PROTOCOL)
        gc.disable()  # dumping allocates many small tuples: no need to scan the state
        try:
            pickle.dump(checkpoint, f, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            gc.enable()
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    return time.monotonic() - started


def load_checkpoint(path: Path, *, prefix: str) -> Checkpoint | None:
    """The checkpoint at `path`, or None (with the reason logged) when it cannot be used."""
    try:
        with path.open("rb") as f:
            header = pickle.load(f)  # our own file: see the module doc
            expected = {"format": FORMAT, "code": code_fingerprint(), "prefix": prefix}
            if header != expected:
                _log.info("checkpoint %s is from other code or topics: replaying the log", path)
                return None
            # A million objects at once: the cyclic GC would rescan them again and again
            # while they load (a third of the load time), and at every later collection.
            gc.disable()
            try:
                checkpoint = pickle.load(f)
            finally:
                gc.enable()
            gc.freeze()
    except FileNotFoundError:
        return None
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        _log.warning("checkpoint %s is unreadable (%s): replaying the log", path, exc)
        return None
    if not isinstance(checkpoint, Checkpoint):
        _log.warning("checkpoint %s holds no checkpoint: replaying the log", path)
        return None
    return checkpoint
