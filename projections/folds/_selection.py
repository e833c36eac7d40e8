"""Asset selection: the `conflux materialize SELECTION` syntax, resolved on the graph.

Terms are comma-separated: `key` (e.g. `raw/events`), `*key` (with everything upstream),
`key*` (with everything downstream), `+key` / `key+` (one level per `+`), `group:NAME`,
and `*` alone for every asset that can be materialized (external assets are observed,
never materialized, so they are left out, and naming one is an error).
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from conflux.events import SelectionError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from conflux.projections.folds._definitions import DefinitionsProjection

_ALL = -1
"""Depth meaning "transitively"."""


def unknown_asset_message(key: str, known: Iterable[str]) -> str:
    """One line naming an unknown asset, the close keys, and how to list them all."""
    close = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return f"no asset {key!r} is defined: {hint}list the assets with `conflux assets`"


def _split(term: str) -> tuple[int, str, int]:
    """(upstream depth, key, downstream depth) of one term; depth -1 is transitive."""
    up = down = 0
    if term.startswith("*"):
        up, term = _ALL, term[1:]
    else:
        while term.startswith("+"):
            up, term = up + 1, term[1:]
    if term.endswith("*"):
        down, term = _ALL, term[:-1]
    else:
        while term.endswith("+"):
            down, term = down + 1, term[:-1]
    return up, term.strip(), down


def _walk(
    start: str, depth: int, step: Callable[[str], list[str]], graph: DefinitionsProjection
) -> set[str]:
    """Keys reachable from `start` in up to `depth` steps (-1: any), start excluded."""
    found: set[str] = set()
    frontier = [start]
    level = 0
    while frontier and (depth == _ALL or level < depth):
        level += 1
        nxt: list[str] = []
        for key in frontier:
            for other in step(key):
                asset = graph.assets.get(other)
                if other in found or asset is None or asset.is_external:
                    continue
                found.add(other)
                nxt.append(other)
        frontier = nxt
    return found


def resolve_selection(selection: str, graph: DefinitionsProjection) -> list[str]:
    """The asset keys a selection names, sorted and unique.

    Args:
        selection: comma-separated terms (see the module docstring).
        graph: the definitions the keys are looked up in.

    Raises:
        SelectionError: a term names an unknown asset or group (the message suggests
            close keys and `conflux assets`), names an external asset, or the selection
            resolves to nothing.
    """
    terms = [t.strip() for t in selection.split(",") if t.strip()]
    if not terms:
        raise SelectionError(
            "empty selection: name assets, e.g. `raw/events`, `*report`, `group:sales` or `*`"
        )
    selected: set[str] = set()
    for term in terms:
        if term == "*":
            selected.update(k for k, a in graph.assets.items() if not a.is_external)
            continue
        if term.startswith("group:"):
            name = term[len("group:") :].strip()
            members = {
                k for k, a in graph.assets.items() if a.group_name == name and not a.is_external
            }
            if not members:
                groups = sorted({a.group_name for a in graph.assets.values()})
                raise SelectionError(
                    f"no group {name!r} has assets to materialize: the groups are "
                    f"{', '.join(groups) or 'none (no location has published yet)'}"
                )
            selected.update(members)
            continue
        up, key, down = _split(term)
        asset = graph.assets.get(key)
        if asset is None:
            raise SelectionError(unknown_asset_message(key, graph.assets))
        if asset.is_external:
            raise SelectionError(
                f"{key} is an external asset: report it with `conflux report`, "
                "it cannot be materialized"
            )
        selected.add(key)
        if up:
            selected |= _walk(key, up, graph.upstream_of, graph)
        if down:
            selected |= _walk(key, down, graph.downstream_of, graph)
    if not selected:
        raise SelectionError(
            f"selection {selection!r} matches no asset that can be materialized: "
            "list the assets with `conflux assets`"
        )
    return sorted(selected)
