"""Where a projector starts: its checkpoint, else a rebuild from the archive, else the log.

The read model is a fold of the log (rule 4), and the archive holds every record the log
ever had, even those a retention has since deleted from the topics. So a projector loads
its checkpoint when it has a usable one; else, when the archive holds records, it folds
them into a fresh read model in the order they were archived (each topic partition in
its own order, as the log gives them), showing its progress; else it reads the log from
the beginning. Then it reads the log from where the read model and the archive both have
everything: per topic partition, the lower of the two positions (the read model skips
what it has applied, the archive's sink what it has stored).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from conflux.events import decode_event
from conflux.projections.folds import Checkpoint, load_checkpoint, save_checkpoint
from conflux.projections.projector._read_model import ReadModel

if TYPE_CHECKING:
    from pathlib import Path

    from conflux.projections.archive import ArchiveStore

_log = logging.getLogger("conflux.projector")

KIND = "read-model"
"""What a projector's checkpoint holds (see `conflux.projections.folds.save_checkpoint`)."""
CHUNK = 20_000
"""Archived records read per query while rebuilding."""

Progress = Callable[[int, int], None]
"""Called with (records folded, records to fold) as a rebuild goes."""


def load_read_model(path: Path, *, prefix: str) -> Checkpoint[ReadModel] | None:
    """The read model checkpointed at `path`, or None when there is none it can use."""
    return load_checkpoint(path, kind=KIND, prefix=prefix, state_type=ReadModel)


def save_read_model(path: Path, model: ReadModel, *, prefix: str) -> float:
    """Checkpoint `model` with its positions (under its lock); return the seconds it took."""
    with model.lock:
        checkpoint = Checkpoint(model, dict(model.positions), model.applied)
        return save_checkpoint(path, checkpoint, kind=KIND, prefix=prefix)


def rebuild_from_archive(
    store: ArchiveStore, model: ReadModel, *, progress: Progress | None = None
) -> int:
    """Fold every archived record into `model`, oldest first; return how many were folded.

    The model's positions end at the archive's own (where its sink resumes), so reading
    the log goes on from there.
    """
    [(total,)] = store.query("SELECT count() FROM events")
    total = int(str(total))
    if not total:
        return 0
    folded = 0
    after = 0
    shown = time.monotonic()
    paused = gc.isenabled()
    while True:
        chunk = store.query_arrow(
            "SELECT seq, topic, partition, offset, payload FROM events"
            " WHERE seq > {after:UInt64} ORDER BY seq LIMIT {n:UInt32}",
            {"after": after, "n": CHUNK},
        ).to_pydict()
        count = len(chunk["seq"])
        if not count:
            break
        gc.disable()  # events hold no cycles: as the coordinator's catch-up does
        try:
            for topic, partition, offset, payload in zip(
                chunk["topic"], chunk["partition"], chunk["offset"], chunk["payload"], strict=True
            ):
                event = decode_event(payload)
                model.apply(event, topic=topic, partition=partition, offset=offset)
        finally:
            if paused:
                gc.enable()
        folded += count
        after = chunk["seq"][-1]
        if progress is not None and time.monotonic() - shown >= 1.0:
            shown = time.monotonic()
            progress(folded, total)
    with model.lock:
        model.positions = store.resume_offsets()
    if progress is not None:
        progress(folded, max(total, folded))
    return folded


def start_offsets(
    model: ReadModel, archived: dict[tuple[str, int], int] | None
) -> dict[tuple[str, int], int] | None:
    """Where to read each topic partition from: what both the model and the archive hold.

    `archived` is the archive's next offset per topic partition (None: no archive). A
    topic partition that one of them has nothing of is read from its beginning.
    """
    applied = dict(model.positions)
    if archived is None:
        return applied or None
    every = set(applied) | set(archived)
    return {tp: min(applied.get(tp, 0), archived.get(tp, 0)) for tp in every} or None
