"""The archive store contract on a ClickHouse server, through clickhouse-connect.

Runs on the `clickhouse_url` fixture: `CLICKHOUSE_URL` when it names a server (e.g.
`http://default:@127.0.0.1:8123`), else a server in a container where a Docker daemon
answers; each test gets its own database, dropped afterwards. Without either the suite is
skipped, saying so: no mock stands in for a server.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from store_contract import StoreContract

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conflux.projections.archive import ServerStore


class TestServerStore(StoreContract):
    __test__ = True

    @pytest.fixture
    def store(self, clickhouse_url: str) -> Iterator[ServerStore]:
        from conflux.projections.archive import ServerStore

        database = f"conflux_test_{uuid.uuid4().hex[:12]}"
        with ServerStore(clickhouse_url) as admin:
            admin.execute("CREATE DATABASE {db:Identifier}", {"db": database})
            try:
                with ServerStore(clickhouse_url, database=database) as store:
                    store.create_schema()
                    yield store
            finally:
                admin.execute("DROP DATABASE IF EXISTS {db:Identifier}", {"db": database})


def test_an_unreachable_server_is_a_typed_error() -> None:
    from conflux.projections.archive import ArchiveUnavailableError, ServerStore

    with pytest.raises(ArchiveUnavailableError, match=r"127\.0\.0\.1:9") as raised:
        ServerStore("http://user:secret@127.0.0.1:9")
    assert "secret" not in str(raised.value) and raised.value.backend == "server"
