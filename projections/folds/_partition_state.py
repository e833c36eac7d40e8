"""What callers get back about one asset partition: small frozen values, built on demand.

`AssetStateProjection` does not keep these objects (a million of them cost ~550 bytes a
partition); it stores columns and builds a `PartitionState` for each `get`. So a
`PartitionState` is a snapshot: changing one changes nothing in the projection, and two
`get`s of an unchanged partition return equal, not identical, objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from datetime import datetime

PartitionStatus = Literal["materialized", "failed", "in_progress"]


@dataclass(frozen=True, slots=True)
class MaterializationRef:
    """The latest materialization of an asset partition.

    `time` comes back in UTC (the projection stores microseconds since the epoch), equal
    to the event's time whatever offset the producer wrote.
    """

    event_id: str
    data_version: str
    time: datetime
    run_id: str | None
    source: Literal["executed", "reported"]


@dataclass(frozen=True, slots=True)
class LastAttempt:
    """The latest event about an asset partition that was not a materialization."""

    status: Literal["failed", "in_progress"]
    event_id: str
    time: datetime
    run_id: str
    work_item_id: str
    error_type: str | None = None
    message: str | None = None


@dataclass(slots=True)
class PartitionState:
    """One asset partition: its latest materialization and any later attempt."""

    materialized: MaterializationRef | None = None
    attempt: LastAttempt | None = None
    """A start or failure newer than `materialized`, if any."""

    @property
    def status(self) -> PartitionStatus | None:
        """`in_progress` or `failed` if the latest word is an attempt, else `materialized`.

        None: nothing is known of the partition.
        """
        if self.attempt is not None:
            return self.attempt.status
        return "materialized" if self.materialized is not None else None
