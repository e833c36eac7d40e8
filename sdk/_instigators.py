"""A location's schedules and sensors, validated as a whole by `Definitions`.

Names are unique across a location's schedules and sensors (the CLI and the ticks topic
address them by name alone); every target resolves to assets the location computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import DefinitionError, ScheduleSnapshot, SensorSnapshot

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conflux.sdk._definitions import Definitions
    from conflux.sdk._schedule import ScheduleDefinition
    from conflux.sdk._sensor import SensorDefinition


class DuplicateInstigatorNameError(DefinitionError):
    """Two schedules or sensors of one location share a name."""


@dataclass(frozen=True)
class LocationInstigators:
    """The validated schedules and sensors, by name, with their snapshots."""

    schedules: dict[str, ScheduleDefinition] = field(default_factory=dict)
    sensors: dict[str, SensorDefinition] = field(default_factory=dict)
    schedule_snapshots: tuple[ScheduleSnapshot, ...] = ()
    sensor_snapshots: tuple[SensorSnapshot, ...] = ()


def validate_instigators(
    defs: Definitions,
    schedules: Sequence[object],
    sensors: Sequence[object],
    jobs: Sequence[object],
) -> LocationInstigators:
    """Validate every schedule, sensor and job against `defs`.

    Raises:
        DuplicateInstigatorNameError: two schedules or sensors share a name.
        InvalidScheduleError / InvalidSensorError: see `to_snapshot` of each.
        UnknownTargetError: a target names an asset the location does not define.
        DefinitionError: an item is not a schedule, sensor or job.
    """
    from conflux.sdk._schedule import ScheduleDefinition
    from conflux.sdk._selection import UnresolvedAssetJobDefinition
    from conflux.sdk._sensor import SensorDefinition

    for job in jobs:
        if not isinstance(job, UnresolvedAssetJobDefinition):
            raise DefinitionError(
                f"Definitions(jobs=...) got {job!r}: pass jobs made by define_asset_job(...)"
            )
        if not job.selection.is_checks_only:  # a checks-only job is refused as a target
            job.selection.resolve(defs, f"job {job.name}")
    seen: dict[str, str] = {}
    found_schedules: dict[str, ScheduleDefinition] = {}
    found_sensors: dict[str, SensorDefinition] = {}
    for item in schedules:
        if not isinstance(item, ScheduleDefinition):
            raise DefinitionError(
                f"Definitions(schedules=...) got {item!r}: pass ScheduleDefinition objects or "
                "functions decorated with @schedule"
            )
        _claim(seen, item.name, "schedule")
        found_schedules[item.name] = item
    sensors = [*sensors, *_implicit_sensors(defs, sensors)]
    for item in sensors:
        if not isinstance(item, SensorDefinition):
            raise DefinitionError(
                f"Definitions(sensors=...) got {item!r}: pass functions decorated with @sensor, "
                "@asset_sensor or @multi_asset_sensor"
            )
        _claim(seen, item.name, "sensor")
        found_sensors[item.name] = item
        bind = getattr(item, "bind", None)
        if bind is not None:  # an automation condition sensor evaluates custom conditions
            bind(defs)
    return LocationInstigators(
        schedules=found_schedules,
        sensors=found_sensors,
        schedule_snapshots=tuple(
            found_schedules[n].to_snapshot(defs) for n in sorted(found_schedules)
        ),
        sensor_snapshots=tuple(found_sensors[n].to_snapshot(defs) for n in sorted(found_sensors)),
    )


def _implicit_sensors(defs: Definitions, sensors: Sequence[object]) -> list[object]:
    """The default automation condition sensor, when custom conditions need a worker.

    Assets whose conditions hold custom nodes, and that no user-code automation condition
    sensor targets, get theirs evaluated on the ticks of an implicit sensor (running).
    """
    from conflux.sdk._automation_sensor import (
        DEFAULT_SENSOR_NAME,
        AutomationConditionSensorDefinition,
        custom_nodes,
    )
    from conflux.sdk._run_request import DefaultSensorStatus
    from conflux.sdk._selection import AssetSelection

    covered: set[str] = set()
    for item in sensors:
        if isinstance(item, AutomationConditionSensorDefinition) and item.use_user_code_server:
            if item.name == DEFAULT_SENSOR_NAME or item.target is None:
                return []
            covered.update(item.target_keys(defs))
    wanted = [
        out.key.to_user_string()
        for node in defs.nodes
        for out in node.outputs
        if out.automation_condition is not None
        and any(True for _ in custom_nodes(out.automation_condition))
        and out.key.to_user_string() not in covered
    ]
    if not wanted:
        return []
    return [
        AutomationConditionSensorDefinition(
            DEFAULT_SENSOR_NAME,
            target=AssetSelection.assets(*wanted),
            default_status=DefaultSensorStatus.RUNNING,
            use_user_code_server=True,
        )
    ]


def _claim(seen: dict[str, str], name: str, kind: str) -> None:
    previous = seen.get(name)
    if previous is not None:
        raise DuplicateInstigatorNameError(
            f"two {previous}s/{kind}s are named {name!r}: schedules and sensors are "
            "addressed by name, so give each its own (name=...)"
        )
    seen[name] = kind
