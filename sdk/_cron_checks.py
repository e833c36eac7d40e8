"""The checks of a cron expression and a time zone, shared by schedules and automation.

Both end up evaluated by the same code (`projections._instigators.cron_schedule`, which
reads five-field cron), so both accept the same expressions. The caller names the error
type its users catch (`InvalidScheduleError`, `InvalidAutomationConditionError`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from conflux.events import DefinitionError


def check_timezone(name: str, what: str, error: type[DefinitionError]) -> ZoneInfo:
    """The zone named `name`, or `error` naming `what` and the fix."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise error(
            f"{what}: unknown time zone {name!r} (not an IANA time zone): use an IANA name "
            "such as 'UTC' or 'America/New_York'"
        ) from None


def check_cron(expression: str, what: str, error: type[DefinitionError]) -> str:
    """The expression, normalized, or `error` naming the fix."""
    from croniter import croniter

    text = " ".join(str(expression).split())
    if not croniter.is_valid(text) or len(text.split(" ")) != 5:
        raise error(
            f"{what}: cron_schedule {expression!r} is not a cron expression Conflux reads "
            "(five-field cron: minute hour day month weekday): write e.g. '0 0 * * *' "
            "(daily at midnight) or '*/5 * * * *' (every five minutes)"
        )
    return text
