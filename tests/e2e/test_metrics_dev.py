"""`conflux dev` serves every part's metrics and logs JSON lines when asked (issue 20)."""

from __future__ import annotations

import json
import os
import textwrap
import time
import urllib.request
from typing import TYPE_CHECKING, Any

import dev_process
import pytest
from dev_process import conflux
from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.e2e

DEFS = textwrap.dedent(
    """
    from conflux import (AssetExecutionContext, Definitions, StaticPartitionsDefinition,
                         asset)

    letters = StaticPartitionsDefinition(["a", "b", "c", "d"])

    @asset(partitions_def=letters)
    def spelled(context: AssetExecutionContext) -> str:
        context.log.info("spelling %s", context.partition_key)
        if context.partition_key == "d":
            raise ValueError("no d today")
        return context.partition_key.upper()

    defs = Definitions(assets=[spelled])
    """
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def eventually(url: str, check: Callable[[Samples], bool], timeout: float = 20.0) -> Samples:
    """Scrape until `check` holds (gauges are set every few seconds), or fail."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(url)
        if check(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.5)


def ports_in(data: Any) -> set[int]:
    """Every `metrics_port` value anywhere in a JSON document."""
    if isinstance(data, dict):
        found = {data["metrics_port"]} if isinstance(data.get("metrics_port"), int) else set()
        return found.union(*(ports_in(v) for v in data.values()))
    if isinstance(data, list):
        return set().union(*(ports_in(v) for v in data))
    return set()


def test_every_part_serves_metrics_that_move_with_a_run_and_logs_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # By default an asset's own lines are its run's logs (`conflux logs`, tested in
    # test_cli_logs.py); without capture they go to the worker's log, here as JSON lines.
    monkeypatch.setenv("CONFLUX_CAPTURE_LOGS", "0")
    (tmp_path / "letters.py").write_text(DEFS)
    state = tmp_path / ".conflux"
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    args = ["-f", str(tmp_path / "letters.py"), "--log-format", "json"]
    with dev_process.running_dev_args(args, state, broker, prefix="metrics", cwd=tmp_path):
        status = json.loads(conflux(state, "status", "--json").stdout)
        urls = status["metrics"]
        assert set(urls) == {"coordinator", "projector", "worker-letters"}
        worker, coordinator, projector = (
            urls["worker-letters"],
            urls["coordinator"],
            urls["projector"],
        )
        before = {name: scrape(url) for name, url in urls.items()}
        keys = [arg for key in "abcd" for arg in ("--partition", key)]
        done = conflux(state, "materialize", "spelled", *keys, "--wait")
        assert done.returncode == 1, done.stdout + done.stderr  # d failed, as written

        labels = {"location": "letters"}
        w = eventually(
            worker,
            lambda s: value(s, "conflux_worker_executions_total", **labels, outcome="failure") == 1,
        )
        was = before["worker-letters"]
        runs = value(w, "conflux_worker_executions_total", **labels, outcome="success")
        assert (
            runs - value(was, "conflux_worker_executions_total", **labels, outcome="success") == 3
        )
        assert value(w, "conflux_worker_executions_total", **labels, outcome="failure") == 1
        assert value(w, "conflux_worker_execution_seconds_count", **labels) >= 4

        c = eventually(coordinator, lambda s: value(s, "conflux_runs", status="failed") >= 1)
        dispatched = value(c, "conflux_coordinator_decisions_total", type="WorkItemDispatched")
        assert dispatched >= 4
        assert value(c, "conflux_runs", status="failed") >= 1
        assert value(c, "conflux_coordinator_decision_seconds_count") > value(
            before["coordinator"], "conflux_coordinator_decision_seconds_count"
        )
        assert value(c, "conflux_coordinator_leader") == 1
        assert any(name == "conflux_consumer_lag" for name, _ in c)

        topic = "metrics.assets"
        p = eventually(
            projector,
            lambda s: (
                value(s, "conflux_events_folded_total", topic=topic)
                > value(before["projector"], "conflux_events_folded_total", topic=topic)
            ),
        )
        assert value(p, "conflux_archive_records_total") > value(
            before["projector"], "conflux_archive_records_total"
        )

        # the worker's heartbeat says where its metrics are
        beats = conflux(state, "events", "--type", "ComponentHeartbeat", "--json")
        port = int(worker.rsplit(":", 1)[1].split("/")[0])
        assert port in ports_in(json.loads(beats.stdout))

        # JSON logs: the asset's own lines carry the run and the dispatch they belong to
        lines = [
            json.loads(line)
            for line in (state / "logs" / "worker-letters.log").read_text().splitlines()
            if line.startswith("{")
        ]
        spelled = [line for line in lines if line["message"].startswith("spelling ")]
        assert len(spelled) == 4
        for line in spelled:
            assert line["component"] == "worker"
            assert line["instance_id"].startswith("letters@")
            assert line["run_id"] and line["event_id"] and line["level"] == "INFO"
        logged = (state / "logs" / "coordinator.log").read_text().splitlines()
        parsed = [json.loads(x) for x in logged if x.startswith("{")]
        assert parsed and {x["component"] for x in parsed} == {"coordinator"}
