"""`materialize()`: run assets in-process, with no broker, as the real system would.

The run is planned and driven by the coordinator's own pure logic (`plan_run`, the
`CoordinatorState` fold and `decide`) and executed by the workers' executor, wired
together in memory. So the events in the result are the events a deployment would
emit for the same request, in an order it could emit them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import (
    AnyEvent,
    AssetMaterialized,
    DefinitionsPublished,
    Event,
    MaterializationRequested,
    PartitionFailed,
    RunCompleted,
    WorkItemDispatched,
    new_id,
    utcnow,
)
from conflux.sdk._asset import AssetsDefinition
from conflux.sdk._definitions import IO_MANAGER_KEY, Definitions
from conflux.sdk._execute import ExecutionRequest, NodeExecutor
from conflux.sdk._io_manager import InMemoryIOManager, IOManager
from conflux.sdk._keys import AssetKey, CoercibleToAssetKey, to_asset_key
from conflux.sdk._snapshot import build_location_snapshot, snapshot_id

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from conflux.sdk._specs import AssetSpec

LOCATION = "in_process"


@dataclass
class MaterializeRunResult:
    """What an in-process run did: its events, in order, and the values it stored.

    Attributes:
        run_id: the run's id.
        events: every event the run emitted (definitions, request, run, asset events).
        success: True when every planned partition materialized.
    """

    run_id: str
    events: list[Event] = field(default_factory=list)
    success: bool = False
    _io_manager: IOManager | None = None

    @property
    def materializations(self) -> list[AssetMaterialized]:
        """The `AssetMaterialized` events, in order."""
        return [e for e in self.events if isinstance(e, AssetMaterialized)]

    def get_asset_materialization_events(self) -> list[AssetMaterialized]:
        """Dagster's name for `materializations`."""
        return self.materializations

    @property
    def failures(self) -> list[PartitionFailed]:
        """The `PartitionFailed` events, in order."""
        return [e for e in self.events if isinstance(e, PartitionFailed)]

    def asset_value(
        self, asset_key: CoercibleToAssetKey, partition_key: str | None = None
    ) -> object:
        """The value an asset (partition) stored, read back through the IO manager."""
        from conflux.sdk._io_manager import InputContext

        if self._io_manager is None:
            raise LookupError("this result kept no IO manager")
        key = to_asset_key(asset_key).to_user_string()
        return self._io_manager.load_input(
            InputContext(key, partition_key, (partition_key,), downstream_asset_key="<result>")
        )

    def output_for_node(self, node_name: str) -> object:
        """The value stored by the single asset of node `node_name` (unpartitioned runs)."""
        return self.asset_value(node_name)


def _selected_keys(
    assets: Sequence[AssetsDefinition | AssetSpec],
    selection: str | Sequence[CoercibleToAssetKey | AssetsDefinition] | None,
    defs: Definitions,
    state: object,
) -> tuple[str, ...]:
    if selection is None:
        keys: list[AssetKey] = [
            k
            for a in assets
            if isinstance(a, AssetsDefinition) and not a.is_external
            for k in a.keys
        ]
    elif isinstance(selection, str):
        from conflux.coordinator import CoordinatorState
        from conflux.projections import resolve_selection

        assert isinstance(state, CoordinatorState)
        return tuple(resolve_selection(selection, state.definitions))
    else:
        keys = []
        for item in selection:
            keys.extend(item.keys if isinstance(item, AssetsDefinition) else [to_asset_key(item)])
    for key in keys:
        defs.node_for(key)
    return tuple(sorted({k.to_user_string() for k in keys}))


def materialize(
    assets: Sequence[AssetsDefinition | AssetSpec],
    *,
    partition_key: str | None = None,
    resources: Mapping[str, object] | None = None,
    selection: str | Sequence[CoercibleToAssetKey | AssetsDefinition] | None = None,
    raise_on_error: bool = True,
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> MaterializeRunResult:
    """Materialize `assets` (or the `selection` among them) in this process, without a broker.

    Values pass between assets through `resources["io_manager"]` when given, else an
    in-memory IO manager kept on the result (`result.asset_value(key)`).

    Example:
        >>> result = materialize([raw_orders, daily_revenue], partition_key="2024-01-03")
        >>> assert result.success
        >>> result.asset_value("daily_revenue", "2024-01-03")

    Raises:
        DefinitionError: the assets do not validate, or a partition key is missing or
            not valid for a selected asset; nothing runs.
        SelectionError: `selection` names an asset that is not among `assets`.
        Exception: with `raise_on_error`, the first exception an asset raised.
    """
    from conflux.coordinator import CoordinatorState, decide, plan_run

    defs = Definitions(assets=assets, resources=resources)
    snapshot = build_location_snapshot(defs, LOCATION)
    state = CoordinatorState()
    published = DefinitionsPublished(
        location=LOCATION,
        snapshot_id=snapshot_id(snapshot),
        snapshot=snapshot,
        producer="materialize",
    )
    state.apply(published)
    run = run_id or new_id()
    request = MaterializationRequested(
        run_id=run,
        selection="materialize()",
        asset_keys=_selected_keys(assets, selection, defs, state),
        partition_keys=(partition_key,) if partition_key is not None else None,
        requested_by="materialize",
        tags=dict(tags or {}),
        producer="materialize",
        correlation_id=run,
    )
    plan_run(request, state.definitions)
    io_manager = defs.resources.get(IO_MANAGER_KEY)
    io = io_manager if isinstance(io_manager, IOManager) else InMemoryIOManager()
    executor = NodeExecutor(
        defs,
        default_io_manager=io,
        worker_id="in-process",
        producer="materialize",
        keep_errors=True,
    )
    result = MaterializeRunResult(run_id=run, _io_manager=io)

    def record(event: AnyEvent) -> None:
        result.events.append(event)
        state.apply(event)

    record(published)
    record(request)
    try:
        pending: deque[AnyEvent] = deque(decide(state, utcnow()))
        while pending:
            event = pending.popleft()
            record(event)
            if isinstance(event, WorkItemDispatched):
                req = ExecutionRequest(
                    node=event.node,
                    partition_key=event.partition_key,
                    run_id=run,
                    work_item_id=event.work_item_id,
                    attempt=event.attempt,
                    upstream=event.upstream,
                    causation_id=event.event_id,
                )
                for started in executor.started(req):
                    record(started)
                for outcome in executor.run(req):
                    record(outcome)
            elif isinstance(event, RunCompleted):
                result.success = event.status == "success"
                break
            if not pending:
                pending.extend(decide(state, utcnow()))
    finally:
        executor.close()
    if raise_on_error and executor.errors:
        raise next(iter(executor.errors.values()))
    return result
