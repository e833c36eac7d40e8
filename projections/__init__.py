"""Projections: folds of the log shared by the coordinator and every reader.

Each projection's `apply(event)` is idempotent and order-tolerant within what the topic
catalog guarantees; state is always rebuildable by replaying the log (rule 4).
"""

from __future__ import annotations

from conflux.projections._asset_state import (
    AssetStateProjection,
    LastAttempt,
    MaterializationRef,
    PartitionState,
    PartitionStatus,
)
from conflux.projections._definitions import DefinitionsProjection, LocationState

__all__ = [
    # folds
    "AssetStateProjection",
    "DefinitionsProjection",
    # state records
    "LastAttempt",
    "LocationState",
    "MaterializationRef",
    "PartitionState",
    "PartitionStatus",
]
