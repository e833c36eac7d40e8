"""Options shared by several commands (one definition, so their help reads alike)."""

from __future__ import annotations

import click

STATE_DIR = click.option(
    "--state-dir",
    default=".conflux",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder written by `conflux dev` "
    "(ignored when CONFLUX_BOOTSTRAP and CONFLUX_API are set).",
)
JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
