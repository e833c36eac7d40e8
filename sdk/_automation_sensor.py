"""`AutomationConditionSensorDefinition`: which assets automation runs for (Dagster's name).

In Dagster a sensor evaluates the automation conditions of the assets it targets, on its
ticks. Conflux's coordinator evaluates conditions on events, so what such a sensor decides
is whether automation runs for its assets at all (its status: `conflux sensors
start|stop`, `default_status`), the tags of the runs automation requests for them
(`run_tags`), and, with `use_user_code_server=True`, the custom conditions (a user's
`AutomationCondition` subclass): the location's worker evaluates them on the sensor's
ticks and reports their values, which the coordinator reads (Dagster, too, runs those in
the user code server).

Assets no automation condition sensor of their location targets are automated by an
implicit one, always running (Dagster's `default_automation_condition_sensor`); custom
conditions of such assets are evaluated on the ticks of an implicit user-code sensor of
that name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conflux.events import CustomConditionResult, DefinitionError
from conflux.sdk._run_request import DefaultSensorStatus, TickResult
from conflux.sdk._sensor import SensorDefinition

if TYPE_CHECKING:
    import logging
    from collections.abc import Iterator, Mapping, Sequence

    from conflux.events import AssetMaterialized
    from conflux.sdk._automation import AutomationCondition
    from conflux.sdk._definitions import Definitions

DEFAULT_SENSOR_NAME = "default_automation_condition_sensor"
CANDIDATE_CAP = 10_000
"""Partitions of one asset a custom condition is evaluated for on one tick (the latest)."""


def _no_function() -> None:
    raise DefinitionError("an automation condition sensor has no function of its own")


class AutomationConditionSensorDefinition(SensorDefinition):
    """Targets assets for declarative automation (Dagster's name; see the module docstring).

    Args:
        name: unique in the location.
        target: the assets (a selection, assets or keys).
        run_tags: tags of the runs automation requests for these assets.
        default_status: RUNNING to automate them without `conflux sensors start`.
        minimum_interval_seconds: how often custom conditions are evaluated (30 s).
        use_user_code_server: evaluate these assets' custom conditions in the worker.
        default_condition: the condition of targeted assets that have none
            (needs `use_user_code_server=True`, as in Dagster).

    Example:
        >>> AutomationConditionSensorDefinition(
        ...     "nightly_assets", target=AssetSelection.groups("nightly"),
        ...     run_tags={"team": "data"}, default_status=DefaultSensorStatus.RUNNING,
        ... )
    """

    def __init__(
        self,
        name: str,
        *,
        target: object,
        tags: Mapping[str, str] | None = None,
        run_tags: Mapping[str, Any] | None = None,
        default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
        minimum_interval_seconds: float | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        emit_backfills: bool = True,
        use_user_code_server: bool = False,
        default_condition: AutomationCondition | None = None,
        **_ignored: Any,
    ) -> None:
        from conflux.sdk._automation import coerce_condition

        del tags, metadata, emit_backfills  # Conflux requests runs; nothing else to tag
        if default_condition is not None and not use_user_code_server:
            raise DefinitionError(
                f"automation condition sensor {name}: default_condition needs "
                "use_user_code_server=True (as in Dagster)"
            )
        super().__init__(
            name=name,
            evaluation_fn=_no_function,
            minimum_interval_seconds=minimum_interval_seconds,
            target=target,
            description=description,
            default_status=default_status,
            kind="automation_condition",
        )
        self.run_tags = {str(k): str(v) for k, v in (run_tags or {}).items()}
        self.use_user_code_server = use_user_code_server
        self.default_condition = coerce_condition(default_condition, f"sensor {name}")
        self._defs: Definitions | None = None

    def bind(self, defs: Definitions) -> None:
        """Remember the definitions whose custom conditions `evaluate` runs."""
        self._defs = defs

    def _snapshot_extra(self) -> dict[str, object]:
        return {"run_tags": self.run_tags, "use_user_code_server": self.use_user_code_server}

    def target_keys(self, defs: Definitions) -> list[str]:
        """The computed assets the target selects.

        None is fine (Dagster's default sensor targets every asset, whatever the location
        holds).
        """
        from conflux.sdk._selection import resolve_loosely

        if self.target is None:
            return []
        computed = {k.to_user_string() for k in defs.asset_keys if not defs.node_for(k).is_external}
        return [k for k in resolve_loosely(self.target, defs) if k in computed]

    def evaluate(
        self,
        *,
        cursor: str | None,
        asset_events: Sequence[AssetMaterialized] = (),
        last_tick_completion_time: datetime | None = None,
        log: logging.Logger | None = None,
    ) -> TickResult:
        """Evaluate the custom conditions of the targeted assets (the worker calls this)."""
        del asset_events, last_tick_completion_time
        results = tuple(self.condition_results(datetime.now(UTC), log))
        return TickResult(
            skip_reason=None if results else "no custom condition to evaluate",
            cursor=cursor,
            condition_results=results,
        )

    def condition_results(
        self, now: datetime, log: logging.Logger | None = None
    ) -> Iterator[CustomConditionResult]:
        """Every custom node of the targeted assets' conditions, evaluated now."""
        from conflux.sdk._automation_context import AutomationContext, EntitySubset

        defs = self._defs
        if defs is None or self.target is None:
            return
        for key in self.target_keys(defs):
            condition = condition_of(defs, key, self)
            if condition is None:
                continue
            node = defs.node_for(key)
            pdef = node.partitions_def
            candidates: frozenset[str | None] = (
                frozenset(list(pdef.get_partition_keys(current_time=now))[-CANDIDATE_CAP:])
                if pdef is not None
                else frozenset({None})
            )
            asset_key = next(o.key for o in node.outputs if o.key.to_user_string() == key)
            for path, custom in custom_nodes(condition):
                context = AutomationContext(
                    condition=custom,
                    key=asset_key,
                    partitions_def=pdef,
                    candidate_subset=EntitySubset(asset_key, candidates),
                    evaluation_time=now,
                )
                if log is not None:
                    context.log = log
                result = custom.evaluate(context)
                true = result.true_subset.partition_keys & candidates
                yield CustomConditionResult(
                    root_key=key,
                    node_path=path,
                    true_partitions=(
                        None
                        if pdef is None and true
                        else tuple(sorted(k for k in true if k is not None))
                    ),
                )


def custom_nodes(
    condition: AutomationCondition, path: str = "0"
) -> Iterator[tuple[str, AutomationCondition]]:
    """(path, node) of every custom node of a condition tree, paths as the evaluator's."""
    if condition.is_custom:
        yield path, condition
        return
    for index, child in enumerate(condition.children):
        yield from custom_nodes(child, f"{path}.{index}")


def condition_of(
    defs: Definitions, key: str, sensor: AutomationConditionSensorDefinition | None = None
) -> AutomationCondition | None:
    """An asset's condition: its own, else the default condition of the sensor given."""
    node = defs.node_for(key)
    own = next(o.automation_condition for o in node.outputs if o.key.to_user_string() == key)
    if own is not None:
        return own
    return sensor.default_condition if sensor is not None else None
