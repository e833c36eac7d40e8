"""Asset events from outside a run, and source assets (Dagster's names).

- `AssetMaterialization` / `AssetObservation`: what a sensor reports in
  `SensorResult(asset_events=[...])`. The coordinator turns them into `AssetMaterialized`
  (`source="reported"`, which counts like any other materialization for automation,
  staleness and lineage, as `conflux report` does) and `AssetObserved` events.
- `SourceAsset`: an asset this location reads and never computes (an external asset, as
  `AssetSpec`).
- `@observable_source_asset`: a source asset whose function observes it: it returns a
  `DataVersion` (or an `ObserveResult`), and a run that targets it (a schedule's, a
  person's) records an `AssetObserved` instead of a materialization. A new data version
  is an update for automation (`newly_updated`) and for freshness checks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

from conflux.events import DefinitionError
from conflux.sdk._keys import AssetKey, to_asset_key

if TYPE_CHECKING:
    from conflux.events import AssetMaterialized, AssetObserved, PartitionFailed, SensorAssetEvent
    from conflux.sdk._asset import AssetsDefinition
    from conflux.sdk._automation import AutomationCondition
    from conflux.sdk._execute import ExecutionRequest, NodeExecutor
    from conflux.sdk._keys import CoercibleToAssetKey
    from conflux.sdk._results import DataVersion
    from conflux.sdk.partitions import PartitionsDefinition

DATA_VERSION_TAG = "dagster/data_version"
"""The tag in which Dagster's asset events carry a data version."""


@dataclass(frozen=True, init=False)
class _AssetEvent:
    asset_key: AssetKey
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Dagster's metadata (values as given; `MetadataEntry`s, with `.value`, when read
    back from a recorded event)."""
    partition: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        asset_key: CoercibleToAssetKey,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        partition: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        object.__setattr__(self, "asset_key", to_asset_key(asset_key))
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "partition", partition)
        object.__setattr__(self, "tags", {str(k): str(v) for k, v in (tags or {}).items()})

    _kind: ClassVar[Literal["materialization", "observation"]] = "materialization"

    def to_spec(self) -> SensorAssetEvent:
        """The event form the tick carries (metadata made JSON)."""
        from conflux.events import SensorAssetEvent
        from conflux.sdk._execute import _jsonable

        return SensorAssetEvent(
            kind=self._kind,
            asset_key=self.asset_key.to_user_string(),
            partition_key=self.partition,
            data_version=self.tags.get(DATA_VERSION_TAG),
            description=self.description,
            metadata={str(k): _jsonable(getattr(v, "value", v)) for k, v in self.metadata.items()},
            tags=dict(self.tags),
        )


class AssetMaterialization(_AssetEvent):
    """An asset (partition) was materialized outside Conflux (Dagster's name).

    Return it from a sensor in `SensorResult(asset_events=[...])`: the coordinator records
    an `AssetMaterialized` with `source="reported"`, like `conflux report`. A data version
    may be given as the tag `dagster/data_version`.

    Example:
        >>> AssetMaterialization(asset_key="raw_transactions", metadata={"rows": 10})
    """

    _kind = "materialization"


class AssetObservation(_AssetEvent):
    """An asset (partition) was observed: its data version seen, not produced (Dagster's).

    Example:
        >>> AssetObservation(asset_key="vendor_feed", tags={"dagster/data_version": "v7"})
    """

    _kind = "observation"


@dataclass(frozen=True)
class ObserveResult:
    """What an observation function may return: a data version, with metadata."""

    data_version: DataVersion | str | None = None
    metadata: Mapping[str, object] = field(default_factory=dict)
    asset_key: CoercibleToAssetKey | None = None


class SourceAsset:
    """An asset this location reads and never computes (Dagster's `SourceAsset`).

    `SourceAsset("raw")` is `AssetSpec("raw")`: an external asset, reported from outside.
    With `observe_fn`, it is an observable source asset (see `observable_source_asset`).
    Constructing one returns the `AssetsDefinition` that `Definitions` takes.
    """

    def __new__(  # type: ignore[misc]
        cls,
        key: CoercibleToAssetKey,
        metadata: Mapping[str, object] | None = None,
        io_manager_key: str | None = None,
        io_manager_def: object = None,
        description: str | None = None,
        partitions_def: PartitionsDefinition | None = None,
        group_name: str | None = None,
        resource_defs: Mapping[str, object] | None = None,
        observe_fn: Callable[..., object] | None = None,
        op_tags: Mapping[str, object] | None = None,
        *,
        automation_condition: AutomationCondition | None = None,
        tags: Mapping[str, str] | None = None,
        **_ignored: Any,
    ) -> AssetsDefinition:
        del io_manager_key, io_manager_def, resource_defs, op_tags
        return _source_asset(
            to_asset_key(key),
            observe_fn,
            description=description,
            metadata=metadata,
            group_name=group_name,
            partitions_def=partitions_def,
            automation_condition=automation_condition,
            tags=tags,
        )


def _source_asset(
    key: AssetKey,
    fn: Callable[..., object] | None,
    *,
    description: str | None,
    metadata: Mapping[str, object] | None,
    group_name: str | None,
    partitions_def: PartitionsDefinition | None,
    automation_condition: AutomationCondition | None,
    tags: Mapping[str, str] | None,
) -> AssetsDefinition:
    import dataclasses

    from conflux.sdk._asset import AssetsDefinition, OutputSpec, external_asset
    from conflux.sdk._automation import coerce_condition
    from conflux.sdk._specs import AssetSpec

    condition = coerce_condition(automation_condition, f"source asset {key}")
    node = external_asset(
        AssetSpec(
            key,
            description=description,
            metadata={str(k): str(v) for k, v in (metadata or {}).items()},
            group_name=group_name,
            partitions_def=partitions_def,
            automation_condition=condition,
        )
    )
    if fn is None:
        return node
    context, resources = _observe_params(fn)
    out: OutputSpec = node.outputs[0]
    return AssetsDefinition(
        node=key.to_user_string().replace("/", "__"),
        fn=fn,
        outputs=(dataclasses.replace(out, description=description or inspect.getdoc(fn)),),
        partitions_def=partitions_def,
        context_param=context,
        resource_params=resources,
        tags=dict(tags or {}),
        is_observable=True,
    )


def _observe_params(fn: Callable[..., object]) -> tuple[str | None, tuple[str, ...]]:
    """(the context parameter, the resource parameters) of an observation function."""
    from conflux.sdk._asset import CONTEXT_NAMES

    context: str | None = None
    resources: list[str] = []
    for name, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if name in CONTEXT_NAMES or "Context" in str(param.annotation):
            context = name
        else:
            resources.append(name)
    return context, tuple(resources)


Fn = Callable[..., object]


@overload
def observable_source_asset(fn: Fn, /) -> AssetsDefinition: ...


@overload
def observable_source_asset(
    *,
    key: CoercibleToAssetKey | None = ...,
    name: str | None = ...,
    key_prefix: str | Sequence[str] | None = ...,
    description: str | None = ...,
    group_name: str | None = ...,
    metadata: Mapping[str, object] | None = ...,
    partitions_def: PartitionsDefinition | None = ...,
    automation_condition: AutomationCondition | None = ...,
    tags: Mapping[str, str] | None = ...,
    **kwargs: Any,
) -> Callable[[Fn], AssetsDefinition]: ...


def observable_source_asset(
    fn: Fn | None = None,
    /,
    *,
    key: CoercibleToAssetKey | None = None,
    name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    description: str | None = None,
    group_name: str | None = None,
    metadata: Mapping[str, object] | None = None,
    partitions_def: PartitionsDefinition | None = None,
    automation_condition: AutomationCondition | None = None,
    tags: Mapping[str, str] | None = None,
    **_ignored: Any,
) -> AssetsDefinition | Callable[[Fn], AssetsDefinition]:
    """A source asset whose function observes it (Dagster's `@observable_source_asset`).

    The function (taking `context` and resources, or nothing) returns a `DataVersion`,
    an `ObserveResult` or None. A run that targets the asset runs it and records an
    `AssetObserved` with that data version; the asset is never materialized.

    Example:
        >>> @observable_source_asset
        ... def vendor_file() -> DataVersion:
        ...     return DataVersion(sha256(Path("feed.csv").read_bytes()).hexdigest())
    """

    def decorate(f: Fn) -> AssetsDefinition:
        asset_key = _observable_key(f, key, name, key_prefix)
        return _source_asset(
            asset_key,
            f,
            description=description,
            metadata=metadata,
            group_name=group_name,
            partitions_def=partitions_def,
            automation_condition=automation_condition,
            tags=tags,
        )

    return decorate(fn) if fn is not None else decorate


def _observable_key(
    fn: Fn,
    key: CoercibleToAssetKey | None,
    name: str | None,
    key_prefix: str | Sequence[str] | None,
) -> AssetKey:
    if key is not None:
        if name is not None or key_prefix is not None:
            raise DefinitionError(
                f"@observable_source_asset on {fn.__name__}: pass key= or name=/key_prefix=, "
                "not both"
            )
        return to_asset_key(key)
    prefix = [key_prefix] if isinstance(key_prefix, str) else list(key_prefix or ())
    return AssetKey([*prefix, name or fn.__name__])


def observation_of(value: object) -> tuple[str | None, dict[str, object]]:
    """(data version, metadata) from what an observation function returned.

    Raises:
        DefinitionError: it returned something that is not a data version.
    """
    from conflux.sdk._results import DataVersion

    if value is None:
        return None, {}
    if isinstance(value, ObserveResult):
        version = value.data_version
        text = version.value if isinstance(version, DataVersion) else version
        return text, dict(value.metadata)
    if isinstance(value, DataVersion):
        return value.value, {}
    if isinstance(value, str):
        return value, {}
    raise DefinitionError(
        f"an observation function returned {type(value).__name__}: return DataVersion(...), "
        "ObserveResult(data_version=...) or None"
    )


def observe(
    executor: NodeExecutor, node: AssetsDefinition, req: ExecutionRequest, keys: list[str | None]
) -> list[AssetObserved | PartitionFailed]:
    """Run an observable source asset's function: an `AssetObserved` per partition."""
    from conflux.events import AssetObserved, PartitionFailed
    from conflux.sdk._context import AssetExecutionContext
    from conflux.sdk._context_log import context_logger
    from conflux.sdk._execute import _jsonable

    out: list[AssetObserved | PartitionFailed] = []
    asset_key = node.outputs[0].key.to_user_string()
    for key in keys:
        context = AssetExecutionContext(
            run_id=req.run_id,
            asset_keys=tuple(node.keys),
            partition_key_or_none=key,
            partitions_def=node.partitions_def,
            log=context_logger(f"conflux.observe.{node.node}"),
            attempt=req.attempt,
        )
        try:
            kwargs: dict[str, object] = {}
            if node.context_param is not None:
                kwargs[node.context_param] = context
            for name in node.resource_params:
                kwargs[name] = executor._resource(name)
            assert node.fn is not None
            version, metadata = observation_of(node.fn(**kwargs))
        except Exception as exc:
            return [
                e for e in executor._failed(node, req, exc, keys) if isinstance(e, PartitionFailed)
            ]
        out.append(
            AssetObserved(
                asset_key=asset_key,
                partition_key=key,
                data_version=version,
                metadata={str(k): _jsonable(getattr(v, "value", v)) for k, v in metadata.items()},
                source="executed",
                run_id=req.run_id,
                work_item_id=req.work_item_id,
                worker_id=executor.worker_id,
                attempt=req.attempt,
                producer=executor.producer,
                correlation_id=req.run_id,
                causation_id=req.causation_id,
            )
        )
    return out


@dataclass(frozen=True)
class MetadataEntry:
    """One metadata value as Dagster's records hand it out (`entry.value`)."""

    value: object

    @property
    def text(self) -> str:
        """The value as text."""
        return str(self.value)


class EventLogEntry:
    """A recorded asset event, as Dagster's sensors and instance queries hand it out.

    Wraps the `AssetMaterialized` (or `AssetObserved`) event: Dagster's attributes
    (`asset_materialization`, `asset_observation`, `run_id`, `timestamp`) come from it, and
    the event's own fields (`data_version`, `event_id`, ...) read through.
    """

    def __init__(self, event: AssetMaterialized | AssetObserved) -> None:
        self._event = event

    @property
    def event(self) -> AssetMaterialized | AssetObserved:
        """The Conflux event."""
        return self._event

    @property
    def run_id(self) -> str:
        """The run that recorded it ('' when reported from outside)."""
        return self._event.run_id or ""

    @property
    def timestamp(self) -> float:
        """When it was recorded (POSIX seconds)."""
        return self._event.time.timestamp()

    @property
    def dagster_event_type(self) -> str:
        """`ASSET_MATERIALIZATION` or `ASSET_OBSERVATION`."""
        observed = self._event.type == "AssetObserved"
        return "ASSET_OBSERVATION" if observed else "ASSET_MATERIALIZATION"

    @property
    def asset_materialization(self) -> AssetMaterialization | None:
        """The materialization (None for an observation)."""
        if self._event.type != "AssetMaterialized":
            return None
        return AssetMaterialization(
            asset_key=self._event.asset_key,
            partition=self._event.partition_key,
            metadata={k: MetadataEntry(v) for k, v in self._event.metadata.items()},
            tags={DATA_VERSION_TAG: self._event.data_version or ""},
        )

    @property
    def asset_observation(self) -> AssetObservation | None:
        """The observation (None for a materialization)."""
        if self._event.type != "AssetObserved":
            return None
        return AssetObservation(
            asset_key=self._event.asset_key,
            partition=self._event.partition_key,
            metadata={k: MetadataEntry(v) for k, v in self._event.metadata.items()},
            tags={DATA_VERSION_TAG: self._event.data_version or ""},
        )

    def __getattr__(self, name: str) -> Any:  # the wrapped event's fields, whatever they are
        return getattr(self._event, name)

    def __repr__(self) -> str:
        return f"EventLogEntry({self._event!r})"


class CheckInstance:
    """The part of Dagster's `DagsterInstance` a check uses: the asset's latest materialization.

    A check runs in the work item that materialized its asset, so the latest
    materialization of that asset (partition) is the one it checks; other assets' history
    is the read side's (`conflux events`), not a worker's.
    """

    def __init__(self, materialization: AssetMaterialized | None) -> None:
        self._materialization = materialization

    def get_latest_materialization_event(self, asset_key: object) -> EventLogEntry | None:
        """The checked asset's materialization (None for any other asset)."""
        mat = self._materialization
        if mat is None or to_asset_key(asset_key).to_user_string() != mat.asset_key:  # type: ignore[arg-type]
            return None
        return EventLogEntry(mat)
