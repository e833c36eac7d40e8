"""Rule 4 through the CLI: Ctrl-C `dev`, start it again on the same state folder, go on.

Apache Kafka keeps its log in the state folder; Tansu keeps nothing, so `dev` restores
the log from the archive before anything else starts.
"""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING, Any

import pytest
from dev_process import conflux, running_dev, stop, wait_for

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e

DEFS = textwrap.dedent(
    """
    from conflux import AssetSpec, Definitions, DailyPartitionsDefinition, asset

    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")

    @asset(partitions_def=days)
    def numbers(context) -> int:
        return int(context.partition_key[-2:])

    @asset(partitions_def=days)
    def total(numbers: int) -> int:
        return numbers * 2

    defs = Definitions(assets=[numbers, total, AssetSpec("vendor_feed")])
    """
)


def _assets(state: Path) -> dict[str, dict[str, Any]]:
    found = conflux(state, "assets", "--json")
    assert found.returncode == 0, found.stderr
    return {a["key"]: a for a in json.loads(found.stdout)}


@pytest.mark.parametrize("broker", ["kafka", "tansu"])
def test_dev_restarts_without_losing_anything(tmp_path: Path, broker: str) -> None:
    definitions = tmp_path / "definitions.py"
    definitions.write_text(DEFS)
    state = tmp_path / ".conflux"

    with running_dev(definitions, state, broker) as (dev, _):
        first = conflux(state, "materialize", "numbers*", "--partition", "2024-01-02", "--wait")
        assert first.returncode == 0, first.stderr
        reported = conflux(state, "report", "vendor_feed", "--data-version", "v7")
        assert reported.returncode == 0, reported.stderr
        wait_for(lambda: _assets(state)["vendor_feed"]["last_materialization"])
        before = json.loads(conflux(state, "runs", "--json").stdout)
        lineage_before = conflux(state, "lineage", "total", "--partition", "2024-01-02", "--json")
        assert lineage_before.returncode == 0, lineage_before.stderr
        assert stop(dev) == 0

    with running_dev(definitions, state, broker) as (dev, lines):
        if broker == "tansu":
            assert any("restored" in line for line in lines), lines
        assets = _assets(state)
        assert assets["numbers"]["partitions"]["materialized"] == 1
        assert assets["total"]["partitions"]["materialized"] == 1
        last = assets["vendor_feed"]["last_materialization"]
        assert last["data_version"] == "v7"
        after = json.loads(conflux(state, "runs", "--json").stdout)
        assert [(r["run_id"], r["status"]) for r in after] == [
            (r["run_id"], r["status"]) for r in before
        ]
        lineage_after = conflux(state, "lineage", "total", "--partition", "2024-01-02", "--json")
        assert json.loads(lineage_after.stdout) == json.loads(lineage_before.stdout)

        again = conflux(state, "materialize", "numbers*", "--partition", "2024-01-03", "--wait")
        assert again.returncode == 0, again.stderr
        assert _assets(state)["total"]["partitions"]["materialized"] == 2
        found = conflux(state, "events", "--asset", "total", "--partition", "2024-01-02", "--json")
        history = json.loads(found.stdout)
        materialized = [e for e in history if e["type"] == "AssetMaterialized"]
        assert len(materialized) == 1, "the first run's partition was executed again"
        assert stop(dev) == 0
