"""The execution context an asset function receives when it asks for one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import ConfluxError

if TYPE_CHECKING:
    import logging

    from conflux.sdk._keys import AssetKey
    from conflux.sdk.partitions import PartitionsDefinition, TimeWindow


class ContextError(ConfluxError):
    """An asset asked the context for something its run does not have."""


@dataclass
class AssetExecutionContext:
    """What one execution of an asset partition knows about itself.

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

    @property
    def asset_key(self) -> AssetKey:
        """The key of the asset being materialized (the first, for a multi_asset)."""
        return self.asset_keys[0]

    @property
    def has_partition_key(self) -> bool:
        """True when the asset is partitioned."""
        return self.partition_key_or_none is not None

    @property
    def partition_key(self) -> str:
        """The partition being materialized.

        For a multi-partitioned asset it is a `MultiPartitionKey` (a `str` equal to the
        joined key), so `context.partition_key.keys_by_dimension["region"]` works, as in
        Dagster.

        Raises:
            ContextError: the asset is not partitioned.
        """
        from conflux.sdk.partitions import MultiPartitionsDefinition

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

        Raises:
            ContextError: the asset is not partitioned by time.
        """
        from conflux.sdk.partitions import TimeWindowPartitionsDefinition

        if not isinstance(self.partitions_def, TimeWindowPartitionsDefinition):
            raise ContextError(
                f"{self.asset_key} is not partitioned by time, so it has no "
                "partition_time_window: use a Daily/Hourly/...PartitionsDefinition"
            )
        return self.partitions_def.time_window_for_partition_key(self.partition_key)

    @property
    def retry_number(self) -> int:
        """0 on the first attempt, 1 on the first retry, ..."""
        return self.attempt - 1

    def add_output_metadata(
        self, metadata: dict[str, object], output_name: str | None = None
    ) -> None:
        """Attach metadata to the materialization event of an output."""
        self._metadata.setdefault(output_name or "", {}).update(metadata)
