"""Dynamic partitions through the CLI, against a running `conflux dev`.

`conflux partitions add | list | remove`, then materializing a dynamic partition (alone
and as a dimension of a multi), a clear failure for a key not added, and a removal that
keeps the history. The definitions: tests/e2e/dynamic_partitions_defs.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import dev_process
import pytest
from dev_process import conflux, wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

DEFS = Path(__file__).with_name("dynamic_partitions_defs.py")


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    project = tmp_path_factory.mktemp("dynamic")
    shutil.copy(DEFS, project / "definitions.py")
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    state = project / ".conflux"
    with dev_process.running_dev(project / "definitions.py", state, broker, prefix="e2e-dyn"):
        yield state


def conflux_in(state: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One CLI command with `stdin` as its standard input."""
    return subprocess.run(
        [sys.executable, "-m", "conflux", *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
    )


def listed(state: Path, name: str = "customers") -> list[str]:
    done = conflux(state, "partitions", "list", name)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_add_and_list_keys(state: Path) -> None:
    overview = conflux(state, "partitions", "list", "--json")
    assert overview.returncode == 0, overview.stderr
    [customers] = json.loads(overview.stdout)
    assert customers["name"] == "customers"
    assert customers["assets"] == ["customer_orders", "customer_total", "regional_orders"]

    added = conflux(state, "partitions", "add", "customers", "acme", "bolt", "--json")
    assert added.returncode == 0, added.stderr
    report = json.loads(added.stdout)
    assert (report["changed"], report["unchanged"]) == (["acme", "bolt"], [])

    # thousands of keys come from a file or stdin; a key already there keeps its place
    more = conflux_in(state, "core\n\nacme\n", "partitions", "add", "customers", "--from-file", "-")
    assert more.returncode == 0, more.stderr
    assert more.stdout.startswith("added 1 key to dynamic partitions customers (1 already there)")
    keys = listed(state)
    assert [k for k in keys if k in {"acme", "bolt", "core"}] == ["acme", "bolt", "core"]

    ranges = json.loads(
        conflux(state, "assets", "customer_orders", "--partitions", "--json").stdout
    )
    assert ranges["total"] == len(keys)


def test_bad_keys_and_names_fail_on_one_line(state: Path) -> None:
    bad = conflux(state, "partitions", "add", "customers", "a|b")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "contains '|'" in bad.stderr, bad.stderr
    spaced = conflux(state, "partitions", "add", "customers", " acme")
    assert spaced.returncode == 2 and "remove it ('acme')" in spaced.stderr, spaced.stderr
    typo = conflux(state, "partitions", "add", "custmers", "acme")
    assert typo.returncode == 1, typo.stderr
    assert "no asset uses dynamic partitions 'custmers' (used: customers)" in typo.stderr
    unknown = conflux(state, "partitions", "list", "custmers")
    assert unknown.returncode == 1 and "known: customers" in unknown.stderr, unknown.stderr


def test_materialize_a_dynamic_partition(state: Path) -> None:
    added = conflux(state, "partitions", "add", "customers", "dawn")
    assert added.returncode == 0, added.stderr
    done = conflux(
        state, "materialize", "customer_orders*", "--partition", "dawn", "--wait", "--json"
    )
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert (run["status"], run["materialized"]) == ("success", 2)
    regional = conflux(
        state, "materialize", "regional_orders", "--partition", "dawn|eu", "--wait", "--json"
    )
    assert regional.returncode == 0, regional.stderr
    assert json.loads(regional.stdout)["materialized"] == 1
    assets = {a["key"]: a for a in json.loads(conflux(state, "assets", "--json").stdout)}
    assert assets["customer_total"]["last_materialization"]["partition_key"] == "dawn"


def test_a_key_not_added_fails_clearly(state: Path) -> None:
    done = conflux(state, "materialize", "customer_orders", "--partition", "zulu", "--wait")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "has not been added to dynamic partitions 'customers'" in done.stderr
    assert "`conflux partitions add customers zulu`" in done.stderr
    reported = conflux(state, "report", "customer_orders", "--partition", "zulu")
    assert reported.returncode == 1
    assert "conflux partitions add customers zulu" in reported.stderr, reported.stderr


def test_remove_keeps_the_history(state: Path) -> None:
    assert conflux(state, "partitions", "add", "customers", "echo", "fox").returncode == 0
    reported = conflux(state, "report", "customer_orders", "--partition", "echo")
    assert reported.returncode == 0, reported.stderr

    def materialized_now() -> int:
        assets = {a["key"]: a for a in json.loads(conflux(state, "assets", "--json").stdout)}
        counts: dict[str, int] = assets["customer_orders"]["partitions"]
        return counts["materialized"]

    wait_for(lambda: materialized_now() >= 1)
    before = materialized_now()

    removed = conflux(state, "partitions", "remove", "customers", "echo", "nope", "--json")
    assert removed.returncode == 0, removed.stderr
    report = json.loads(removed.stdout)
    assert (report["changed"], report["unchanged"]) == (["echo"], ["nope"])
    assert "echo" not in listed(state) and "fox" in listed(state)
    assert materialized_now() == before - 1  # status views count current keys only

    history = conflux(
        state, "events", "--asset", "customer_orders", "--partition", "echo", "--json"
    )
    assert "AssetMaterialized" in [e["type"] for e in json.loads(history.stdout)]

    again = conflux(state, "materialize", "customer_orders", "--partition", "echo")
    assert again.returncode == 1 and "has not been added" in again.stderr, again.stderr
    nothing = conflux(state, "partitions", "remove", "vendors", "x")
    assert nothing.returncode == 1 and "no dynamic partitions 'vendors'" in nothing.stderr
