"""StaticPartitionsDefinition: keys, lookups, ranges, refusals, equality, snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conflux.events import DefinitionError, InvalidPartitionKeyError, StaticPartitionsSnapshot
from conflux.sdk.partitions import (
    PartitionsDefinition,
    StaticPartitionsDefinition,
    partitions_from_snapshot,
)

COLORS = ["red", "green", "blue"]


def test_keys_keep_the_given_order_and_ignore_the_time() -> None:
    colors = StaticPartitionsDefinition(["red", "green", "blue"])
    assert colors.get_partition_keys() == ["red", "green", "blue"]
    assert colors.get_partition_keys(datetime(1970, 1, 1, tzinfo=UTC)) == COLORS
    assert colors.get_num_partitions() == 3
    assert (colors.get_first_partition_key(), colors.get_last_partition_key()) == ("red", "blue")
    unsorted = StaticPartitionsDefinition(["b", "a", "c"])
    assert unsorted.get_partition_keys() == ["b", "a", "c"]


def test_returned_keys_are_a_copy() -> None:
    colors = StaticPartitionsDefinition(COLORS)
    keys = colors.get_partition_keys()
    assert isinstance(keys, list)
    keys.append("pink")
    assert colors.get_partition_keys() == COLORS
    assert not colors.has_partition_key("pink")


def test_has_partition_key_is_exact() -> None:
    colors = StaticPartitionsDefinition(COLORS)
    assert colors.has_partition_key("green")
    assert not colors.has_partition_key("Green")
    assert not colors.has_partition_key("gree")
    assert not colors.has_partition_key("")


def test_range_is_inclusive_and_follows_the_definition_order() -> None:
    colors = StaticPartitionsDefinition(COLORS)
    assert colors.get_partition_keys_in_range("red", "blue") == COLORS
    assert colors.get_partition_keys_in_range("green", "blue") == ["green", "blue"]
    assert colors.get_partition_keys_in_range("green", "green") == ["green"]
    with pytest.raises(InvalidPartitionKeyError, match="'blue' comes after 'red'"):
        colors.get_partition_keys_in_range("blue", "red")
    with pytest.raises(InvalidPartitionKeyError, match="'pink'"):
        colors.get_partition_keys_in_range("red", "pink")


def test_invalid_key_error_names_the_key_the_keys_and_close_matches() -> None:
    colors = StaticPartitionsDefinition(COLORS)
    colors.validate_partition_key("red")
    with pytest.raises(InvalidPartitionKeyError) as info:
        colors.validate_partition_key("gren")
    message = str(info.value)
    assert "'gren'" in message
    assert "did you mean 'green'" in message
    assert "static keys red, green, blue" in message
    assert isinstance(info.value, ValueError)  # InvalidPartitionKeyError is also a ValueError


def test_describe_abbreviates_long_key_lists() -> None:
    many = StaticPartitionsDefinition([f"k{i}" for i in range(25)])
    described = many.describe_keys()
    assert "k9" in described and "k10" not in described and "(25 keys)" in described


@pytest.mark.parametrize(
    ("keys", "complaint"),
    [
        (["a", "b", "a"], r"Duplicate instances of partition keys: \['a'\]"),
        (["a|b"], "contains '|'"),
        (["ok", ""], "empty"),
        (["line\nbreak"], "control character"),
        (["tab\tbed"], "control character"),
    ],
)
def test_bad_keys_are_refused_with_the_fix(keys: list[str], complaint: str) -> None:
    with pytest.raises(DefinitionError, match=complaint):
        StaticPartitionsDefinition(keys)


def test_an_empty_definition_has_no_keys() -> None:
    empty = StaticPartitionsDefinition([])
    assert empty.get_partition_keys() == []
    assert empty.get_num_partitions() == 0
    assert empty.get_last_partition_key() is None


def test_equality_and_hash_follow_the_snapshot() -> None:
    a = StaticPartitionsDefinition(COLORS)
    b = StaticPartitionsDefinition(tuple(COLORS))
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != StaticPartitionsDefinition(["blue", "green", "red"])  # order matters
    assert a != StaticPartitionsDefinition(["red", "green"])
    assert a != COLORS


def test_snapshot_round_trip() -> None:
    colors = StaticPartitionsDefinition(COLORS)
    snap = colors.to_snapshot()
    assert snap == StaticPartitionsSnapshot(keys=("red", "green", "blue"))
    back = partitions_from_snapshot(
        StaticPartitionsSnapshot.model_validate_json(snap.model_dump_json())
    )
    assert isinstance(back, PartitionsDefinition)
    assert back == colors
    assert back.get_partition_keys() == COLORS


def test_repr_is_the_constructor() -> None:
    assert repr(StaticPartitionsDefinition(["a"])) == "StaticPartitionsDefinition(['a'])"
