"""The archive in embedded ClickHouse (chdb), in a folder owned by one process.

chdb runs one engine per process, bound to one folder, and a folder can be open in one
process only: `conflux dev` gives it to the projector. This module alone imports chdb.
Driver exceptions leave as `ArchiveError` / `ArchiveUnavailableError`.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chdb.session import Session
from pydantic_core import from_json

from conflux.projections.archive._store import (
    READ_ONLY_LIMITS,
    ArchiveError,
    ArchiveStore,
    ArchiveUnavailableError,
    Param,
    Row,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from os import PathLike

    import pyarrow as pa  # type: ignore[import-untyped]

__all__ = ["ChdbStore"]

_OPEN: dict[str, tuple[Session, int]] = {}
"""Folder -> its session and how many `ChdbStore`s of this process hold it (the engine is
process-wide, so stores on one folder share one session)."""
_OPEN_LOCK = threading.Lock()
_ENGINE_LOCK = threading.RLock()
"""One statement at a time on the process's engine: the projector's writer thread inserts
while the query API's threads read, and a chdb session is not made for concurrent calls."""

ENGINE_SETTINGS = {
    "mark_cache_size": 64 << 20,
    "index_mark_cache_size": 16 << 20,
    "primary_index_cache_size": 32 << 20,
    "query_condition_cache_size": 16 << 20,
}
"""The engine's caches, capped: it runs inside the projector, whose memory must not grow
with the archive (ClickHouse's defaults are sized for a server of its own: 5 GB each)."""
_ARGS = "&".join(f"{name}={value}" for name, value in ENGINE_SETTINGS.items())

_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0", "'": "\\'"}
)


def _text(value: Param, *, quoted: bool = False) -> str:
    """A parameter's value in the text format ClickHouse parses `{name:Type}` values from.

    The engine parses it as data of the declared type (escaped text at the top level,
    quoted literals inside arrays), never as SQL, so nothing in it can change the query.
    """
    if value is None:
        return "NULL" if quoted else "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        text = value.strftime("%Y-%m-%d %H:%M:%S.%f")
        return f"'{text}'" if quoted else text
    if isinstance(value, str):
        text = value.translate(_ESCAPES)
        return f"'{text}'" if quoted else text
    return "[" + ",".join(_text(item, quoted=True) for item in value) + "]"


class ChdbStore(ArchiveStore):
    """The archive in a chdb folder (created if missing).

    Callers rely on: one folder per process at a time (a second folder, or a folder
    another process holds, raises `ArchiveUnavailableError` naming it); stores on the same
    folder in one process share the engine; `close` is idempotent, and the last one
    closes the engine so another folder can be opened. A `readonly` store is a session of
    its own on the folder (the engine's `readonly=1`, and `READ_ONLY_LIMITS`): it refuses
    every statement that writes or changes a setting, and its queries run beside the
    others' (the writer is not held up by a long query).
    """

    backend = "chdb"

    def __init__(self, path: str | PathLike[str], *, readonly: bool = False) -> None:
        """Open (or create) the archive folder.

        Raises:
            ArchiveUnavailableError: another folder is open in this process, or another
                process holds this one.
        """
        folder = Path(path).resolve()
        self._path = str(folder)
        self._session: Session | None = None
        self._readonly = readonly
        self._lock = threading.RLock() if readonly else _ENGINE_LOCK
        if readonly:
            self._open_readonly(folder)
            return
        with _OPEN_LOCK:
            others = [p for p in _OPEN if p != self._path]
            if others:
                raise ArchiveUnavailableError(
                    f"chdb serves one folder per process: {others[0]} is open, so {folder}"
                    " cannot be; close the other store first",
                    backend=self.backend,
                    location=self._path,
                )
            if self._path in _OPEN:
                session, holders = _OPEN[self._path]
                _OPEN[self._path] = (session, holders + 1)
                self._session = session
                return
            folder.mkdir(parents=True, exist_ok=True)
            try:
                self._session = Session(f"{self._path}?{_ARGS}")  # type: ignore[no-untyped-call]
            except RuntimeError as exc:
                raise ArchiveUnavailableError(
                    f"cannot open the chdb archive at {folder} (only one process may own"
                    f" it; is another conflux running on this state folder?): {_first_line(exc)}",
                    backend=self.backend,
                    location=self._path,
                ) from exc
            _OPEN[self._path] = (self._session, 1)

    def _open_readonly(self, folder: Path) -> None:
        with _OPEN_LOCK:
            others = [p for p in _OPEN if p != self._path]
            if others:
                raise ArchiveUnavailableError(
                    f"chdb serves one folder per process: {others[0]} is open, so {folder}"
                    " cannot be read",
                    backend=self.backend,
                    location=self._path,
                )
            if not (folder / "metadata").is_dir():
                raise ArchiveUnavailableError(
                    f"no archive at {folder}: start `conflux dev` (or a projector) first",
                    backend=self.backend,
                    location=self._path,
                )
            limits = "&".join(f"{k}={v}" for k, v in READ_ONLY_LIMITS.items())
            try:
                self._session = Session(  # type: ignore[no-untyped-call]
                    f"{self._path}?readonly=1&{limits}&{_ARGS}"
                )
            except RuntimeError as exc:
                raise ArchiveUnavailableError(
                    f"cannot open the chdb archive at {folder} read-only (another process owns"
                    f" it: ask its projector's query API instead): {_first_line(exc)}",
                    backend=self.backend,
                    location=self._path,
                ) from exc

    @property
    def location(self) -> str:
        """The archive folder."""
        return self._path

    def read_only(self) -> ChdbStore:
        """A read-only store on the same folder (see the class doc); close it when done."""
        return ChdbStore(self._path, readonly=True)

    def execute(self, sql: str, params: Mapping[str, Param] | None = None) -> None:
        """Run a statement that returns nothing."""
        self._run(sql, "Null", params)

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> list[Row]:
        """Rows of a parameterised query (strings as str, DateTime64 as aware UTC datetimes).

        Small results travel as JSON: for a point lookup that is a millisecond less than
        Arrow, which matters to a lineage walk of five lookups.
        """
        doc = from_json(self._run(sql, "JSONCompact", params).bytes())
        convert = [_converter(column["type"]) for column in doc["meta"]]
        if not any(convert):
            return [tuple(row) for row in doc["data"]]
        return [
            tuple(v if c is None else c(v) for c, v in zip(convert, row, strict=True))
            for row in doc["data"]
        ]

    def query_arrow(self, sql: str, params: Mapping[str, Param] | None = None) -> pa.Table:
        """One Arrow table with the query's result."""
        return self._run(sql, "ArrowTable", params)

    def insert(self, table: str, data: pa.Table, settings: Mapping[str, int] | None = None) -> None:
        """Insert `data` into `table` from the Arrow table itself (no SQL holds the values).

        Through chdb's `Python()` table function, which reads the local named in the SQL:
        chdb's streaming insert (`send_insert`) drops a block silently when a materialized
        view fails on it, and the ingest pipeline's views must be able to refuse a batch.
        """
        columns = ", ".join(f"`{name}`" for name in data.column_names)
        given = ", ".join(f"{name} = {int(value)}" for name, value in (settings or {}).items())
        statement = (
            f"INSERT INTO `{table}` ({columns}) SELECT {columns} FROM Python(conflux_insert_data)"
        )
        if given:
            statement += f" SETTINGS {given}"
        conflux_insert_data = data  # noqa: F841 - read by name by the Python() table function
        try:
            with self._lock:
                self._open().query(statement, "Null")  # type: ignore[no-untyped-call]
        except RuntimeError as exc:
            raise self._error(f"insert into {table} failed", exc) from exc

    def close(self) -> None:
        """Close this store; the engine stops when the last store on the folder closes."""
        session, self._session = self._session, None
        if session is None:
            return
        if self._readonly:
            session.close()  # type: ignore[no-untyped-call]
            return
        with _OPEN_LOCK:
            holders = _OPEN[self._path][1] - 1
            if holders:
                _OPEN[self._path] = (session, holders)
            else:
                del _OPEN[self._path]
                session.close()  # type: ignore[no-untyped-call]

    def _open(self) -> Session:
        if self._session is None:
            raise ArchiveError(
                "the chdb archive store is closed", backend=self.backend, location=self._path
            )
        return self._session

    def _run(self, sql: str, fmt: str, params: Mapping[str, Param] | None) -> Any:
        bound = {name: _text(value) for name, value in (params or {}).items()}
        try:
            with self._lock:
                return self._open().query(sql, fmt, params=bound)  # type: ignore[no-untyped-call]
        except RuntimeError as exc:
            raise self._error("query failed", exc) from exc

    def _error(self, what: str, exc: BaseException) -> ArchiveError:
        return ArchiveError(
            f"chdb archive at {self._path}: {what}: {_first_line(exc)}",
            backend=self.backend,
            location=self._path,
        )


def _datetime(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _converter(type_name: str) -> Callable[[Any], object] | None:
    """How to turn a JSONCompact value of `type_name` into its Python value (None: as is)."""
    for wrapper in ("LowCardinality(", "Nullable("):
        if type_name.startswith(wrapper):
            inner = _converter(type_name[len(wrapper) : -1])
            if inner is None or wrapper == "LowCardinality(":
                return inner
            return lambda v: None if v is None else inner(v)
    if type_name.startswith("DateTime"):
        return _datetime
    if type_name in ("Int64", "UInt64", "Int128", "UInt128", "Int256", "UInt256"):
        return int  # quoted in JSON output, so that JavaScript readers keep every digit
    if type_name.startswith("Array("):
        item = _converter(type_name[6:-1])
        return None if item is None else lambda v: [item(x) for x in v]
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
