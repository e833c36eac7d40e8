"""Lineage answers from the archive, for the query API (`/lineage`).

The archive is written by the projector's sink in batches; a question asked right after
a run completed waits (briefly) until what the projector had read is stored, so that
`materialize --wait` followed by `lineage` sees the run's materializations.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from conflux.projections.api import LineageAnswer, LineageRoot, NotFoundError
from conflux.projections.archive import MaterializationRecord

if TYPE_CHECKING:
    from collections.abc import Callable

    from conflux.projections.archive import ArchiveStore, Direction
    from conflux.projections.projector._read_model import ReadModel

ARCHIVE_WAIT_S = 3.0
"""Longest wait for the archive to store what the projector has read before answering."""


class LineageService:
    """Answers lineage questions from an `ArchiveStore`, checked against the read model.

    Args:
        store: the archive (shared with the projector's sink; its calls are serialized).
        model: names assets and partitions (unknown ones are refused with a hint).
        settle: waits up to the given seconds until everything read so far is archived;
            returns whether it is.
    """

    def __init__(
        self,
        store: ArchiveStore,
        model: ReadModel,
        settle: Callable[[float], bool] = lambda _: True,
    ) -> None:
        self.store = store
        self.model = model
        self._settle = settle

    def answer(
        self,
        asset_key: str,
        partition_key: str | None = None,
        *,
        direction: Direction = "upstream",
        depth: int = 5,
        event_id: str | None = None,
    ) -> LineageAnswer:
        """The lineage of `event_id`, or of the latest materialization of the asset partition.

        Raises:
            SelectionError: the asset is not defined.
            DefinitionError: the partition does not fit the asset (or is missing).
            NotFoundError: nothing of it is archived (yet).
            ValueError: `depth` is outside 1..32.
        """
        self.model.validate_partition(asset_key, partition_key)
        self._settle(ARCHIVE_WAIT_S)
        where = asset_key + (f"[{partition_key}]" if partition_key is not None else "")
        if event_id is not None:
            found = self.store.materialization(event_id)
            if found is None or found.asset_key != asset_key:
                raise NotFoundError(f"no materialization {event_id!r} of {where} is archived")
        else:
            latest = self._latest(asset_key, partition_key)
            if latest is None:
                raise NotFoundError(
                    f"{where} has no archived materialization: materialize it first "
                    f"(`conflux materialize {asset_key}`)"
                )
            found = latest
        edges = self.store.lineage(found.event_id, direction=direction, depth=depth)
        return LineageAnswer(
            root=LineageRoot.model_validate(asdict(found)),
            direction=direction,
            depth=depth,
            links=edges,
        )

    def _latest(self, asset_key: str, partition_key: str | None) -> MaterializationRecord | None:
        """The partition's newest materialization: the read model's, else the archive's.

        The read model holds it in memory (no read of `materializations`, ~10 ms); the
        archive answers what the model does not know (a model rebuilt without it).
        """
        with self.model.lock:
            state = self.model.asset_state.get(asset_key, partition_key)
        ref = state.materialized if state is not None else None
        if ref is None:
            return self.store.latest_materialization(asset_key, partition_key)
        return MaterializationRecord(
            asset_key=asset_key,
            partition_key=partition_key,
            data_version=ref.data_version,
            event_id=ref.event_id,
            time=ref.time,
            run_id=ref.run_id,
            source=ref.source,
        )
