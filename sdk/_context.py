"""The execution context an asset function receives when it asks for one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conflux.events import ConfluxError

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

    from conflux.sdk._keys import AssetKey
    from conflux.sdk.partitions import PartitionKeyRange, PartitionsDefinition, TimeWindow


class ContextError(ConfluxError):
    """An asset asked the context for something its run does not have."""


@dataclass
class AssetExecutionContext:
    """What one execution of an asset partition knows about itself.

    An asset with a `BackfillPolicy` may be called once for several consecutive partitions:
    then `partition_key_range` and `partition_keys` say which, `partition_time_window` spans
    them all, and `partition_key` raises (there is no single key), as in Dagster.

    Example:
        >>> @asset(partitions_def=DailyPartitionsDefinition(start_date="2024-01-01"))
        ... def events(context: AssetExecutionContext) -> int:
        ...     window = context.partition_time_window
        ...     context.log.info("loading %s..%s", window.start, window.end)
        ...     return count_events(window.start, window.end)
    """

    run_id: str
    asset_keys: tuple[AssetKey, ...]
    partition_key_or_none: str | None
    partitions_def: PartitionsDefinition | None
    log: logging.Logger
    attempt: int = 1
    _metadata: dict[str, dict[str, object]] = field(default_factory=dict)
    range_keys: tuple[str, ...] | None = None
    """For a call over a range of partitions: its keys, in order (None: one partition)."""
    op_config: Any = None
    """The node's config as a dict (Dagster's `context.op_config`, for `config_schema=`)."""
    resources: Any = None
    """The location's resources by attribute: `context.resources.warehouse`."""
    run_config: Mapping[str, Any] | None = None
    """The run's whole config (Dagster's `context.run_config`)."""
    output_names: tuple[str, ...] = ()
    """The names of the node's outputs (`selected_output_names`: all, Conflux runs whole nodes)."""
    run_tags: Mapping[str, str] = field(default_factory=dict)
    """The run's tags (Dagster's `context.run_tags`)."""
    node_name: str = ""
    """The node (function, or `name=`) being executed (Dagster's `op.name`)."""

    @property
    def selected_output_names(self) -> set[str]:
        """Outputs to compute: every output (Conflux does not run part of a node)."""
        return set(self.output_names or ("result",))

    @property
    def selected_asset_keys(self) -> set[AssetKey]:
        """Assets to compute: every asset of the node."""
        return set(self.asset_keys)

    @property
    def selected_asset_check_keys(self) -> set[object]:
        """Checks to evaluate: every check of the node (see `AssetCheckSpec.key`)."""
        return set(self._check_keys)

    _check_keys: tuple[object, ...] = ()

    def asset_key_for_output(self, output_name: str = "result") -> AssetKey:
        """The asset an output stores (the first asset for `result`)."""
        if output_name in self.output_names:
            return self.asset_keys[self.output_names.index(output_name)]
        return self.asset_key

    def asset_partition_key_for_output(self, output_name: str = "result") -> str:
        """The partition being materialized (Dagster's per-output name)."""
        return self.partition_key

    def output_for_asset_key(self, asset_key: AssetKey) -> str:
        """The output name that stores `asset_key`."""
        index = self.asset_keys.index(asset_key)
        return self.output_names[index] if self.output_names else "result"

    def log_event(self, event: object) -> None:
        """Accepted for Dagster compatibility; the event is logged, not recorded."""
        self.log.info("event: %r", event)

    @property
    def instance(self) -> None:
        """Conflux has no Dagster instance; the event log is the state."""
        return None

    @property
    def has_assets_def(self) -> bool:
        """True: the context belongs to an asset."""
        return bool(self.asset_keys)

    @property
    def asset_key(self) -> AssetKey:
        """The key of the asset being materialized (the first, for a multi_asset)."""
        if not self.asset_keys:
            raise ContextError(
                "this context is not bound to an asset yet: pass it to the asset function "
                "(my_asset(context)), which binds it"
            )
        return self.asset_keys[0]

    @property
    def has_partition_key(self) -> bool:
        """True when the call is for one partition (False when unpartitioned or a range)."""
        return self.partition_key_or_none is not None

    @property
    def has_partition_key_range(self) -> bool:
        """True when the call is for partitions: one (a range of one key) or a range."""
        return self.partition_key_or_none is not None or self.range_keys is not None

    @property
    def partition_key_range(self) -> PartitionKeyRange:
        """The first and last key of the partitions being materialized (both included).

        `(key, key)` for a single partition.

        Raises:
            ContextError: the asset is not partitioned.
        """
        from conflux.sdk.partitions import PartitionKeyRange

        if self.range_keys is not None:
            return PartitionKeyRange(self.range_keys[0], self.range_keys[-1])
        key = self._single_key("partition_key_range")
        return PartitionKeyRange(key, key)

    @property
    def partition_keys(self) -> list[str]:
        """Every partition being materialized, in key order (one for a single partition).

        Raises:
            ContextError: the asset is not partitioned.
        """
        if self.range_keys is not None:
            return list(self.range_keys)
        return [self._single_key("partition_keys")]

    def _single_key(self, what: str) -> str:
        if self.partition_key_or_none is None:
            raise ContextError(
                f"{self.asset_key} is not partitioned, so it has no {what}: "
                "give it a partitions_def, or check context.has_partition_key_range"
            )
        return self.partition_key_or_none

    @property
    def partition_key(self) -> str:
        """The partition being materialized.

        For a multi-partitioned asset it is a `MultiPartitionKey` (a `str` equal to the
        joined key), so `context.partition_key.keys_by_dimension["region"]` works, as in
        Dagster.

        Raises:
            ContextError: the asset is not partitioned, or the call is for a range of
                partitions (use `partition_key_range` or `partition_keys`).
        """
        from conflux.sdk.partitions import MultiPartitionsDefinition

        if self.range_keys is not None:
            raise ContextError(
                f"{self.asset_key} is materializing {len(self.range_keys)} partitions at once "
                f"({self.range_keys[0]}..{self.range_keys[-1]}, its BackfillPolicy), so there is "
                "no single partition_key: use context.partition_key_range or "
                "context.partition_keys (context.has_partition_key tells the two cases apart)"
            )
        if self.partition_key_or_none is None:
            raise ContextError(
                f"{self.asset_key} is not partitioned, so it has no partition_key: "
                "give it a partitions_def, or check context.has_partition_key"
            )
        if isinstance(self.partitions_def, MultiPartitionsDefinition):
            return self.partitions_def.get_partition_key_from_str(self.partition_key_or_none)
        return self.partition_key_or_none

    @property
    def partition_time_window(self) -> TimeWindow:
        """The time window of a time-partitioned asset's partition.

        For a range of partitions: from the start of the first one's window to the end of
        the last one's.

        Raises:
            ContextError: the asset is not partitioned by time.
        """
        from conflux.sdk.partitions import TimeWindow, TimeWindowPartitionsDefinition

        if not isinstance(self.partitions_def, TimeWindowPartitionsDefinition):
            raise ContextError(
                f"{self.asset_key} is not partitioned by time, so it has no "
                "partition_time_window: use a Daily/Hourly/...PartitionsDefinition"
            )
        pdef = self.partitions_def
        if self.range_keys is not None:
            first = pdef.time_window_for_partition_key(self.range_keys[0])
            last = pdef.time_window_for_partition_key(self.range_keys[-1])
            return TimeWindow(first.start, last.end)
        return pdef.time_window_for_partition_key(self.partition_key)

    @property
    def retry_number(self) -> int:
        """0 on the first attempt, 1 on the first retry, ..."""
        return self.attempt - 1

    def add_output_metadata(
        self, metadata: dict[str, object], output_name: str | None = None
    ) -> None:
        """Attach metadata to the materialization event of an output."""
        self._metadata.setdefault(output_name or "", {}).update(metadata)
