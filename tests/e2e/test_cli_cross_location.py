"""Across code locations, as a user runs them: two locations under one `conflux dev -w`.

`shop` (`cross_location_upstream.py`) defines `orders` (daily) and `clicks`; `reports`
(`cross_location_downstream.py`) defines `order_report` (daily, `deps=[AssetKey("orders")]`)
and `click_report` (`deps=["clicks"]`, eager), and declares shop's assets as `AssetSpec`s.
Every test runs twice: with those `AssetSpec`s, and with plain keys only
(`cross_location_downstream_plain.py`, which declares nothing about shop's assets).
Through the CLI only: one run plans and orders work across both locations, a backfill
walks the daily pair, automation in `reports` follows a materialization in `shop`,
lineage names the other location's materialization, and a run whose location is down is
held with a reason and completes, unsubmitted again, once the location loads.

The definitions are copied into the test's folder: the last test breaks `shop`'s file.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import dev_process
import pytest
from dev_process import conflux, wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
Json = dict[str, object]


DOWNSTREAM = {
    "asset_specs": "cross_location_downstream.py",
    "plain_keys": "cross_location_downstream_plain.py",
}


@pytest.fixture(scope="module", params=sorted(DOWNSTREAM))
def system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    project = tmp_path_factory.mktemp("cross")
    shutil.copy(HERE / "cross_location_upstream.py", project / "upstream.py")
    shutil.copy(HERE / DOWNSTREAM[request.param], project / "downstream.py")
    (project / "workspace.yaml").write_text(
        textwrap.dedent(
            """
            load_from:
              - python_file: {relative_path: upstream.py, location_name: shop,
                              working_directory: .}
              - python_file: {relative_path: downstream.py, location_name: reports,
                              working_directory: .}
            """
        )
    )
    state = project / ".conflux"
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    workspace = ["-w", "workspace.yaml"]
    prefix = f"e2e-cross-{request.param.replace('_', '-')}"
    with dev_process.running_dev_args(workspace, state, broker, prefix=prefix, cwd=project):
        yield {"state": state, "project": project}


def _json(state: Path, *args: str) -> object:
    done = conflux(state, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _list(state: Path, *args: str) -> list[Json]:
    found = _json(state, *args)
    assert isinstance(found, list)
    return found


def _dict(state: Path, *args: str) -> Json:
    found = _json(state, *args)
    assert isinstance(found, dict)
    return found


def _events(state: Path, asset: str, kind: str, run_id: str | None = None) -> list[Json]:
    """The `kind` events about `asset` (of one run), as the events themselves."""
    records = _list(state, "events", "--asset", asset, "--type", kind)
    events = [r["event"] for r in records]
    return [e for e in events if isinstance(e, dict) and run_id in (None, e.get("run_id"))]


def _read(event: Json) -> list[str]:
    """The ids of the upstream materializations an `AssetMaterialized` read."""
    upstream = event["upstream"]
    assert isinstance(upstream, list)
    return [str(up["event_id"]) for up in upstream]


def _time(event: Json) -> datetime:
    return datetime.fromisoformat(str(event["time"]))


def _run(state: Path, run_id: str) -> Json | None:
    return next((r for r in _list(state, "runs", "--limit", "100") if r["run_id"] == run_id), None)


def test_one_run_plans_across_locations_and_orders_their_work(system: dict[str, Path]) -> None:
    state = system["state"]
    assets = {a["key"]: a for a in _list(state, "assets")}
    # shop defines them; reports only declares them: the definition wins the graph.
    assert {k: (a["location"], a["is_external"]) for k, a in assets.items()} == {
        "orders": ("shop", False),
        "clicks": ("shop", False),
        "order_report": ("reports", False),
        "click_report": ("reports", False),
    }
    run = _dict(state, "materialize", "*", "--partition", "2024-01-02", "--wait")
    assert run["status"] == "success", run
    assert run["asset_keys"] == ["click_report", "clicks", "order_report", "orders"]
    assert (run["materialized"], run["failed"], run["skipped"]) == (4, 0, 0)
    run_id = str(run["run_id"])
    [made] = _events(state, "orders", "AssetMaterialized", run_id)
    [started] = _events(state, "order_report", "PartitionStarted", run_id)
    [report] = _events(state, "order_report", "AssetMaterialized", run_id)
    assert made["partition_key"] == started["partition_key"] == "2024-01-02"
    assert _time(started) >= _time(made)  # dispatched only once its upstream materialized
    assert str(made["worker_id"]).startswith("shop@")
    assert str(started["worker_id"]).startswith("reports@")
    assert report["upstream"] == [
        {
            "asset_key": "orders",
            "partition_key": "2024-01-02",
            "data_version": made["data_version"],
            "event_id": made["event_id"],
        }
    ]


def test_a_backfill_walks_a_daily_pair_across_locations(system: dict[str, Path]) -> None:
    state = system["state"]
    args = ["backfill", "orders,order_report", "--from", "2024-01-03", "--to", "2024-01-09"]
    backfill = _dict(state, *args, "--wait")
    assert backfill["status"] == "success", backfill
    assert (backfill["total"], backfill["materialized"], backfill["failed"]) == (14, 14, 0)
    days = [f"2024-01-0{d}" for d in range(3, 10)]
    made = {
        e["partition_key"]: _time(e)
        for e in _events(state, "orders", "AssetMaterialized")
        if e["partition_key"] in days
    }
    started = {
        e["partition_key"]: _time(e)
        for e in _events(state, "order_report", "PartitionStarted")
        if e["partition_key"] in days
    }
    assert sorted(made) == sorted(started) == days
    late = [day for day in days if started[day] < made[day]]
    assert not late, f"order_report started before its orders partition materialized: {late}"


def test_an_eager_asset_follows_its_upstream_in_another_location(
    system: dict[str, Path],
) -> None:
    state = system["state"]
    run = _dict(state, "materialize", "clicks", "--wait")
    assert (run["status"], run["asset_keys"]) == ("success", ["clicks"])
    [clicks] = _events(state, "clicks", "AssetMaterialized", str(run["run_id"]))

    def followed() -> list[Json]:  # click_report's materializations that read this one
        found = _events(state, "click_report", "AssetMaterialized")
        return [e for e in found if clicks["event_id"] in _read(e)]

    wait_for(followed, timeout=30)
    [report] = followed()
    automatic = _run(state, str(report["run_id"]))
    assert automatic is not None, report
    assert (automatic["trigger"], automatic["asset_keys"]) == ("automation", ["click_report"])
    last = _dict(state, "why", "click_report")["last_run"]
    assert isinstance(last, dict) and last["run_id"] == report["run_id"]
    assert "any_deps_updated: clicks materialized" in str(last["explanation"]), last


def test_lineage_names_the_upstream_materialization_in_another_location(
    system: dict[str, Path],
) -> None:
    state = system["state"]
    run = _dict(state, "materialize", "*order_report", "--partition", "2024-01-10", "--wait")
    assert (run["status"], run["materialized"]) == ("success", 2), run
    [made] = _events(state, "orders", "AssetMaterialized", str(run["run_id"]))
    [report] = _events(state, "order_report", "AssetMaterialized", str(run["run_id"]))

    def upstream() -> Json | None:  # the archive folds a moment behind the read model
        done = conflux(state, "lineage", "order_report", "--partition", "2024-01-10", "--json")
        if done.returncode != 0:
            return None
        answer: Json = json.loads(done.stdout)
        root = answer["root"]
        assert isinstance(root, dict)
        return answer if root["event_id"] == report["event_id"] else None

    wait_for(upstream, timeout=30)
    answer = upstream()
    assert answer is not None
    links = answer["links"]
    assert isinstance(links, list) and len(links) == 1, links
    link = links[0]
    assert (link["upstream_asset"], link["upstream_partition"]) == ("orders", "2024-01-10")
    assert link["upstream_event_id"] == made["event_id"]
    assert link["upstream_data_version"] == made["data_version"]
    down = conflux(state, "lineage", "orders", "--partition", "2024-01-10", "--downstream")
    assert down.returncode == 0, down.stderr
    assert "-> order_report[2024-01-10]" in down.stdout, down.stdout


def test_a_run_whose_location_is_down_is_held_then_dispatched_when_it_loads(
    system: dict[str, Path],
) -> None:
    state, upstream = system["state"], system["project"] / "upstream.py"
    good = upstream.read_text()

    def shop() -> Json:
        [found] = [loc for loc in _list(state, "locations", "list") if loc["name"] == "shop"]
        return found

    try:
        upstream.write_text(good + "\ndef broken(:\n")  # `dev` sees the change and reloads
        wait_for(lambda: shop()["status"] == "failed", timeout=30)
        error = shop()["last_error"]
        assert isinstance(error, dict) and error["error_type"] == "SyntaxError"
        asked = _dict(state, "materialize", "*order_report", "--partition", "2024-01-20")
        run_id = str(asked["run_id"])

        def held() -> str | None:
            run = _run(state, run_id)
            return str(run["held"]) if run is not None and run["held"] else None

        wait_for(held, timeout=15)
        reason = held()
        assert reason is not None and reason.startswith("location shop is down: ")
        assert "SyntaxError" in reason and "once it loads again" in reason, reason
        time.sleep(1)  # held, not failed: nothing ran, nothing was skipped
        run = _run(state, run_id)
        assert run is not None and run["status"] == "started", run
        assert (run["materialized"], run["skipped"], run["in_progress"]) == (0, 0, 0), run
        holds = [r["event"] for r in _list(state, "events", "--type", "RunHeld")]
        assert [(h["run_id"], h["location"]) for h in holds if isinstance(h, dict)] == [
            (run_id, "shop")
        ]  # one per run, location and outage
        reports = [loc for loc in _list(state, "locations", "list") if loc["name"] == "reports"]
        assert reports[0]["status"] == "loaded"  # the other location goes on
    finally:
        upstream.write_text(good)

    def finished() -> Json | None:
        run = _run(state, run_id)
        return run if run is not None and run["status"] in ("success", "failed") else None

    wait_for(finished, timeout=60)
    run = finished()
    assert run is not None
    assert (run["status"], run["materialized"], run["held"]) == ("success", 2, None), run
    assert shop()["status"] == "loaded"
    requests = _list(state, "events", "--type", "MaterializationRequested")
    assert [r["run_id"] for r in requests].count(run_id) == 1  # never submitted again
