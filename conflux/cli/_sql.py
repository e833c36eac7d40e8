"""`conflux sql "QUERY" [--param NAME=VALUE]... [--format table|json|csv]`: read the archive.

The archive's tables and views are an interface (docs/archive.md); this runs one read-only
query against them. It asks the running projector's query API, which owns the chdb
folder (one process may open it); with no projector running it opens the archive itself,
read-only: the server at `CONFLUX_CLICKHOUSE_URL`, else chdb in the state folder. Either
way the engine runs the query with `readonly=1`: a statement that writes is refused in
one line and changes nothing. Parameters are bound by the engine: write `{name:Type}` in
the query and pass `--param name=value`.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from conflux.cli._options import STATE_DIR
from conflux.events import ApiUnavailableError, ConfluxError, StateDirError

if TYPE_CHECKING:
    from conflux.projections.api import SqlAnswer

SQL_TIMEOUT_S = 60.0
"""How long the CLI waits for the query API's answer (the engine stops a query at 30 s)."""


@click.command()
@click.argument("query")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Bind {NAME:Type} in the query to VALUE (repeatable); the engine parses VALUE.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for people; json (an array of row objects) or csv for scripts.",
)
@STATE_DIR
def sql(query: str, params: tuple[str, ...], fmt: str, state_dir: str) -> int:
    """Run a read-only SQL QUERY against the archive (its tables and views: docs/archive.md).

    Example: conflux sql "SELECT * FROM asset_partitions WHERE asset_key = {a:String}"
    --param a=orders
    """
    bound: dict[str, str] = {}
    for param in params:
        name, sep, value = param.partition("=")
        if not sep or not name.isidentifier():
            raise click.BadParameter(
                f"{param!r} is not NAME=VALUE (NAME as in {{NAME:Type}})", param_hint="--param"
            )
        bound[name] = value
    answer = run_query(query, bound, state_dir=state_dir)
    print_answer(answer, fmt)
    return 0


def run_query(query: str, params: dict[str, str], *, state_dir: str) -> SqlAnswer:
    """The answer from the running projector, else from the archive opened read-only.

    Raises:
        ConfluxError: the query was refused (writes, bad SQL: the engine's reason) or no
            archive could be reached.
    """
    from conflux.cli._system import find_system
    from conflux.projections.api import ApiClient

    try:
        info = find_system(state_dir)
        return ApiClient(info.api_url, timeout=SQL_TIMEOUT_S).sql(query, params)
    except (StateDirError, ApiUnavailableError) as exc:
        unreachable = exc  # no projector to ask: read the archive here
    return _direct(query, params, state_dir, unreachable)


def _direct(
    query: str, params: dict[str, str], state_dir: str, unreachable: ConfluxError
) -> SqlAnswer:
    from conflux.projections.api import SqlAnswer
    from conflux.projections.archive import ArchiveStore, ArchiveUnavailableError
    from conflux.projections.projector import run_sql

    url = os.environ.get("CONFLUX_CLICKHOUSE_URL")
    store: ArchiveStore
    try:
        if url:
            from conflux.projections.archive import ServerStore

            store = ServerStore(url, readonly=True)
        else:
            from conflux.projections.archive import ChdbStore

            folder = Path(state_dir) / "archive"
            if not folder.is_dir():
                raise ConfluxError(f"{unreachable} (and there is no archive at {folder})")
            store = ChdbStore(folder, readonly=True)
    except ArchiveUnavailableError as exc:
        raise ConfluxError(f"{exc} ({unreachable})") from exc
    try:
        bound = {f"param_{name}": value for name, value in params.items()}
        return SqlAnswer.model_validate(run_sql(store, {"query": query, **bound}))
    finally:
        store.close()


def print_answer(answer: SqlAnswer, fmt: str) -> None:
    """Print rows as an aligned table, one JSON array of objects, or CSV with a header."""
    from conflux.cli._output import print_table

    names = [c.name for c in answer.columns]
    if fmt == "json":
        rows = [dict(zip(names, row, strict=True)) for row in answer.rows]
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    cells = [[_cell(v) for v in row] for row in answer.rows]
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(cells)
        return
    print_table(names, cells)
    sys.stdout.write(f"({len(cells):,} row{'' if len(cells) == 1 else 's'})\n")


def _cell(value: object) -> object:
    """A value for a table or CSV cell: nested values as compact JSON."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value
