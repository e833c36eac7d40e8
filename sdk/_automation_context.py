"""What a custom automation condition's `evaluate` gets and returns (Dagster's names).

A custom condition (`class IsHoliday(AutomationCondition): def evaluate(self, context)`)
is user code, so it runs in its location's worker, never in the coordinator: on each tick
of the location's automation condition sensor the worker calls `evaluate` for every asset
whose condition holds one, with the asset's partitions as `candidate_subset`, and reports
the partitions of the returned `true_subset` (`TickCompleted.condition_results`). The
coordinator then reads that value wherever the node sits in the condition's tree.

`EntitySubset` is the small part of Dagster's subset API that custom conditions use: the
partition keys of one asset, with set operations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from conflux.sdk._automation import AutomationCondition
    from conflux.sdk._keys import AssetKey
    from conflux.sdk.partitions import PartitionsDefinition


@dataclass(frozen=True)
class EntitySubset:
    """Some partitions of one asset (or, unpartitioned, the asset or nothing).

    Attributes:
        key: the asset.
        partition_keys: the partitions in the subset; for an unpartitioned asset `{None}`
            (the asset) or empty.
    """

    key: AssetKey
    partition_keys: frozenset[str | None] = frozenset()

    @property
    def is_empty(self) -> bool:
        """True when no partition is in the subset."""
        return not self.partition_keys

    @property
    def size(self) -> int:
        """How many partitions are in the subset."""
        return len(self.partition_keys)

    def expensively_compute_partition_keys(self) -> set[str]:
        """The partition keys in the subset (Dagster's name)."""
        return {k for k in self.partition_keys if k is not None}

    def get_internal_value(self) -> frozenset[str | None]:
        """The partition keys (or `{None}` for an unpartitioned asset)."""
        return self.partition_keys

    def compute_union(self, other: EntitySubset) -> EntitySubset:
        """Partitions in either subset."""
        return EntitySubset(self.key, self.partition_keys | other.partition_keys)

    def compute_intersection(self, other: EntitySubset) -> EntitySubset:
        """Partitions in both subsets."""
        return EntitySubset(self.key, self.partition_keys & other.partition_keys)

    def compute_difference(self, other: EntitySubset) -> EntitySubset:
        """Partitions in this subset and not in `other`."""
        return EntitySubset(self.key, self.partition_keys - other.partition_keys)

    def compute_intersection_with_partition_keys(self, keys: Iterable[str]) -> EntitySubset:
        """Partitions of this subset whose keys are in `keys`."""
        wanted = set(keys)
        return EntitySubset(self.key, frozenset(k for k in self.partition_keys if k in wanted))


@dataclass
class AutomationContext:
    """What a custom condition's `evaluate` receives (Dagster's `AutomationContext`).

    Attributes:
        condition: the condition being evaluated.
        key: the asset it is evaluated for.
        partitions_def: the asset's partitions (None: unpartitioned).
        candidate_subset: the partitions to decide (every partition of the asset, or the
            latest `FULL_EVALUATION_CAP`... of a very large one).
        evaluation_time: the tick's time.
        cursor: what the previous evaluation returned as `cursor` (None at first).
        log: a logger whose messages go to the worker's log.
    """

    condition: AutomationCondition
    key: AssetKey
    partitions_def: PartitionsDefinition | None
    candidate_subset: EntitySubset
    evaluation_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    cursor: str | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("conflux.automation"))

    @property
    def asset_key(self) -> AssetKey:
        """The asset the condition is evaluated for (same as `key`)."""
        return self.key

    @property
    def root_context(self) -> AutomationContext:
        """The context of the condition's root (custom conditions are roots of their own)."""
        return self

    @property
    def previous_true_subset(self) -> EntitySubset | None:
        """The previous evaluation's true subset; Conflux does not keep it (None)."""
        return None

    def get_empty_subset(self) -> EntitySubset:
        """No partition of the asset."""
        return EntitySubset(self.key)


class AutomationResult:
    """What a custom condition's `evaluate` returns (Dagster's `AutomationResult`).

    Args:
        context: the context `evaluate` received.
        true_subset: the candidate partitions for which the condition is true.
        cursor: a string handed back as `context.cursor` next time.
        child_results: accepted for Dagster compatibility (not used).

    Dagster's order is `(context, true_subset)`; `AutomationResult(true_subset,
    context=context)`, as some of Dagster's examples write it, is accepted too.
    """

    def __init__(
        self,
        *args: AutomationContext | EntitySubset,
        context: AutomationContext | None = None,
        true_subset: EntitySubset | None = None,
        cursor: str | None = None,
        child_results: Sequence[AutomationResult] | None = None,
        **_ignored: object,
    ) -> None:
        for arg in args:
            if isinstance(arg, AutomationContext) and context is None:
                context = arg
            elif isinstance(arg, EntitySubset) and true_subset is None:
                true_subset = arg
            else:
                context = None
                break
        if context is None or true_subset is None:
            raise TypeError(
                "AutomationResult(context, true_subset): pass the AutomationContext evaluate() "
                "received and an EntitySubset (e.g. context.candidate_subset)"
            )
        self.context = context
        self.true_subset = true_subset
        self.cursor = cursor
        self.child_results = tuple(child_results or ())

    @property
    def key(self) -> AssetKey:
        """The asset evaluated."""
        return self.true_subset.key
