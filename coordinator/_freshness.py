"""Freshness checks in the coordinator: evaluated from the log, no user code.

A freshness check (`build_last_update_freshness_checks`) passes while its asset's last
update (the newest materialization of any partition, or observation) is at or after a
lower bound: `lower_bound_delta` before now, or before the latest tick of
`deadline_cron`. Its parameters are in the snapshot, so the coordinator evaluates it and
emits the `AssetCheckEvaluated` itself:

- when the asset updates (Dagster runs an asset's checks in the runs that materialize it,
  and an observation is an update of an observable source): at once, it passes;
- on the ticks of a running `build_sensor_for_freshness_checks` sensor, for each of its
  checks never evaluated, or that passed and whose `fresh_until` has come (Dagster's
  sensor does the same; a failed check waits for the asset's next update).

Event ids are derived from the update (or the tick) and the check, so a replay or a
restart emits nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from conflux.events import (
    AnyEvent,
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    DefinitionsPublished,
    derived_id,
)
from conflux.projections.folds import latest_tick, next_cron_tick

if TYPE_CHECKING:
    from pydantic import JsonValue

    from conflux.coordinator._state import CoordinatorState
    from conflux.events import FreshnessCheckSnapshot
    from conflux.projections.folds import DefinitionsProjection

PRODUCER = "coordinator"

FRESH_UNTIL = "dagster/fresh_until_timestamp"
LAST_UPDATED = "dagster/last_updated_timestamp"
LOWER_BOUND = "dagster/freshness_lower_bound_timestamp"
LATEST_TICK = "dagster/latest_cron_tick_timestamp"
PARAMS = "dagster/freshness_params"
"""Dagster's metadata keys, so tools that read them read Conflux's results alike."""

NOTED_TYPES = frozenset(
    {"AssetMaterialized", "AssetObserved", "AssetCheckEvaluated", "DefinitionsPublished"}
)

CheckKey = tuple[str, str]
"""(asset key, check name)."""


@dataclass
class FreshnessState:
    """The freshness checks defined, their latest results, and updates not yet answered.

    Attributes:
        checks: (asset, check) -> its parameters (from the latest snapshots).
        by_asset: asset -> its freshness checks' names.
        observed: asset -> the time of its latest observation.
        results: (asset, check) -> (time, passed, fresh until) of the latest result.
        updates: asset -> the update event not yet answered by an evaluation.
    """

    checks: dict[CheckKey, FreshnessCheckSnapshot] = field(default_factory=dict)
    by_asset: dict[str, list[str]] = field(default_factory=dict)
    blocking: set[CheckKey] = field(default_factory=set)
    observed: dict[str, datetime] = field(default_factory=dict)
    results: dict[CheckKey, tuple[datetime, bool, datetime | None]] = field(default_factory=dict)
    updates: dict[str, AssetMaterialized | AssetObserved] = field(default_factory=dict)
    graph_changed: bool = False

    def apply(self, event: AnyEvent) -> None:
        """Fold one event (idempotent: the latest by time wins)."""
        if isinstance(event, AssetMaterialized | AssetObserved):
            if isinstance(event, AssetObserved):
                seen = self.observed.get(event.asset_key)
                if seen is None or event.time > seen:
                    self.observed[event.asset_key] = event.time
            if event.asset_key in self.by_asset or self.graph_changed:
                self.updates[event.asset_key] = event
        elif isinstance(event, AssetCheckEvaluated):
            pending = self.updates.get(event.asset_key)
            ours = event.producer == PRODUCER  # a check the coordinator evaluated
            if ours and pending is not None and pending.event_id == event.causation_id:
                del self.updates[event.asset_key]  # answered (also when replayed)
            key = (event.asset_key, event.check_name)
            seen_result = self.results.get(key)
            if seen_result is None or event.time >= seen_result[0]:
                until = event.metadata.get(FRESH_UNTIL)
                fresh_until = (
                    datetime.fromtimestamp(float(until), tz=UTC)
                    if isinstance(until, int | float)
                    else None
                )
                self.results[key] = (event.time, event.passed, fresh_until)
        elif isinstance(event, DefinitionsPublished):
            self.graph_changed = True

    def refresh(self, graph: DefinitionsProjection) -> None:
        """Re-read the freshness checks from the asset graph."""
        self.checks = {}
        self.by_asset = {}
        self.blocking = set()
        for asset_key in graph.assets:
            for check in graph.asset_checks_of(asset_key):
                if check.freshness is None:
                    continue
                self.checks[(asset_key, check.name)] = check.freshness
                self.by_asset.setdefault(asset_key, []).append(check.name)
                if check.blocking:
                    self.blocking.add((asset_key, check.name))
        self.updates = {k: v for k, v in self.updates.items() if k in self.by_asset}
        self.graph_changed = False


def decide_freshness(state: CoordinatorState, now: datetime) -> list[AssetCheckEvaluated]:
    """Evaluate the freshness checks of the assets that updated since the last step."""
    fresh = state.freshness
    if fresh.graph_changed:
        fresh.refresh(state.definitions)
    events: list[AssetCheckEvaluated] = []
    while fresh.updates:
        asset_key, update = fresh.updates.popitem()
        for name in fresh.by_asset.get(asset_key, ()):
            events.append(
                evaluate(state, (asset_key, name), now, cause=update.event_id, run_id=update.run_id)
            )
    return events


def due_checks(state: CoordinatorState, check_keys: tuple[str, ...], now: datetime) -> list[str]:
    """The sensor's checks to evaluate now: never evaluated, or passed and no longer sure."""
    fresh = state.freshness
    if fresh.graph_changed:
        fresh.refresh(state.definitions)
    due = []
    for text in check_keys:
        asset_key, _, name = text.rpartition(":")
        if (asset_key, name) not in fresh.checks:
            continue
        result = fresh.results.get((asset_key, name))
        if result is None or (result[1] and (result[2] is None or result[2] <= now)):
            due.append(text)
    return due


def evaluate(
    state: CoordinatorState,
    key: CheckKey,
    now: datetime,
    *,
    cause: str,
    run_id: str | None = None,
) -> AssetCheckEvaluated:
    """One freshness check's result now, as the event the coordinator emits."""
    asset_key, name = key
    params = state.freshness.checks[key]
    last, materialization = _last_update(state, asset_key)
    lower_bound = timedelta(seconds=params.lower_bound_s)
    deadline = (
        latest_tick(params.deadline_cron, params.timezone, now) if params.deadline_cron else now
    )
    bound = deadline - lower_bound
    passed = last is not None and last >= bound
    described: dict[str, JsonValue] = {
        "timezone": params.timezone,
        "lower_bound_delta_seconds": params.lower_bound_s,
    }
    if params.deadline_cron:
        described["deadline_cron"] = params.deadline_cron
    metadata: dict[str, JsonValue] = {PARAMS: described, LOWER_BOUND: bound.timestamp()}
    if params.deadline_cron:
        metadata[LATEST_TICK] = deadline.timestamp()
    if passed and last is not None:
        until = (
            next_cron_tick(params.deadline_cron, params.timezone, now)
            if params.deadline_cron
            else last + lower_bound
        )
        metadata[FRESH_UNTIL] = until.timestamp()
    if last is not None:
        metadata[LAST_UPDATED] = last.timestamp()
    return AssetCheckEvaluated(
        event_id=derived_id("freshness-check", asset_key, name, cause),
        time=now,
        producer=PRODUCER,
        causation_id=cause,
        asset_key=asset_key,
        check_name=name,
        passed=passed,
        severity=params.severity,
        blocking=key in state.freshness.blocking,
        description=_describe(passed, last, bound, now),
        metadata=metadata,
        run_id=run_id,
        materialization_event_id=materialization,
    )


def _last_update(state: CoordinatorState, asset_key: str) -> tuple[datetime | None, str | None]:
    """The asset's newest update (any partition, or an observation), and its event id."""
    table = state.assets.partitions.get(asset_key)
    newest = table.latest() if table is not None else None
    materialized = newest[1] if newest is not None else None
    observed = state.freshness.observed.get(asset_key)
    if materialized is not None and (observed is None or materialized.time >= observed):
        return materialized.time, materialized.event_id
    return observed, None


def _describe(passed: bool, last: datetime | None, bound: datetime, now: datetime) -> str:
    """Dagster's wording, roughly: how fresh, or how overdue."""
    if last is None:
        return "The asset has never been observed/materialized."
    age = _words((now - last).total_seconds())
    if passed:
        return f"Asset is currently fresh. Last updated {age} ago."
    overdue = _words((bound - last).total_seconds())
    return f"Asset is overdue by {overdue}. Last updated {age} ago."


def _words(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.2f} {unit}"
    return f"{seconds:.2f} seconds"
