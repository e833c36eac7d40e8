"""Freshness checks: `build_last_update_freshness_checks` and its sensor (Dagster's names).

A freshness check passes when the asset's last update (a materialization, or an
observation) is no older than a lower bound: `lower_bound_delta` before now, or before the
latest tick of `deadline_cron` when one is given. As in Dagster it is one check named
`freshness_check` per asset, of severity WARN by default, and its results carry Dagster's
metadata keys (`dagster/last_updated_timestamp`, `dagster/freshness_lower_bound_timestamp`,
`dagster/fresh_until_timestamp`, ...).

No user code is involved, so these checks are data: the snapshot carries their
parameters and the coordinator evaluates them (`coordinator/_freshness.py`) when the
asset updates (Dagster runs them in the asset's runs) and, while the sensor that
`build_sensor_for_freshness_checks` makes is running, when one may have become overdue
(never evaluated, or passed and past its `fresh_until`), as Dagster's sensor does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conflux.events import DefinitionError
from conflux.sdk._checks import (
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
)
from conflux.sdk._cron_checks import check_cron, check_timezone
from conflux.sdk._run_request import DefaultSensorStatus

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import timedelta

    from conflux.events import AssetCheckSnapshot
    from conflux.sdk._automation import SelectionResolver
    from conflux.sdk._keys import AssetKey
    from conflux.sdk._sensor import SensorDefinition

FRESHNESS_CHECK_NAME = "freshness_check"
"""The name of every freshness check (one per asset), as in Dagster."""
DEFAULT_FRESHNESS_SENSOR_NAME = "freshness_checks_sensor"


@dataclass(frozen=True)
class FreshnessCheckParams:
    """What a last-update freshness check compares: the parameters of the factory."""

    lower_bound_delta: timedelta
    deadline_cron: str | None = None
    timezone: str = "UTC"
    severity: AssetCheckSeverity = AssetCheckSeverity.WARN

    def to_snapshot(
        self, spec: AssetCheckSpec, resolve: SelectionResolver | None = None
    ) -> AssetCheckSnapshot:
        """The check as data: its spec, and these parameters for the coordinator."""
        from conflux.events import FreshnessCheckSnapshot

        return spec.to_snapshot(resolve).model_copy(
            update={
                "freshness": FreshnessCheckSnapshot(
                    lower_bound_s=self.lower_bound_delta.total_seconds(),
                    deadline_cron=self.deadline_cron,
                    timezone=self.timezone,
                    severity=self.severity.value,
                )
            }
        )


def _no_function(*_args: object, **_kwargs: object) -> object:
    raise DefinitionError(
        "a freshness check has no function: the coordinator evaluates it from the asset's "
        "last update"
    )


def build_last_update_freshness_checks(
    *,
    assets: Sequence[Any],
    lower_bound_delta: timedelta,
    deadline_cron: str | None = None,
    timezone: str = "UTC",
    severity: AssetCheckSeverity = AssetCheckSeverity.WARN,
    blocking: bool = False,
) -> Sequence[AssetChecksDefinition]:
    """A `freshness_check` on each asset: passes while its last update is recent enough.

    Args:
        assets: the assets (assets, `AssetSpec`s, source assets or keys).
        lower_bound_delta: how old the last update may be, before now or (with
            `deadline_cron`) before the latest tick of the deadline.
        deadline_cron: when updates are due (five-field cron or a nickname).
        timezone: the time zone `deadline_cron` is read in.
        severity: of a failed check (WARN by default, as in Dagster).
        blocking: a failed check skips the asset's dependents in the run that ran it.

    Example:
        >>> checks = build_last_update_freshness_checks(
        ...     assets=[hourly_sales], lower_bound_delta=timedelta(hours=1)
        ... )
        >>> sensor = build_sensor_for_freshness_checks(freshness_checks=checks)
    """
    what = "build_last_update_freshness_checks"
    if deadline_cron is not None:
        check_cron(deadline_cron, what, DefinitionError)
    check_timezone(timezone, what, DefinitionError)
    if lower_bound_delta.total_seconds() < 0:
        raise DefinitionError(f"{what}: lower_bound_delta must not be negative")
    specs = tuple(
        AssetCheckSpec(FRESHNESS_CHECK_NAME, asset=_key_of(a), blocking=blocking) for a in assets
    )
    keys = [s.asset_key for s in specs]
    if len(set(keys)) != len(keys):
        raise DefinitionError(f"{what}: an asset is named twice: name each asset once")
    if not specs:
        raise DefinitionError(f"{what}: pass at least one asset")
    params = FreshnessCheckParams(lower_bound_delta, deadline_cron, timezone, severity)
    return [AssetChecksDefinition(specs=specs, fn=_no_function, multi=True, freshness=params)]


def _key_of(item: object) -> AssetKey:
    """An asset's key, whatever form names it (an `AssetSpec`, a source asset, a key)."""
    from conflux.sdk._asset import AssetsDefinition
    from conflux.sdk._keys import AssetKey, to_asset_key

    if isinstance(item, AssetsDefinition):
        return item.key
    key = getattr(item, "key", None)
    if isinstance(key, AssetKey):
        return key
    return to_asset_key(item)  # type: ignore[arg-type]


def build_sensor_for_freshness_checks(
    *,
    freshness_checks: Sequence[AssetChecksDefinition],
    minimum_interval_seconds: float | None = None,
    name: str = DEFAULT_FRESHNESS_SENSOR_NAME,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    tags: Mapping[str, Any] | None = None,
) -> SensorDefinition:
    """A sensor that evaluates freshness checks when they may have become overdue.

    The coordinator evaluates it (no user code): on each tick it evaluates the checks
    never evaluated, and those that passed and whose `fresh_until` has passed; a failed
    check waits for the asset's next update, as in Dagster.
    """
    from conflux.sdk._sensor import SensorDefinition

    keys: list[str] = []
    for definition in freshness_checks:
        if not isinstance(definition, AssetChecksDefinition) or definition.freshness is None:
            raise DefinitionError(
                f"build_sensor_for_freshness_checks({name}): {definition!r} is not a "
                "freshness check: pass what build_last_update_freshness_checks returned"
            )
        keys.extend(spec.key.to_user_string() for spec in definition.specs)
    del tags  # the coordinator's evaluations start no run to tag
    return SensorDefinition(
        name=name,
        evaluation_fn=_no_function,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        kind="freshness",
        check_keys=tuple(sorted(keys)),
    )
