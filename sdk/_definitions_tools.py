"""Helpers Dagster users write around their definitions.

`@definitions` (a function that returns the location's `Definitions`),
`with_resources`, `file_relative_path`, `with_source_code_references`, the exceptions an
asset raises to ask for a retry or to fail with metadata (`RetryRequested`, `Failure`),
and partitioned run config (`PartitionedConfig`, `static_partitioned_config`).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from conflux.sdk._definitions import Definitions
    from conflux.sdk.partitions import PartitionsDefinition

T = TypeVar("T")


class LazyDefinitions:
    """A function that builds a location's `Definitions` when the location loads.

    Made by `@definitions`; calling it returns the `Definitions`. A location file may hold
    several (and a `Definitions` too): the loader merges them, as Dagster does.
    """

    def __init__(self, load_fn: Callable[..., Definitions]) -> None:
        self.load_fn = load_fn
        self.__name__ = getattr(load_fn, "__name__", "definitions")
        self.__doc__ = load_fn.__doc__

    def __call__(self) -> Definitions:
        return self.load_fn()

    def __repr__(self) -> str:
        return f"LazyDefinitions({self.__name__})"


def definitions(fn: Callable[..., Definitions]) -> LazyDefinitions:
    """Declare a function that returns the location's `Definitions` (Dagster's `@definitions`).

    Example:
        >>> @definitions
        ... def resources() -> Definitions:
        ...     return Definitions(resources={"warehouse": Warehouse(url="...")})
    """
    return LazyDefinitions(fn)


def file_relative_path(dunderfile: str, relative_path: str) -> str:
    """A path relative to the folder of `dunderfile` (pass `__file__`), as Dagster's helper."""
    return os.path.join(os.path.dirname(dunderfile), relative_path)


def with_resources(
    definitions: Sequence[T],
    resource_defs: Mapping[str, object],
    resource_config_by_key: Mapping[str, Any] | None = None,
) -> Sequence[T]:
    """Attach resources to assets (Dagster's `with_resources`).

    Conflux binds resources per location, so the resources travel with the assets: a
    `Definitions` (or `materialize`) given these assets gets these resources unless it
    gives its own for the same key.
    """
    del resource_config_by_key
    from conflux.sdk._asset import AssetsDefinition

    out: list[T] = []
    for item in definitions:
        if isinstance(item, AssetsDefinition):
            merged = {**dict(item.resource_defs), **dict(resource_defs)}
            item = dataclasses.replace(item, resource_defs=merged)
        out.append(item)
    return out


def with_source_code_references(assets: Sequence[T]) -> Sequence[T]:
    """Dagster's helper that links assets to their source: the assets, unchanged.

    Conflux shows no code links; kept so that code calling it ports as is.
    """
    return list(assets)


class RetryRequested(Exception):
    """Raised by an asset to be retried (Dagster's `RetryRequested`).

    The failed attempt is retried up to `max_retries` times, after `seconds_to_wait`,
    even when the asset has no `RetryPolicy` (a policy with more retries wins).

    Example:
        >>> try:
        ...     rows = fetch()
        ... except TimeoutError as exc:
        ...     raise RetryRequested(max_retries=3, seconds_to_wait=10) from exc
    """

    def __init__(self, max_retries: int | None = 1, seconds_to_wait: float | None = None) -> None:
        super().__init__(
            f"retry requested (up to {max_retries} retries"
            + (f", after {seconds_to_wait} s)" if seconds_to_wait else ")")
        )
        self.max_retries = 1 if max_retries is None else int(max_retries)
        self.seconds_to_wait = seconds_to_wait


class Failure(Exception):
    """Raised by an asset to fail with a description and metadata (Dagster's `Failure`).

    `allow_retries=False` is recorded in the message; a `RetryPolicy` still applies.
    """

    def __init__(
        self,
        description: str | None = None,
        metadata: Mapping[str, object] | None = None,
        allow_retries: bool | None = None,
    ) -> None:
        super().__init__(description or "asset failed")
        self.description = description
        self.metadata = dict(metadata or {})
        self.allow_retries = True if allow_retries is None else allow_retries


@dataclass(frozen=True)
class PartitionedConfig:
    """Run config per partition key (Dagster's `PartitionedConfig`).

    Give it to `materialize(run_config=config.get_run_config_for_partition_key(key))`;
    `define_asset_job(config=...)` accepts it, and runs the coordinator starts for the job
    do not get it (the coordinator runs no user code): give their requests a `run_config`.
    """

    partitions_def: PartitionsDefinition
    run_config_for_partition_key_fn: Callable[[str], Mapping[str, Any]]
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None

    def get_run_config_for_partition_key(self, partition_key: str) -> Mapping[str, Any]:
        """The run config for one partition."""
        return self.run_config_for_partition_key_fn(partition_key)

    def get_tags_for_partition_key(self, partition_key: str) -> Mapping[str, str]:
        """The run tags for one partition."""
        fn = self.tags_for_partition_key_fn
        return dict(fn(partition_key)) if fn is not None else {}


def static_partitioned_config(
    partition_keys: Sequence[str],
    tags_for_partition_fn: Callable[[str], Mapping[str, str]] | None = None,
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[str], Mapping[str, Any]]], PartitionedConfig]:
    """Run config per static partition key, from a function of the key (Dagster's decorator).

    Example:
        >>> @static_partitioned_config(partition_keys=["eu", "us"])
        ... def region_config(partition_key: str) -> dict[str, object]:
        ...     return {"ops": {"sales": {"config": {"region": partition_key}}}}
    """
    from conflux.sdk.partitions import StaticPartitionsDefinition

    def wrap(fn: Callable[[str], Mapping[str, Any]]) -> PartitionedConfig:
        return PartitionedConfig(
            partitions_def=StaticPartitionsDefinition(list(partition_keys)),
            run_config_for_partition_key_fn=fn,
            tags_for_partition_key_fn=tags_for_partition_key_fn or tags_for_partition_fn,
        )

    return wrap
