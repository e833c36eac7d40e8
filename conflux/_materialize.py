"""`materialize()`: run assets in-process, with no broker, as the real system would.

The run is planned and driven by the coordinator's own pure logic (`plan_run`, the
`CoordinatorState` fold and `decide`) and executed by the workers' executor, wired
together in memory. So the events in the result are the events a deployment would
emit for the same request, in an order it could emit them.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import (
    AnyEvent,
    AssetCheckEvaluated,
    AssetMaterialized,
    DefinitionsPublished,
    DynamicPartitionsAdded,
    DynamicPartitionsSnapshot,
    Event,
    InvalidPartitionKeyError,
    MaterializationRequested,
    MultiPartitionsSnapshot,
    PartitionFailed,
    RunCompleted,
    WorkItemDispatched,
    new_id,
    utcnow,
)
from conflux.sdk import AssetKey, AssetsDefinition, Definitions, InMemoryIOManager, IOManager
from conflux.sdk.runtime import (
    IO_MANAGER_KEY,
    CoercibleToAssetKey,
    ExecutionRequest,
    NodeExecutor,
    build_location_snapshot,
    snapshot_id,
    to_asset_key,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from conflux.events import LocationSnapshot
    from conflux.sdk import AssetChecksDefinition, AssetSpec

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
    def check_evaluations(self) -> list[AssetCheckEvaluated]:
        """The `AssetCheckEvaluated` events (one per check per materialization), in order."""
        return [e for e in self.events if isinstance(e, AssetCheckEvaluated)]

    def get_asset_check_evaluations(self) -> list[AssetCheckEvaluated]:
        """Dagster's name for `check_evaluations`."""
        return self.check_evaluations

    @property
    def failures(self) -> list[PartitionFailed]:
        """The `PartitionFailed` events, in order."""
        return [e for e in self.events if isinstance(e, PartitionFailed)]

    def asset_value(
        self, asset_key: CoercibleToAssetKey, partition_key: str | None = None
    ) -> object:
        """The value an asset (partition) stored, read back through the IO manager."""
        from conflux.sdk import InputContext

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
    assets: Sequence[AssetsDefinition | AssetSpec | AssetChecksDefinition],
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
        from conflux.projections.folds import resolve_selection

        assert isinstance(state, CoordinatorState)
        return tuple(resolve_selection(selection, state.definitions))
    else:
        keys = []
        for item in selection:
            keys.extend(item.keys if isinstance(item, AssetsDefinition) else [to_asset_key(item)])
    for key in keys:
        defs.node_for(key)
    return tuple(sorted({k.to_user_string() for k in keys}))


def _dynamic_additions(
    snapshot: LocationSnapshot,
    asset_keys: Sequence[str],
    partition_key: str | None,
    dynamic_partitions: Mapping[str, Sequence[str]] | None,
) -> list[DynamicPartitionsAdded]:
    """The `DynamicPartitionsAdded` events an in-process run starts with (see `materialize`).

    Raises:
        InvalidPartitionKeyError: a key could never be a dynamic key.
        DefinitionError: a name is not a valid dynamic partitions name.
    """
    from conflux.events import check_dynamic_partition_key, check_dynamic_partitions_name

    wanted: dict[str, dict[str, None]] = {}
    if dynamic_partitions is not None:
        for name, keys in dynamic_partitions.items():
            check_dynamic_partitions_name(name)
            if isinstance(keys, str):
                raise InvalidPartitionKeyError(
                    f"dynamic_partitions[{name!r}] is the string {keys!r}, not a list of keys: "
                    f"pass [{keys!r}]"
                )
            wanted[name] = dict.fromkeys(keys)
    elif partition_key is not None:
        selected = set(asset_keys)
        for asset in snapshot.assets:
            if asset.key not in selected:
                continue
            snap = asset.partitions
            if isinstance(snap, DynamicPartitionsSnapshot):
                wanted.setdefault(snap.name, {})[partition_key] = None
            elif isinstance(snap, MultiPartitionsSnapshot):
                parts = partition_key.split("|")
                if len(parts) != len(snap.dimensions):
                    continue  # the planner names the shape error
                for (_, dim), part in zip(snap.dimensions, parts, strict=True):
                    if isinstance(dim, DynamicPartitionsSnapshot):
                        wanted.setdefault(dim.name, {})[part] = None
    events: list[DynamicPartitionsAdded] = []
    for name, ordered in wanted.items():
        for key in ordered:
            check_dynamic_partition_key(key)
        if ordered:
            events.append(
                DynamicPartitionsAdded(
                    partitions_def_name=name,
                    partition_keys=tuple(ordered),
                    requested_by="materialize",
                    producer="materialize",
                )
            )
    return events


def materialize(
    assets: Sequence[AssetsDefinition | AssetSpec | AssetChecksDefinition],
    *,
    partition_key: str | None = None,
    resources: Mapping[str, object] | None = None,
    selection: str | Sequence[CoercibleToAssetKey | AssetsDefinition] | None = None,
    raise_on_error: bool = True,
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    dynamic_partitions: Mapping[str, Sequence[str]] | None = None,
) -> MaterializeRunResult:
    """Materialize `assets` (or the `selection` among them) in this process, without a broker.

    Values pass between assets through `resources["io_manager"]` when given, else an
    in-memory IO manager kept on the result (`result.asset_value(key)`).

    Dynamic partitions: `dynamic_partitions` gives the keys of each
    `DynamicPartitionsDefinition` by name (what Dagster's
    `instance.add_dynamic_partitions(name, keys)` does before its `materialize`), and
    `partition_key` must then be one of them. Left out, the run adds `partition_key` (its
    part, for a dimension of a multi) to every dynamic definition of the selected
    assets, so a test needs no setup. Either way the additions are
    `DynamicPartitionsAdded` events at the start of `result.events`.

    Example:
        >>> result = materialize([raw_orders, daily_revenue], partition_key="2024-01-03")
        >>> assert result.success
        >>> result.asset_value("daily_revenue", "2024-01-03")

    Raises:
        DefinitionError: the assets do not validate, or a partition key is missing or
            not valid for a selected asset; nothing runs.
        SelectionError: `selection` names an asset that is not among `assets`.
        Exception: with `raise_on_error`, the first exception an asset raised, else the
            first a check function raised (`@asset_check`s are passed in `assets` too).
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
    asset_keys = _selected_keys(assets, selection, defs, state)
    if not asset_keys and selection is None:
        # only external assets (and checks of them): nothing runs, as in Dagster
        return MaterializeRunResult(run_id=run_id or new_id(), events=[published], success=True)
    added = _dynamic_additions(snapshot, asset_keys, partition_key, dynamic_partitions)
    for addition in added:  # the coordinator's fold of definitions learns the keys
        state.definitions.apply(addition)
    request = MaterializationRequested(
        run_id=run,
        selection="materialize()",
        asset_keys=asset_keys,
        partition_keys=(partition_key,) if partition_key is not None else None,
        requested_by="materialize",
        tags=dict(tags or {}),
        producer="materialize",
        correlation_id=run,
    )
    try:
        plan_run(request, state.definitions)
    except InvalidPartitionKeyError as exc:
        if dynamic_partitions is None:
            raise
        given = ", ".join(f"{name!r}: [...]" for name in dynamic_partitions)
        raise InvalidPartitionKeyError(
            f"{exc} (in process: list it in materialize(..., dynamic_partitions={{{given}}}))",
            asset_key=exc.asset_key,
        ) from exc
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
    for addition in added:
        record(addition)
    record(request)
    try:
        pending: deque[AnyEvent] = deque(decide(state, utcnow()))
        while pending:
            event = pending.popleft()
            record(event)
            if isinstance(event, WorkItemDispatched):
                req = ExecutionRequest.from_dispatch(event)
                for started in executor.started(req):
                    record(started)
                for outcome in executor.run(req):
                    record(outcome)
            elif isinstance(event, RunCompleted):
                result.success = event.status == "success"
                break
            if not pending:
                pending.extend(decide(state, utcnow()))
            due = state.next_due()
            if not pending and due is not None:  # a retry policy's delay: wait it out
                time.sleep(max(0.0, (due - utcnow()).total_seconds()))
                pending.extend(decide(state, utcnow()))
    finally:
        executor.close()
    if raise_on_error and executor.errors and not result.success:
        raise next(iter(executor.errors.values()))
    if raise_on_error and executor.check_errors:  # a check that raised (Dagster raises too)
        raise next(iter(executor.check_errors.values()))
    return result
