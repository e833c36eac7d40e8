"""`conflux ui`: a projector of its own that serves the web UI, beside a running system."""

from __future__ import annotations

import click

from conflux.cli._options import EXPECT, HOST, STATE_DIR, TOKEN


@click.command()
@click.option("--port", type=int, default=3000, show_default=True, help="Port of the UI.")
@HOST
@TOKEN
@EXPECT
@STATE_DIR
def ui(port: int, host: str, token: str | None, expected: tuple[str, ...], state_dir: str) -> int:
    """Serve the web UI: a projector of its own, on the system the state dir names.

    `conflux dev` serves the UI already (it prints the address); run this in a real
    deployment, or for a second UI. Lineage needs the archive: a ClickHouse server
    (CONFLUX_CLICKHOUSE_URL), or the chdb folder when no other process holds it.
    """
    from conflux.cli._parts import run_projector

    return run_projector(
        port=port,
        expected=expected,
        state_dir=state_dir,
        host=host,
        token=token,
        archive_optional=True,
        announce=True,
    )
