"""`conflux projector`: the projector with its query API and UI, for real deployments."""

from __future__ import annotations

import click

from conflux.cli._options import EXPECT, HOST, LOG_FORMAT, STATE_DIR, TOKEN


@click.command()
@click.option("--port", type=int, default=0, help="Port of the query API (0: a free one).")
@HOST
@TOKEN
@EXPECT
@LOG_FORMAT
@STATE_DIR
def projector(
    port: int,
    host: str,
    token: str | None,
    expected: tuple[str, ...],
    log_format: str,
    state_dir: str,
) -> int:
    """Run the projector, its query API and the web UI (one part, for real deployments)."""
    # Its metrics are served by the query API, at /metrics (with the API's token, if any).
    from conflux.cli._parts import run_projector

    return run_projector(
        port=port,
        expected=expected,
        state_dir=state_dir,
        host=host,
        token=token,
        log_format=log_format,
    )
