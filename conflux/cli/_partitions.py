"""`conflux partitions add | remove | list`: the keys of dynamic partitions.

`add` and `remove` produce `DynamicPartitionsAdded` / `DynamicPartitionsDeleted` events
(as `conflux report` produces a materialization), in chunks small enough for one Kafka
record each, then wait until the projector's read model shows the change, so that the
next command (`conflux partitions list`, `conflux materialize --partition KEY`) sees it.
`list` reads the query API.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from conflux.cli._options import JSON, STATE_DIR
from conflux.events import ConfluxError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from conflux.projections.api import ApiClient, DynamicPartitionsKeys

CHUNK_KEYS = 5_000
"""At most this many keys per event."""
CHUNK_BYTES = 256_000
"""At most about this many bytes of keys per event (Kafka's default record limit is 1 MB)."""
FOLD_TIMEOUT_S = 30.0
"""How long `add` / `remove` wait for the projector to show the change."""


class PartitionsNotFoldedError(ConfluxError):
    """The projector did not show an added or removed key in time."""


def read_keys(keys: Sequence[str], from_file: str | None, *, new: bool = True) -> list[str]:
    """The KEY arguments, then the lines of `from_file` (`-`: stdin), checked, deduplicated.

    `new` keys (to add) must also fit `MAX_PARTITION_KEY_LENGTH`; keys to remove need not,
    so a longer key added before the bound can still be removed.

    A file holds one key per line; blank lines are skipped, anything else is a key as
    written (surrounding spaces are an error, not trimmed).

    Raises:
        click.BadParameter: a key is not a valid dynamic key, or none was given (exit 2).
    """
    from conflux.events import dynamic_partition_key_problem

    collected = [(key, "KEY") for key in keys]  # the problem names the key
    if from_file is not None:
        collected.extend(_file_keys(from_file))
    for key, where in collected:
        problem = dynamic_partition_key_problem(key, new=new)
        if problem is not None:
            raise click.BadParameter(f"{where}: {problem}", param_hint="KEY / --from-file")
    if not collected:
        raise click.BadParameter(
            "no key given: pass KEY... or --from-file PATH (one key per line, - for stdin)",
            param_hint="KEY / --from-file",
        )
    return list(dict.fromkeys(key for key, _ in collected))


def _file_keys(from_file: str) -> Iterator[tuple[str, str]]:
    label = "stdin" if from_file == "-" else from_file
    try:
        text = sys.stdin.read() if from_file == "-" else Path(from_file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {label}: {exc}", param_hint="--from-file") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield line, f"line {number} of {label}"


def _chunks(keys: Sequence[str]) -> Iterator[tuple[str, ...]]:
    chunk: list[str] = []
    size = 0
    for key in keys:
        length = len(key.encode()) + 4
        if chunk and (len(chunk) >= CHUNK_KEYS or size + length > CHUNK_BYTES):
            yield tuple(chunk)
            chunk, size = [], 0
        chunk.append(key)
        size += length
    if chunk:
        yield tuple(chunk)


def _current(client: ApiClient, name: str) -> DynamicPartitionsKeys | None:
    """The name's keys, or None when the query API knows nothing of the name."""
    from conflux.projections.api import NotFoundError

    try:
        return client.dynamic_partitions(name)
    except NotFoundError:
        return None


def change(
    action: Literal["add", "remove"],
    name: str,
    *,
    keys: Sequence[str],
    from_file: str | None,
    force: bool,
    as_json: bool,
    state_dir: str,
) -> int:
    """Add keys to (or remove them from) dynamic partitions `name`; wait until folded.

    Raises:
        click.BadParameter: a key or the name is not valid, or no key was given.
        NotFoundError: `remove` from a name the system knows nothing of.
        ConfluxError: `add` to a name no asset uses (without `force`), the broker or the
            API did not answer, or the change was not shown in time.
    """
    from conflux.cli._output import print_json
    from conflux.cli._requests import emit, user_name
    from conflux.cli._system import find_system
    from conflux.events import (
        DynamicPartitionsAdded,
        DynamicPartitionsDeleted,
        check_dynamic_partitions_name,
    )
    from conflux.projections.api import ApiClient

    try:
        check_dynamic_partitions_name(name)
    except ConfluxError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    wanted = read_keys(keys, from_file, new=action == "add")
    info = find_system(state_dir)
    client = ApiClient(info.api_url)
    before = _current(client, name)
    if action == "remove" and before is None:
        client.dynamic_partitions(name)  # raises NotFoundError, naming the known names
    if action == "add" and not force and (before is None or not before.assets):
        used = ", ".join(s.name for s in client.dynamic_partitions_list() if s.assets)
        raise ConfluxError(
            f"no asset uses dynamic partitions {name!r} (used: {used or 'none'}): check "
            "the name, or pass --force to add keys before the definition is deployed"
        )
    present = set(before.partition_keys) if before is not None else set()
    changed = [k for k in wanted if (k in present) == (action == "remove")]
    unchanged = [k for k in wanted if (k in present) != (action == "remove")]
    by = user_name()
    event_type = DynamicPartitionsAdded if action == "add" else DynamicPartitionsDeleted
    events = [
        event_type(partitions_def_name=name, partition_keys=chunk, requested_by=by, producer="cli")
        for chunk in _chunks(wanted)
    ]
    emit(info, *events, flush_timeout_s=30.0)
    after = _await_fold(client, name, wanted, present=action == "add")
    if as_json:
        print_json(
            {
                "name": name,
                "action": action,
                "changed": changed,
                "unchanged": unchanged,
                "count": after.count,
                "event_ids": [e.event_id for e in events],
            }
        )
    elif action == "add":
        note = f" ({len(unchanged):,} already there)" if unchanged else ""
        print(
            f"added {_keys(len(changed))} to dynamic partitions {name}{note}; "
            f"{_keys(after.count)} now"
        )
    else:
        note = f" ({len(unchanged):,} not there)" if unchanged else ""
        print(
            f"removed {_keys(len(changed))} from dynamic partitions {name}{note}; "
            f"{_keys(after.count)} now (their history stays in the log and the archive)"
        )
    return 0


def _keys(n: int) -> str:
    return f"{n:,} key{'s' * (n != 1)}"


def _await_fold(
    client: ApiClient, name: str, keys: Sequence[str], *, present: bool
) -> DynamicPartitionsKeys:
    """Wait until every key of `keys` is (`present`) or is not a key of `name`."""
    deadline = time.monotonic() + FOLD_TIMEOUT_S
    pause = 0.02
    while True:
        current = _current(client, name)
        if current is not None:
            have = set(current.partition_keys)
            if all((k in have) == present for k in keys):
                return current
        if time.monotonic() > deadline:
            raise PartitionsNotFoldedError(
                f"the change to dynamic partitions {name!r} was sent but the projector has "
                f"not shown it within {FOLD_TIMEOUT_S:.0f} s: is it running? "
                "(`conflux status`)"
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


# -- the command group -----------------------------------------------------------------------


@click.group()
def partitions() -> None:
    """Dynamic partitions: add, remove and list the keys of a DynamicPartitionsDefinition."""


_KEYS_FROM_FILE = click.option(
    "--from-file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Also read keys from this file, one per line (- reads stdin; blank lines skipped).",
)


@partitions.command("add", short_help="Add keys to dynamic partitions NAME.")
@click.argument("name")
@click.argument("keys", metavar="[KEY]...", nargs=-1)
@_KEYS_FROM_FILE
@click.option("--force", is_flag=True, help="Add even though no asset uses NAME (yet).")
@JSON
@STATE_DIR
def add_command(
    name: str,
    keys: tuple[str, ...],
    from_file: str | None,
    force: bool,
    as_json: bool,
    state_dir: str,
) -> int:
    """Add KEYs to the dynamic partitions NAME.

    Keys keep the order of first addition; a key already there stays where it is. A key
    may not be empty, have surrounding spaces, or contain '|' or ','. Waits until the
    keys are visible, so `conflux materialize ... --partition KEY` may follow at once.
    """
    return change(
        "add", name, keys=keys, from_file=from_file, force=force, as_json=as_json,
        state_dir=state_dir,
    )  # fmt: skip


@partitions.command("remove", short_help="Remove keys from dynamic partitions NAME.")
@click.argument("name")
@click.argument("keys", metavar="[KEY]...", nargs=-1)
@_KEYS_FROM_FILE
@JSON
@STATE_DIR
def remove_command(
    name: str, keys: tuple[str, ...], from_file: str | None, as_json: bool, state_dir: str
) -> int:
    """Remove KEYs from the dynamic partitions NAME (a key not there is ignored).

    What was materialized for a removed key stays in the log and the archive (`conflux
    events`, `conflux lineage` still show it); status views (`conflux assets`) count and
    list only current keys, and a request for a removed key is rejected. Adding the key
    again puts it at the end of the key order, and its history counts again. A run that
    is under way keeps its plan.
    """
    return change(
        "remove", name, keys=keys, from_file=from_file, force=False, as_json=as_json,
        state_dir=state_dir,
    )  # fmt: skip


@partitions.command("list", short_help="Keys of dynamic partitions NAME, or every NAME.")
@click.argument("name", required=False)
@JSON
@STATE_DIR
def list_command(name: str | None, as_json: bool, state_dir: str) -> int:
    """Print the keys of the dynamic partitions NAME, one per line, in order of addition.

    Without NAME: every dynamic partitions name, its key count and the assets using it.
    """
    from conflux.cli._output import print_json, print_table
    from conflux.cli._system import find_system
    from conflux.projections.api import ApiClient

    client = ApiClient(find_system(state_dir).api_url)
    if name is None:
        summaries = client.dynamic_partitions_list()
        if as_json:
            print_json(summaries)
        elif not summaries:
            sys.stderr.write(
                "no dynamic partitions: declare DynamicPartitionsDefinition(name=...) on an "
                "asset, then `conflux partitions add NAME KEY...`\n"
            )
        else:
            print_table(
                ["name", "keys", "assets"],
                [[s.name, s.count, ",".join(s.assets) or "-"] for s in summaries],
            )
        return 0
    found = client.dynamic_partitions(name)
    if as_json:
        print_json(found)
        return 0
    if not found.partition_keys:
        sys.stderr.write(
            f"dynamic partitions {name} has no key: add some with "
            f"`conflux partitions add {name} KEY...`\n"
        )
    sys.stdout.write("".join(f"{key}\n" for key in found.partition_keys))
    return 0
