"""Every name docs/porting-from-dagster.md lists is a public name of Dagster 1.13."""

from __future__ import annotations

import inspect
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
RETURNED: dict[str, Any] = {
    # Not importable from `dagster`, but what its public methods return and take
    # (`empty_subset()`, a mapping's `get_upstream_mapped_partitions_result_for_partitions`)
    "PartitionsSubset": type(dagster.StaticPartitionsDefinition(["a"]).empty_subset()).__mro__[1],
    "UpstreamPartitionsResult": inspect.signature(
        dagster.IdentityPartitionMapping.get_upstream_mapped_partitions_result_for_partitions
    ).return_annotation,
}


@pytest.mark.parametrize("name", NAMES)
def test_the_name_is_dagsters(name: str) -> None:
    warnings.filterwarnings("ignore")
    first, *rest = name.split(".")
    obj: object = RETURNED.get(first, dagster)
    for part in rest if first in RETURNED else [first, *rest]:
        found = getattr(obj, part, None)
        if found is None and name.startswith("AutomationCondition."):
            # `allow`, `ignore`, `without`, `with_label` are methods of Dagster's built-in
            # conditions (of what `eager()` returns), not of the base class
            found = getattr(BUILT_IN, part, None)
        assert found is not None, f"dagster has no {name}"
        obj = found
