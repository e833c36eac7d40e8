"""How the contract reads a cron expression: five fields, or one of Dagster's nicknames.

Snapshots carry cron expressions as the user wrote them (`@daily` stays `@daily`, as in
Dagster); every reader expands a nickname to the five fields it stands for before ticking.
"""

from __future__ import annotations

CRON_NICKNAMES: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
"""The cron nicknames Dagster 1.13 accepts (through croniter), as five-field cron."""


def expand_cron(expression: str) -> str:
    """`expression` with whitespace normalized and a nickname replaced by its five fields."""
    text = " ".join(str(expression).split())
    return CRON_NICKNAMES.get(text.lower(), text)
