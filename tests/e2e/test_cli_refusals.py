"""Requests the CLI refuses before anything is written, and answers that stay exact.

Issue 16, through `conflux dev` and the CLI as a user runs them: an invalid partition key
or a range whose start comes after its end is refused with its one-line reason and
nothing reaches the permanent log (`materialize` used to write the request and let the
coordinator reject it; `backfill` said "running" and failed later); `events --partition
''` filters by the empty key instead of ignoring it; and the usage error of a backfill
without a range points at a help that shows the range options.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import dev_process
import pytest
from dev_process import conflux

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.e2e

DEFS = textwrap.dedent(
    """
    from conflux import DailyPartitionsDefinition, Definitions, asset

    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")

    @asset(partitions_def=days)
    def numbers() -> int:
        return 1

    defs = Definitions(assets=[numbers])
    """
)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    project = tmp_path_factory.mktemp("refusals")
    (project / "definitions.py").write_text(DEFS)
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    with dev_process.running_dev(project / "definitions.py", project / ".conflux", broker):
        yield project / ".conflux"


def _requests(state: Path) -> list[dict[str, object]]:
    """Every request and backfill on the log, as `conflux events --json` lists them."""
    found: list[dict[str, object]] = []
    for event_type in ("MaterializationRequested", "BackfillRequested"):
        listed = conflux(state, "events", "--type", event_type, "--json")
        assert listed.returncode == 0, listed.stderr
        found += json.loads(listed.stdout)
    return found


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["materialize", "numbers", "--partition", "2023-12-31"], "2023-12-31"),
        (["materialize", "numbers", "--from", "2024-01-05", "--to", "2024-01-02"], "swap"),
        (["backfill", "numbers", "--from", "2024-01-05", "--to", "2024-01-02"], "swap"),
        (["backfill", "numbers", "--from", "2024-01-02", "--to", "2025-01-05"], "2025-01-05"),
    ],
)
def test_a_refused_request_writes_nothing(state: Path, args: list[str], reason: str) -> None:
    before = _requests(state)
    assert reason in _one_line_error(conflux(state, *args))
    # A request written now is seen after anything the refused command could have written.
    done = conflux(state, "materialize", "numbers", "--partition", "2024-01-03", "--wait")
    assert done.returncode == 0, done.stderr
    after = _requests(state)
    assert len(after) == len(before) + 1, [e["event"] for e in after[len(before) :]]
    assert after[-1]["partition_key"] == "2024-01-03"


def test_events_filter_by_an_empty_partition_instead_of_ignoring_it(state: Path) -> None:
    done = conflux(state, "materialize", "numbers", "--partition", "2024-01-04", "--wait")
    assert done.returncode == 0, done.stderr
    every = conflux(state, "events", "--asset", "numbers", "--json")
    assert json.loads(every.stdout), "the asset has events"
    empty = conflux(state, "events", "--asset", "numbers", "--partition", "")
    assert empty.stdout == ""
    assert "''" in _one_line_error(empty)  # the key is not one of the asset's: it says why


def test_a_backfill_without_a_range_points_at_a_help_that_shows_the_range(tmp_path: Path) -> None:
    hint = _one_line_error(conflux(tmp_path, "backfill", "numbers"))
    assert "(see `conflux backfill --help`)" in hint, hint
    shown = subprocess.run(
        [sys.executable, "-m", "conflux", "backfill", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert shown.returncode == 0, shown.stderr
    for option in ("--from", "--to", "--partition", "--missing-only", "--wait"):
        assert option in shown.stdout, shown.stdout
