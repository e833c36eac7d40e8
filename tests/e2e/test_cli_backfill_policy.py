"""`BackfillPolicy` through the CLI, against a running `conflux dev` on real Kafka.

A backfill and a `materialize --from/--to` over assets with `multi_run` and `single_run`
policies: each asset function is called once per group of partitions (the calls are
recorded to a file by the user code itself, in the worker), sees the right
`context.partition_key_range`, and every partition ends materialized, counted per
partition by `conflux backfill status`, `conflux runs` and `conflux assets`.
"""

from __future__ import annotations

import json
import os
import textwrap
from typing import TYPE_CHECKING, Any

import dev_process
import pytest
from dev_process import conflux

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.e2e

DEFS = textwrap.dedent(
    """
    import json
    from pathlib import Path

    from conflux import (AssetExecutionContext, BackfillPolicy, DailyPartitionsDefinition,
                         Definitions, MaterializeResult, asset)

    CALLS = Path(__file__).with_name("calls.jsonl")
    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")


    def record(context: AssetExecutionContext, **extra: object) -> None:
        window = context.partition_time_window
        call = {
            "asset": context.asset_key.to_user_string(),
            "range": list(context.partition_key_range),
            "keys": context.partition_keys,
            "has_partition_key": context.has_partition_key,
            "window": [window.start.date().isoformat(), window.end.date().isoformat()],
            **extra,
        }
        with CALLS.open("a") as fh:
            fh.write(json.dumps(call) + "\\n")


    @asset(partitions_def=days, backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=4))
    def orders(context: AssetExecutionContext) -> dict[str, int]:
        record(context)
        return {key: int(key[-2:]) for key in context.partition_keys}


    @asset(partitions_def=days, backfill_policy=BackfillPolicy.single_run())
    def totals(context: AssetExecutionContext, orders: dict[str, int]) -> MaterializeResult:
        record(context, read=orders)
        return MaterializeResult(metadata={"days": len(orders)})


    @asset(partitions_def=days)
    def doubled(context: AssetExecutionContext, orders: int) -> int:
        record(context, read=orders)
        return orders * 2


    defs = Definitions(assets=[orders, totals, doubled])
    """
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    project = tmp_path_factory.mktemp("backfill-policy")
    (project / "definitions.py").write_text(DEFS)
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    with dev_process.running_dev(
        project / "definitions.py", project / ".conflux", broker, prefix="e2e-bfp"
    ):
        yield project


def calls(project: Path, asset: str) -> list[dict[str, object]]:
    path = project / "calls.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    found = [json.loads(line) for line in lines]
    return sorted((c for c in found if c["asset"] == asset), key=lambda c: str(c["range"]))


def run_json(project: Path, *args: str) -> dict[str, Any]:
    done = conflux(project / ".conflux", *args, "--json", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    found = json.loads(done.stdout)
    assert isinstance(found, dict)
    return found


def days(first: int, last: int) -> list[str]:
    return [f"2024-01-{d:02d}" for d in range(first, last + 1)]


def test_a_backfill_calls_each_asset_once_per_group_of_partitions(project: Path) -> None:
    backfill = run_json(
        project, "backfill", "orders*", "--from", "2024-01-01", "--to", "2024-01-10", "--wait"
    )
    assert backfill["status"] == "success", backfill
    assert (backfill["total"], backfill["materialized"], backfill["failed"]) == (30, 30, 0)
    assert (backfill["remaining"], backfill["in_progress"]) == (0, 0)

    assert [(c["range"], c["keys"], c["window"]) for c in calls(project, "orders")] == [
        (["2024-01-01", "2024-01-04"], days(1, 4), ["2024-01-01", "2024-01-05"]),
        (["2024-01-05", "2024-01-08"], days(5, 8), ["2024-01-05", "2024-01-09"]),
        (["2024-01-09", "2024-01-10"], days(9, 10), ["2024-01-09", "2024-01-11"]),
    ]
    assert {c["has_partition_key"] for c in calls(project, "orders")} == {False}
    [totals] = calls(project, "totals")  # single_run: the whole chunk in one call
    assert totals["range"] == ["2024-01-01", "2024-01-10"]
    assert totals["read"] == {day: int(day[-2:]) for day in days(1, 10)}
    doubled = calls(project, "doubled")  # no policy: one call per partition, one value each
    assert [(c["keys"], c["read"], c["has_partition_key"]) for c in doubled] == [
        ([day], int(day[-2:]), True) for day in days(1, 10)
    ]

    for asset in ("orders", "totals", "doubled"):
        listed = conflux(project / ".conflux", "assets", asset, "--json")
        [summary] = json.loads(listed.stdout)
        assert summary["partitions"]["materialized"] == 10, summary
    [chunk] = [
        r
        for r in json.loads(conflux(project / ".conflux", "runs", "--json").stdout)
        if r["trigger"] == "backfill"
    ]
    assert (chunk["partition_count"], chunk["materialized"], chunk["status"]) == (
        30,
        30,
        "success",
    )

    # the ranged dispatch is part of each covered partition's history
    history = json.loads(
        conflux(
            project / ".conflux",
            "events",
            "--asset",
            "orders",
            "--partition",
            "2024-01-06",
            "--json",
        ).stdout
    )
    kinds = [record["event"]["type"] for record in history]
    assert kinds.count("WorkItemDispatched") == 1, kinds
    assert kinds[-1] == "AssetMaterialized", kinds


def test_materialize_from_to_runs_a_range_in_one_call(project: Path) -> None:
    run = run_json(
        project, "materialize", "orders", "--from", "2024-01-11", "--to", "2024-01-13", "--wait"
    )
    assert (run["status"], run["partition_count"], run["materialized"]) == ("success", 3, 3)
    ranges = [c["range"] for c in calls(project, "orders")]
    assert ranges.count(["2024-01-11", "2024-01-13"]) == 1
    assert len(ranges) == 4  # the backfill's three calls and this one
    partitions = run_json(project, "assets", "orders", "--partitions")
    assert partitions["ranges"][0] == {
        "first": "2024-01-01",
        "last": "2024-01-13",
        "status": "materialized",
        "count": 13,
    }
