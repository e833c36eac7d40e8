"""`conflux sql` and `conflux events` as a user runs them: history from the archive.

Every `conflux sql` example of docs/archive.md runs here, against the quickstart project,
through the running projector and then, with `dev` stopped, against the archive opened
read-only by the CLI itself; a statement that writes is refused and changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from pathlib import Path

import pytest
from dev_process import conflux, running_dev, stop

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart" / "definitions.py"
WRITES = re.compile(r"\b(INSERT|DROP|ALTER|CREATE|TRUNCATE|OPTIMIZE|DELETE)\b", re.IGNORECASE)


def doc_examples() -> list[list[str]]:
    """Every `conflux sql ...` line of the shell blocks of docs/archive.md, as arguments."""
    text = (ROOT / "docs" / "archive.md").read_text()
    found = []
    for block in re.findall(r"```shell\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            if line.startswith("conflux sql "):
                found.append(shlex.split(line)[1:])
    return found


def rows_of(args: list[str], stdout: str) -> int:
    """How many rows an answer printed, in the format asked for."""
    fmt = args[args.index("--format") + 1] if "--format" in args else "table"
    if fmt == "json":
        return len(json.loads(stdout))
    if fmt == "csv":
        return len(list(csv.reader(io.StringIO(stdout)))) - 1
    found = re.search(r"^\((\d[\d,]*) rows?\)$", stdout.strip().splitlines()[-1])
    assert found, stdout
    return int(found.group(1).replace(",", ""))


def run_examples(state: Path, events_before: int) -> None:
    examples = doc_examples()
    assert len(examples) >= 10
    for args in examples:
        query = args[1]
        done = conflux(state, "sql", *args[1:])
        if WRITES.search(query):
            assert done.returncode == 1, done.stdout
            assert done.stderr.count("\n") == 1 and "refused" in done.stderr, done.stderr
        else:
            assert done.returncode == 0, f"{query}: {done.stderr}"
            assert rows_of(args, done.stdout) > 0, f"{query} answered no rows"
    count = conflux(state, "sql", "SELECT count() AS n FROM events", "--format", "json")
    assert json.loads(count.stdout)[0]["n"] >= events_before  # nothing was dropped


def test_history_and_sql_from_the_archive(tmp_path: Path) -> None:
    state = tmp_path / ".conflux"
    with running_dev(QUICKSTART, state, "kafka", prefix="e2e-sql") as (dev, _):
        week = conflux(state, "materialize", "*", "--from", "2024-01-01", "--to", "2024-01-07",
                       "--wait")  # fmt: skip
        assert week.returncode == 0, week.stderr
        report = conflux(state, "materialize", "january_report", "--wait", "--json")
        assert report.returncode == 0, report.stderr

        # A read after a write sees the write: the story of one day, from the archive.
        story = conflux(
            state, "events", "--asset", "daily_revenue", "--partition", "2024-01-03", "--json"
        )
        assert story.returncode == 0, story.stderr
        records = json.loads(story.stdout)
        assert [r["type"] for r in records] == [
            "MaterializationRequested",
            "WorkItemDispatched",
            "PartitionStarted",
            "AssetMaterialized",
        ]
        assert all(r["partition_key"] in ("2024-01-03", None) for r in records)
        made = conflux(
            state, "events", "--asset", "january_report", "--type", "AssetMaterialized", "--json"
        )
        assert [r["asset_key"] for r in json.loads(made.stdout)] == ["january_report"] * 2
        newest = conflux(state, "events", "--asset", "january_report", "--limit", "1", "--json")
        (last,) = json.loads(newest.stdout)
        assert last["seq"] == max(r["seq"] for r in json.loads(made.stdout)) or last["type"] in (
            "AssetMaterialized",
            "PartitionStarted",
        )

        total = conflux(state, "sql", "SELECT count() AS n FROM events", "--format", "json")
        assert total.returncode == 0, total.stderr
        events_before = json.loads(total.stdout)[0]["n"]
        run_examples(state, events_before)
        bad = conflux(state, "sql", "SELECT {x:UInt8}", "--param", "x=many")
        assert bad.returncode == 1 and "conflux: error:" in bad.stderr
        stop(dev)

    # No projector: the CLI opens the archive itself, read-only.
    run_examples(state, events_before)
