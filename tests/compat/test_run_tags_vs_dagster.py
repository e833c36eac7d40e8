# mypy: disallow-untyped-decorators=False
"""`context.run.tags` and `context.run_tags` where an asset runs: the request's tags, as in Dagster.

The same asset is materialized in process with Dagster and with Conflux, with the same
tags; each returns what its context saw. Dagster adds tags of its own (`dagster/...`), so
the comparison is of the user's tags. In Conflux the tags travel on the request and on
each work item the coordinator dispatches (`WorkItemDispatched.tags`), so a worker sees
them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

dagster = pytest.importorskip("dagster", reason="dagster is not installed: pip install '.[compat]'")

import conflux  # noqa: E402
from conflux.events import WorkItemDispatched  # noqa: E402

if TYPE_CHECKING:
    from types import ModuleType

pytestmark = pytest.mark.filterwarnings("ignore")  # Dagster's beta warnings

TAGS = {"team": "data", "priority": "high"}


def _seen(dg: ModuleType, partitioned: bool) -> tuple[dict[str, str], dict[str, str], Any]:
    days = dg.DailyPartitionsDefinition(start_date="2024-01-01") if partitioned else None

    @dg.asset(partitions_def=days)
    def tagged(context):  # type: ignore[no-untyped-def]  # Dagster refuses an Any annotation
        return {"run": dict(context.run.tags), "run_tags": dict(context.run_tags)}

    key = "2024-01-02" if partitioned else None
    result = dg.materialize([tagged], tags=TAGS, partition_key=key)
    seen = result.output_for_node("tagged")
    return seen["run"], seen["run_tags"], result


@pytest.mark.parametrize("partitioned", [False, True])
def test_the_requests_tags_reach_the_assets_context(partitioned: bool) -> None:
    theirs_run, theirs_tags, _ = _seen(dagster, partitioned)
    ours_run, ours_tags, result = _seen(conflux, partitioned)
    mine = {k: v for k, v in theirs_run.items() if not k.startswith("dagster/")}
    assert mine == TAGS == {k: v for k, v in theirs_tags.items() if not k.startswith("dagster/")}
    assert ours_run == ours_tags == TAGS
    [dispatch] = [e for e in result.events if isinstance(e, WorkItemDispatched)]
    assert dispatch.tags == TAGS  # what a worker elsewhere builds its context from
