"""Cron nicknames tick when Dagster's schedules tick (Dagster 1.13 is the oracle).

Compared: the ticks of each nickname Dagster accepts, over two months that contain a
daylight-saving change in each direction, in UTC and in zones with DST, between Conflux's
schedule ticks (what the coordinator fires schedules and `on_cron` on) and Dagster's
`cron_string_iterator` (what its schedules and `cron_tick_passed` iterate).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

dagster_schedules = pytest.importorskip(
    "dagster._utils.schedules", reason="dagster is not installed (pip install -e '.[compat]')"
)

from conflux import AutomationCondition, Definitions, ScheduleDefinition, asset  # noqa: E402
from conflux.events import CRON_NICKNAMES  # noqa: E402
from conflux.projections.folds import next_cron_tick  # noqa: E402

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney"]
START = datetime(2024, 3, 1, tzinfo=UTC)


def _dagster_ticks(cron: str, zone: str, count: int) -> list[datetime]:
    ticks = dagster_schedules.cron_string_iterator(START.timestamp(), cron, zone)
    return [t.astimezone(UTC) for t in islice(ticks, count)]


def _conflux_ticks(cron: str, zone: str, count: int) -> list[datetime]:
    ticks: list[datetime] = []
    at = START - timedelta(microseconds=1)
    while len(ticks) < count:
        at = next_cron_tick(cron, zone, at)
        ticks.append(at.astimezone(UTC))
    return ticks


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("nickname", sorted(CRON_NICKNAMES))
def test_nickname_ticks_match_dagster(nickname: str, zone: str) -> None:
    assert dagster_schedules.is_valid_cron_string(nickname)
    count = {"@hourly": 24 * 62, "@daily": 62, "@midnight": 62, "@weekly": 10}.get(nickname, 3)
    assert _conflux_ticks(nickname, zone, count) == _dagster_ticks(nickname, zone, count)


def test_dagster_accepts_no_other_nickname() -> None:
    for word in ["@reboot", "@every", "@quarterly", "@minutely", "@hour", "@day"]:
        assert not dagster_schedules.is_valid_cron_string(word), word


def test_nicknames_are_accepted_where_dagster_accepts_them() -> None:
    import dagster as dg

    @asset
    def a() -> None: ...

    for nickname in CRON_NICKNAMES:
        ours = ScheduleDefinition(name="s", cron_schedule=nickname, target=[a])
        theirs = dg.ScheduleDefinition(name="s", cron_schedule=nickname, target="*")
        assert ours.cron_schedule == theirs.cron_schedule == nickname
        assert ours.to_snapshot(Definitions(assets=[a])).cron_schedule == nickname
        ours_on_cron = AutomationCondition.on_cron(nickname)
        theirs_on_cron = dg.AutomationCondition.on_cron(nickname)
        assert ours_on_cron.get_label() == theirs_on_cron.get_label() == f"on_cron({nickname}, UTC)"


def test_a_day_that_never_comes_is_refused_by_both() -> None:
    import dagster as dg

    from conflux import InvalidScheduleError

    @asset
    def a() -> None: ...

    with pytest.raises(InvalidScheduleError):
        ScheduleDefinition(name="s", cron_schedule="0 0 30 2 *", target=[a]).to_snapshot(
            Definitions(assets=[a])
        )
    with pytest.raises(Exception):  # noqa: B017 - Dagster raises its own check error
        dg.ScheduleDefinition(name="s", cron_schedule="0 0 30 2 *", target="*")
