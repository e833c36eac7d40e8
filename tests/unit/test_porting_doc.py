"""docs/porting-from-dagster.md stays true: every name it marks supported imports from conflux.

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
STATUSES = ("supported", "supported with a difference", "not supported")
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|")


def _rows() -> list[tuple[str, str, int]]:
    rows = []
    for number, line in enumerate(DOC.read_text(encoding="utf-8").splitlines(), start=1):
        match = ROW.match(line)
        if match:
            rows.append((match.group(1), match.group(2), number))
    return rows


def _resolve(name: str) -> object:
    head, *rest = name.split(".")
    value = getattr(conflux, head)
    for part in rest:
        value = getattr(value, part)
    return value


def test_the_doc_has_rows_with_known_statuses() -> None:
    rows = _rows()
    assert len(rows) > 100
    bad = [(name, status, n) for name, status, n in rows if status not in STATUSES]
    assert not bad, f"unknown statuses (line numbers): {bad}"
    names = [name for name, _, _ in rows]
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert not repeated, f"names listed twice: {repeated}"


@pytest.mark.parametrize("name", [name for name, status, _ in _rows() if status != "not supported"])
def test_every_supported_name_imports_from_conflux(name: str) -> None:
    assert _resolve(name) is not None


@pytest.mark.parametrize(
    "name", [name for name, status, _ in _rows() if status == "not supported" and "." not in name]
)
def test_names_marked_not_supported_are_not_exported(name: str) -> None:
    assert name not in conflux.__all__, f"{name} is exported: mark it supported in the doc"
