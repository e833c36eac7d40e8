"""What an asset function may return besides its value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import JsonValue

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

    metadata: dict[str, JsonValue] = field(default_factory=dict)
    data_version: DataVersion | str | None = None
    asset_key: CoercibleToAssetKey | None = None
    """Which output this is, in a `@multi_asset`."""


@dataclass(frozen=True)
class Output:
    """A value for the IO manager to store, with metadata and an optional data version."""

    value: object
    metadata: dict[str, JsonValue] = field(default_factory=dict)
    data_version: DataVersion | str | None = None
    output_name: str | None = None
    """Which output this is, in a `@multi_asset` (the key of `outs`)."""
