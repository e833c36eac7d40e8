"""The checks of a cron expression and a time zone, shared by schedules and automation.

Both end up evaluated by the same code (`projections._instigators.cron_schedule`, which
reads five-field cron), so both accept the same expressions. The caller names the error
type its users catch (`InvalidScheduleError`, `InvalidAutomationConditionError`).

Dagster's nicknames (`@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`, `@yearly`,
`@annually`) are accepted and tick as the five-field expressions they stand for
(`conflux.events.CRON_NICKNAMES`), as in Dagster; what the user wrote is kept for display.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conflux.events import expand_cron

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
    """The expression as five-field cron (nicknames expanded), or `error` naming the fix.

    Refused as Dagster refuses them: anything croniter does not read, expressions of six
    or more fields (seconds), and days that never come (`0 0 30 2 *`).
    """
    from croniter import croniter

    text = expand_cron(expression)
    fields = text.split(" ")
    valid = croniter.is_valid(text) and len(fields) == 5
    if valid and fields[3] in ("2", "feb", "FEB", "Feb") and fields[2] in ("30", "31"):
        valid = False  # the 30th or 31st of February never comes
    if not valid:
        raise error(
            f"{what}: cron_schedule {expression!r} is not a cron expression Conflux reads "
            "(five-field cron: minute hour day month weekday, or a nickname such as "
            "'@daily'): write e.g. '0 0 * * *' (daily at midnight) or '*/5 * * * *' (every "
            "five minutes)"
        )
    return text
