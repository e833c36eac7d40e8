"""Typed metadata values: `MetadataValue.url(...)`, `TableSchema`, ... (Dagster's names).

Conflux events carry metadata as JSON, so a typed value is stored as its plain JSON
value (a URL as its string, a table schema as a dict of columns); the type says how to
show it, and is not kept in the event. `metadata_to_json` does the conversion.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import builtins

    from pydantic import JsonValue


@dataclass(frozen=True)
class MetadataValue:
    """A metadata value with a type, built with the static methods (Dagster's `MetadataValue`).

    Example:
        >>> MaterializeResult(metadata={"rows": MetadataValue.int(42),
        ...                             "dashboard": MetadataValue.url("https://...")})
    """

    value: object
    kind: ClassVar[str] = "json"

    def to_json(self) -> JsonValue:
        """The value as JSON (what the materialization event carries)."""
        return _plain(self.value)

    def __str__(self) -> str:
        return str(self.to_json())

    @staticmethod
    def text(text: str) -> MetadataValue:
        """A string."""
        return TextMetadataValue(text)

    @staticmethod
    def url(url: str) -> MetadataValue:
        """A link."""
        return UrlMetadataValue(url)

    @staticmethod
    def path(path: str | os.PathLike[str]) -> MetadataValue:
        """A file system path."""
        return PathMetadataValue(os.fspath(path))

    @staticmethod
    def notebook(path: str | os.PathLike[str]) -> MetadataValue:
        """A path to a notebook."""
        return NotebookMetadataValue(os.fspath(path))

    @staticmethod
    def json(data: Mapping[str, object] | Sequence[object]) -> MetadataValue:
        """A JSON document."""
        return JsonMetadataValue(data)

    @staticmethod
    def md(md_str: str) -> MetadataValue:
        """Markdown text."""
        return MarkdownMetadataValue(md_str)

    @staticmethod
    def python_artifact(python_artifact: object) -> MetadataValue:
        """A Python class or function, named by module and name."""
        module = getattr(python_artifact, "__module__", "")
        name = getattr(python_artifact, "__name__", repr(python_artifact))
        return PythonArtifactMetadataValue(f"{module}.{name}")

    @staticmethod
    def float(value: builtins.float) -> MetadataValue:
        """A float."""
        return FloatMetadataValue(value)

    @staticmethod
    def int(value: builtins.int) -> MetadataValue:
        """An integer."""
        return IntMetadataValue(value)

    @staticmethod
    def bool(value: builtins.bool) -> MetadataValue:
        """A boolean."""
        return BoolMetadataValue(value)

    @staticmethod
    def timestamp(value: builtins.float | datetime) -> MetadataValue:
        """A point in time (seconds since the epoch, or an aware datetime)."""
        return TimestampMetadataValue(value.timestamp() if isinstance(value, datetime) else value)

    @staticmethod
    def null() -> MetadataValue:
        """No value."""
        return NullMetadataValue(None)

    @staticmethod
    def asset(asset_key: object) -> MetadataValue:
        """A link to an asset."""
        return DagsterAssetMetadataValue(str(asset_key))

    @staticmethod
    def job(job_name: str, location_name: str | None = None) -> MetadataValue:
        """A link to a job."""
        return DagsterJobMetadataValue(job_name)

    @staticmethod
    def dagster_run(run_id: str) -> MetadataValue:
        """A link to a run."""
        return DagsterRunMetadataValue(run_id)

    @staticmethod
    def pool(pool: str) -> MetadataValue:
        """A concurrency pool."""
        return PoolMetadataValue(pool)

    @staticmethod
    def table(records: Sequence[TableRecord], schema: TableSchema | None = None) -> MetadataValue:
        """Rows of a table."""
        return TableMetadataValue({"records": [r.data for r in records], "schema": schema})

    @staticmethod
    def table_schema(schema: TableSchema) -> MetadataValue:
        """A table's columns."""
        return TableSchemaMetadataValue(schema)

    @staticmethod
    def column_lineage(lineage: TableColumnLineage) -> MetadataValue:
        """Which upstream columns each column is computed from."""
        return TableColumnLineageMetadataValue(lineage)


class TextMetadataValue(MetadataValue):
    """A string."""

    kind = "text"


class UrlMetadataValue(MetadataValue):
    """A link."""

    kind = "url"


class PathMetadataValue(MetadataValue):
    """A file system path."""

    kind = "path"


class NotebookMetadataValue(MetadataValue):
    """A notebook's path."""

    kind = "notebook"


class JsonMetadataValue(MetadataValue):
    """A JSON document."""

    kind = "json"


class MarkdownMetadataValue(MetadataValue):
    """Markdown."""

    kind = "md"


class PythonArtifactMetadataValue(MetadataValue):
    """A Python object's qualified name."""

    kind = "python_artifact"


class FloatMetadataValue(MetadataValue):
    """A float."""

    kind = "float"


class IntMetadataValue(MetadataValue):
    """An integer."""

    kind = "int"


class BoolMetadataValue(MetadataValue):
    """A boolean."""

    kind = "bool"


class TimestampMetadataValue(MetadataValue):
    """Seconds since the epoch."""

    kind = "timestamp"


class NullMetadataValue(MetadataValue):
    """No value."""

    kind = "null"


class DagsterAssetMetadataValue(MetadataValue):
    """An asset key."""

    kind = "asset"


class DagsterJobMetadataValue(MetadataValue):
    """A job name."""

    kind = "job"


class DagsterRunMetadataValue(MetadataValue):
    """A run id."""

    kind = "dagster_run"


class PoolMetadataValue(MetadataValue):
    """A concurrency pool."""

    kind = "pool"


class TableMetadataValue(MetadataValue):
    """Table rows."""

    kind = "table"


class TableSchemaMetadataValue(MetadataValue):
    """A table schema."""

    kind = "table_schema"


class TableColumnLineageMetadataValue(MetadataValue):
    """Column lineage."""

    kind = "table_column_lineage"


@dataclass(frozen=True)
class TableColumnConstraints:
    """Constraints on one column (Dagster's name)."""

    nullable: bool = True
    unique: bool = False
    other: Sequence[str] = ()


@dataclass(frozen=True)
class TableConstraints:
    """Constraints on a table (Dagster's name)."""

    other: Sequence[str] = ()


@dataclass(frozen=True)
class TableColumn:
    """One column of a `TableSchema`."""

    name: str
    type: str = "string"
    description: str | None = None
    constraints: TableColumnConstraints | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TableSchema:
    """A table's columns (Dagster's name); metadata key `dagster/column_schema` by convention."""

    columns: Sequence[TableColumn] = ()
    constraints: TableConstraints | None = None


@dataclass(frozen=True)
class TableRecord:
    """One row of a `MetadataValue.table`."""

    data: Mapping[str, object]


@dataclass(frozen=True)
class TableColumnDep:
    """An upstream column a column is computed from."""

    asset_key: object
    column_name: str


@dataclass(frozen=True)
class TableColumnLineage:
    """Per column, the upstream columns it is computed from (`dagster/column_lineage`)."""

    deps_by_column: Mapping[str, Sequence[TableColumnDep]]


def _plain(value: object) -> JsonValue:
    """Any metadata value as JSON."""
    if isinstance(value, MetadataValue):
        return value.to_json()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, TableSchema):
        return {
            "columns": [
                {"name": c.name, "type": c.type, "description": c.description}
                for c in value.columns
            ]
        }
    if isinstance(value, TableColumnLineage):
        return {
            col: [{"asset_key": str(d.asset_key), "column_name": d.column_name} for d in deps]
            for col, deps in value.deps_by_column.items()
        }
    if isinstance(value, TableRecord):
        return _plain(dict(value.data))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return str(os.fspath(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


def metadata_to_json(metadata: Mapping[str, object] | None) -> dict[str, JsonValue]:
    """A metadata mapping as JSON (typed values as their plain value)."""
    return {str(k): _plain(v) for k, v in (metadata or {}).items()}
