"""The archive store contract on a ClickHouse server, through clickhouse-connect.

Runs when `CLICKHOUSE_URL` names a server (e.g. `http://default:@127.0.0.1:8123`); each
test gets its own database, dropped afterwards. Without it the suite is skipped, saying
so: no server runs here, and no mock stands in for one.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

import pytest
from store_contract import StoreContract

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conflux.projections.archive import ServerStore

URL = os.environ.get("CLICKHOUSE_URL", "")


@pytest.mark.skipif(
    not URL, reason="no ClickHouse server: set CLICKHOUSE_URL to run the server contract"
)
class TestServerStore(StoreContract):
    __test__ = True

    @pytest.fixture
    def store(self) -> Iterator[ServerStore]:
        from conflux.projections.archive import ServerStore

        database = f"conflux_test_{uuid.uuid4().hex[:12]}"
        with ServerStore(URL) as admin:
            admin.execute("CREATE DATABASE {db:Identifier}", {"db": database})
            try:
                with ServerStore(URL, database=database) as store:
                    store.create_schema()
                    yield store
            finally:
                admin.execute("DROP DATABASE IF EXISTS {db:Identifier}", {"db": database})


def test_an_unreachable_server_is_a_typed_error() -> None:
    from conflux.projections.archive import ArchiveUnavailableError, ServerStore

    with pytest.raises(ArchiveUnavailableError, match=r"127\.0\.0\.1:9") as raised:
        ServerStore("http://user:secret@127.0.0.1:9")
    assert "secret" not in str(raised.value) and raised.value.backend == "server"
