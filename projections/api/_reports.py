"""The query API's reports on schedules and sensors, code locations and `why`.

Answers the projector computes from several folds at once (the read side's views), and
that `ApiClient` returns: `conflux schedules|sensors list`, `conflux locations list` and
`conflux why`. Frozen; readers may rely on every documented field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from conflux.events import ConditionResult

InstigatorStatus = Literal["running", "stopped"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocationError(_Model):
    """Why a location's code did not load (its latest word was `LocationLoadFailed`)."""

    error_type: str
    message: str
    traceback: str
    time: datetime
    """When the worker reported it."""
    worker: str
    """The reporting worker (the event's producer)."""


class LocationWorker(_Model):
    """One live worker process of a location, from its latest heartbeat."""

    instance_id: str
    ready: bool
    """False while it has not loaded the code (or the code failed to load)."""
    work_item_id: str | None
    """The work item it executes now, if any."""
    last_seen: datetime
    age_s: float


class LocationSummary(_Model):
    """One code location: what it defines, where it runs, who runs it, and what went wrong."""

    name: str
    status: Literal["loaded", "failed", "waiting"]
    """`waiting`: expected (or a worker beats) but no snapshot or failure seen yet."""
    updated: datetime | None
    """Time of its latest snapshot or failure (a reload shows as a newer time)."""
    python_version: str | None
    """The interpreter of the last good snapshot (a failure keeps the previous one)."""
    executable: str | None
    snapshot_id: str | None
    asset_count: int
    code_versions: dict[str, str]
    """Asset key -> code_version, for the assets that set one."""
    workers_alive: int
    workers: list[LocationWorker]
    """Live workers (beat within 3 intervals), by instance id."""
    last_error: LocationError | None
    """Set when the latest word was a load failure; cleared by the next good snapshot."""


class MaterializationInfo(_Model):
    """The latest materialization of the asset partition."""

    event_id: str
    time: datetime
    data_version: str
    run_id: str | None
    source: str


class RunCause(_Model):
    """The latest run that covered the partition, and what asked for it."""

    run_id: str
    trigger: str
    """`manual`, `backfill`, `schedule`, `sensor` or `automation`."""
    requested_by: str
    requested_at: datetime
    status: str | None
    explanation: str
    """One line for people, e.g. `schedule nightly, tick 2024-05-01T02:00:00+00:00`."""
    request_event_id: str
    evaluation: ConditionResult | None = None
    """For automation: the condition as it was evaluated when the run was requested."""


class WhyReport(_Model):
    """Why an asset partition is in its state, and what automation thinks of it now."""

    asset_key: str
    partition_key: str | None
    materialization: MaterializationInfo | None
    last_run: RunCause | None
    automation_condition: str | None
    """The asset's condition as an expression (None: not automated)."""
    evaluation_now: ConditionResult | None
    """The condition evaluated at `evaluated_at` (None: not automated)."""
    evaluated_at: datetime


class TickSummary(_Model):
    """One completed tick, as `conflux schedules|sensors list` shows it."""

    tick_id: str
    tick_time: datetime
    completed_at: datetime
    status: Literal["success", "skipped", "failure"]
    run_requests: int
    skip_reason: str | None = None
    error: str | None = None
    """`ErrorType: message` of a failed tick."""


class InstigatorSummary(_Model):
    """One schedule or sensor: its definition, status, cursor and ticks."""

    name: str
    instigator_type: Literal["schedule", "sensor"]
    location: str
    status: InstigatorStatus
    default_status: InstigatorStatus
    kind: str
    """`schedule` / `partitioned_schedule` / `function_schedule`, or the sensor's kind."""
    asset_keys: list[str]
    cron_schedule: str | None = None
    execution_timezone: str | None = None
    minimum_interval_seconds: float | None = None
    monitored_asset_keys: list[str] = []
    cursor: str | None = None
    last_tick: TickSummary | None = None
    last_error: TickSummary | None = None
    next_tick: datetime | None = None
    """Schedules: the next cron tick (while running); sensors: the earliest next request."""
    ticks: dict[str, int] = {}
    """Completed ticks by status."""
    in_flight: int = 0
    """Ticks requested from a worker and not completed yet."""
