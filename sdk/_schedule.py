"""Schedules: `ScheduleDefinition`, `@schedule`, `build_schedule_from_partitioned_job`.

A schedule requests its target at the ticks of a cron expression read in
`execution_timezone` (default UTC). Daylight saving follows Dagster: a tick at a
wall-clock time that does not exist fires at the end of the gap (02:30 -> 03:00), a time
that occurs twice fires once (at its later occurrence), and a cron whose hour field is
`*` fires on the absolute clock (hourly ticks stay one hour apart).

Who evaluates a tick: a plain `ScheduleDefinition(cron_schedule, target=...)` and a
partitioned schedule are decided by the coordinator alone (no user code runs); a
schedule with a function body (`@schedule`) is evaluated by its location's worker, like
a sensor, on a `TickRequested`.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from conflux.events import DefinitionError, ScheduleSnapshot
from conflux.sdk._cron_checks import check_cron, check_timezone
from conflux.sdk._run_request import DefaultScheduleStatus, TickResult, tick_result
from conflux.sdk._selection import AssetSelection, UnresolvedAssetJobDefinition, coerce_target

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from conflux.sdk._definitions import Definitions
    from conflux.sdk.partitions import PartitionsDefinition


class InvalidScheduleError(DefinitionError):
    """A schedule's cron expression, time zone, target or partitions cannot work."""


@dataclass(frozen=True)
class ScheduleEvaluationContext:
    """What a schedule function receives (Dagster's name).

    Attributes:
        scheduled_execution_time: the tick's time, in the schedule's time zone.
        schedule_name: the schedule's name.
        log: a logger for the function's messages (they go to the worker's log).
    """

    scheduled_execution_time: datetime
    schedule_name: str
    log: logging.Logger


class ScheduleDefinition:
    """Request a target at each tick of a cron expression (Dagster's `ScheduleDefinition`).

    Args:
        name: unique in the location (default: `{job.name}_schedule`).
        cron_schedule: five-field cron expression, or a nickname (`@hourly`, `@daily`,
            `@weekly`, `@monthly`, `@yearly`), read in `execution_timezone`.
        target: what to materialize (an AssetSelection, a selection string, assets or
            keys); `job=` is accepted instead, as in Dagster.
        execution_timezone: IANA time zone (default UTC).
        default_status: RUNNING to tick without `conflux schedules start`.
        execution_fn: decides each tick (see `@schedule`); None requests the target.
        tags: added to every run it starts.

    Example:
        >>> ScheduleDefinition(
        ...     name="nightly", cron_schedule="0 2 * * *", target="group:sales",
        ...     execution_timezone="Europe/Berlin", default_status=DefaultScheduleStatus.RUNNING,
        ... )
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        cron_schedule: str,
        target: object = None,
        job: UnresolvedAssetJobDefinition | None = None,
        execution_timezone: str | None = None,
        default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        execution_fn: Callable[..., object] | None = None,
        partitioned: bool = False,
    ) -> None:
        if name is None:
            if job is None:
                raise InvalidScheduleError("ScheduleDefinition needs name= (or job=)")
            name = f"{job.name}_schedule"
        self.name = name
        self.cron_schedule = cron_schedule
        self.job = job
        chosen = target if target is not None else job
        if chosen is None:
            raise InvalidScheduleError(
                f"schedule {name}: pass target= (assets, a selection or a job) to say what "
                "it materializes"
            )
        self.target: AssetSelection = coerce_target(chosen)
        self.execution_timezone = execution_timezone or "UTC"
        self.default_status = default_status
        self.description = description
        self.tags: dict[str, str] = {**(job.tags if job else {}), **dict(tags or {})}
        self.execution_fn = execution_fn
        self.partitioned = partitioned

    @property
    def partitions_def(self) -> PartitionsDefinition | None:
        """The job's partitions definition, if the schedule was built from a partitioned job."""
        return self.job.partitions_def if self.job is not None else None

    def to_snapshot(self, defs: Definitions) -> ScheduleSnapshot:
        """Validate against `defs` and describe the schedule as data.

        Raises:
            InvalidScheduleError: bad cron, bad time zone, or a partitioned schedule whose
                assets are not time-partitioned alike.
            UnknownTargetError: the target names an asset the location does not define.
        """
        what = f"schedule {self.name}"
        check_cron(self.cron_schedule, what, InvalidScheduleError)
        cron = " ".join(self.cron_schedule.split())  # as written: `@daily` stays `@daily`
        check_timezone(self.execution_timezone, what, InvalidScheduleError)
        keys = self.target.resolve(defs, what)
        if self.partitioned:
            _check_partitioned(defs, keys, what, self.partitions_def)
        return ScheduleSnapshot(
            name=self.name,
            cron_schedule=cron,
            execution_timezone=self.execution_timezone,
            asset_keys=tuple(keys),
            has_function=self.execution_fn is not None,
            partitioned=self.partitioned,
            default_status="running"
            if self.default_status == DefaultScheduleStatus.RUNNING
            else "stopped",
            description=self.description,
            tags=dict(self.tags),
        )

    def evaluate(self, tick_time: datetime, log: logging.Logger | None = None) -> TickResult:
        """Run the schedule's function for the tick at `tick_time` (any exception propagates)."""
        local = tick_time.astimezone(ZoneInfo(self.execution_timezone))
        if self.execution_fn is None:
            return tick_result({}, f"schedule {self.name}")
        context = ScheduleEvaluationContext(
            scheduled_execution_time=local,
            schedule_name=self.name,
            log=log or logging.getLogger(f"conflux.schedule.{self.name}"),
        )
        fn = self.execution_fn
        result = fn(context) if _takes_context(fn) else fn()
        return tick_result(result, f"schedule {self.name}")

    def __call__(self, *args: object, **kwargs: object) -> object:
        """Call the schedule's function directly (as Dagster does, for unit tests)."""
        if self.execution_fn is None:
            raise InvalidScheduleError(f"schedule {self.name} has no function to call")
        return self.execution_fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"ScheduleDefinition({self.name!r}, cron_schedule={self.cron_schedule!r})"


def build_schedule_context(
    instance: object = None,
    scheduled_execution_time: datetime | None = None,
    resources: Mapping[str, object] | None = None,
    repository_def: object = None,
    instance_ref: object = None,
    **_ignored: object,
) -> ScheduleEvaluationContext:
    """A `ScheduleEvaluationContext` for calling a schedule's function in a test (Dagster's).

    Example:
        >>> my_schedule(build_schedule_context(scheduled_execution_time=datetime(2024, 1, 1)))
    """
    from datetime import UTC, datetime as _datetime

    del instance, resources, repository_def, instance_ref
    return ScheduleEvaluationContext(
        scheduled_execution_time=scheduled_execution_time or _datetime.now(UTC),
        schedule_name="schedule",
        log=logging.getLogger("conflux.schedule"),
    )


def _takes_context(fn: Callable[..., object]) -> bool:
    try:
        return len(inspect.signature(fn).parameters) > 0
    except (TypeError, ValueError):
        return True


def _check_partitioned(
    defs: Definitions, keys: list[str], what: str, job_pdef: PartitionsDefinition | None
) -> None:
    from conflux.sdk.partitions import TimeWindowPartitionsDefinition

    snapshots = {job_pdef.to_snapshot()} if job_pdef is not None else set()
    for key in keys:
        pdef = defs.node_for(key).partitions_def
        if not isinstance(pdef, TimeWindowPartitionsDefinition):
            raise InvalidScheduleError(
                f"{what} is built from a partitioned job, but asset {key} is not "
                "time-partitioned: target only assets with one TimeWindowPartitionsDefinition "
                "(daily, hourly, ...), or use a plain ScheduleDefinition",
                asset_key=key,
            )
        snapshots.add(pdef.to_snapshot())
    if len(snapshots) > 1:
        raise InvalidScheduleError(
            f"{what} targets assets whose partitions differ (from each other or the job's: "
            f"{', '.join(keys)}): a "
            "partitioned schedule requests one partition key, so split it into one schedule "
            "per partitions definition"
        )


def schedule(
    cron_schedule: str,
    *,
    target: object = None,
    job: UnresolvedAssetJobDefinition | None = None,
    name: str | None = None,
    execution_timezone: str | None = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Callable[[Callable[..., object]], ScheduleDefinition]:
    """Decorate a function that decides each tick of a cron schedule (Dagster's `@schedule`).

    The function takes a `ScheduleEvaluationContext` (or nothing) and returns a
    `RunRequest`, a list of them, a `SkipReason`, `{}` (request the target) or None (skip).
    It runs in the location's worker, never in the coordinator.

    Example:
        >>> @schedule(cron_schedule="0 6 * * 1-5", target=[orders],
        ...           execution_timezone="America/New_York")
        ... def weekday_orders(context: ScheduleEvaluationContext) -> RunRequest:
        ...     day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        ...     return RunRequest(run_key=day, tags={"day": day})
    """

    def wrap(fn: Callable[..., object]) -> ScheduleDefinition:
        return ScheduleDefinition(
            name=name or fn.__name__,
            cron_schedule=cron_schedule,
            target=target,
            job=job,
            execution_timezone=execution_timezone,
            default_status=default_status,
            description=description or inspect.getdoc(fn),
            tags=tags,
            execution_fn=fn,
        )

    return wrap


def build_schedule_from_partitioned_job(
    job: UnresolvedAssetJobDefinition,
    *,
    name: str | None = None,
    description: str | None = None,
    minute_of_hour: int | None = None,
    hour_of_day: int | None = None,
    day_of_week: int | None = None,
    day_of_month: int | None = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    tags: Mapping[str, str] | None = None,
) -> ScheduleDefinition:
    """A schedule whose every tick requests the partition that just closed (Dagster's).

    It ticks on the job's partitions cron (shifted by the optional offsets, e.g.
    `minute_of_hour=30` for 00:30 on a daily job) and requests the last complete window
    at the tick: the daily schedule's tick at midnight of 2024-02-01 requests
    `2024-01-31`. The coordinator decides each tick; no user code runs.

    Raises:
        InvalidScheduleError: the job has no time-window partitions definition.
    """
    from conflux.sdk.partitions import TimeWindowPartitionsDefinition

    pdef = job.partitions_def
    if not isinstance(pdef, TimeWindowPartitionsDefinition):
        raise InvalidScheduleError(
            f"build_schedule_from_partitioned_job({job.name}): the job needs "
            "partitions_def=<a daily, hourly, ... TimeWindowPartitionsDefinition>: pass it to "
            "define_asset_job(partitions_def=...)"
        )
    fields = pdef.cron_schedule.split()
    for index, value in (
        (0, minute_of_hour),
        (1, hour_of_day),
        (2, day_of_month),
        (4, day_of_week),
    ):
        if value is not None:
            fields[index] = str(value)
    return ScheduleDefinition(
        name=name or f"{job.name}_schedule",
        cron_schedule=" ".join(fields),
        job=job,
        execution_timezone=pdef.timezone,
        default_status=default_status,
        description=description,
        tags=tags,
        partitioned=True,
    )
