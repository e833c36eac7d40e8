"""Coordinator checkpoints: its folded state with the offsets it has applied (rule 5).

A restart loads the checkpoint and reads the log from its offsets instead of from zero, so
restart time no longer grows with the log. The file format, and when a checkpoint is
refused (unreadable, other code, other topics: the log is then replayed from zero), are
the shared ones of `conflux.projections.folds.save_checkpoint` (the projector checkpoints
its read model the same way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux.coordinator._state import CoordinatorState
from conflux.projections.folds import (
    Checkpoint as _Checkpoint,
    code_fingerprint,
    load_checkpoint as _load,
    save_checkpoint as _save,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Checkpoint", "code_fingerprint", "load_checkpoint", "save_checkpoint"]

KIND = "coordinator"

Checkpoint = _Checkpoint[CoordinatorState]
"""A coordinator state and, per (topic, partition), the next offset to read."""


def save_checkpoint(path: Path, checkpoint: Checkpoint, *, prefix: str) -> float:
    """Write `checkpoint` atomically to `path`; return the seconds it took."""
    return _save(path, checkpoint, kind=KIND, prefix=prefix)


def load_checkpoint(path: Path, *, prefix: str) -> Checkpoint | None:
    """The checkpoint at `path`, or None (with the reason logged) when it cannot be used."""
    return _load(path, kind=KIND, prefix=prefix, state_type=CoordinatorState)
