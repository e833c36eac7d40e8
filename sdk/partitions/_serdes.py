"""Dagster's `serialize_value` / `deserialize_value` for partitions: JSON, never pickle.

Partitions definitions and mappings serialize as their snapshots (the data a code location
publishes), subsets as their definition and keys. Other values are refused: Conflux has no
general object serializer (events are its own pydantic models).
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING

from conflux.events import InvalidInvocationError
from conflux.sdk.partitions._base import PartitionsDefinition
from conflux.sdk.partitions._mappings import PartitionMapping
from conflux.sdk.partitions._range import PartitionKeyRange
from conflux.sdk.partitions._snapshots import mapping_from_snapshot, partitions_from_snapshot
from conflux.sdk.partitions._subset import DefaultPartitionsSubset, TimeWindowPartitionsSubset
from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition

if TYPE_CHECKING:
    from typing import Any

    from pydantic import TypeAdapter


@cache
def _adapters() -> tuple[TypeAdapter[Any], TypeAdapter[Any]]:
    """Validators of the two snapshot unions, built on first use (not at import)."""
    from pydantic import TypeAdapter

    from conflux.events import PartitionMappingSnapshot, PartitionsSnapshot

    return TypeAdapter(PartitionsSnapshot), TypeAdapter(PartitionMappingSnapshot)


def serialize_value(value: object) -> str:
    """`value` as JSON: a partitions definition, a mapping, a subset or a key range.

    Equal values serialize to equal strings (subsets list their keys sorted).

    Raises:
        InvalidInvocationError: another kind of value.
    """
    data: dict[str, object]
    if isinstance(value, PartitionsDefinition):
        data = {"__class__": "PartitionsDefinition", "snapshot": value.to_snapshot().model_dump()}
    elif isinstance(value, PartitionMapping):
        data = {"__class__": "PartitionMapping", "snapshot": value.to_snapshot().model_dump()}
    elif isinstance(value, DefaultPartitionsSubset):
        data = {"__class__": "DefaultPartitionsSubset", "subset": sorted(value.subset)}
    elif isinstance(value, TimeWindowPartitionsSubset):
        data = {
            "__class__": "TimeWindowPartitionsSubset",
            "partitions_def": value.partitions_def.to_snapshot().model_dump(),
            "subset": value.serialize(),
        }
    elif isinstance(value, PartitionKeyRange):
        data = {"__class__": "PartitionKeyRange", "start": value.start, "end": value.end}
    else:
        raise InvalidInvocationError(
            f"serialize_value takes partitions definitions, partition mappings, subsets and "
            f"key ranges, not {type(value).__name__}: Conflux has no general serializer; "
            "store your own data as JSON"
        )
    return json.dumps(data, sort_keys=True)


def deserialize_value(value: str, as_type: type | None = None) -> Any:
    """The value `serialize_value` wrote (checked against `as_type` when given).

    Raises:
        InvalidInvocationError: not something `serialize_value` wrote, or not an `as_type`.
    """
    data = json.loads(value)
    kind = data.get("__class__") if isinstance(data, dict) else None
    result: object
    partitions, mappings = _adapters()
    if kind == "PartitionsDefinition":
        result = partitions_from_snapshot(partitions.validate_python(data["snapshot"]))
    elif kind == "PartitionMapping":
        result = mapping_from_snapshot(mappings.validate_python(data["snapshot"]))
    elif kind == "DefaultPartitionsSubset":
        result = DefaultPartitionsSubset(set(data["subset"]))
    elif kind == "TimeWindowPartitionsSubset":
        defn = partitions_from_snapshot(partitions.validate_python(data["partitions_def"]))
        assert isinstance(defn, TimeWindowPartitionsDefinition)
        result = TimeWindowPartitionsSubset.from_serialized(defn, data["subset"])
    elif kind == "PartitionKeyRange":
        result = PartitionKeyRange(data["start"], data["end"])
    else:
        raise InvalidInvocationError(
            f"deserialize_value got {value[:60]!r}, which serialize_value did not write"
        )
    if as_type is not None and not isinstance(result, as_type):
        raise InvalidInvocationError(
            f"deserialize_value: expected a {as_type.__name__}, found a {type(result).__name__}"
        )
    return result
