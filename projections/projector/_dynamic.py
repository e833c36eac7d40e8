"""Dynamic partitions on the read side: the key sets the query API serves.

The keys are folded by `DefinitionsProjection` (from `DynamicPartitionsAdded` and
`DynamicPartitionsDeleted` on the definitions topic); this module answers
`/partitions` and `/partitions/<name>` from it, and keeps the partition counts of a
dynamic asset to its current keys: a removed key's history stays in the log and the
archive, but status views describe the partition space as it is now.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, TypeVar

from conflux.projections.api import DynamicPartitionsKeys, DynamicPartitionsSummary, NotFoundError
from conflux.projections.folds import dynamic_names

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conflux.projections.folds import DefinitionsProjection
    from conflux.projections.projector._read_model import ReadModel

_S = TypeVar("_S")


def dynamic_partitions_summaries(model: ReadModel) -> list[DynamicPartitionsSummary]:
    """Every dynamic partitions name that an asset uses or that has keys, sorted."""
    with model.lock:
        graph = model.definitions
        users = graph.dynamic_partitions_users()
        names = sorted(set(users) | set(graph.dynamic_partitions))
        return [
            DynamicPartitionsSummary(
                name=name,
                count=len(graph.dynamic_partitions.get(name, ())),
                assets=users.get(name, []),
            )
            for name in names
        ]


def dynamic_partitions_keys(model: ReadModel, name: str) -> DynamicPartitionsKeys:
    """The current keys of dynamic partitions `name`, in order of addition.

    Raises:
        NotFoundError: no asset uses `name` and no key was ever added to it.
    """
    with model.lock:
        graph = model.definitions
        users = graph.dynamic_partitions_users()
        if name not in users and name not in graph.dynamic_partitions:
            known = sorted(set(users) | set(graph.dynamic_partitions))
            listed = f" (known: {', '.join(known)})" if known else " (none is known)"
            raise NotFoundError(
                f"no dynamic partitions {name!r}: no asset uses that name and no key was "
                f"added to it{listed}; check the name, or add keys with "
                f"`conflux partitions add {shlex.quote(name)} KEY...`"
            )
        keys = graph.get_dynamic_partitions(name)
        return DynamicPartitionsKeys(
            name=name, count=len(keys), assets=users.get(name, []), partition_keys=keys
        )


def current_states(
    graph: DefinitionsProjection, asset_key: str, states: Mapping[str | None, _S]
) -> Mapping[str | None, _S]:
    """`states` of an asset's partitions, without the removed keys of its dynamic partitions.

    Unchanged for an asset that does not use dynamic partitions (or is not defined).
    """
    asset = graph.assets.get(asset_key)
    if asset is None or not dynamic_names(asset.partitions):
        return states
    pdef = graph.partitions_def(asset_key)
    if pdef is None:  # pragma: no cover - a dynamic asset is partitioned
        return states
    return {k: v for k, v in states.items() if k is not None and pdef.has_partition_key(k)}
