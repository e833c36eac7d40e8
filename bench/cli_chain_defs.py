"""Three unpartitioned no-op assets in a chain, a -> b -> c: what `bench_cli.py` runs.

The assets do nothing, so `conflux materialize a,b,c --wait` measures the CLI and the
system around it (start-up, the request, dispatch, the wait), not user code.
"""

from __future__ import annotations

from conflux import Definitions, asset


@asset
def a() -> int:
    """The head of the chain."""
    return 1


@asset
def b(a: int) -> int:
    """Reads a."""
    return a + 1


@asset
def c(b: int) -> int:
    """Reads b."""
    return b + 1


defs = Definitions(assets=[a, b, c])
