"""docs/porting-from-dagster.md stays true: what it calls supported exists, the rest does not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import conflux

DOC = Path(__file__).parents[2] / "docs" / "porting-from-dagster.md"
ROW = re.compile(r"^\| `(?P<name>[A-Za-z_][\w.]*)` \| (?P<status>[^|]+?) \|")
STATUSES = {"supported", "supported, differs", "not supported"}


def _rows() -> list[tuple[str, str]]:
    rows = []
    for line in DOC.read_text().splitlines():
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
    assert len(rows) > 50
    assert {status for _, status in rows} <= STATUSES
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "a name is listed twice"


@pytest.mark.parametrize(
    "name", [name for name, status in _rows() if status.startswith("supported")]
)
def test_every_name_marked_supported_imports_from_conflux(name: str) -> None:
    assert _lookup(name) is not None


@pytest.mark.parametrize("name", [name for name, status in _rows() if status == "not supported"])
def test_every_name_marked_not_supported_is_absent(name: str) -> None:
    with pytest.raises(AttributeError):
        _lookup(name)
