"""Partition mappings: the same upstream and downstream partitions as Dagster's, and the same
upstream partitions required but nonexistent.

Generated pairs of definitions (time windows of different cadences and starts in one
zone, static keys, multi-partitioned) are mapped both ways by each mapping, from random
subsets, at the same moment.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import pytest

dagster = pytest.importorskip("dagster", reason="dagster is not installed: pip install '.[compat]'")
pytest.importorskip("hypothesis", reason="hypothesis is not installed: pip install '.[compat]'")

from compat_builders import DST_DAYS, ZONES, outcome, same_outcome  # noqa: E402
from hypothesis import (  # noqa: E402
    HealthCheck,
    given,
    settings,
    strategies as st,
)

import conflux  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore")  # Dagster's beta warnings

SETTINGS = settings(
    max_examples=int(os.environ.get("COMPAT_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
CRONS = {
    "hourly": ("0 * * * *", "%Y-%m-%d-%H:%M", timedelta(hours=1)),
    "six_hourly": ("0 */6 * * *", "%Y-%m-%d-%H:%M", timedelta(hours=6)),
    "daily": ("0 0 * * *", "%Y-%m-%d", timedelta(days=1)),
    "daily_at_11": ("0 11 * * *", "%Y-%m-%d", timedelta(days=1)),
    "weekly": ("0 0 * * 0", "%Y-%m-%d", timedelta(days=7)),
    "monthly": ("0 0 1 * *", "%Y-%m-%d", timedelta(days=31)),
}


def _window_def(lib: Any, cadence: str, tz: str, start: datetime, end: datetime | None) -> Any:
    cron, fmt, _ = CRONS[cadence]
    return lib.TimeWindowPartitionsDefinition(
        start=start, end=end, fmt=fmt, timezone=tz, cron_schedule=cron
    )


def _keys(subset: Any) -> Any:
    """A subset's keys, comparable across the libraries (sets stay sets, lists lists)."""
    keys = subset.get_partition_keys()
    return set(keys) if isinstance(keys, set | frozenset) else list(keys)


@st.composite
def window_pairs(draw: st.DrawFn) -> dict[str, Any]:
    """Two time-window definitions in one zone, near a change, with their own starts."""
    base = draw(st.sampled_from(DST_DAYS))
    tz = draw(st.sampled_from(ZONES))
    down, up = draw(st.sampled_from(list(CRONS))), draw(st.sampled_from(list(CRONS)))
    down_start = base + timedelta(days=draw(st.integers(-3, 3)))
    up_start = base + timedelta(days=draw(st.integers(-3, 3)))
    up_end = None
    if draw(st.booleans()):
        up_end = up_start + CRONS[up][2] * 2 + timedelta(days=draw(st.integers(0, 40)))
    span = max(CRONS[down][2], CRONS[up][2])
    now = base + span * draw(st.integers(2, 6)) + timedelta(hours=draw(st.integers(0, 30)))
    return {
        "down": (down, tz, down_start, None),
        "up": (up, tz, up_start, up_end),
        "now": now,
        "offsets": (draw(st.integers(-2, 1)), draw(st.integers(-1, 2))),
        "allow": draw(st.booleans()),
        "picks": draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=4)),
    }


def _pick(keys: list[str], picks: list[int]) -> list[str]:
    return sorted({keys[i % len(keys)] for i in picks}) if keys else []


def _tw_mapping(lib: Any, case: dict[str, Any]) -> Any:
    start_offset, end_offset = case["offsets"]
    return lib.TimeWindowPartitionMapping(
        start_offset=start_offset,
        end_offset=end_offset,
        allow_nonexistent_upstream_partitions=case["allow"],
    )


@SETTINGS
@given(window_pairs())
def test_time_window_mapping_upstream_matches(case: dict[str, Any]) -> None:
    answers = []
    for lib in (conflux, dagster):
        down, up = _window_def(lib, *case["down"]), _window_def(lib, *case["up"])
        keys = _pick(list(down.get_partition_keys(current_time=case["now"])), case["picks"])
        subset = down.empty_subset().with_partition_keys(keys)
        answers.append(
            outcome(
                lambda lib=lib, down=down, up=up, subset=subset: _tw_mapping(
                    lib, case
                ).get_upstream_mapped_partitions_result_for_partitions(
                    subset, down, up, current_time=case["now"]
                )
            )
        )
    (mine_kind, mine), (theirs_kind, theirs) = answers
    assert same_outcome((mine_kind, mine), (theirs_kind, theirs)), (mine, theirs)
    if mine_kind == "ok":
        assert _keys(mine.partitions_subset) == _keys(theirs.partitions_subset)
        assert sorted(mine.required_but_nonexistent_partition_keys) == sorted(
            theirs.required_but_nonexistent_partition_keys
        )


@SETTINGS
@given(window_pairs())
def test_time_window_mapping_downstream_matches(case: dict[str, Any]) -> None:
    answers = []
    for lib in (conflux, dagster):
        down, up = _window_def(lib, *case["down"]), _window_def(lib, *case["up"])
        keys = _pick(list(up.get_partition_keys(current_time=case["now"])), case["picks"])
        subset = up.empty_subset().with_partition_keys(keys)
        answers.append(
            outcome(
                lambda lib=lib, down=down, up=up, subset=subset: _tw_mapping(
                    lib, case
                ).get_downstream_partitions_for_partitions(
                    subset, up, down, current_time=case["now"]
                )
            )
        )
    (mine_kind, mine), (theirs_kind, theirs) = answers
    assert same_outcome((mine_kind, mine), (theirs_kind, theirs)), (mine, theirs)
    if mine_kind == "ok":
        assert _keys(mine) == _keys(theirs)


def test_time_window_mapping_across_zones_is_refused_by_both() -> None:
    for lib in (conflux, dagster):
        utc = lib.DailyPartitionsDefinition(start_date="2024-01-01")
        pacific = lib.DailyPartitionsDefinition(start_date="2024-01-01", timezone="US/Pacific")
        kind, exc = outcome(
            lambda lib=lib, utc=utc, pacific=pacific: (
                lib.TimeWindowPartitionMapping().validate_partition_mapping(utc, pacific)
            )
        )
        assert kind == "error" and "Timezones UTC and US/Pacific don't match" in str(exc)


static_keys = st.lists(st.sampled_from(list("abcdefg")), min_size=1, max_size=5, unique=True)


@st.composite
def static_cases(draw: st.DrawFn) -> dict[str, Any]:
    up, down = draw(static_keys), draw(static_keys)
    table = draw(
        st.dictionaries(
            st.sampled_from(list("abcdefg")),
            st.one_of(
                st.sampled_from(list("abcdefg")),
                st.lists(st.sampled_from(list("abcdefg")), max_size=3),
            ),
            max_size=4,
        )
    )
    return {
        "up": up,
        "down": down,
        "table": table,
        "specific": draw(st.lists(st.sampled_from(up), max_size=3, unique=True)),
        "down_pick": draw(st.lists(st.sampled_from(down), max_size=3, unique=True)),
        "up_pick": draw(st.lists(st.sampled_from(up), max_size=3, unique=True)),
        "mapping": draw(st.sampled_from(["identity", "all", "last", "static", "specific"])),
    }


def _static_mapping(lib: Any, case: dict[str, Any]) -> Any:
    kind = case["mapping"]
    if kind == "identity":
        return lib.IdentityPartitionMapping()
    if kind == "all":
        return lib.AllPartitionMapping()
    if kind == "last":
        return lib.LastPartitionMapping()
    if kind == "static":
        return lib.StaticPartitionMapping(case["table"])
    return lib.SpecificPartitionsPartitionMapping(case["specific"])


@SETTINGS
@given(static_cases())
def test_static_key_mappings_match(case: dict[str, Any]) -> None:
    results = []
    for lib in (conflux, dagster):
        up = lib.StaticPartitionsDefinition(case["up"])
        down = lib.StaticPartitionsDefinition(case["down"])
        mapping = _static_mapping(lib, case)
        upstream = outcome(
            lambda mapping=mapping, up=up, down=down: (
                mapping.get_upstream_mapped_partitions_result_for_partitions(
                    down.empty_subset().with_partition_keys(case["down_pick"]), down, up
                )
            )
        )
        downstream = outcome(
            lambda mapping=mapping, up=up, down=down: (
                mapping.get_downstream_partitions_for_partitions(
                    up.empty_subset().with_partition_keys(case["up_pick"]), up, down
                )
            )
        )
        results.append((upstream, downstream))
    (mine_up, mine_down), (theirs_up, theirs_down) = results
    assert same_outcome(mine_up, theirs_up), (case, mine_up, theirs_up)
    if mine_up[0] == "ok":
        assert _keys(mine_up[1].partitions_subset) == _keys(theirs_up[1].partitions_subset)
        assert set(mine_up[1].required_but_nonexistent_partition_keys) == set(
            theirs_up[1].required_but_nonexistent_partition_keys
        )
    assert same_outcome(mine_down, theirs_down), (case, mine_down, theirs_down)
    if mine_down[0] == "ok":
        assert _keys(mine_down[1]) == _keys(theirs_down[1])


@st.composite
def multi_cases(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "tz": draw(st.sampled_from(ZONES)),
        "down_start": datetime(2024, 1, 1) + timedelta(days=draw(st.integers(0, 3))),
        "up_start": datetime(2024, 1, 1) + timedelta(days=draw(st.integers(0, 3))),
        "down_time": draw(st.sampled_from(["daily", "weekly"])),
        "offsets": (draw(st.integers(-1, 0)), draw(st.integers(0, 1))),
        "map_static": draw(st.booleans()),
        "picks": draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=4)),
        "now": datetime(2024, 1, 20) + timedelta(hours=draw(st.integers(0, 30))),
    }


def _multis(lib: Any, case: dict[str, Any]) -> tuple[Any, Any, Any]:
    tz = case["tz"]
    down = lib.MultiPartitionsDefinition(
        {
            "date": _window_def(lib, case["down_time"], tz, case["down_start"], None),
            "abc": lib.StaticPartitionsDefinition(["a", "b", "c"]),
        }
    )
    up = lib.MultiPartitionsDefinition(
        {
            "date": _window_def(lib, "daily", tz, case["up_start"], None),
            "abc": lib.StaticPartitionsDefinition(["a", "b", "c"]),
        }
    )
    dims = {
        "date": lib.DimensionPartitionMapping(
            "date", lib.TimeWindowPartitionMapping(*case["offsets"])
        )
    }
    if case["map_static"]:
        dims["abc"] = lib.DimensionPartitionMapping("abc", lib.IdentityPartitionMapping())
    return down, up, lib.MultiPartitionMapping(dims)


@SETTINGS
@given(multi_cases())
def test_multi_partition_mapping_matches(case: dict[str, Any]) -> None:
    answers = []
    for lib in (conflux, dagster):
        down, up, mapping = _multis(lib, case)
        keys = _pick(list(down.get_partition_keys(current_time=case["now"])), case["picks"])
        up_keys = _pick(list(up.get_partition_keys(current_time=case["now"])), case["picks"])
        result = mapping.get_upstream_mapped_partitions_result_for_partitions(
            down.empty_subset().with_partition_keys(keys), down, up, current_time=case["now"]
        )
        downstream = mapping.get_downstream_partitions_for_partitions(
            up.empty_subset().with_partition_keys(up_keys), up, down, current_time=case["now"]
        )
        answers.append(
            (
                _keys(result.partitions_subset),
                set(result.required_but_nonexistent_partition_keys),
                _keys(downstream),
            )
        )
    assert answers[0] == answers[1]


@SETTINGS
@given(multi_cases(), st.sampled_from(["same", "hourly", "static"]))
def test_multi_to_single_dimension_mapping_matches(case: dict[str, Any], single: str) -> None:
    answers = []
    for lib in (conflux, dagster):
        multi, _, _ = _multis(lib, case)
        tz = case["tz"]
        if single == "same":
            one = _window_def(lib, case["down_time"], tz, case["down_start"], None)
        elif single == "hourly":
            one = _window_def(lib, "hourly", tz, case["down_start"], None)
        else:
            one = lib.StaticPartitionsDefinition(["a", "b", "c"])
        mapping = lib.MultiToSingleDimensionPartitionMapping()
        single_keys = _pick(list(one.get_partition_keys(current_time=case["now"])), case["picks"])
        multi_keys = _pick(list(multi.get_partition_keys(current_time=case["now"])), case["picks"])
        up_of_single = outcome(
            lambda mapping=mapping, one=one, multi=multi, keys=single_keys: (
                mapping.get_upstream_mapped_partitions_result_for_partitions(
                    one.empty_subset().with_partition_keys(keys),
                    one,
                    multi,
                    current_time=case["now"],
                )
            )
        )
        down_of_single = outcome(
            lambda mapping=mapping, one=one, multi=multi, keys=single_keys: (
                mapping.get_downstream_partitions_for_partitions(
                    one.empty_subset().with_partition_keys(keys),
                    one,
                    multi,
                    current_time=case["now"],
                )
            )
        )
        up_of_multi = outcome(
            lambda mapping=mapping, one=one, multi=multi, keys=multi_keys: (
                mapping.get_upstream_mapped_partitions_result_for_partitions(
                    multi.empty_subset().with_partition_keys(keys),
                    multi,
                    one,
                    current_time=case["now"],
                )
            )
        )
        answers.append(
            (
                up_of_single[0],
                _keys(up_of_single[1].partitions_subset) if up_of_single[0] == "ok" else None,
                down_of_single[0],
                _keys(down_of_single[1]) if down_of_single[0] == "ok" else None,
                up_of_multi[0],
                _keys(up_of_multi[1].partitions_subset) if up_of_multi[0] == "ok" else None,
            )
        )
    assert answers[0] == answers[1]
