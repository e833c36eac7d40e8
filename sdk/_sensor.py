"""Sensors: `@sensor`, `@asset_sensor`, `@multi_asset_sensor` and `SensorDefinition`.

A sensor is user code that the location's worker evaluates when the coordinator asks
(a `TickRequested`), at most every `minimum_interval_seconds` (down to 1 s). It receives
its cursor and returns run requests, a skip reason, or raises; the worker records the
outcome and the new cursor in a `TickCompleted`. A run key is requested once, ever.

Asset sensors are woken by the coordinator when a monitored asset materializes; the
request carries the materializations after the sensor's cursor, whose form these
sensors own: JSON `{"asset/key": ["<iso time>", "<event id>"], ...}` (the last
materialization consumed per asset).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
from datetime import UTC
from typing import TYPE_CHECKING, Literal

from conflux.events import DefinitionError, SensorSnapshot
from conflux.sdk._keys import AssetKey, to_asset_key
from conflux.sdk._run_request import DefaultSensorStatus, TickResult, tick_result
from conflux.sdk._selection import AssetSelection, UnresolvedAssetJobDefinition, coerce_target

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime

    from conflux.events import AssetMaterialized
    from conflux.sdk._definitions import Definitions

MIN_INTERVAL_S = 1.0
"""The shortest `minimum_interval_seconds` (Dagster's floor is 30 s)."""

SensorKind = Literal[
    "sensor", "asset_sensor", "multi_asset_sensor", "stream", "freshness", "automation_condition"
]
Position = tuple[str, str]
"""(ISO time, event id) of a materialization: ordered like the events."""


class InvalidSensorError(DefinitionError):
    """A sensor's interval, timeout, target or monitored assets cannot work."""


def cursor_positions(cursor: str | None) -> dict[str, Position]:
    """An asset sensor's cursor as asset key -> last consumed position (empty if none)."""
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
        return {str(k): (str(v[0]), str(v[1])) for k, v in data.items()}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return {}


def position_of(event: AssetMaterialized) -> Position:
    """Where a materialization sits in an asset sensor's cursor (UTC, fixed width: ordered)."""
    return (event.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), event.event_id)


def _encode(positions: Mapping[str, Position]) -> str:
    return json.dumps({k: list(positions[k]) for k in sorted(positions)}, separators=(",", ":"))


class SensorEvaluationContext:
    """What a sensor function receives (Dagster's name).

    Attributes:
        cursor: the cursor as of the request (None before the first one is set).
        last_tick_completion_time: when the previous tick completed (POSIX seconds).
        sensor_name: the sensor's name.
        log: a logger for the function's messages (they go to the worker's log).
    """

    def __init__(
        self,
        *,
        sensor_name: str,
        cursor: str | None = None,
        last_tick_completion_time: float | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.sensor_name = sensor_name
        self._cursor = cursor
        self.cursor_updated = False
        self.last_tick_completion_time = last_tick_completion_time
        self.log = log or logging.getLogger(f"conflux.sensor.{sensor_name}")

    @property
    def cursor(self) -> str | None:
        """The cursor (after `update_cursor`, the new value)."""
        return self._cursor

    def update_cursor(self, cursor: str | None) -> None:
        """Set the cursor that the next tick receives (stored in the tick event)."""
        self._cursor = cursor
        self.cursor_updated = True


class MultiAssetSensorEvaluationContext(SensorEvaluationContext):
    """What a `@multi_asset_sensor` function receives: the new materializations.

    Supported (a small, honest subset of Dagster's): `asset_keys`,
    `latest_materialization_records_by_key()`, `materialization_records_for_key()`,
    `advance_cursor()`, `advance_all_cursors()`. Records are `AssetMaterialized` events
    (`asset_key`, `partition_key`, `data_version`, `metadata`, `run_id`, `time`). A record
    the function does not advance past is offered again at the next tick.
    """

    def __init__(
        self,
        *,
        asset_keys: Sequence[str],
        events: Sequence[AssetMaterialized],
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.asset_keys = [AssetKey.from_user_string(k) for k in asset_keys]
        self.positions = cursor_positions(self.cursor)
        self._events: dict[str, list[AssetMaterialized]] = {k: [] for k in asset_keys}
        for event in sorted(events, key=position_of):
            seen = self.positions.get(event.asset_key)
            if event.asset_key in self._events and (seen is None or position_of(event) > seen):
                self._events[event.asset_key].append(event)

    def materialization_records_for_key(
        self, asset_key: object, limit: int | None = None
    ) -> list[AssetMaterialized]:
        """The new materializations of one monitored asset, oldest first."""
        found = self._events.get(to_asset_key(asset_key).to_user_string(), [])  # type: ignore[arg-type]
        return found[:limit] if limit is not None else list(found)

    def latest_materialization_records_by_key(self) -> dict[AssetKey, AssetMaterialized | None]:
        """Each monitored asset's newest new materialization (None: nothing new)."""
        return {
            AssetKey.from_user_string(k): (v[-1] if v else None) for k, v in self._events.items()
        }

    def advance_cursor(self, records: Mapping[object, AssetMaterialized | None]) -> None:
        """Consume each asset's records up to (and including) the given one."""
        for key, record in records.items():
            if record is not None:
                name = to_asset_key(key).to_user_string()  # type: ignore[arg-type]
                self.positions[name] = position_of(record)
        self.update_cursor(_encode(self.positions))

    def advance_all_cursors(self) -> None:
        """Consume every new materialization of every monitored asset."""
        self.advance_cursor({k: (v[-1] if v else None) for k, v in self._events.items()})


class SensorDefinition:
    """User code that decides, on each tick, which runs to request (Dagster's name).

    Args:
        name: unique in the location (default: the function's name).
        evaluation_fn: takes a `SensorEvaluationContext` (or nothing); returns
            `RunRequest`s, a `SkipReason`, a `SensorResult` or None.
        minimum_interval_seconds: the shortest time between two ticks (>= 1 s).
        target: what run requests without `asset_selection` materialize (`job=` too).
        default_status: RUNNING to tick without `conflux sensors start`.
        timeout_seconds: an evaluation running longer is recorded as a failed tick
            (the worker moves on; other sensors never wait for it).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        evaluation_fn: Callable[..., object],
        minimum_interval_seconds: float | None = None,
        target: object = None,
        job: UnresolvedAssetJobDefinition | None = None,
        description: str | None = None,
        default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
        timeout_seconds: float = 60.0,
        kind: SensorKind = "sensor",
        monitored_assets: Sequence[object] = (),
        check_keys: Sequence[str] = (),
    ) -> None:
        self.name: str = name or str(getattr(evaluation_fn, "__name__", "sensor"))
        self.evaluation_fn = evaluation_fn
        self.minimum_interval_seconds = (
            30.0 if minimum_interval_seconds is None else float(minimum_interval_seconds)
        )
        chosen = target if target is not None else job
        self.target: AssetSelection | None = coerce_target(chosen) if chosen is not None else None
        self.description = description
        self.default_status = default_status
        self.timeout_seconds = float(timeout_seconds)
        self.kind: SensorKind = kind
        self.check_keys = tuple(check_keys)
        self.monitored_keys = tuple(
            k
            for item in monitored_assets
            for k in AssetSelection.assets(item).names  # type: ignore[attr-defined]
        )

    def to_snapshot(self, defs: Definitions) -> SensorSnapshot:
        """Validate against `defs` and describe the sensor as data.

        Raises:
            InvalidSensorError: an interval under 1 s or a timeout that is not positive.
            UnknownTargetError: the target or a monitored asset is not defined here.
        """
        what = f"sensor {self.name}"
        if self.minimum_interval_seconds < MIN_INTERVAL_S:
            raise InvalidSensorError(
                f"{what}: minimum_interval_seconds={self.minimum_interval_seconds:g} is under "
                f"the floor of {MIN_INTERVAL_S:g} s: pass 1 or more"
            )
        if self.timeout_seconds <= 0:
            raise InvalidSensorError(f"{what}: timeout_seconds must be positive")
        keys = self.target_keys(defs)
        monitored: list[str] = []
        if self.monitored_keys:
            known = {k.to_user_string() for k in defs.asset_keys}
            for key in self.monitored_keys:
                if key not in known:
                    from conflux.sdk._selection import UnknownTargetError

                    raise UnknownTargetError(
                        f"{what} monitors asset {key}, which this location does not define: "
                        "fix the key, or declare it with AssetSpec(...) in Definitions",
                        asset_key=key,
                    )
                monitored.append(key)
        return SensorSnapshot(
            name=self.name,
            kind=self.kind,
            minimum_interval_seconds=self.minimum_interval_seconds,
            asset_keys=tuple(keys),
            monitored_asset_keys=tuple(monitored),
            default_status="running"
            if self.default_status == DefaultSensorStatus.RUNNING
            else "stopped",
            description=self.description,
            timeout_s=self.timeout_seconds,
            check_keys=self.check_keys,
            **self._snapshot_extra(),
        )

    def target_keys(self, defs: Definitions) -> list[str]:
        """The target's asset keys (empty: each run request names its assets).

        Raises:
            UnknownTargetError: the target names an asset the location does not define.
        """
        return self.target.resolve(defs, f"sensor {self.name}") if self.target is not None else []

    def _snapshot_extra(self) -> dict[str, object]:
        """Fields of the snapshot that only some kinds of sensor set."""
        return {}

    def evaluate(
        self,
        *,
        cursor: str | None,
        asset_events: Sequence[AssetMaterialized] = (),
        last_tick_completion_time: datetime | None = None,
        log: logging.Logger | None = None,
    ) -> TickResult:
        """Run the sensor's function once (any exception it raises propagates)."""
        what = f"sensor {self.name}"
        last = last_tick_completion_time.timestamp() if last_tick_completion_time else None
        common: dict[str, object] = {
            "sensor_name": self.name,
            "cursor": cursor,
            "last_tick_completion_time": last,
            "log": log,
        }
        if self.kind == "asset_sensor":
            return self._asset_tick(cursor, asset_events, common)
        context: SensorEvaluationContext
        if self.kind == "multi_asset_sensor":
            context = MultiAssetSensorEvaluationContext(
                asset_keys=self.monitored_keys, events=asset_events, **common
            )
        else:
            context = SensorEvaluationContext(**common)  # type: ignore[arg-type]
        fn = self.evaluation_fn
        result = tick_result(fn(context) if _takes_args(fn) else fn(), what)
        if result.cursor_set:
            return result
        return dataclasses.replace(result, cursor=context.cursor)

    def _asset_tick(
        self,
        cursor: str | None,
        asset_events: Sequence[AssetMaterialized],
        common: dict[str, object],
    ) -> TickResult:
        key = self.monitored_keys[0]
        positions = cursor_positions(cursor)
        seen = positions.get(key)
        fresh = [e for e in asset_events if e.asset_key == key]
        fresh = [e for e in fresh if seen is None or position_of(e) > seen]
        if not fresh:
            return TickResult(skip_reason=f"no new materialization of {key}", cursor=cursor)
        latest = max(fresh, key=position_of)
        from conflux.sdk._asset_events import EventLogEntry

        context = SensorEvaluationContext(**common)  # type: ignore[arg-type]
        entry = EventLogEntry(latest)  # Dagster's type; the event's fields read through
        result = tick_result(self.evaluation_fn(context, entry), f"asset sensor {self.name}")
        positions[key] = position_of(latest)
        return TickResult(result.run_requests, result.skip_reason, _encode(positions))

    def __call__(self, *args: object, **kwargs: object) -> object:
        """Call the sensor's function directly (as Dagster does, for unit tests)."""
        return self.evaluation_fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"SensorDefinition({self.name!r}, kind={self.kind!r})"


def build_sensor_context(
    instance: object = None,
    cursor: str | None = None,
    repository_name: str | None = None,
    repository_def: object = None,
    sensor_name: str | None = None,
    resources: Mapping[str, object] | None = None,
    definitions: object = None,
    instance_ref: object = None,
    last_sensor_start_time: float | None = None,
    **_ignored: object,
) -> SensorEvaluationContext:
    """A `SensorEvaluationContext` for calling a sensor's function in a test (Dagster's).

    Example:
        >>> my_sensor(build_sensor_context(cursor="42"))
    """
    del instance, repository_name, repository_def, resources, definitions, instance_ref
    return SensorEvaluationContext(
        sensor_name=sensor_name or "sensor",
        cursor=cursor,
        last_tick_completion_time=last_sensor_start_time,
    )


def _takes_args(fn: Callable[..., object]) -> bool:
    try:
        return len(inspect.signature(fn).parameters) > 0
    except (TypeError, ValueError):
        return True


def _decorator(
    *,
    kind: SensorKind,
    monitored_assets: Sequence[object],
    target: object,
    job: UnresolvedAssetJobDefinition | None,
    name: str | None,
    minimum_interval_seconds: float | None,
    description: str | None,
    default_status: DefaultSensorStatus,
    timeout_seconds: float,
) -> Callable[[Callable[..., object]], SensorDefinition]:
    """What `@sensor`, `@asset_sensor` and `@multi_asset_sensor` return.

    The function's name and docstring are the defaults of the sensor's name and
    description.
    """

    def wrap(fn: Callable[..., object]) -> SensorDefinition:
        return SensorDefinition(
            name=name or fn.__name__,
            evaluation_fn=fn,
            minimum_interval_seconds=minimum_interval_seconds,
            target=target,
            job=job,
            description=description or inspect.getdoc(fn),
            default_status=default_status,
            timeout_seconds=timeout_seconds,
            kind=kind,
            monitored_assets=monitored_assets,
        )

    return wrap


def sensor(
    *,
    target: object = None,
    job: UnresolvedAssetJobDefinition | None = None,
    name: str | None = None,
    minimum_interval_seconds: float | None = None,
    description: str | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    timeout_seconds: float = 60.0,
) -> Callable[[Callable[..., object]], SensorDefinition]:
    """Decorate a sensor function (Dagster's `@sensor`).

    Example:
        >>> @sensor(target=[orders], minimum_interval_seconds=5)
        ... def new_files(context: SensorEvaluationContext):
        ...     for name in sorted(os.listdir(INBOX)):
        ...         if name > (context.cursor or ""):
        ...             yield RunRequest(run_key=name)
        ...             context.update_cursor(name)
    """
    return _decorator(
        kind="sensor",
        monitored_assets=(),
        target=target,
        job=job,
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        description=description,
        default_status=default_status,
        timeout_seconds=timeout_seconds,
    )


def asset_sensor(
    asset_key: object,
    *,
    target: object = None,
    job: UnresolvedAssetJobDefinition | None = None,
    name: str | None = None,
    minimum_interval_seconds: float | None = None,
    description: str | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    timeout_seconds: float = 60.0,
) -> Callable[[Callable[..., object]], SensorDefinition]:
    """A sensor that fires on new materializations of one asset (Dagster's `@asset_sensor`).

    The function receives `(context, asset_event)`: `asset_event` is the newest new
    `AssetMaterialized` of `asset_key` (earlier ones since the last tick are passed
    over, as in Dagster). The cursor is managed for it. The coordinator requests a tick
    as soon as the asset materializes (no earlier than the interval allows), and not
    otherwise.
    """
    return _decorator(
        kind="asset_sensor",
        monitored_assets=[asset_key],
        target=target,
        job=job,
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        description=description,
        default_status=default_status,
        timeout_seconds=timeout_seconds,
    )


def multi_asset_sensor(
    monitored_assets: Sequence[object],
    *,
    target: object = None,
    job: UnresolvedAssetJobDefinition | None = None,
    name: str | None = None,
    minimum_interval_seconds: float | None = None,
    description: str | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    timeout_seconds: float = 60.0,
) -> Callable[[Callable[..., object]], SensorDefinition]:
    """A sensor over materializations of several assets (Dagster's `@multi_asset_sensor`).

    The function receives a `MultiAssetSensorEvaluationContext`; see it for the supported
    calls. Records it does not advance past are offered again at the next tick (which
    comes when one of the assets materializes again).
    """
    return _decorator(
        kind="multi_asset_sensor",
        monitored_assets=monitored_assets,
        target=target,
        job=job,
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        description=description,
        default_status=default_status,
        timeout_seconds=timeout_seconds,
    )
