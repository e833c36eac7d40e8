"""Selection syntax: keys, upstream/downstream, `+` levels, groups, `*`, and errors."""

from __future__ import annotations

import pytest
from projection_builders import graph

from conflux.events import SelectionError
from conflux.projections.folds import DefinitionsProjection, resolve_selection

# vendor_feed (external) -> raw/events -> clean <- raw/users; clean -> colors -> report -> summary


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("clean", ["clean"]),
        ("raw/events", ["raw/events"]),
        ("*clean", ["clean", "raw/events", "raw/users"]),  # vendor_feed is external
        ("clean*", ["clean", "colors", "report", "summary"]),
        ("*colors*", ["clean", "colors", "raw/events", "raw/users", "report", "summary"]),
        ("+colors", ["clean", "colors"]),
        ("++colors", ["clean", "colors", "raw/events", "raw/users"]),
        ("colors+", ["colors", "report"]),
        ("colors++", ["colors", "report", "summary"]),
        ("+colors+", ["clean", "colors", "report"]),
        ("group:reports", ["report", "summary"]),
        ("group:ingest, summary", ["raw/events", "raw/users", "summary"]),
        ("clean,clean , colors", ["clean", "colors"]),
        ("*", ["clean", "colors", "raw/events", "raw/users", "report", "summary"]),
    ],
)
def test_forms(selection: str, expected: list[str]) -> None:
    assert resolve_selection(selection, graph()) == expected


def test_unknown_key_suggests_close_keys() -> None:
    with pytest.raises(SelectionError, match=r"'colour'.*did you mean colors.*conflux assets"):
        resolve_selection("colour*", graph())


def test_unknown_key_without_close_keys() -> None:
    with pytest.raises(SelectionError, match=r"^no asset 'zzz' is defined: list the assets"):
        resolve_selection("zzz", graph())


def test_explicit_external_asset_is_an_error() -> None:
    with pytest.raises(SelectionError, match="vendor_feed is an external asset: report it"):
        resolve_selection("vendor_feed", graph())


def test_unknown_group_names_the_groups() -> None:
    with pytest.raises(SelectionError, match="default, ingest, reports"):
        resolve_selection("group:nope", graph())


@pytest.mark.parametrize("selection", ["", " , ", ","])
def test_empty_selection(selection: str) -> None:
    with pytest.raises(SelectionError, match="empty selection"):
        resolve_selection(selection, graph())


def test_star_on_an_empty_graph() -> None:
    with pytest.raises(SelectionError, match="matches no asset"):
        resolve_selection("*", DefinitionsProjection())


def test_selection_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        resolve_selection("nope", graph())
