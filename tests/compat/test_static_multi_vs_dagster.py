"""Static and multi-dimensional partitions: the same keys, ranges and refusals as Dagster.

Keys are drawn from characters that either library treats specially (`...`, `|`, `,`,
`[`, `]`, control characters, spaces), so that the refusals are compared too.
"""

from __future__ import annotations

import os
from datetime import datetime

import pytest

dagster = pytest.importorskip("dagster", reason="dagster is not installed: pip install '.[compat]'")
pytest.importorskip("hypothesis", reason="hypothesis is not installed: pip install '.[compat]'")

from compat_builders import outcome  # noqa: E402
from hypothesis import (  # noqa: E402
    HealthCheck,
    given,
    settings,
    strategies as st,
)

import conflux  # noqa: E402

SETTINGS = settings(
    max_examples=int(os.environ.get("COMPAT_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
NOW = datetime(2024, 1, 10, 12)

key_text = st.text(alphabet="ab.|,[] \n\t\x00", min_size=0, max_size=4)
plain_key = st.text(alphabet="abcxyz123", min_size=1, max_size=3)


def _documented_static_refusal(keys: list[str]) -> bool:
    """Keys Conflux refuses on purpose and Dagster accepts (docs/porting-from-dagster.md)."""
    return any(
        k == "" or "|" in k or len(k) > conflux.events.MAX_PARTITION_KEY_LENGTH for k in keys
    )


@SETTINGS
@given(st.lists(key_text, min_size=0, max_size=5))
def test_static_keys_are_refused_alike(keys: list[str]) -> None:
    ours = outcome(lambda: conflux.StaticPartitionsDefinition(keys))
    theirs = outcome(lambda: dagster.StaticPartitionsDefinition(keys))
    if ours[0] == "error" and theirs[0] == "ok":
        assert _documented_static_refusal(keys), (keys, ours[1])
        return
    assert ours[0] == theirs[0], (keys, ours, theirs)
    if ours[0] == "ok":
        assert list(ours[1].get_partition_keys()) == list(theirs[1].get_partition_keys())
        assert ours[1].get_num_partitions() == theirs[1].get_num_partitions()
        for key in keys:
            assert ours[1].has_partition_key(key) == theirs[1].has_partition_key(key)


def test_a_string_given_as_the_keys_is_taken_as_dagster_takes_it() -> None:
    ours = conflux.StaticPartitionsDefinition("abc")
    theirs = dagster.StaticPartitionsDefinition("abc")
    assert ours.get_partition_keys() == theirs.get_partition_keys() == "abc"
    assert ours.get_num_partitions() == theirs.get_num_partitions() == 3


def _dimension(lib: object, kind: str, keys: list[str]) -> object:
    if kind == "daily":
        return lib.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-06")  # type: ignore[attr-defined]
    if kind == "hourly":
        return lib.HourlyPartitionsDefinition(  # type: ignore[attr-defined]
            start_date="2024-01-01-00:00", end_date="2024-01-01-05:00"
        )
    return lib.StaticPartitionsDefinition(keys)  # type: ignore[attr-defined]


dimension = st.tuples(
    st.sampled_from(["static", "static", "daily", "hourly"]),
    st.lists(st.one_of(plain_key, key_text), min_size=1, max_size=4, unique=True),
)
names = st.lists(
    st.sampled_from(["a", "b", "date", "region", "z"]), min_size=2, max_size=2, unique=True
)


def _multi(lib: object, dims: dict[str, tuple[str, list[str]]]) -> object:
    return lib.MultiPartitionsDefinition(  # type: ignore[attr-defined]
        {name: _dimension(lib, kind, keys) for name, (kind, keys) in dims.items()}
    )


@SETTINGS
@given(names, dimension, dimension)
def test_multi_keys_ranges_and_refusals_match(
    dim_names: list[str], first: tuple[str, list[str]], second: tuple[str, list[str]]
) -> None:
    dims = dict(zip(dim_names, (first, second), strict=True))
    ours = outcome(lambda: _multi(conflux, dims))
    theirs = outcome(lambda: _multi(dagster, dims))
    if ours[0] == "error" and theirs[0] == "error":
        return
    if ours[0] == "error":
        static_keys = [k for kind, keys in dims.values() if kind == "static" for k in keys]
        assert _documented_static_refusal(static_keys), (dims, ours[1])
        return
    assert theirs[0] == "ok", (dims, theirs[1])
    keys = list(ours[1].get_partition_keys(current_time=NOW))
    assert keys == list(theirs[1].get_partition_keys(current_time=NOW))
    if len(keys) >= 2:
        for start, end in ((keys[0], keys[-1]), (keys[1], keys[-1]), (keys[-1], keys[0])):
            key_range = (
                conflux.PartitionKeyRange(start, end),
                dagster.PartitionKeyRange(start, end),
            )
            mine = outcome(lambda r=key_range[0]: ours[1].get_partition_keys_in_range(r))
            other = outcome(lambda r=key_range[1]: theirs[1].get_partition_keys_in_range(r))
            assert mine[0] == other[0], (start, end, mine, other)
            if mine[0] == "ok":
                assert list(mine[1]) == list(other[1])


@pytest.mark.parametrize("length", [1024, 1025, 10_000])
def test_key_length_is_bounded_beyond_dagster_on_purpose(length: int) -> None:
    """Dagster takes a key of any length; Conflux refuses new keys over 1,024 characters."""
    key = "k" * length
    assert outcome(lambda: dagster.StaticPartitionsDefinition([key]))[0] == "ok"
    dagster_dynamic = dagster.DynamicPartitionsDefinition(name="files")
    assert outcome(lambda: dagster_dynamic.build_add_request([key]))[0] == "ok"
    expected = "ok" if length <= 1024 else "error"
    assert _documented_static_refusal([key]) == (expected == "error")
    assert outcome(lambda: conflux.StaticPartitionsDefinition([key]))[0] == expected
    conflux_dynamic = conflux.DynamicPartitionsDefinition(name="files")
    assert outcome(lambda: conflux_dynamic.build_add_request([key]))[0] == expected


def test_three_dimensions_go_beyond_dagster_on_purpose() -> None:
    """Conflux takes any number of dimensions; Dagster exactly two."""
    dims = {
        "a": ("static", ["x", "y"]),
        "b": ("static", ["1", "2"]),
        "c": ("daily", []),
    }
    assert outcome(lambda: _multi(conflux, dims))[0] == "ok"
    assert outcome(lambda: _multi(dagster, dims))[0] == "error"


def test_a_dynamic_dimension_needs_a_name_in_both() -> None:
    for lib in (conflux, dagster):
        kind, exc = outcome(
            lambda lib=lib: lib.MultiPartitionsDefinition(
                {
                    "s": lib.StaticPartitionsDefinition(["a"]),
                    "d": lib.DynamicPartitionsDefinition(lambda _t: ["1"]),
                }
            )
        )
        assert kind == "error" and "must have a name" in str(exc)
