"""docs/porting-from-dagster.md stays true: what it calls supported exists, the rest does not.

The page's tables list Dagster names as `` `Name` `` in their first column and one of
three statuses in the second; a name marked supported (with a difference or not) must be
importable from `conflux` (`A.b` names an attribute of `A`), and one marked not supported
must not be (so a name that became supported gets its row updated).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import conflux

DOC = Path(__file__).resolve().parents[2] / "docs" / "porting-from-dagster.md"
ROW = re.compile(r"^\| `(?P<name>[A-Za-z_][\w.]*)` \| (?P<status>[^|]+?) \|")
STATUSES = {"supported", "supported, differs", "not supported"}


def _rows() -> list[tuple[str, str]]:
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows.append((match["name"], match["status"].strip()))
    return rows


def _lookup(name: str) -> object:
    obj: object = conflux
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def test_the_doc_has_tables_with_known_statuses() -> None:
    rows = _rows()
    assert len(rows) > 300
    bad = sorted({status for _, status in rows} - STATUSES)
    assert not bad, f"unknown statuses: {bad}"
    names = [name for name, _ in rows]
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert not repeated, f"names listed twice: {repeated}"


def test_every_table_row_is_read() -> None:
    """A row of another shape (a typo in its status column) would escape the checks."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    table_rows = [line for line in lines if line.startswith("| `")]
    assert len(table_rows) == len(_rows())


@pytest.mark.parametrize(
    "name", [name for name, status in _rows() if status.startswith("supported")]
)
def test_every_name_marked_supported_imports_from_conflux(name: str) -> None:
    assert _lookup(name) is not None


@pytest.mark.parametrize("name", [name for name, status in _rows() if status == "not supported"])
def test_every_name_marked_not_supported_is_absent(name: str) -> None:
    with pytest.raises(AttributeError):
        _lookup(name)
