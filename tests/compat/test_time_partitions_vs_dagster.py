"""Time-window partitions: Conflux and Dagster give the same keys, windows and counts.

Generated definitions (any cron kind, zones with and without daylight saving, starts next
to a change, `%z` formats, start and end offsets, an end, excluded days) are built with
both libraries and asked the same questions at the same moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

dagster = pytest.importorskip("dagster", reason="dagster is not installed: pip install '.[compat]'")
pytest.importorskip("hypothesis", reason="hypothesis is not installed: pip install '.[compat]'")

from compat_builders import TimeSpec, outcome, time_specs, utc  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

import conflux  # noqa: E402

SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("COMPAT_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _both(spec: TimeSpec) -> tuple[object, object] | None:
    """The definition built by each library, or None when both refuse it alike."""
    ours, theirs = outcome(lambda: spec.build(conflux)), outcome(lambda: spec.build(dagster))
    if ours[0] == "error" and theirs[0] == "error":
        return None
    if ours[0] == "error":
        # Conflux refuses at once a definition no window of which fits between start and
        # end (Dagster accepts it and lists one key that is not within them); see
        # test_definitions_one_library_refuses below.
        assert "no window of" in str(ours[1]), ours[1]
        return None
    assert theirs[0] == "ok", f"Dagster refuses {spec}: {theirs[1]}"
    return ours[1], theirs[1]


@SETTINGS
@given(time_specs())
def test_keys_counts_and_bounds_match(spec: TimeSpec) -> None:
    built = _both(spec)
    if built is None:
        return
    ours, theirs = built
    keys = ours.get_partition_keys(current_time=spec.now)  # type: ignore[attr-defined]
    assert keys == theirs.get_partition_keys(current_time=spec.now)  # type: ignore[attr-defined]
    assert ours.get_num_partitions(current_time=spec.now) == len(keys)  # type: ignore[attr-defined]
    first = ours.get_first_partition_window(current_time=spec.now)  # type: ignore[attr-defined]
    last = ours.get_last_partition_window(current_time=spec.now)  # type: ignore[attr-defined]
    with dagster.partition_loading_context(effective_dt=spec.now):
        theirs_first = theirs.get_first_partition_window()  # type: ignore[attr-defined]
        theirs_last = theirs.get_last_partition_window()  # type: ignore[attr-defined]
        theirs_num = theirs.get_num_partitions()  # type: ignore[attr-defined]
    assert len(keys) == theirs_num
    assert (first is None) == (theirs_first is None)
    if first is not None:
        assert (utc(first.start), utc(first.end)) == (
            utc(theirs_first.start),
            utc(theirs_first.end),
        )
        assert (utc(last.start), utc(last.end)) == (utc(theirs_last.start), utc(theirs_last.end))


@SETTINGS
@given(time_specs())
def test_every_key_names_the_same_window(spec: TimeSpec) -> None:
    built = _both(spec)
    if built is None:
        return
    ours, theirs = built
    for key in ours.get_partition_keys(current_time=spec.now):  # type: ignore[attr-defined]
        mine = ours.time_window_for_partition_key(key)  # type: ignore[attr-defined]
        other = theirs.time_window_for_partition_key(key)  # type: ignore[attr-defined]
        assert (utc(mine.start), utc(mine.end)) == (utc(other.start), utc(other.end)), key
        with dagster.partition_loading_context(effective_dt=spec.now):
            assert theirs.has_partition_key(key)  # type: ignore[attr-defined]
        assert ours.has_partition_key(key, current_time=spec.now)  # type: ignore[attr-defined]


@SETTINGS
@given(time_specs(exclusions=True))
def test_excluded_days_match(spec: TimeSpec) -> None:
    built = _both(spec)
    if built is None:
        return
    ours, theirs = built
    keys = ours.get_partition_keys(current_time=spec.now)  # type: ignore[attr-defined]
    assert keys == theirs.get_partition_keys(current_time=spec.now)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("US/Pacific", "2020-11-01-02:00:00-0800"),
        ("Europe/Berlin", "2020-11-01-02:00:00+0100"),
    ],
)
def test_a_z_format_keeps_the_offset_after_fall_back(tz: str, expected: str) -> None:
    spec: dict[str, Any] = {
        "start_date": "2020-10-31-23:00:00" + ("-0700" if tz == "US/Pacific" else "+0100"),
        "timezone": tz,
        "fmt": "%Y-%m-%d-%H:%M:%S%z",
    }
    now = datetime(2020, 11, 2)
    ours = conflux.HourlyPartitionsDefinition(**spec).get_partition_keys(current_time=now)
    theirs = dagster.HourlyPartitionsDefinition(**spec).get_partition_keys(current_time=now)
    assert ours == theirs
    assert expected in ours


def test_definitions_one_library_refuses() -> None:
    """Where the two differ on purpose, this says how; each is in docs/porting-from-dagster.md."""
    # Conflux refuses a format that names two windows alike when the definition is built;
    # Dagster accepts it and refuses it when its definitions are validated.
    spec: dict[str, Any] = {
        "start": datetime(2024, 1, 1),
        "fmt": "%Y",
        "cron_schedule": "0 0 * * *",
    }
    assert outcome(lambda: conflux.TimeWindowPartitionsDefinition(**spec))[0] == "error"
    assert outcome(lambda: dagster.TimeWindowPartitionsDefinition(**spec))[0] == "ok"
    # An end before the start: Conflux refuses, Dagster has no window.
    spec = {
        "start": "2024-01-05",
        "end": "2024-01-01",
        "fmt": "%Y-%m-%d",
        "cron_schedule": "0 0 * * *",
    }
    assert outcome(lambda: conflux.TimeWindowPartitionsDefinition(**spec))[0] == "error"
    assert dagster.TimeWindowPartitionsDefinition(**spec).get_partition_keys() == []
    # Both refuse an invalid cron, with the same words.
    for lib in (conflux, dagster):
        kind, exc = outcome(
            lambda lib=lib: lib.TimeWindowPartitionsDefinition(
                start="2024-01-01", fmt="%Y-%m-%d", cron_schedule="0 -24 * * *"
            )
        )
        assert kind == "error" and "Found invalid cron schedule" in str(exc)
