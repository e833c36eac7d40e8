"""Issue 16, item 5 and the key-length item, through the CLI and real processes.

On a running `conflux dev`: the dynamic keys `a/b` and `a%2Fb` (one stored file before
the fix) are materialized with different values, and each downstream partition reads its
own upstream value; a key over the length bound is refused by `partitions add` on one
line, and nothing reaches the log. The definitions: tests/e2e/storage_keys_defs.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import dev_process
import pytest
from dev_process import conflux

from conflux.sdk import AssetKey, FilesystemIOManager, build_input_context

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

DEFS = Path(__file__).with_name("storage_keys_defs.py")
KEYS = ["a/b", "a%2Fb"]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    project = tmp_path_factory.mktemp("storage-keys")
    shutil.copy(DEFS, project / "definitions.py")
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    state = project / ".conflux"
    with dev_process.running_dev(project / "definitions.py", state, broker, prefix="e2e-keys"):
        yield state


def stored(state: Path, asset: str, key: str) -> object:
    """The value the worker stored, read as a downstream asset would read it."""
    manager = FilesystemIOManager(base_dir=str(state / "storage"))
    return manager.load_input(build_input_context(asset_key=AssetKey(asset), partition_key=key))


def test_keys_differing_in_slash_and_percent_2f_keep_their_own_values(state: Path) -> None:
    added = conflux(state, "partitions", "add", "files", *KEYS)
    assert added.returncode == 0, added.stderr
    for key in KEYS:  # both upstream values first: before the fix the second overwrote the first
        up = conflux(state, "materialize", "dyn_up", "--partition", key, "--wait", "--json")
        assert up.returncode == 0, up.stderr
        assert json.loads(up.stdout)["status"] == "success"
    for key in KEYS:
        down = conflux(state, "materialize", "dyn_down", "--partition", key, "--wait", "--json")
        assert down.returncode == 0, down.stderr
    for key in KEYS:
        assert stored(state, "dyn_up", key) == f"up[{key}]"
        assert stored(state, "dyn_down", key) == {"key": key, "read": f"up[{key}]"}


def added_events(state: Path) -> list[dict[str, object]]:
    done = conflux(state, "events", "--type", "DynamicPartitionsAdded", "--json")
    assert done.returncode == 0, done.stderr
    events: list[dict[str, object]] = json.loads(done.stdout)
    return events


def test_a_key_over_the_limit_is_refused_on_one_line_and_never_logged(state: Path) -> None:
    before = added_events(state)
    long_key = "k" * 9_995 + "-tail"
    refused = conflux(state, "partitions", "add", "files", "fine", long_key)
    assert refused.returncode != 0
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "10,000 characters long, over the limit of 1,024" in refused.stderr
    assert "-tail'" in refused.stderr and len(refused.stderr) < 500  # abbreviated
    # a later add is folded after anything the refused one could have produced
    marker = conflux(state, "partitions", "add", "files", "marker")
    assert marker.returncode == 0, marker.stderr
    after = added_events(state)
    new = [e for e in after if e not in before]
    assert len(new) == 1 and "marker" in json.dumps(new[0]), new
    assert long_key not in json.dumps(after) and "fine" not in listed(state)


def listed(state: Path) -> list[str]:
    done = conflux(state, "partitions", "list", "files")
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()
