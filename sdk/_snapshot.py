"""Turn live `Definitions` into the data-only `LocationSnapshot` workers publish."""

from __future__ import annotations

import hashlib
import platform
import sys
from typing import TYPE_CHECKING

from conflux.events import AssetDepSnapshot, AssetSnapshot, LocationSnapshot

if TYPE_CHECKING:
    from conflux.events import AutomationConditionSnapshot
    from conflux.sdk._automation import AutomationCondition, SelectionResolver
    from conflux.sdk._definitions import Definitions
    from conflux.sdk._selection import AssetSelection


def build_location_snapshot(defs: Definitions, location: str) -> LocationSnapshot:
    """The snapshot of `defs` as location `location`; deterministic for equal definitions."""
    from conflux.sdk._selection import resolve_loosely

    def resolve(selection: AssetSelection) -> tuple[str, ...]:
        return resolve_loosely(selection, defs)

    defaults = _default_conditions(defs)
    assets: list[AssetSnapshot] = []
    for node in defs.nodes:
        partitions = node.partitions_def.to_snapshot() if node.partitions_def else None
        for out in node.outputs:
            deps: dict[str, AssetDepSnapshot] = {}
            for up_key, mapping, loads in node.upstream_of(out):
                key = up_key.to_user_string()
                previous = deps.get(key)
                deps[key] = AssetDepSnapshot(
                    asset_key=key,
                    partition_mapping=mapping.to_snapshot() if mapping is not None else None,
                    loads_value=loads or (previous is not None and previous.loads_value),
                )
            assets.append(
                AssetSnapshot(
                    key=out.key.to_user_string(),
                    node=node.node,
                    group_name=out.group_name,
                    description=out.description,
                    code_version=out.code_version,
                    metadata={k: str(v) for k, v in out.metadata.items()},
                    partitions=partitions,
                    deps=tuple(deps[k] for k in sorted(deps)),
                    kinds=out.kinds,
                    is_external=node.is_external,
                    is_observable=node.is_observable,
                    retry_policy=node.retry_policy.to_snapshot() if node.retry_policy else None,
                    pool=node.pool,
                    backfill_policy=(
                        node.backfill_policy.to_snapshot() if node.backfill_policy else None
                    ),
                    automation_condition=_condition_snapshot(
                        out.automation_condition or defaults.get(out.key.to_user_string()),
                        resolve,
                    ),
                )
            )
    assets.sort(key=lambda a: a.key)
    return LocationSnapshot(
        location=location,
        assets=tuple(assets),
        python_version=platform.python_version(),
        executable=sys.executable,
        asset_checks=defs.checks.snapshots(resolve),
        schedules=defs.instigators.schedule_snapshots,
        sensors=defs.instigators.sensor_snapshots,
    )


def snapshot_id(snapshot: LocationSnapshot) -> str:
    """A content hash of the snapshot's definitions (not of where it runs)."""
    body = snapshot.model_dump_json(
        include={"location", "assets", "asset_checks", "schedules", "sensors"}
    )
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _default_conditions(defs: Definitions) -> dict[str, AutomationCondition]:
    """Asset key -> the `default_condition` of the automation sensor that targets it."""
    from conflux.sdk._automation_sensor import AutomationConditionSensorDefinition

    found: dict[str, AutomationCondition] = {}
    for sensor in defs.instigators.sensors.values():
        if not isinstance(sensor, AutomationConditionSensorDefinition):
            continue
        if sensor.default_condition is None or sensor.target is None:
            continue
        for key in sensor.target_keys(defs):
            found.setdefault(key, sensor.default_condition)
    return found


def _condition_snapshot(
    condition: AutomationCondition | None, resolve: SelectionResolver
) -> AutomationConditionSnapshot | None:
    return condition.to_snapshot(resolve) if condition is not None else None
