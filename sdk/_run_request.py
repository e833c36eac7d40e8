"""What a schedule or sensor function returns: `RunRequest`, `SkipReason`, `SensorResult`.

Dagster's names and meanings. A tick's result is turned into `RunRequestSpec`s (the
event's form) by `tick_result`, which every evaluation (worker, tests) goes through, so a
function may return a `RunRequest`, a list or generator of them, a `SkipReason`, a
`SensorResult`, an empty dict (Dagster's "run the target with no config") or None (a skip).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import DefinitionError
from conflux.sdk._keys import AssetKey

if TYPE_CHECKING:
    from conflux.events import (
        CustomConditionResult,
        DynamicPartitionsChange,
        RunRequestSpec,
        SensorAssetEvent,
    )
    from conflux.sdk._asset import AssetsDefinition


class DefaultScheduleStatus(enum.Enum):
    """Whether a schedule runs before anyone starts or stops it (default: STOPPED)."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class DefaultSensorStatus(enum.Enum):
    """Whether a sensor runs before anyone starts or stops it (default: STOPPED)."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class InvalidTickResultError(DefinitionError):
    """A schedule or sensor function returned something that is not a tick result."""


@dataclass(frozen=True)
class RunRequest:
    """Ask for one run of assets (Dagster's `RunRequest`).

    Args:
        run_key: a key unique per sensor (or schedule): a run key that was requested
            once is never requested again, across restarts (so a sensor may emit the
            same request on every tick and get one run).
        run_config: the run's config (a `RunConfig` or a dict in Dagster's shape); it
            travels in the request and configures the assets' `config` parameters.
        asset_selection: the assets to materialize (keys, `a/b` strings or assets);
            None: the schedule's or sensor's target.
        partition_key: the partition to materialize (None: unpartitioned targets).
        tags: strings attached to the run (shown with it).

    Example:
        >>> RunRequest(run_key=f"file-{name}", partition_key="2024-01-31")
    """

    run_key: str | None = None
    run_config: object = None
    """The run's config: a `RunConfig` or a dict in Dagster's shape (None: the job's)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    job_name: str | None = None
    """Accepted for Dagster compatibility; the target decides what runs."""
    asset_selection: Sequence[AssetKey | str | Sequence[str] | AssetsDefinition] | None = None
    stale_assets_only: bool = False
    """Accepted for Dagster compatibility; every selected asset runs."""
    partition_key: str | None = None

    def to_spec(self) -> RunRequestSpec:
        """The event form: asset keys as `a/b` strings (None: the instigator's target)."""
        keys: tuple[str, ...] | None = None
        if self.asset_selection is not None:
            keys = tuple(sorted({k for item in self.asset_selection for k in _keys_of(item)}))
        from conflux.events import RunRequestSpec
        from conflux.sdk._config import coerce_run_config

        return RunRequestSpec(
            run_key=self.run_key,
            asset_keys=keys,
            partition_key=str(self.partition_key) if self.partition_key is not None else None,
            tags={str(k): str(v) for k, v in (self.tags or {}).items()},
            run_config=coerce_run_config(self.run_config),
        )


def _keys_of(item: object) -> list[str]:
    from conflux.sdk._asset import AssetsDefinition

    if isinstance(item, AssetsDefinition):
        return [k.to_user_string() for k in item.keys]
    if isinstance(item, AssetKey):
        return [item.to_user_string()]
    if isinstance(item, str):
        return [AssetKey.from_user_string(item).to_user_string()]
    if isinstance(item, Sequence):
        return [AssetKey(list(item)).to_user_string()]
    raise InvalidTickResultError(
        f"RunRequest(asset_selection=...) got {item!r}: pass asset keys, 'a/b' strings or assets"
    )


@dataclass(frozen=True)
class SkipReason:
    """A tick that asks for nothing, and why (shown in `conflux sensors list`)."""

    skip_message: str | None = None


@dataclass(frozen=True)
class SensorResult:
    """A sensor tick's whole answer (Dagster's name).

    Args:
        run_requests: the runs to request (or a skip).
        skip_reason: why nothing is requested.
        cursor: the new cursor.
        dynamic_partitions_requests: keys to add to (`build_add_request`) or delete from
            dynamic partitions definitions; added before the run requests are planned, so
            a run request may name a key added in the same tick.
        asset_events: `AssetMaterialization`s and `AssetObservation`s to record (a
            materialization reported this way counts like any other).
    """

    run_requests: Sequence[RunRequest] | None = None
    skip_reason: SkipReason | str | None = None
    cursor: str | None = None
    dynamic_partitions_requests: Sequence[object] | None = None
    asset_events: Sequence[object] | None = None


@dataclass(frozen=True)
class TickResult:
    """A tick's outcome as data: what the worker puts in `TickCompleted`."""

    run_requests: tuple[RunRequestSpec, ...] = ()
    skip_reason: str | None = None
    cursor: str | None = None
    cursor_set: bool = False
    """True when the result itself carried a cursor (a `SensorResult(cursor=...)`)."""
    asset_events: tuple[SensorAssetEvent, ...] = ()
    dynamic_partitions_requests: tuple[DynamicPartitionsChange, ...] = ()
    condition_results: tuple[CustomConditionResult, ...] = ()
    """Automation condition sensors: the custom conditions' values."""

    @property
    def has_effects(self) -> bool:
        """True when the tick yields anything (runs, asset events, partition changes, values)."""
        return bool(
            self.run_requests
            or self.asset_events
            or self.dynamic_partitions_requests
            or self.condition_results
        )


def tick_result(result: object, what: str) -> TickResult:
    """Turn what a schedule or sensor function returned (or yielded) into a `TickResult`.

    Raises:
        InvalidTickResultError: an item is not a RunRequest, SkipReason or SensorResult
            (the message names the function and what to return).
    """
    if result is None:
        return TickResult(skip_reason=f"{what} returned no run request")
    if isinstance(result, SkipReason):
        return TickResult(skip_reason=result.skip_message or f"{what} skipped")
    if isinstance(result, RunRequest):
        return TickResult(run_requests=(result.to_spec(),))
    if isinstance(result, SensorResult):
        inner = tick_result(list(result.run_requests or ()), what)
        skip = result.skip_reason
        if isinstance(skip, SkipReason):
            skip = skip.skip_message or f"{what} skipped"
        events = tuple(_asset_event(e, what) for e in result.asset_events or ())
        changes = tuple(
            _partitions_change(r, what) for r in result.dynamic_partitions_requests or ()
        )
        acted = inner.run_requests or events or changes
        return TickResult(
            run_requests=inner.run_requests,
            skip_reason=skip if skip is not None or acted else inner.skip_reason,
            cursor=result.cursor,
            cursor_set=result.cursor is not None,
            asset_events=events,
            dynamic_partitions_requests=changes,
        )
    if isinstance(result, Mapping):
        # Dagster's older form: a schedule returns the run config of a run of its target
        from conflux.events import RunRequestSpec
        from conflux.sdk._config import coerce_run_config

        return TickResult(run_requests=(RunRequestSpec(run_config=coerce_run_config(result)),))
    if isinstance(result, Iterable) and not isinstance(result, str | bytes):
        specs: list[RunRequestSpec] = []
        skips: list[str] = []
        for item in result:
            if isinstance(item, RunRequest):
                specs.append(item.to_spec())
            elif isinstance(item, SkipReason):
                skips.append(item.skip_message or f"{what} skipped")
            else:
                raise _bad(item, what)
        if specs:
            return TickResult(run_requests=tuple(specs))
        return TickResult(skip_reason="; ".join(skips) or f"{what} returned no run request")
    raise _bad(result, what)


def _asset_event(item: object, what: str) -> SensorAssetEvent:
    from conflux.sdk._asset_events import AssetMaterialization, AssetObservation

    if isinstance(item, AssetMaterialization | AssetObservation):
        return item.to_spec()
    raise InvalidTickResultError(
        f"{what} returned SensorResult(asset_events=[{item!r}]): pass AssetMaterialization "
        "or AssetObservation objects"
    )


def _partitions_change(item: object, what: str) -> DynamicPartitionsChange:
    from conflux.events import DynamicPartitionsChange, dynamic_partition_key_problem
    from conflux.sdk.partitions import AddDynamicPartitionsRequest, DeleteDynamicPartitionsRequest

    if isinstance(item, AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest):
        # The request may have been built directly rather than by build_add_request: check
        # its keys here, where the sensor's tick fails with the reason.
        adding = isinstance(item, AddDynamicPartitionsRequest)
        for key in item.partition_keys:
            problem = dynamic_partition_key_problem(key, new=adding)
            if problem is not None:
                raise InvalidTickResultError(
                    f"{what} returned SensorResult(dynamic_partitions_requests=...) with a "
                    f"bad key: {problem}"
                )
        return DynamicPartitionsChange(
            action="add" if adding else "delete",
            partitions_def_name=item.partitions_def_name,
            partition_keys=item.partition_keys,
        )
    raise InvalidTickResultError(
        f"{what} returned SensorResult(dynamic_partitions_requests=[{item!r}]): pass "
        "definition.build_add_request(keys) or build_delete_request(keys)"
    )


def _bad(item: object, what: str) -> InvalidTickResultError:
    return InvalidTickResultError(
        f"{what} returned {type(item).__name__} {item!r}: return RunRequest(...), a list of "
        "them, SkipReason(...) or None"
    )
