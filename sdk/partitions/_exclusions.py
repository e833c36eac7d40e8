"""Windows a time-window definition leaves out: Dagster's `exclusions=` (dates and crons).

A window is excluded when its start is one of the given instants, or a tick of one of the
given crons (read in the definition's zone): `exclusions=["0 0 * * 6,0"]` drops weekend
days from daily partitions. Excluded windows have no key; the ones around them keep their
own start and end, as in Dagster.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conflux.events import DefinitionError
from conflux.sdk.partitions._cron_ticks import schedule_for

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from zoneinfo import ZoneInfo

    from conflux.sdk.partitions._cron_ticks import Schedule


class Exclusions:
    """Instants and crons whose ticks are not partitions.

    Args:
        items: cron strings and datetimes; a naive datetime is the wall-clock time in
            `tz`, an aware one is converted to it (as for `start`; Dagster relabels it).
        tz: the definition's zone.
        years: the years the definition spans (for the cron fast paths).
    """

    def __init__(self, items: Iterable[str | datetime], tz: ZoneInfo, years: range) -> None:
        instants: list[datetime] = []
        crons: list[str] = []
        for item in items:
            if isinstance(item, datetime):
                local = item.astimezone(tz) if item.tzinfo else item.replace(tzinfo=tz)
                instants.append(local.astimezone(UTC))
            elif isinstance(item, str):
                crons.append(item)
            else:
                raise DefinitionError(
                    f"exclusion {item!r} is neither a cron string nor a datetime: pass e.g. "
                    "'0 0 * * 6,0' (weekends) or datetime(2024, 12, 25)"
                )
        self.crons = tuple(crons)
        self.instants = frozenset(instants)
        anchor = min(instants, default=datetime(2000, 1, 1, tzinfo=UTC))
        self._schedules: list[Schedule] = []
        for cron in crons:
            try:
                self._schedules.append(schedule_for(cron, tz, anchor, years))
            except DefinitionError:
                raise DefinitionError(
                    f"Found invalid cron schedule(s) '{cron}' in the exclusions argument for a "
                    "TimeWindowPartitionsDefinition. Expected a set of valid cron strings and "
                    "datetime objects."
                ) from None

    def __bool__(self) -> bool:
        return bool(self.crons or self.instants)

    def excludes(self, tick: datetime) -> bool:
        """True when the window starting at `tick` (an aware datetime) is left out."""
        utc = tick.astimezone(UTC)
        if utc in self.instants:
            return True
        return any(schedule.tick(schedule.ordinal(utc)) == utc for schedule in self._schedules)

    def iso_instants(self) -> Sequence[str]:
        """The excluded instants as ISO 8601 in UTC, sorted (for the snapshot)."""
        return tuple(sorted(i.isoformat() for i in self.instants))
