"""Build the same partitions definitions and mappings in Conflux and in Dagster, from data.

The differential tests generate specs (plain dicts and tuples) with hypothesis and build
each spec twice, with `build(conflux, spec)` and `build(dagster, spec)`: both libraries
take the same arguments under the same names, which is the point.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

if TYPE_CHECKING:
    import types

ZONES = ["UTC", "US/Pacific", "Europe/Berlin", "America/Sao_Paulo", "Asia/Kolkata"]
"""Zones with and without daylight saving (Sao Paulo dropped it in 2019)."""

# A day or two around changes, where windows are 23 or 25 hours long.
DST_DAYS = [
    datetime(2023, 3, 12),  # US spring forward
    datetime(2023, 11, 5),  # US fall back
    datetime(2023, 3, 26),  # EU spring forward
    datetime(2023, 10, 29),  # EU fall back
    datetime(2018, 11, 4),  # Brazil spring forward (midnight)
    datetime(2019, 2, 17),  # Brazil fall back
    datetime(2024, 6, 15),  # no change anywhere
]


@dataclass(frozen=True)
class Cadence:
    """A cron, a key format for it, and how long a window roughly is."""

    cron: str
    fmt: str
    span: timedelta


def cadences() -> st.SearchStrategy[Cadence]:
    """Crons of every kind Dagster's definitions take, each with a format naming its windows."""
    minute = st.integers(0, 59)
    hour = st.integers(0, 23)
    hourly = st.builds(lambda m: f"{m} * * * *", minute)
    daily = st.builds(lambda m, h: f"{m} {h} * * *", minute, hour)
    weekly = st.builds(lambda m, h, d: f"{m} {h} * * {d}", minute, hour, st.integers(0, 6))
    monthly = st.builds(lambda m, h, d: f"{m} {h} {d} * *", minute, hour, st.integers(1, 28))
    return st.one_of(
        st.tuples(hourly, st.sampled_from(["%Y-%m-%d-%H:%M", "%Y-%m-%d-%H:%M:%S%z"])).map(
            lambda t: Cadence(t[0], t[1], timedelta(hours=1))
        ),
        st.sampled_from(["*/15 * * * *", "*/30 * * * *"]).map(
            lambda c: Cadence(c, "%Y-%m-%d-%H:%M", timedelta(minutes=15))
        ),
        st.tuples(daily, st.sampled_from(["%Y-%m-%d", "%Y-%m-%d %H:%M"])).map(
            lambda t: Cadence(t[0], t[1], timedelta(days=1))
        ),
        st.sampled_from(["0 0,12 * * *", "0 6 * * 1-5", "0 */4 * * *"]).map(
            lambda c: Cadence(c, "%Y-%m-%d-%H:%M", timedelta(hours=4))
        ),
        weekly.map(lambda c: Cadence(c, "%Y-%m-%d", timedelta(days=7))),
        monthly.map(lambda c: Cadence(c, "%Y-%m-%d", timedelta(days=30))),
    )


@dataclass(frozen=True)
class TimeSpec:
    """One time-window definition, and a moment to ask it about."""

    cadence: Cadence
    timezone: str
    start: datetime
    end: datetime | None
    end_offset: int
    now: datetime
    exclusions: tuple[datetime, ...] = field(default=())

    def build(self, lib: types.ModuleType) -> Any:
        """The definition in `lib` (`conflux` or `dagster`)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Dagster's beta warnings
            return lib.TimeWindowPartitionsDefinition(
                start=self.start,
                end=self.end,
                fmt=self.cadence.fmt,
                timezone=self.timezone,
                end_offset=self.end_offset,
                cron_schedule=self.cadence.cron,
                **({"exclusions": list(self.exclusions)} if self.exclusions else {}),
            )


@st.composite
def time_specs(draw: st.DrawFn, exclusions: bool = False) -> TimeSpec:
    """A definition starting near a daylight-saving change, asked about a few windows later.

    The span is kept to a few dozen windows, so that Dagster's cron iteration stays quick.
    """
    cadence = draw(cadences())
    day = draw(st.sampled_from(DST_DAYS))
    start = day + timedelta(
        hours=draw(st.integers(-30, 30)), minutes=draw(st.sampled_from([0, 30]))
    )
    windows = draw(st.integers(-3, 40))
    now = start + cadence.span * windows + timedelta(minutes=draw(st.integers(0, 90)))
    end = None
    if draw(st.booleans()):
        end = start + cadence.span * draw(st.integers(1, 45))
    excluded: tuple[datetime, ...] = ()
    if exclusions and cadence.span == timedelta(days=1) and cadence.cron.startswith("0 0 "):
        picks = draw(st.lists(st.integers(0, 20), max_size=4, unique=True))
        excluded = tuple(day.replace(hour=0) + timedelta(days=i) for i in picks)
    return TimeSpec(
        cadence=cadence,
        timezone=draw(st.sampled_from(ZONES)),
        start=start,
        end=end,
        end_offset=draw(st.integers(-3, 3)),
        now=now,
        exclusions=excluded,
    )


def utc(moment: datetime) -> float:
    """A window bound as UTC seconds (comparable across the two libraries' datetimes)."""
    return moment.astimezone(UTC).timestamp()


def outcome(fn: Any) -> tuple[str, Any]:
    """("ok", value) or ("error", the exception), so that refusals compare too."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", fn()
    except Exception as exc:
        return "error", exc


BUG_SIGNS = (AttributeError, TypeError, NameError, AssertionError, KeyError, IndexError)
"""Exceptions that mean a library is broken rather than refusing its input."""


def same_outcome(mine: tuple[str, Any], theirs: tuple[str, Any]) -> bool:
    """Both succeeded, or both refused (and neither refusal is a bug in disguise)."""
    if mine[0] != theirs[0]:
        return False
    return mine[0] == "ok" or not isinstance(mine[1], BUG_SIGNS)
