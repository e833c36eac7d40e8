"""The archive store contract on embedded ClickHouse (chdb), plus its one-owner rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from store_contract import StoreContract

from conflux.projections.archive import ArchiveUnavailableError, ChdbStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class TestChdbStore(StoreContract):
    __test__ = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[ChdbStore]:
        with ChdbStore(tmp_path / "archive") as store:
            store.create_schema()
            yield store


def test_one_folder_per_process_and_reopen_keeps_data(tmp_path: Path) -> None:
    with ChdbStore(tmp_path / "a") as first:
        first.create_schema()
        first.execute("INSERT INTO positions VALUES ('archive', 't', 0, 9)")
        with pytest.raises(ArchiveUnavailableError, match="one folder per process"):
            ChdbStore(tmp_path / "b")
        with ChdbStore(tmp_path / "a") as second:  # same folder: shares the engine
            assert second.positions() == {("t", 0): 9}
    with ChdbStore(tmp_path / "a") as reopened:
        assert reopened.positions() == {("t", 0): 9}
    ChdbStore(tmp_path / "b").close()  # the engine moved on
