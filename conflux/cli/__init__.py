"""The `conflux` command: thin click shells over the public API, imported lazily."""

from __future__ import annotations


def main() -> None:
    """Entry point of the `conflux` console script."""
    from conflux.cli._app import run

    run()


__all__ = ["main"]
