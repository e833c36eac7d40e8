"""Every name docs/porting-from-dagster.md lists is a public name of Dagster 1.13."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest

dagster = pytest.importorskip(
    "dagster", reason="dagster is not installed (pip install -e '.[compat]')"
)

DOC = Path(__file__).parents[2] / "docs" / "porting-from-dagster.md"
ROW = re.compile(r"^\| `(?P<name>[A-Za-z_][\w.]*)` \| ")
BUILT_IN: Any = dagster.AutomationCondition.eager()
NAMES = [m["name"] for line in DOC.read_text().splitlines() if (m := ROW.match(line))]


@pytest.mark.parametrize("name", NAMES)
def test_the_name_is_dagsters(name: str) -> None:
    warnings.filterwarnings("ignore")
    obj: object = dagster
    for part in name.split("."):
        found = getattr(obj, part, None)
        if found is None and name.startswith("AutomationCondition."):
            # `allow`, `ignore`, `without`, `with_label` are methods of Dagster's built-in
            # conditions (of what `eager()` returns), not of the base class
            found = getattr(BUILT_IN, part, None)
        assert found is not None, f"dagster has no {name}"
        obj = found
