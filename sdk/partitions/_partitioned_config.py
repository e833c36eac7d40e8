"""Dagster's partitioned configs: run config computed from a partition (and its definition).

`@daily_partitioned_config(start_date=...)` turns `fn(start, end) -> dict` into a
`PartitionedConfig` that carries a `DailyPartitionsDefinition`; `@static_partitioned_config`
and `@partitioned_config` take `fn(partition_key) -> dict`. The definition is what most code
reads (`my_config.partitions_def`); `get_run_config_for_partition_key` is the config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux.sdk.partitions._calendar import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from conflux.sdk.partitions._static import StaticPartitionsDefinition

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime

    from conflux.sdk.partitions._base import PartitionsDefinition
    from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition

RunConfig = dict[str, object]


class PartitionedConfig:
    """A partitions definition and the run config of each of its partitions (Dagster's class).

    Args:
        partitions_def: the partitions.
        run_config_for_partition_key_fn: the config of one partition, from its key.
        tags_for_partition_key_fn: extra run tags of one partition, from its key.
    """

    def __init__(
        self,
        partitions_def: PartitionsDefinition,
        run_config_for_partition_key_fn: Callable[[str], Mapping[str, object]] | None = None,
        tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
        decorated_fn: Callable[..., Mapping[str, object]] | None = None,
    ) -> None:
        self._partitions_def = partitions_def
        self._config_fn = run_config_for_partition_key_fn
        self._tags_fn = tags_for_partition_key_fn
        self._decorated = decorated_fn

    @property
    def partitions_def(self) -> PartitionsDefinition:
        """The partitions the config is defined over."""
        return self._partitions_def

    def get_run_config_for_partition_key(self, partition_key: str) -> RunConfig:
        """The run config of `partition_key` (empty without a config function)."""
        return dict(self._config_fn(partition_key)) if self._config_fn else {}

    def get_tags_for_partition_key(self, partition_key: str) -> dict[str, str]:
        """The run tags of `partition_key`: its key, and the tags function's."""
        tags = {"dagster/partition": partition_key}
        if self._tags_fn is not None:
            tags.update(self._tags_fn(partition_key))
        return tags

    def __call__(self, *args: object, **kwargs: object) -> Mapping[str, object]:
        """Call the decorated function directly (as a test would)."""
        if self._decorated is None:
            raise TypeError("this PartitionedConfig was not made by a decorator")
        return self._decorated(*args, **kwargs)


def partitioned_config(
    partitions_def: PartitionsDefinition,
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[str], Mapping[str, object]]], PartitionedConfig]:
    """Decorate `fn(partition_key) -> run config` into a `PartitionedConfig` of `partitions_def`."""

    def wrap(fn: Callable[[str], Mapping[str, object]]) -> PartitionedConfig:
        return PartitionedConfig(partitions_def, fn, tags_for_partition_key_fn, fn)

    return wrap


def static_partitioned_config(
    partition_keys: Sequence[str],
    tags_for_partition_fn: Callable[[str], Mapping[str, str]] | None = None,
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[str], Mapping[str, object]]], PartitionedConfig]:
    """Decorate `fn(partition_key) -> run config` over a `StaticPartitionsDefinition`.

    Example:
        >>> @static_partitioned_config(["eu", "us"])
        ... def region_config(partition_key: str) -> dict:
        ...     return {"ops": {"load": {"config": {"region": partition_key}}}}
        >>> region_config.get_run_config_for_partition_key("eu")
        {'ops': {'load': {'config': {'region': 'eu'}}}}
    """
    return partitioned_config(
        StaticPartitionsDefinition(partition_keys),
        tags_for_partition_key_fn or tags_for_partition_fn,
    )


def _time_config(
    partitions_def: TimeWindowPartitionsDefinition,
    tags_for_partition_fn: Callable[[datetime, datetime], Mapping[str, str]] | None,
) -> Callable[[Callable[[datetime, datetime], Mapping[str, object]]], PartitionedConfig]:
    def wrap(fn: Callable[[datetime, datetime], Mapping[str, object]]) -> PartitionedConfig:
        def config(key: str) -> Mapping[str, object]:
            window = partitions_def.time_window_for_partition_key(key)
            return fn(window.start, window.end)

        def tags(key: str) -> Mapping[str, str]:
            window = partitions_def.time_window_for_partition_key(key)
            assert tags_for_partition_fn is not None
            return tags_for_partition_fn(window.start, window.end)

        return PartitionedConfig(
            partitions_def, config, tags if tags_for_partition_fn else None, fn
        )

    return wrap


def hourly_partitioned_config(
    start_date: str | datetime,
    minute_offset: int = 0,
    timezone: str | None = None,
    fmt: str | None = None,
    end_offset: int = 0,
    tags_for_partition_fn: Callable[[datetime, datetime], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[datetime, datetime], Mapping[str, object]]], PartitionedConfig]:
    """Decorate `fn(start, end) -> run config` over `HourlyPartitionsDefinition(...)`."""
    return _time_config(
        HourlyPartitionsDefinition(
            start_date,
            minute_offset=minute_offset,
            timezone=timezone,
            fmt=fmt,
            end_offset=end_offset,
        ),
        tags_for_partition_fn,
    )


def daily_partitioned_config(
    start_date: str | datetime,
    minute_offset: int = 0,
    hour_offset: int = 0,
    timezone: str | None = None,
    fmt: str | None = None,
    end_offset: int = 0,
    tags_for_partition_fn: Callable[[datetime, datetime], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[datetime, datetime], Mapping[str, object]]], PartitionedConfig]:
    """Decorate `fn(start, end) -> run config` over `DailyPartitionsDefinition(...)`.

    Example:
        >>> @daily_partitioned_config(start_date="2024-01-01")
        ... def day_config(start, end) -> dict:
        ...     return {"ops": {"load": {"config": {"day": start.strftime("%Y-%m-%d")}}}}
        >>> day_config.partitions_def == DailyPartitionsDefinition(start_date="2024-01-01")
        True
    """
    return _time_config(
        DailyPartitionsDefinition(
            start_date,
            minute_offset=minute_offset,
            hour_offset=hour_offset,
            timezone=timezone,
            fmt=fmt,
            end_offset=end_offset,
        ),
        tags_for_partition_fn,
    )


def weekly_partitioned_config(
    start_date: str | datetime,
    minute_offset: int = 0,
    hour_offset: int = 0,
    day_offset: int = 0,
    timezone: str | None = None,
    fmt: str | None = None,
    end_offset: int = 0,
    tags_for_partition_fn: Callable[[datetime, datetime], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[datetime, datetime], Mapping[str, object]]], PartitionedConfig]:
    """Decorate `fn(start, end) -> run config` over `WeeklyPartitionsDefinition(...)`."""
    return _time_config(
        WeeklyPartitionsDefinition(
            start_date,
            minute_offset=minute_offset,
            hour_offset=hour_offset,
            day_offset=day_offset,
            timezone=timezone,
            fmt=fmt,
            end_offset=end_offset,
        ),
        tags_for_partition_fn,
    )


def monthly_partitioned_config(
    start_date: str | datetime,
    minute_offset: int = 0,
    hour_offset: int = 0,
    day_offset: int = 1,
    timezone: str | None = None,
    fmt: str | None = None,
    end_offset: int = 0,
    tags_for_partition_fn: Callable[[datetime, datetime], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[datetime, datetime], Mapping[str, object]]], PartitionedConfig]:
    """Decorate `fn(start, end) -> run config` over `MonthlyPartitionsDefinition(...)`."""
    return _time_config(
        MonthlyPartitionsDefinition(
            start_date,
            minute_offset=minute_offset,
            hour_offset=hour_offset,
            day_offset=day_offset,
            timezone=timezone,
            fmt=fmt,
            end_offset=end_offset,
        ),
        tags_for_partition_fn,
    )
