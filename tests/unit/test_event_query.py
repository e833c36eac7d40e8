"""`EventQuery` from the CLI's options to the event log, and the CLI's checks before writing.

The filter is one model on every hop: what `conflux events` builds is what the archive's
history answers, an empty key included (it used to be dropped on the way and match every event).
A request's range is checked for its order before anything is written, and an event line
stays one line whatever its key holds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from projection_builders import archived, at, run_story

from conflux.cli._events import _print_events
from conflux.events import InvalidPartitionKeyError
from conflux.projections.api import ApiClient, EventQuery, EventRecord
from conflux.projections.projector import QueryApi

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def client() -> Iterator[ApiClient]:
    with archived(run_story()) as h, QueryApi(h.model, port=0) as api:
        api.history = h.history  # events are the archive's
        yield ApiClient(api.url, timeout=5.0)


def test_a_query_travels_as_the_same_model() -> None:
    query = EventQuery(
        asset="colors", partition="red", type="PartitionFailed", since=at(3), after=2, limit=5
    )
    assert EventQuery.from_params(query.to_params()) == query
    assert EventQuery.from_params({"token": "t", "partition": ""}) == EventQuery(partition="")
    naive = EventQuery(since=datetime(2024, 3, 1, 12, 0))  # no zone: read as local time
    assert naive.since is not None and naive.since.tzinfo is not None


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"limit": "ten"}, "limit='ten' is not an integer"),
        ({"after": ""}, "after='' is not an integer"),
        ({"since": "yesterday"}, "since='yesterday' is not an ISO time"),
    ],
)
def test_a_malformed_parameter_gets_a_one_line_reason(params: dict[str, str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        EventQuery.from_params(params)


def test_an_empty_partition_filters_instead_of_matching_everything(client: ApiClient) -> None:
    assert len(client.events(EventQuery(asset="colors"))) > 0
    assert client.events(EventQuery(asset="colors", partition="")) == []
    assert client.events(EventQuery(run="run1", partition="")) == []
    with pytest.raises(InvalidPartitionKeyError, match="''"):
        client.validate_partition("colors", "")


def test_a_partition_without_an_asset_matches_that_key_of_any_asset(client: ApiClient) -> None:
    found = client.events(EventQuery(partition="red"))
    assert found and {r.partition_key for r in found if r.partition_key is not None} == {"red"}
    # As with an asset: a request that lists the key among others is about it too.
    listed = [r.event.get("partition_keys") for r in found if r.partition_key is None]
    assert listed and all(isinstance(keys, list) and "red" in keys for keys in listed)
    assert found == client.events(EventQuery(asset="colors", partition="red"))


def test_a_range_is_checked_for_its_order(client: ApiClient) -> None:
    client.validate_partition("colors", "red", to="blue")  # red, green, blue: in order
    with pytest.raises(InvalidPartitionKeyError, match="swap --from and --to"):
        client.validate_partition("colors", "blue", to="red")
    with pytest.raises(InvalidPartitionKeyError, match="purple"):
        client.validate_partition("colors", "red", to="purple")


def test_a_key_holding_a_line_break_keeps_its_event_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    record = EventRecord(
        seq=1,
        topic="conflux.assets",
        partition=0,
        offset=0,
        time=datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
        type="AssetMaterialized",
        asset_key="colors",
        partition_key="two\nlines\\",
        run_id=None,
        event={},
    )
    assert _print_events([record], as_json=False) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "colors[two\\nlines\\\\]" in out
