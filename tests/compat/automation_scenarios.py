"""Run one automation scenario on Dagster and on Conflux, step by step, and compare.

A scenario is a definitions builder (written once, against whichever library is passed as
`lib`) and steps. Each step does an action at a time (advance the clock, materialize some
assets as a person would) and then evaluates automation:

- Dagster: `evaluate_automation_conditions` once, at the step's time (`freeze_time`), with
  the cursor of the previous step; then the requested partitions are materialized (the
  runs Dagster's daemon would launch), each key's assets in one run.
- Conflux: the coordinator's decisions are settled at the step's time with a worker that
  materializes every dispatch (`Harness`): automation evaluates on the events themselves.

What each returns per step is the set of (asset, partition) that automation requested.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from conflux.coordinator import CoordinatorState, decide
from conflux.events import (
    AnyEvent,
    AssetMaterialized,
    DefinitionsPublished,
    MaterializationRequested,
    WorkItemDispatched,
)
from conflux.sdk.runtime import build_location_snapshot

Requested = set[tuple[str, str | None]]
Builder = Callable[[ModuleType], list[Any]]

T0 = datetime(2024, 3, 1, 12, 0, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Step:
    """Advance the clock by `advance`, materialize `materialize` (if any), then evaluate."""

    advance: timedelta = timedelta(seconds=1)
    materialize: tuple[str, ...] = ()
    partition: str | None = None


def run_dagster(build: Builder, steps: Sequence[Step]) -> list[Requested]:
    import dagster as dg
    from dagster._core.test_utils import freeze_time

    warnings.filterwarnings("ignore")
    logging.getLogger("dagster").setLevel(logging.CRITICAL)
    defs = build(dg)
    instance = dg.DagsterInstance.ephemeral()
    cursor = None
    now = T0
    out: list[Requested] = []
    by_key = {key.to_user_string(): d for d in defs for key in _dagster_keys(d)}
    for step in steps:
        now += step.advance
        with freeze_time(now):
            if step.materialize:
                _dagster_materialize(dg, defs, instance, step.materialize, step.partition)
        now += timedelta(seconds=1)
        with freeze_time(now):
            result = dg.evaluate_automation_conditions(
                defs=defs, instance=instance, cursor=cursor, evaluation_time=now
            )
        cursor = result.cursor
        requested: Requested = set()
        for key in by_key:
            for partition in result.get_requested_partitions(dg.AssetKey.from_user_string(key)):
                requested.add((key, partition))
        out.append(requested)
        now += timedelta(seconds=1)
        with freeze_time(now):  # the daemon's runs: one per partition key
            for partition in sorted({p for _, p in requested}, key=lambda p: p or ""):
                keys = tuple(sorted(k for k, p in requested if p == partition))
                _dagster_materialize(dg, defs, instance, keys, partition)
    return out


def _dagster_keys(d: Any) -> list[Any]:
    keys = getattr(d, "keys", None)
    if keys is not None:
        return list(keys)
    return [d.key]


def _dagster_materialize(
    dg: Any, defs: list[Any], instance: Any, keys: Sequence[str], partition: str | None
) -> None:
    external = {k.to_user_string() for d in defs if isinstance(d, dg.AssetSpec) for k in [d.key]}
    for key in keys:
        if key in external:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key=key, partition=partition)
            )
    wanted = [k for k in keys if k not in external]
    if not wanted:
        return
    assets = [d for d in defs if not isinstance(d, dg.AssetSpec)]
    selection = dg.AssetSelection.keys(*wanted)
    result = dg.materialize(assets, instance=instance, selection=selection, partition_key=partition)
    assert result.success


def run_conflux(build: Builder, steps: Sequence[Step]) -> list[Requested]:
    import conflux

    defs = conflux.Definitions(assets=build(conflux))
    h = _Harness(defs)
    now = T0
    out: list[Requested] = []
    first = _requested(h.first)  # Dagster's first tick is the first step's evaluation
    for step in steps:
        now += step.advance
        h.now = max(h.now, now)
        requested, first = first, set()
        if step.materialize:
            requested |= _requested(h.run(step.materialize, step.partition))
        now += timedelta(seconds=1)
        h.now = max(h.now, now)
        requested |= _requested(h.settle())
        out.append(requested)
        now += timedelta(seconds=1)
    return out


def _requested(events: list[AnyEvent]) -> Requested:
    return {
        (key, partition)
        for e in events
        if isinstance(e, MaterializationRequested) and e.tags.get("trigger") == "automation"
        for key in e.asset_keys
        for partition in (e.partition_keys or (None,))
    }


class _Harness:
    """A coordinator state, a clock, and a worker that materializes every dispatch."""

    def __init__(self, defs: Any) -> None:
        self.state = CoordinatorState()
        self.now = T0
        self.runs = 0
        snapshot = build_location_snapshot(defs, "loc")
        self.feed(
            DefinitionsPublished(
                time=self.tick(), location="loc", snapshot_id="s", snapshot=snapshot
            )
        )
        self.first = self.settle()

    def tick(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def feed(self, *events: AnyEvent) -> None:
        for event in events:
            self.state.apply(event)

    def run(self, keys: Sequence[str], partition: str | None) -> list[AnyEvent]:
        """A person materializes `keys` (external ones are reported)."""
        external = {k for k in keys if self.state.definitions.assets[k].is_external}
        for key in sorted(external):
            self.feed(
                AssetMaterialized(
                    time=self.tick(),
                    asset_key=key,
                    partition_key=partition,
                    data_version="ext",
                    source="reported",
                )
            )
        wanted = tuple(k for k in keys if k not in external)
        if wanted:
            self.runs += 1
            self.feed(
                MaterializationRequested(
                    time=self.tick(),
                    run_id=f"manual-{self.runs}",
                    selection=",".join(wanted),
                    asset_keys=wanted,
                    partition_keys=(partition,) if partition else None,
                )
            )
        return self.settle()

    def settle(self) -> list[AnyEvent]:
        emitted: list[AnyEvent] = []
        for _ in range(50):
            decisions = decide(self.state, self.tick())
            if not decisions:
                return emitted
            self.feed(*decisions)
            emitted.extend(decisions)
            for event in decisions:
                if isinstance(event, WorkItemDispatched):
                    self.feed(*self.execute(event))
        raise AssertionError("decisions did not settle")

    def execute(self, item: WorkItemDispatched) -> list[AnyEvent]:
        return [
            AssetMaterialized(
                time=self.tick(),
                asset_key=key,
                partition_key=item.partition_key,
                run_id=item.run_id,
                work_item_id=item.work_item_id,
                attempt=item.attempt,
                worker_id="w",
                data_version="v",
            )
            for key in item.asset_keys
        ]
