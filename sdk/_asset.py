"""Software-defined assets: `@asset`, `@multi_asset` and the `AssetsDefinition` they make."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, overload

from conflux.events import DefinitionError
from conflux.sdk._automation import AutomationCondition, coerce_condition
from conflux.sdk._keys import AssetKey, CoercibleToAssetKey, to_asset_key
from conflux.sdk._specs import AssetDep, AssetIn, AssetOut, AssetSpec, coerce_dep

if TYPE_CHECKING:
    from conflux.sdk._checks import AssetCheckSpec
    from conflux.sdk._policies import BackfillPolicy, RetryPolicy
    from conflux.sdk.partitions import PartitionMapping, PartitionsDefinition

CONTEXT_NAMES = frozenset({"context"})


@dataclass(frozen=True)
class InputSpec:
    """A parameter that receives an upstream asset's value."""

    param: str
    key: AssetKey
    partition_mapping: PartitionMapping | None


@dataclass(frozen=True)
class OutputSpec:
    """One asset a node computes."""

    name: str
    key: AssetKey
    description: str | None
    metadata: Mapping[str, str]
    group_name: str
    code_version: str | None
    kinds: tuple[str, ...]
    deps: tuple[AssetDep, ...] = ()
    """Deps of this output only (`@multi_asset(specs=...)`); node-wide deps live on the node."""
    automation_condition: AutomationCondition | None = None
    """When the coordinator materializes this asset on its own (None: only on request)."""


@dataclass(frozen=True)
class AssetsDefinition:
    """A node (one function) and the assets it computes.

    Made by `@asset` and `@multi_asset`; what `Definitions(assets=[...])` takes. Calling it
    calls the function directly (handy in unit tests).
    """

    node: str
    fn: Callable[..., object] | None
    outputs: tuple[OutputSpec, ...]
    inputs: tuple[InputSpec, ...] = ()
    deps: tuple[AssetDep, ...] = ()
    partitions_def: PartitionsDefinition | None = None
    context_param: str | None = None
    resource_params: tuple[str, ...] = ()
    is_external: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    retry_policy: RetryPolicy | None = None
    pool: str | None = None
    """The concurrency pool its work counts against (`conflux dev --pool-limit NAME=N`)."""
    backfill_policy: BackfillPolicy | None = None
    check_specs: tuple[AssetCheckSpec, ...] = ()
    """Checks whose `AssetCheckResult`s the function yields with its outputs."""
    is_observable: bool = False
    """An observable source asset: its function observes (`AssetObserved`), never
    materializes (`observable_source_asset`)."""

    @property
    def keys(self) -> list[AssetKey]:
        """The keys of every asset this node computes."""
        return [out.key for out in self.outputs]

    @property
    def key(self) -> AssetKey:
        """The key of a single-asset definition.

        Raises:
            DefinitionError: the node computes several assets.
        """
        if len(self.outputs) != 1:
            raise DefinitionError(
                f"{self.node} computes {len(self.outputs)} assets: use .keys", asset_key=self.node
            )
        return self.outputs[0].key

    def upstream_of(self, out: OutputSpec) -> list[tuple[AssetKey, PartitionMapping | None, bool]]:
        """(key, mapping, loads_value) for every upstream of one output."""
        found: list[tuple[AssetKey, PartitionMapping | None, bool]] = [
            (inp.key, inp.partition_mapping, True) for inp in self.inputs
        ]
        found += [(d.key, d.partition_mapping, False) for d in (*self.deps, *out.deps)]
        return found

    def __call__(self, *args: object, **kwargs: object) -> object:
        if self.fn is None:
            raise DefinitionError(f"{self.node} is an external asset and has no function")
        return self.fn(*args, **kwargs)


def _is_context(annotation: object) -> bool:
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return isinstance(name, str) and name.rsplit(".", 1)[-1] == "AssetExecutionContext"


def _inspect_params(
    fn: Callable[..., object],
    ins: Mapping[str, AssetIn],
) -> tuple[str | None, tuple[InputSpec, ...], tuple[str, ...]]:
    """Sort a function's parameters into the context, upstream inputs and resources.

    A parameter typed as a `ConfigurableResource` is a resource here; one named after a
    resource key becomes one when `Definitions` binds its resources.
    """
    from conflux.sdk._resources import ConfigurableResource

    context_param: str | None = None
    inputs: list[InputSpec] = []
    resources: list[str] = []
    try:
        signature = inspect.signature(fn, eval_str=True)
    except (NameError, TypeError, SyntaxError):  # annotations naming what is not importable here
        signature = inspect.signature(fn)
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(
                f"{fn.__name__}: *args/**kwargs are not supported; name each upstream asset",
                asset_key=fn.__name__,
            )
        annotation = param.annotation
        if name in CONTEXT_NAMES or _is_context(annotation):
            context_param = name
        elif name in ins:
            spec = ins[name]
            key = _input_key(name, spec)
            inputs.append(InputSpec(name, key, spec.partition_mapping))
        elif isinstance(annotation, type) and issubclass(annotation, ConfigurableResource):
            resources.append(name)
        else:
            inputs.append(InputSpec(name, AssetKey([name]), None))
    unknown = set(ins) - {i.param for i in inputs}
    if unknown:
        raise DefinitionError(
            f"{fn.__name__}: ins names {sorted(unknown)} but the function has no such parameter",
            asset_key=fn.__name__,
        )
    return context_param, tuple(inputs), tuple(resources)


def _input_key(param: str, spec: AssetIn) -> AssetKey:
    if spec.key is not None:
        return to_asset_key(spec.key)
    key = AssetKey([param])
    return key.with_prefix(spec.key_prefix) if spec.key_prefix else key


def _prefix(key: AssetKey, key_prefix: str | Sequence[str] | None) -> AssetKey:
    if not key_prefix:
        return key
    prefix = key_prefix.split("/") if isinstance(key_prefix, str) else key_prefix
    return key.with_prefix(prefix)


Fn = Callable[..., object]


@overload
def asset(fn: Fn, /) -> AssetsDefinition: ...


@overload
def asset(
    *,
    name: str | None = ...,
    key: CoercibleToAssetKey | None = ...,
    key_prefix: str | Sequence[str] | None = ...,
    ins: Mapping[str, AssetIn] | None = ...,
    deps: Sequence[object] | None = ...,
    group_name: str | None = ...,
    description: str | None = ...,
    metadata: Mapping[str, str] | None = ...,
    code_version: str | None = ...,
    partitions_def: PartitionsDefinition | None = ...,
    kinds: Sequence[str] | None = ...,
    tags: Mapping[str, str] | None = ...,
    retry_policy: RetryPolicy | None = ...,
    pool: str | None = ...,
    backfill_policy: BackfillPolicy | None = ...,
    automation_condition: AutomationCondition | None = ...,
    check_specs: Sequence[AssetCheckSpec] | None = ...,
) -> Callable[[Fn], AssetsDefinition]: ...


def asset(
    fn: Fn | None = None,
    /,
    *,
    name: str | None = None,
    key: CoercibleToAssetKey | None = None,
    key_prefix: str | Sequence[str] | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    deps: Sequence[object] | None = None,
    group_name: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, str] | None = None,
    code_version: str | None = None,
    partitions_def: PartitionsDefinition | None = None,
    kinds: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    retry_policy: RetryPolicy | None = None,
    pool: str | None = None,
    backfill_policy: BackfillPolicy | None = None,
    automation_condition: AutomationCondition | None = None,
    check_specs: Sequence[AssetCheckSpec] | None = None,
) -> AssetsDefinition | Callable[[Fn], AssetsDefinition]:
    """Declare an asset computed by the decorated function.

    Parameters named after other assets receive their values (through the IO manager);
    a parameter named `context` receives the `AssetExecutionContext`; parameters typed as
    a `ConfigurableResource` receive the resource of that name. Return the value to store,
    an `Output`, or a `MaterializeResult`.

    Example:
        >>> @asset(partitions_def=DailyPartitionsDefinition(start_date="2024-01-01"))
        ... def orders(context: AssetExecutionContext) -> list[dict[str, int]]:
        ...     return fetch_orders(day=context.partition_key)
        ...
        >>> @asset(deps=["raw_file"], group_name="reports")
        ... def daily_report(orders: list[dict[str, int]]) -> int:
        ...     return len(orders)
    """

    def decorate(f: Fn) -> AssetsDefinition:
        node = name or f.__name__
        asset_key = to_asset_key(key) if key is not None else _prefix(AssetKey([node]), key_prefix)
        context_param, inputs, resources = _inspect_params(f, ins or {})
        out = OutputSpec(
            name="result",
            key=asset_key,
            description=description or inspect.getdoc(f),
            metadata=dict(metadata or {}),
            group_name=group_name or "default",
            code_version=code_version,
            kinds=tuple(kinds or ()),
            automation_condition=coerce_condition(automation_condition, f"asset {asset_key}"),
        )
        return AssetsDefinition(
            node=node,
            fn=f,
            outputs=(out,),
            inputs=inputs,
            deps=tuple(coerce_dep(d) for d in deps or ()),
            partitions_def=partitions_def,
            context_param=context_param,
            resource_params=resources,
            tags=dict(tags or {}),
            retry_policy=retry_policy,
            pool=pool,
            backfill_policy=backfill_policy,
            check_specs=_check_specs(check_specs, node),
        )

    return decorate(fn) if fn is not None else decorate


def multi_asset(
    *,
    outs: Mapping[str, AssetOut] | None = None,
    specs: Sequence[AssetSpec] | None = None,
    name: str | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    deps: Sequence[object] | None = None,
    group_name: str | None = None,
    partitions_def: PartitionsDefinition | None = None,
    code_version: str | None = None,
    retry_policy: RetryPolicy | None = None,
    pool: str | None = None,
    backfill_policy: BackfillPolicy | None = None,
    automation_condition: AutomationCondition | None = None,
    check_specs: Sequence[AssetCheckSpec] | None = None,
) -> Callable[[Fn], AssetsDefinition]:
    """Declare one function that computes several assets at once.

    With `outs`, return a tuple of values in the order of `outs` (or yield `Output(...,
    output_name=...)`); with `specs`, return `MaterializeResult(asset_key=...)` per asset.

    Example:
        >>> @multi_asset(outs={"users": AssetOut(), "orders": AssetOut(key_prefix="shop")})
        ... def extract() -> tuple[list[str], list[str]]:
        ...     return load_users(), load_orders()
    """
    if bool(outs) == bool(specs):
        raise DefinitionError("multi_asset needs exactly one of outs={...} or specs=[...]")

    def decorate(f: Fn) -> AssetsDefinition:
        node = name or f.__name__
        outputs: list[OutputSpec] = []
        for out_name, out in (outs or {}).items():
            key = (
                to_asset_key(out.key) if out.key else _prefix(AssetKey([out_name]), out.key_prefix)
            )
            outputs.append(
                OutputSpec(
                    name=out_name,
                    key=key,
                    description=out.description,
                    metadata=dict(out.metadata or {}),
                    group_name=out.group_name or group_name or "default",
                    code_version=out.code_version or code_version,
                    kinds=tuple(out.kinds),
                    automation_condition=coerce_condition(
                        out.automation_condition or automation_condition, f"{node}: {key}"
                    ),
                )
            )
        for spec in specs or ():
            if spec.partitions_def is not None and spec.partitions_def != partitions_def:
                raise DefinitionError(
                    f"{node}: spec {spec.key} has its own partitions_def; set partitions_def "
                    "on the multi_asset instead",
                    asset_key=spec.key.to_user_string(),
                )
            outputs.append(
                OutputSpec(
                    name=spec.key.to_user_string(),
                    key=spec.key,
                    description=spec.description,
                    metadata=dict(spec.metadata),
                    group_name=spec.group_name or group_name or "default",
                    code_version=spec.code_version or code_version,
                    kinds=spec.kinds,
                    deps=spec.deps,
                    automation_condition=coerce_condition(
                        spec.automation_condition or automation_condition, f"{node}: {spec.key}"
                    ),
                )
            )
        context_param, inputs, resources = _inspect_params(f, ins or {})
        return AssetsDefinition(
            node=node,
            fn=f,
            outputs=tuple(outputs),
            inputs=inputs,
            deps=tuple(coerce_dep(d) for d in deps or ()),
            partitions_def=partitions_def,
            context_param=context_param,
            resource_params=resources,
            retry_policy=retry_policy,
            pool=pool,
            backfill_policy=backfill_policy,
            check_specs=_check_specs(check_specs, node),
        )

    return decorate


def _check_specs(specs: Sequence[AssetCheckSpec] | None, node: str) -> tuple[AssetCheckSpec, ...]:
    if not specs:
        return ()
    from conflux.sdk._checks import coerce_check_specs

    return coerce_check_specs(specs, node)


def external_asset(spec: AssetSpec) -> AssetsDefinition:
    """An asset that this location knows of but never computes (reported from outside)."""
    out = OutputSpec(
        name=spec.key.to_user_string(),
        key=spec.key,
        description=spec.description,
        metadata=dict(spec.metadata),
        group_name=spec.group_name or "default",
        code_version=spec.code_version,
        kinds=spec.kinds,
        deps=spec.deps,
        automation_condition=spec.automation_condition,
    )
    return AssetsDefinition(
        node=spec.key.to_user_string(),
        fn=None,
        outputs=(out,),
        partitions_def=spec.partitions_def,
        is_external=True,
    )
