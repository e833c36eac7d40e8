"""The archive on a ClickHouse server, through clickhouse-connect.

Used when a ClickHouse URL is configured (real deployments, compose/). This module alone
imports clickhouse-connect. Values are bound server-side (`{name:Type}` placeholders sent
as query parameters), inserts go as Arrow, and driver exceptions leave as
`ArchiveError` / `ArchiveUnavailableError`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from conflux.projections.archive._store import (
    READ_ONLY_LIMITS,
    ArchiveError,
    ArchiveStore,
    ArchiveUnavailableError,
    Param,
    Row,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pyarrow as pa  # type: ignore[import-untyped]
    from clickhouse_connect.driver.client import Client

__all__ = ["ServerStore"]


def _location(url: str) -> str:
    """The URL without user, password or query (what messages may show)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _bound(params: Mapping[str, Param] | None) -> dict[str, Any]:
    # The driver formats datetimes to whole seconds; DateTime64 needs the microseconds.
    return {
        name: value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, datetime) and value.tzinfo is not None
        else value
        for name, value in (params or {}).items()
    }


def _value(value: object) -> object:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


class ServerStore(ArchiveStore):
    """The archive in a ClickHouse server's database.

    Callers rely on: the URL is any clickhouse-connect DSN
    (`http://user:pass@host:8123/db`); nothing is sent until the first statement, except
    the driver's connection check; the store may be shared by threads (the driver pools
    connections); DateTime64 values come back as aware UTC datetimes.
    """

    backend = "server"

    def __init__(self, url: str, *, database: str | None = None, readonly: bool = False) -> None:
        """Connect to the server at `url` (optionally to another `database` than its path).

        With `readonly`, every statement is sent with `readonly=1` and `READ_ONLY_LIMITS`
        (a user the server already holds read-only stays so: the driver leaves settings
        such a user cannot change).

        Raises:
            ArchiveUnavailableError: the server did not answer or refused the login.
        """
        self._url, self._database = url, database
        self._location = _location(url) + (f" (database {database})" if database else "")
        self._client: Client | None = None
        self._settings: dict[str, Any] = {"readonly": 1, **READ_ONLY_LIMITS} if readonly else {}
        try:
            self._client = clickhouse_connect.get_client(
                dsn=url, database=database, settings=self._settings
            )
        except (ClickHouseError, OSError) as exc:
            raise ArchiveUnavailableError(
                f"cannot reach the ClickHouse archive at {self._location}: {_first_line(exc)}",
                backend=self.backend,
                location=self._location,
            ) from exc

    @property
    def location(self) -> str:
        """The server's address and database, without credentials."""
        return self._location

    def read_only(self) -> ServerStore:
        """A read-only store on the same database (see the class doc); close it when done."""
        return ServerStore(self._url, database=self._database, readonly=True)

    def execute(self, sql: str, params: Mapping[str, Param] | None = None) -> None:
        """Run a statement that returns nothing."""
        try:
            self._open().command(sql, parameters=_bound(params))
        except (ClickHouseError, OSError) as exc:
            raise self._error("statement failed", exc) from exc

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> list[Row]:
        """Rows of a parameterised query."""
        try:
            result = self._open().query(sql, parameters=_bound(params))
        except (ClickHouseError, OSError) as exc:
            raise self._error("query failed", exc) from exc
        return [tuple(_value(v) for v in row) for row in result.result_rows]

    def query_arrow(self, sql: str, params: Mapping[str, Param] | None = None) -> pa.Table:
        """One Arrow table with the query's result (strings as Arrow strings)."""
        try:
            return self._open().query_arrow(sql, parameters=_bound(params), use_strings=True)
        except (ClickHouseError, OSError) as exc:
            raise self._error("query failed", exc) from exc

    def insert(self, table: str, data: pa.Table, settings: Mapping[str, int] | None = None) -> None:
        """Send `data` to `table` in Arrow format (one request, columnar)."""
        try:
            self._open().insert_arrow(table, data, settings=dict(settings or {}))
        except (ClickHouseError, OSError) as exc:
            raise self._error(f"insert into {table} failed", exc) from exc

    def close(self) -> None:
        """Close the driver's connections; idempotent."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _open(self) -> Client:
        if self._client is None:
            raise ArchiveError(
                "the archive store is closed", backend=self.backend, location=self._location
            )
        return self._client

    def _error(self, what: str, exc: BaseException) -> ArchiveError:
        kind = (
            ArchiveUnavailableError if isinstance(exc, OperationalError | OSError) else ArchiveError
        )
        return kind(
            f"ClickHouse archive at {self._location}: {what}: {_first_line(exc)}",
            backend=self.backend,
            location=self._location,
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
