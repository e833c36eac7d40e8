"""`build_metadata_bounds_checks`: a metadata value of each materialization within bounds.

Dagster's factory, as a multi-asset check that the worker runs in the work item that
materialized the asset: it reads the materialization's metadata (what Dagster reads as the
asset's latest materialization) and passes when the value is a number within bounds.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from conflux.events import DefinitionError
from conflux.sdk._checks import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from conflux.sdk._check_context import AssetCheckExecutionContext

Number = int | float


def build_metadata_bounds_checks(
    *,
    assets: Sequence[Any],
    severity: AssetCheckSeverity = AssetCheckSeverity.WARN,
    metadata_key: str,
    min_value: Number | None = None,
    max_value: Number | None = None,
    exclusive_min: bool = False,
    exclusive_max: bool = False,
) -> Sequence[AssetChecksDefinition]:
    """Checks that pass when `metadata_key` of each materialization is within bounds.

    Example:
        >>> build_metadata_bounds_checks(assets=[orders], metadata_key="rows", min_value=1)
    """
    from conflux.sdk._freshness import _key_of

    if min_value is None and max_value is None:
        raise DefinitionError("At least one of `min_value` or `max_value` must be set")
    if min_value is not None and max_value is not None and min_value > max_value:
        raise DefinitionError("`min_value` may not be greater than `max_value`")
    name = f"{re.sub(r'[^A-Za-z0-9_]', '_', metadata_key)}_bounds_check"
    description = f"Checks that the latest materialization has metadata value `{metadata_key}`"
    if min_value is not None:
        description += f" greater than {'' if exclusive_min else 'or equal to '}{min_value}"
    if max_value is not None:
        joined = "and " if min_value is not None else ""
        description += f" {joined}less than {'' if exclusive_max else 'or equal to '}{max_value}"
    specs = tuple(AssetCheckSpec(name, asset=_key_of(a), description=description) for a in assets)

    def bounds(value: object) -> tuple[bool, str]:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False, f"Value `{value}` is not a number"
        if min_value is not None and (value <= min_value if exclusive_min else value < min_value):
            word = "or equal to " if exclusive_min else ""
            return False, f"Value `{value}` is less than {word}{min_value}"
        if max_value is not None and (value >= max_value if exclusive_max else value > max_value):
            word = "or equal to " if exclusive_max else ""
            return False, f"Value `{value}` is greater than {word}{max_value}"
        return True, f"Value `{value}` is within range"

    def the_check(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        mat = context.materialization
        for spec in specs:
            if mat is None or mat.asset_key != spec.asset_key.to_user_string():
                continue  # the work item materialized another of the specs' assets
            if metadata_key not in mat.metadata:
                passed, text = False, f"Metadata key `{metadata_key}` not found"
            else:
                passed, text = bounds(mat.metadata[metadata_key])
            yield AssetCheckResult(
                passed=passed,
                description=text,
                severity=severity,
                asset_key=spec.asset_key,
                check_name=spec.name,
            )

    the_check.__name__ = name
    return [AssetChecksDefinition(specs=specs, fn=the_check, context_param="context", multi=True)]
