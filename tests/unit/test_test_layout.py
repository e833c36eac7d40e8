"""The test tree's own rule: pytest imports test files by basename (no packages), so two
files with one basename in different folders break collection of the whole suite."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).parents[1]


def test_every_test_module_has_a_unique_basename() -> None:
    names = Counter(p.name for p in TESTS.rglob("*.py") if p.name != "conftest.py")
    twice = sorted(name for name, count in names.items() if count > 1)
    assert not twice, f"rename one of each (e.g. suffix _kafka for integration): {twice}"
