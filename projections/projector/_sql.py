"""`/sql`: a read-only query against the archive, with server-side parameters.

What `conflux sql "QUERY" [--param NAME=VALUE]` sends when a projector owns the archive
(a chdb folder can be open in one process only). The query runs on a read-only store
(`ArchiveStore.read_only`: the engine's `readonly=1` and its limits), so a statement
that writes is refused by ClickHouse itself and changes nothing; its refusal comes back
as one line. Values are bound by the engine (`{name:Type}` placeholders), never spliced.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from conflux.projections.api import NotFoundError
from conflux.projections.archive import ArchiveError
from conflux.projections.projector._http import BadRequestError

if TYPE_CHECKING:
    from pydantic import JsonValue

    from conflux.projections.archive import ArchiveStore

PARAM_PREFIX = "param_"
"""Query-string names `param_<NAME>=VALUE` bind `{NAME:Type}` in the query."""
READ_ONLY = "READONLY"
"""What ClickHouse names the error of a statement refused in read-only mode (code 164)."""
_EXCEPTION = re.compile(r".*DB::Exception: (?:\w+: )?(.*)$")
_TRAILER = re.compile(r"(?:\.| \(version [^)]*\)| \([A-Z_]+\))+$")
"""What ClickHouse appends to a message: the error's name, its version, full stops."""


class ReadOnlyArchiveError(BadRequestError):
    """A query tried to change the archive (or a setting); it was refused, nothing changed."""


def run_sql(store: ArchiveStore | None, query: dict[str, str]) -> dict[str, JsonValue]:
    """Run `query["query"]` read-only; its columns (name, type) and rows, JSON-ready.

    Raises:
        NotFoundError: this projector has no archive to query.
        BadRequestError: no query, or the engine refused it (the engine's reason).
        ReadOnlyArchiveError: the query writes or changes a setting.
    """
    if store is None:
        raise NotFoundError(
            "this projector keeps no archive (or its archive has no read-only view), so"
            " `conflux sql` has nothing to query"
        )
    sql = (query.get("query") or "").strip()
    if not sql:
        raise BadRequestError("sql needs query=SELECT ...")
    params = {k[len(PARAM_PREFIX) :]: v for k, v in query.items() if k.startswith(PARAM_PREFIX)}
    try:
        table = store.query_arrow(sql, params)
    except ArchiveError as exc:
        reason = _reason(exc)
        if READ_ONLY in str(exc) or READ_ONLY in str(exc.__cause__):
            raise ReadOnlyArchiveError(
                f"refused: the archive is read-only to `conflux sql` ({reason}); nothing"
                " was changed"
            ) from None
        raise BadRequestError(f"the archive refused the query: {reason}") from None
    columns = [{"name": f.name, "type": str(f.type)} for f in table.schema]
    rows = [[_json(v) for v in row.values()] for row in table.to_pylist()]
    return {"columns": columns, "rows": rows}  # type: ignore[dict-item]


def _reason(exc: ArchiveError) -> str:
    """The engine's own words, without the driver's and the archive's wrapping."""
    for text in (str(exc.__cause__ or ""), str(exc)):
        for line in text.splitlines():
            found = _EXCEPTION.search(line.strip())
            if found:
                return _TRAILER.sub("", found.group(1))
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _json(value: object) -> JsonValue:
    """A result value as JSON: text for bytes and times, lists and objects as they are."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return str(value)
