"""`conflux why ASSET [--partition K]`: why an asset partition is as it is, from events.

The answer has three parts:

- its latest materialization (the read model);
- the latest run that covered it, and what asked for that run: a person (manual), a
  backfill, a schedule or sensor tick, or automation (with the condition tree as it was
  evaluated when the run was requested: the `AutomationEvaluated` event), from the
  archive's history (none without an archive);
- its automation condition evaluated now, over the same facts the coordinator uses,
  which says why automation would not request it (or that it is about to).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conflux.events import (
    ConditionResult,
    MaterializationRequested,
    SelectionError,
)
from conflux.projections.api import MaterializationInfo, RunCause, WhyReport
from conflux.projections.folds import Evaluator, unknown_asset_message

if TYPE_CHECKING:
    from conflux.projections.projector._history import EventHistory
    from conflux.projections.projector._read_model import ReadModel


def explain(
    model: ReadModel,
    asset_key: str,
    partition_key: str | None,
    history: EventHistory | None = None,
) -> WhyReport:
    """Answer `why` for one asset partition.

    Raises:
        SelectionError: no location defines the asset and no event mentions it.
        InvalidPartitionKeyError: the key is not one of the asset's partitions.
    """
    from conflux.sdk.runtime import describe

    now = datetime.now(UTC)
    model.validate_partition(asset_key, partition_key)
    # From the archive, before taking the lock (the archive waits for the consume loop,
    # which takes it to apply).
    last_run = _last_run(model, history, asset_key, partition_key) if history else None
    with model.lock:
        graph = model.definitions
        if asset_key not in graph.assets and asset_key not in model.asset_state.partitions:
            raise SelectionError(unknown_asset_message(asset_key, graph.assets))
        state = model.asset_state.get(asset_key, partition_key)
        mat = state.materialized if state is not None else None
        materialization = (
            MaterializationInfo(
                event_id=mat.event_id,
                time=mat.time,
                data_version=mat.data_version,
                run_id=mat.run_id,
                source=mat.source,
            )
            if mat is not None
            else None
        )
        asset = graph.assets.get(asset_key)
        condition = asset.automation_condition if asset is not None else None
        evaluation = None
        if condition is not None:
            evaluator = Evaluator(
                graph, model.asset_state, model.automation, lambda r: _open(model, r), now
            )
            evaluation = evaluator.evaluate(condition, asset_key, partition_key)
    return WhyReport(
        asset_key=asset_key,
        partition_key=partition_key,
        materialization=materialization,
        last_run=last_run,
        automation_condition=describe(condition) if condition is not None else None,
        evaluation_now=evaluation,
        evaluated_at=now,
    )


def _open(model: ReadModel, run_id: str) -> bool:
    run = model.runs.get(run_id)
    return run is not None and run.requested_at is not None and run.completed is None


def _last_run(
    model: ReadModel, history: EventHistory, asset_key: str, partition_key: str | None
) -> RunCause | None:
    request = history.last_request(asset_key, partition_key)
    if request is None:
        return None
    run = model.runs.get(request.run_id)
    tags = request.tags
    trigger = tags.get("trigger") or ("backfill" if "backfill_id" in tags else "manual")
    evaluation = None
    if trigger == "automation":
        evaluation = history.automation_result(asset_key, partition_key, request.run_id)
    return RunCause(
        run_id=request.run_id,
        trigger=trigger,
        requested_by=request.requested_by,
        requested_at=request.time,
        status=run.status if run is not None else None,
        explanation=_explanation(trigger, request, evaluation),
        request_event_id=request.event_id,
        evaluation=evaluation,
    )


def _explanation(
    trigger: str, request: MaterializationRequested, evaluation: ConditionResult | None
) -> str:
    tags = request.tags
    if trigger == "automation":
        if evaluation is None:
            return "automation (its evaluation event is not in the log yet)"
        reasons = [leaf for leaf in _true_leaves(evaluation) if leaf.detail]
        because = "; ".join(f"{leaf.condition}: {leaf.detail}" for leaf in reasons[:3])
        return f"automation: {evaluation.condition} was true ({because})"
    if trigger == "schedule":
        return f"schedule {tags.get('schedule', '?')}, tick {tags.get('tick_id', '?')}"
    if trigger == "sensor":
        key = tags.get("run_key")
        return f"sensor {tags.get('sensor', '?')}" + (f", run key {key}" if key else "")
    if trigger == "backfill":
        chunk = tags.get("backfill_chunk")
        return f"backfill {tags.get('backfill_id', '?')}" + (f", chunk {chunk}" if chunk else "")
    who = request.requested_by or "someone"
    return f"requested by {who} (selection {request.selection!r})"


def _true_leaves(result: ConditionResult) -> list[ConditionResult]:
    """The true leaves under a true result: what made it true.

    Only true children are followed, so a true NOT (whose child is false) adds nothing; a
    `since` is followed into its trigger only; an operator over dependencies or checks is
    a leaf (its detail names what matched); `in_latest_time_window` is left out as it
    explains nothing.
    """
    if not result.children or result.kind in _SUMMARIZED:
        return [result]
    children = result.children[:1] if result.kind == "since" else result.children
    return [
        leaf
        for child in children
        if child.value and child.condition != "in_latest_time_window"
        for leaf in _true_leaves(child)
    ]


_SUMMARIZED = frozenset(
    {"any_deps_match", "all_deps_match", "any_checks_match", "all_checks_match", "asset_matches"}
)
