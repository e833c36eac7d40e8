"""Checkpoints: a folded state with the offsets it has applied (rule 5), in a file.

The coordinator checkpoints its state and the projector its read model, so that a restart
loads the state and reads the log from its offsets instead of from zero: restart time no
longer grows with the log, and old records may leave the log (retention). A checkpoint is
a cache of a fold, never a source of truth: it is refused (the caller then rebuilds) when
it is missing, unreadable, of another kind, written by other code (a fingerprint of the
modules whose objects it holds) or for another topic prefix. It is written atomically (a
temporary file, then a rename), so a crash leaves the previous one.

The format is pickle: the state is Conflux's own objects, written and read only by the
process that owns its state folder (the trust of the code that runs it), and pickle is the
fastest way to dump a million folded partitions (the asset state pickles as a few buffers).
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
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from pathlib import Path

_log = logging.getLogger("conflux.checkpoint")

FORMAT = 2
_PACKAGES = ("conflux.coordinator", "conflux.projections", "conflux.events", "conflux.sdk")

S = TypeVar("S")


@dataclass
class Checkpoint(Generic[S]):
    """A folded state and, per (topic, partition), the next offset to read."""

    state: S
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


def _header(kind: str, prefix: str) -> dict[str, object]:
    return {"format": FORMAT, "kind": kind, "code": code_fingerprint(), "prefix": prefix}


def save_checkpoint(path: Path, checkpoint: Checkpoint[S], *, kind: str, prefix: str) -> float:
    """Write `checkpoint` (a state of `kind`) atomically to `path`; return the seconds it took."""
    started = time.monotonic()
    path.parent.mkdir(parents=True, exist_ok=True)
    # One temporary file per process: processes sharing a state folder (a standby
    # coordinator and the leader on one machine) each write whole checkpoints, the last
    # rename wins.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        pickle.dump(_header(kind, prefix), f, protocol=pickle.HIGHEST_PROTOCOL)
        paused = gc.isenabled()
        gc.disable()  # dumping allocates many small tuples: no need to scan the state
        try:
            pickle.dump(checkpoint, f, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            if paused:
                gc.enable()
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    return time.monotonic() - started


def load_checkpoint(
    path: Path, *, kind: str, prefix: str, state_type: type[S]
) -> Checkpoint[S] | None:
    """The checkpoint at `path`, or None (with the reason logged) when it cannot be used.

    Args:
        path: the file.
        kind: what it must hold (the name it was saved with).
        prefix: the topic prefix it must be for.
        state_type: the class its state must be.
    """
    try:
        with path.open("rb") as f:
            header = pickle.load(f)  # our own file: see the module doc
            if header != _header(kind, prefix):
                _log.info("checkpoint %s is from other code, topics or kind: rebuilding", path)
                return None
            # A million objects at once: the cyclic GC would rescan them again and again
            # while they load (a third of the load time), and at every later collection.
            paused = gc.isenabled()
            gc.disable()
            try:
                checkpoint = pickle.load(f)
            finally:
                if paused:
                    gc.enable()
            gc.freeze()
    except FileNotFoundError:
        return None
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError,
            ValueError, KeyError, IndexError) as exc:  # fmt: skip
        _log.warning("checkpoint %s is unreadable (%s): rebuilding", path, exc)
        return None
    if not isinstance(checkpoint, Checkpoint) or not isinstance(checkpoint.state, state_type):
        _log.warning("checkpoint %s holds no %s checkpoint: rebuilding", path, kind)
        return None
    return checkpoint
