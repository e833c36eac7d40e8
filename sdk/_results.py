"""What an asset function may return besides its value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from conflux.sdk._keys import CoercibleToAssetKey


@dataclass(frozen=True)
class DataVersion:
    """A version of an asset partition's data; equal versions mean equal data."""

    value: str


@dataclass(frozen=True)
class MaterializeResult:
    """Returned by an asset that stores its data itself (no IO manager involved).

    Example:
        >>> @asset
        ... def table() -> MaterializeResult:
        ...     rows = write_table()
        ...     return MaterializeResult(metadata={"rows": rows}, data_version=DataVersion("v7"))
    """

    asset_key: CoercibleToAssetKey | None = None
    """Which output this is, in a `@multi_asset` (the first positional argument, as in
    Dagster: `MaterializeResult("orders")`)."""
    metadata: Mapping[str, object] = field(default_factory=dict)
    check_results: Sequence[object] = ()
    """`AssetCheckResult`s of the asset's `check_specs`, reported with the materialization."""
    data_version: DataVersion | str | None = None
    tags: Mapping[str, str] | None = None
    value: object = None
    """A value for the IO manager to store too (Dagster 1.11+); None stores nothing."""


@dataclass(frozen=True)
class Output:
    """A value for the IO manager to store, with metadata and an optional data version."""

    value: object
    output_name: str | None = None
    """Which output this is, in a `@multi_asset` (the key of `outs`); the second positional
    argument, as in Dagster."""
    metadata: Mapping[str, object] = field(default_factory=dict)
    data_version: DataVersion | str | None = None
    tags: Mapping[str, str] | None = None
