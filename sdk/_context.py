"""The execution context an asset function receives when it asks for one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conflux.events import ConfluxError

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping

    from conflux.sdk._checks import AssetCheckKey
    from conflux.sdk._keys import AssetKey
    from conflux.sdk.partitions import (
        MultiPartitionKey,
        PartitionKeyRange,
        PartitionsDefinition,
        TimeWindow,
    )


class ContextError(ConfluxError):
    """An asset asked the context for something its run does not have."""


@dataclass(frozen=True)
class RunView:
    """The run an execution belongs to, as `context.run` shows it (Dagster's `DagsterRun`).

    Only what a run is in Conflux: its id, config and tags (its events are in the log).
    """

    run_id: str
    run_config: Mapping[str, Any]
    tags: Mapping[str, str]


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
    input_partitions: Callable[[str], tuple[PartitionsDefinition | None, list[str]]] | None = None
    """Input name -> (upstream definition, the upstream keys this call reads); set by the
    executor for the `*_for_input` methods (see `sdk/_input_partitions.py`)."""
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
    def selected_asset_check_keys(self) -> set[AssetCheckKey]:
        """Checks to evaluate: every check of the node (see `AssetCheckSpec.key`)."""
        return set(self._check_keys)

    _check_keys: tuple[AssetCheckKey, ...] = ()

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
    def run(self) -> RunView:
        """The run this execution belongs to (Dagster's `context.run`: id, config, tags)."""
        return RunView(self.run_id, dict(self.run_config or {}), dict(self.run_tags))

    @property
    def dagster_run(self) -> RunView:
        """Dagster's older name for `run`."""
        return self.run

    @property
    def instance(self) -> Any:
        """None: Conflux has no Dagster instance, the event log is the state.

        (A check's context answers `get_latest_materialization_event` for its asset.)
        """
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
        key = self.partition_key if self.partition_key_or_none is not None else None
        key = self._single_key("partition_key_range") if key is None else key
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
    def multi_partition_key(self) -> MultiPartitionKey:
        """The partition of a multi-partitioned asset, as a `MultiPartitionKey`.

        Raises:
            ContextError: the asset is not multi-partitioned, or the call is for a range.
        """
        from conflux.sdk.partitions import MultiPartitionKey

        key = self.partition_key
        if not isinstance(key, MultiPartitionKey):
            raise ContextError(
                f"{self.asset_key} is not multi-partitioned, so it has no multi_partition_key: "
                "use context.partition_key"
            )
        return key

    def _for_input(self, input_name: str) -> tuple[PartitionsDefinition, list[str]]:
        if self.input_partitions is None:
            raise ContextError(
                "this context has no inputs to ask about: *_for_input needs a context built by "
                "the executor (materialize, a worker)"
            )
        up_def, keys = self.input_partitions(input_name)
        if up_def is None:
            raise ContextError(
                f"input {input_name!r} of {self.asset_key} is not partitioned: it has no "
                "partition keys"
            )
        return up_def, keys

    def asset_partitions_def_for_input(self, input_name: str) -> PartitionsDefinition:
        """The partitions definition of the upstream asset behind `input_name`."""
        return self._for_input(input_name)[0]

    def asset_partition_keys_for_input(self, input_name: str) -> list[str]:
        """The upstream partitions this call reads through `input_name`, in upstream order.

        Read from the partition mapping, whether or not they hold values (as in Dagster).
        """
        from conflux.sdk.partitions import MultiPartitionsDefinition

        up_def, keys = self._for_input(input_name)
        if isinstance(up_def, MultiPartitionsDefinition):
            return [up_def.get_partition_key_from_str(k) for k in keys]
        return keys

    def asset_partition_key_range_for_input(self, input_name: str) -> PartitionKeyRange:
        """The first and last upstream partition this call reads through `input_name`.

        Raises:
            ContextError: the mapping reads no upstream partition.
        """
        from conflux.sdk.partitions import PartitionKeyRange

        keys = self.asset_partition_keys_for_input(input_name)
        if not keys:
            raise ContextError(
                f"{self.asset_key} reads no partition of input {input_name!r} for this call"
            )
        return PartitionKeyRange(keys[0], keys[-1])

    def asset_partition_key_for_input(self, input_name: str) -> str:
        """The one upstream partition this call reads through `input_name`.

        Raises:
            ContextError: it reads none, or several (use `asset_partition_keys_for_input`).
        """
        key_range = self.asset_partition_key_range_for_input(input_name)
        if key_range.start != key_range.end:
            raise ContextError(
                f"{self.asset_key} reads several partitions of input {input_name!r} "
                f"({key_range.start}..{key_range.end}): use asset_partition_keys_for_input"
            )
        return key_range.start

    def asset_partitions_time_window_for_input(self, input_name: str) -> TimeWindow:
        """From the start of the first upstream window this call reads to the end of the last.

        Raises:
            ContextError: the upstream is not partitioned by time, or nothing is read.
        """
        from conflux.sdk.partitions import TimeWindow, TimeWindowPartitionsDefinition

        up_def = self.asset_partitions_def_for_input(input_name)
        if not isinstance(up_def, TimeWindowPartitionsDefinition):
            raise ContextError(f"input {input_name!r} is not partitioned by time")
        key_range = self.asset_partition_key_range_for_input(input_name)
        first = up_def.time_window_for_partition_key(key_range.start)
        last = up_def.time_window_for_partition_key(key_range.end)
        return TimeWindow(first.start, last.end)

    @property
    def retry_number(self) -> int:
        """0 on the first attempt, 1 on the first retry, ..."""
        return self.attempt - 1

    def add_output_metadata(
        self, metadata: dict[str, object], output_name: str | None = None
    ) -> None:
        """Attach metadata to the materialization event of an output."""
        self._metadata.setdefault(output_name or "", {}).update(metadata)
