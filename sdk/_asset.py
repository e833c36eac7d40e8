"""Software-defined assets: `@asset`, `@multi_asset` and the `AssetsDefinition` they make."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, overload

from conflux.events import DefinitionError
from conflux.sdk._automation import AutomationCondition, coerce_condition
from conflux.sdk._keys import AssetKey, CoercibleToAssetKey, to_asset_key
from conflux.sdk._params import CONTEXT_NAMES, inspect_params
from conflux.sdk._specs import AssetDep, AssetIn, AssetOut, AssetSpec, coerce_deps

if TYPE_CHECKING:
    from pydantic import BaseModel

    from conflux.sdk._checks import AssetCheckKey, AssetCheckSpec
    from conflux.sdk._policies import BackfillPolicy, RetryPolicy
    from conflux.sdk.partitions import PartitionMapping, PartitionsDefinition

__all__ = ["CONTEXT_NAMES", "AssetsDefinition", "InputSpec", "OutputSpec", "asset", "multi_asset"]


@dataclass(frozen=True)
class InputSpec:
    """A parameter that receives an upstream asset's value."""

    param: str
    key: AssetKey
    partition_mapping: PartitionMapping | None
    input_manager_key: str | None = None
    """The IO manager (resource key) that loads it; None: the upstream's own."""


@dataclass(frozen=True)
class OutputSpec:
    """One asset a node computes."""

    name: str
    key: AssetKey
    description: str | None
    metadata: Mapping[str, object]
    group_name: str
    code_version: str | None
    kinds: tuple[str, ...]
    deps: tuple[AssetDep, ...] = ()
    """Deps of this output only (`@multi_asset(specs=...)`); node-wide deps live on the node."""
    automation_condition: AutomationCondition | None = None
    """When the coordinator materializes this asset on its own (None: only on request)."""
    io_manager_key: str | None = None
    """The resource that stores its value (None: `io_manager`, the default)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    owners: tuple[str, ...] = ()
    is_required: bool = True
    """False: the function may leave this output out (`AssetOut(is_required=False)`)."""
    freshness_policy: object = None
    """Dagster's `freshness_policy=`, kept on the definition (see docs/porting-from-dagster.md)."""


class _AssetsDefinitionType(type):
    """Lets `AssetsDefinition(specs=[...])` build external assets, as Dagster's constructor."""

    def __call__(
        cls, *args: object, specs: Sequence[AssetSpec] | None = None, **kwargs: object
    ) -> object:
        if specs is not None and not args and not kwargs:
            return external_asset_group(specs)
        return super().__call__(*args, **kwargs)


@dataclass(frozen=True)
class AssetsDefinition(metaclass=_AssetsDefinitionType):
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
    config_param: str | None = None
    """The parameter that receives the run's config for this node (a `Config`)."""
    config_type: type[BaseModel] | None = None
    """The model the config is built as (a `Config` subclass, or from `config_schema=`)."""
    op_config: bool = False
    """True when the config is `context.op_config` (Dagster's older `config_schema=`)."""
    required_resource_keys: tuple[str, ...] = ()
    """Resources the function reaches through `context.resources` (not parameters)."""
    can_subset: bool = False
    op_name: str | None = None
    """Dagster's op name for this node (`prefix__name`), also accepted in a run config."""
    returns_none: bool = False
    """True when the function is annotated `-> None`: a None result stores nothing."""
    resource_defs: Mapping[str, object] = field(default_factory=dict)
    """Resources attached to the assets (`with_resources`, `resource_defs=`); a
    `Definitions` uses them for keys it does not give itself."""
    graph: object = None
    """For a graph asset: the traced graph of ops its function runs (see `sdk/_ops.py`)."""

    @staticmethod
    def from_graph(
        graph_def: object,
        *,
        keys_by_input_name: Mapping[str, CoercibleToAssetKey] | None = None,
        keys_by_output_name: Mapping[str, CoercibleToAssetKey] | None = None,
        key_prefix: str | Sequence[str] | None = None,
        group_name: str | None = None,
        partitions_def: PartitionsDefinition | None = None,
        resource_defs: Mapping[str, object] | None = None,
        partition_mappings: Mapping[str, PartitionMapping] | None = None,
    ) -> AssetsDefinition:
        """Assets computed by a `@graph` (Dagster's `AssetsDefinition.from_graph`).

        `partition_mappings` maps an input's name to how its upstream's partitions map.
        """
        from conflux.sdk._graph_assets import assets_from_graph
        from conflux.sdk._ops import GraphDefinition

        if not isinstance(graph_def, GraphDefinition):
            raise DefinitionError(f"from_graph takes a @graph, not {graph_def!r}")
        return assets_from_graph(
            graph_def,
            keys_by_input_name,
            keys_by_output_name,
            key_prefix=key_prefix,
            group_name=group_name,
            partitions_def=partitions_def,
            resource_defs=resource_defs,
            partition_mappings=partition_mappings,
        )

    @staticmethod
    def from_op(
        op_def: object,
        *,
        keys_by_input_name: Mapping[str, CoercibleToAssetKey] | None = None,
        keys_by_output_name: Mapping[str, CoercibleToAssetKey] | None = None,
        key_prefix: str | Sequence[str] | None = None,
        group_name: str | None = None,
        partitions_def: PartitionsDefinition | None = None,
    ) -> AssetsDefinition:
        """An asset computed by one `@op` (Dagster's `AssetsDefinition.from_op`)."""
        from conflux.sdk._graph_assets import assets_from_graph
        from conflux.sdk._ops import GraphDefinition, OpDefinition

        if not isinstance(op_def, OpDefinition):
            raise DefinitionError(f"from_op takes an @op, not {op_def!r}")
        names = op_def.input_names

        def body(**inputs: object) -> object:
            result = op_def(**inputs)
            if len(op_def.output_names) == 1:
                return result
            return dict(zip(op_def.output_names, result, strict=True))

        import inspect as _inspect

        body.__signature__ = _inspect.Signature(  # type: ignore[attr-defined]
            [_inspect.Parameter(n, _inspect.Parameter.KEYWORD_ONLY) for n in names]
        )
        graph_def = GraphDefinition(body, name=op_def.name)
        return assets_from_graph(
            graph_def,
            keys_by_input_name,
            keys_by_output_name,
            key_prefix=key_prefix,
            group_name=group_name,
            partitions_def=partitions_def,
        )

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

    def get_partition_mapping(self, in_asset_key: CoercibleToAssetKey) -> PartitionMapping | None:
        """The partition mapping this node gives upstream `in_asset_key`, if it gives one.

        As Dagster's: None when the dependency has no explicit mapping (the default one is
        inferred from both partitions definitions when the graph is built).
        """
        wanted = to_asset_key(in_asset_key)
        for out in self.outputs:
            for key, mapping, _ in self.upstream_of(out):
                if key == wanted and mapping is not None:
                    return mapping
        return None

    @property
    def specs(self) -> list[AssetSpec]:
        """Each asset of this node as an `AssetSpec` (Dagster's `AssetsDefinition.specs`)."""
        return [self._spec(out) for out in self.outputs]

    def get_asset_spec(self, key: CoercibleToAssetKey | None = None) -> AssetSpec:
        """The `AssetSpec` of one asset (the only one, when `key` is None)."""
        wanted = self.key if key is None else to_asset_key(key)
        for out in self.outputs:
            if out.key == wanted:
                return self._spec(out)
        raise DefinitionError(f"{self.node} computes no asset {wanted}", asset_key=self.node)

    def _spec(self, out: OutputSpec) -> AssetSpec:
        deps = [*self.deps, *out.deps, *(AssetDep(i.key, i.partition_mapping) for i in self.inputs)]
        return AssetSpec(
            out.key,
            deps=deps,
            description=out.description,
            metadata=out.metadata,
            group_name=out.group_name,
            code_version=out.code_version,
            partitions_def=self.partitions_def,
            kinds=out.kinds,
            automation_condition=out.automation_condition,
            tags=out.tags,
            owners=out.owners,
        )

    @property
    def check_keys(self) -> set[AssetCheckKey]:
        """The keys of the checks this node's function evaluates (`check_specs`)."""
        return {s.key for s in self.check_specs}

    @property
    def dependency_keys(self) -> set[AssetKey]:
        """Every upstream key of every asset of this node."""
        return {k for out in self.outputs for k, _, _ in self.upstream_of(out)}

    @property
    def keys_by_input_name(self) -> dict[str, AssetKey]:
        """Parameter -> the upstream asset it loads."""
        return {inp.param: inp.key for inp in self.inputs}

    @property
    def is_executable(self) -> bool:
        """False for an external asset (declared, never computed here)."""
        return not self.is_external

    @property
    def is_materializable(self) -> bool:
        """False for an external asset."""
        return not self.is_external

    def to_source_assets(self) -> list[AssetSpec]:
        """This node's assets as external specs (Dagster's `to_source_assets`)."""
        return self.specs

    def __call__(self, *args: object, **kwargs: object) -> object:
        """Call the function directly (a unit test): a built context is bound to this asset."""
        if self.fn is None:
            raise DefinitionError(f"{self.node} is an external asset and has no function")
        from conflux.sdk._context import AssetExecutionContext

        if self.context_param is not None:
            from conflux.sdk._testing import bind_context

            keys = tuple(self.keys)
            if self.context_param in kwargs and isinstance(
                kwargs[self.context_param], AssetExecutionContext
            ):
                ctx = kwargs[self.context_param]
                assert isinstance(ctx, AssetExecutionContext)
                kwargs[self.context_param] = bind_context(ctx, keys, self.partitions_def)
            elif args and isinstance(args[0], AssetExecutionContext):
                args = (bind_context(args[0], keys, self.partitions_def), *args[1:])
        return self.fn(*args, **kwargs)


def _inspect_params(
    fn: Callable[..., object],
    ins: Mapping[str, AssetIn],
) -> tuple[str | None, tuple[InputSpec, ...], tuple[str, ...]]:
    """Sort a function's parameters into the context, upstream inputs and resources.

    A parameter typed as a `ConfigurableResource` is a resource here; one named after a
    resource key becomes one when `Definitions` binds its resources. (The config parameter
    is read by `_node_params`.)
    """
    params = inspect_params(fn, getattr(fn, "__name__", "asset"))
    inputs: list[InputSpec] = []
    for name in params.inputs:
        if name in ins:
            spec = ins[name]
            key = _input_key(name, spec)
            inputs.append(InputSpec(name, key, spec.partition_mapping, spec.input_manager_key))
        else:
            inputs.append(InputSpec(name, AssetKey([name]), None))
    unknown = set(ins) - {i.param for i in inputs}
    if unknown:
        raise DefinitionError(
            f"{fn.__name__}: ins names {sorted(unknown)} but the function has no such parameter",
            asset_key=fn.__name__,
        )
    return params.context, tuple(inputs), params.resources


def _node_config(
    fn: Callable[..., object], node: str, config_schema: object
) -> tuple[str | None, type[BaseModel] | None, bool]:
    """(config parameter, config model, config read as `context.op_config`)."""
    params = inspect_params(fn, node)
    if params.config is not None:
        return params.config, params.config_type, False
    if config_schema is not None:
        from conflux.sdk._config import schema_model

        return None, schema_model(node, config_schema), True
    return None, None, False


def _op_name(key: AssetKey, name: str | None) -> str:
    return name or "__".join(key.path)


def _pool_from_tags(op_tags: Mapping[str, object] | None) -> str | None:
    """Dagster's older op tag `dagster/concurrency_key` names the pool (as `pool=` does)."""
    key = (op_tags or {}).get("dagster/concurrency_key")
    return str(key) if key is not None else None


def returns_none(fn: Callable[..., object]) -> bool:
    """True when `fn` is annotated `-> None` (Dagster then stores nothing)."""
    try:
        annotation = inspect.signature(fn, eval_str=True).return_annotation
    except (NameError, TypeError, SyntaxError, ValueError):
        try:
            annotation = inspect.signature(fn).return_annotation
        except (TypeError, ValueError):
            return False
    return annotation is None or annotation == "None" or annotation is type(None)


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
    metadata: Mapping[str, object] | None = ...,
    code_version: str | None = ...,
    partitions_def: PartitionsDefinition | None = ...,
    kinds: Sequence[str] | None = ...,
    tags: Mapping[str, str] | None = ...,
    owners: Sequence[str] | None = ...,
    retry_policy: RetryPolicy | None = ...,
    pool: str | None = ...,
    backfill_policy: BackfillPolicy | None = ...,
    automation_condition: AutomationCondition | None = ...,
    check_specs: Sequence[AssetCheckSpec] | None = ...,
    io_manager_key: str | None = ...,
    config_schema: object = ...,
    required_resource_keys: Iterable[str] | None = ...,
    op_tags: Mapping[str, object] | None = ...,
    compute_kind: str | None = ...,
    output_required: bool = ...,
    dagster_type: object = ...,
    resource_defs: Mapping[str, object] | None = ...,
    io_manager_def: object = ...,
    freshness_policy: object = ...,
    hooks: object = ...,
    is_virtual: bool = ...,
    non_argument_deps: Sequence[object] | None = ...,
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
    metadata: Mapping[str, object] | None = None,
    code_version: str | None = None,
    partitions_def: PartitionsDefinition | None = None,
    kinds: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    owners: Sequence[str] | None = None,
    retry_policy: RetryPolicy | None = None,
    pool: str | None = None,
    backfill_policy: BackfillPolicy | None = None,
    automation_condition: AutomationCondition | None = None,
    check_specs: Sequence[AssetCheckSpec] | None = None,
    io_manager_key: str | None = None,
    config_schema: object = None,
    required_resource_keys: Iterable[str] | None = None,
    op_tags: Mapping[str, object] | None = None,
    compute_kind: str | None = None,
    output_required: bool = True,
    dagster_type: object = None,
    resource_defs: Mapping[str, object] | None = None,
    io_manager_def: object = None,
    freshness_policy: object = None,
    hooks: object = None,
    is_virtual: bool = False,
    non_argument_deps: Sequence[object] | None = None,
) -> AssetsDefinition | Callable[[Fn], AssetsDefinition]:
    """Declare an asset computed by the decorated function.

    Parameters named after other assets receive their values (through the IO manager);
    a parameter named `context` receives the `AssetExecutionContext`; one named `config`
    (typed with a `Config` subclass) receives the run's config; parameters typed as a
    `ConfigurableResource` receive the resource of that name. Return the value to store,
    an `Output`, or a `MaterializeResult`.

    `io_manager_key` names the resource that stores the value (default `io_manager`), or
    `io_manager_def` gives the IO manager itself; `resource_defs` attaches resources (a
    `Definitions` that gives the same key wins). `op_tags` (its
    `dagster/concurrency_key` names the pool), `compute_kind`, `dagster_type`, `hooks` and
    `freshness_policy` are accepted for Dagster compatibility; `non_argument_deps` are
    `deps`. Virtual assets (`is_virtual=True`) are not supported.

    Example:
        >>> @asset(partitions_def=DailyPartitionsDefinition(start_date="2024-01-01"))
        ... def orders(context: AssetExecutionContext) -> list[dict[str, int]]:
        ...     return fetch_orders(day=context.partition_key)
        ...
        >>> @asset(deps=["raw_file"], group_name="reports")
        ... def daily_report(orders: list[dict[str, int]]) -> int:
        ...     return len(orders)
    """
    del dagster_type, hooks, compute_kind
    pool = pool or _pool_from_tags(op_tags)
    if is_virtual:
        raise DefinitionError(
            "@asset(is_virtual=True): virtual assets are not supported in Conflux: compute the "
            "asset, or declare it with AssetSpec (an external asset)"
        )
    deps = [*(deps or ()), *(non_argument_deps or ())]
    resources = dict(resource_defs or {})

    def decorate(f: Fn) -> AssetsDefinition:
        node = name or f.__name__
        asset_key = to_asset_key(key) if key is not None else _prefix(AssetKey([node]), key_prefix)
        context_param, inputs, resource_params = _inspect_params(f, ins or {})
        config_param, config_type, op_config = _node_config(f, node, config_schema)
        manager_key = io_manager_key
        node_resources = dict(resources)
        if io_manager_def is not None and manager_key is None:
            manager_key = f"__io_manager_{node}"  # Dagster names it after the asset, too
            node_resources[manager_key] = io_manager_def
        out = OutputSpec(
            name="result",
            key=asset_key,
            description=description or inspect.getdoc(f),
            metadata=dict(metadata or {}),
            group_name=group_name or "default",
            code_version=code_version,
            kinds=tuple(kinds or ()),
            automation_condition=coerce_condition(automation_condition, f"asset {asset_key}"),
            io_manager_key=manager_key,
            tags=dict(tags or {}),
            owners=tuple(owners or ()),
            is_required=output_required,
            freshness_policy=freshness_policy,
        )
        return AssetsDefinition(
            node=node,
            fn=f,
            outputs=(out,),
            inputs=inputs,
            deps=coerce_deps(deps, str(asset_key)),
            partitions_def=partitions_def,
            context_param=context_param,
            resource_params=resource_params,
            tags=dict(tags or {}),
            retry_policy=retry_policy,
            pool=pool,
            backfill_policy=backfill_policy,
            check_specs=_check_specs(check_specs, node),
            config_param=config_param,
            config_type=config_type,
            op_config=op_config,
            required_resource_keys=tuple(required_resource_keys or ()),
            op_name=_op_name(asset_key, name),
            returns_none=returns_none(f),
            resource_defs=node_resources,
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
    can_subset: bool = False,
    internal_asset_deps: Mapping[str, set[AssetKey]] | None = None,
    config_schema: object = None,
    required_resource_keys: Iterable[str] | None = None,
    op_tags: Mapping[str, object] | None = None,
    compute_kind: str | None = None,
    description: str | None = None,
    resource_defs: Mapping[str, object] | None = None,
    hooks: object = None,
) -> Callable[[Fn], AssetsDefinition]:
    """Declare one function that computes several assets at once.

    With `outs`, return a tuple of values in the order of `outs` (or yield `Output(...,
    output_name=...)`); with `specs`, return `MaterializeResult(asset_key=...)` per asset
    (or nothing: each spec is then materialized with no value, as in Dagster).

    `can_subset` is accepted; Conflux always runs the whole node (every output is selected),
    and `internal_asset_deps` narrows which inputs each output lists as upstream.

    Example:
        >>> @multi_asset(outs={"users": AssetOut(), "orders": AssetOut(key_prefix="shop")})
        ... def extract() -> tuple[list[str], list[str]]:
        ...     return load_users(), load_orders()
    """
    del hooks, compute_kind
    pool = pool or _pool_from_tags(op_tags)
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
                    description=out.description or description,
                    metadata=dict(out.metadata or {}),
                    group_name=out.group_name or group_name or "default",
                    code_version=out.code_version or code_version,
                    kinds=tuple(out.kinds or ()),
                    automation_condition=coerce_condition(
                        out.automation_condition or automation_condition, f"{node}: {key}"
                    ),
                    io_manager_key=out.io_manager_key,
                    tags=dict(out.tags or {}),
                    owners=tuple(out.owners or ()),
                    is_required=out.is_required,
                )
            )
        _check_spec_mappings(node, specs or ())
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
                    io_manager_key=spec.io_manager_key,
                    tags=dict(spec.tags),
                    owners=spec.owners,
                    is_required=not spec.skippable,
                )
            )
        context_param, inputs, resources = _inspect_params(f, ins or {})
        config_param, config_type, op_config = _node_config(f, node, config_schema)
        if internal_asset_deps:
            outputs = _narrow_internal_deps(node, outputs, inputs, internal_asset_deps)
        return AssetsDefinition(
            node=node,
            fn=f,
            outputs=tuple(outputs),
            inputs=inputs,
            deps=coerce_deps(deps or (), node),
            partitions_def=partitions_def,
            context_param=context_param,
            resource_params=resources,
            retry_policy=retry_policy,
            pool=pool,
            backfill_policy=backfill_policy,
            check_specs=_check_specs(check_specs, node),
            config_param=config_param,
            config_type=config_type,
            op_config=op_config,
            required_resource_keys=tuple(required_resource_keys or ()),
            can_subset=can_subset,
            op_name=node,
            returns_none=returns_none(f),
            resource_defs=dict(resource_defs or {}),
        )

    return decorate


def _check_spec_mappings(node: str, specs: Sequence[AssetSpec]) -> None:
    """Refuse specs of one node that map one upstream differently (Dagster refuses it too).

    The node runs once per partition for all its specs, so one upstream can have only one
    partition mapping in it.

    Raises:
        DefinitionError: two specs give one upstream different partition mappings.
    """
    seen: dict[AssetKey, PartitionMapping] = {}
    for spec in specs:
        for dep in spec.deps:
            if dep.partition_mapping is None:
                continue
            previous = seen.setdefault(dep.key, dep.partition_mapping)
            if previous != dep.partition_mapping:
                raise DefinitionError(
                    f"Two different PartitionMappings for {dep.key} provided for multi_asset "
                    f"{node} ({previous!r} and {dep.partition_mapping!r}): use the same "
                    f"PartitionMapping for {dep.key} in every spec",
                    asset_key=node,
                )


def _narrow_internal_deps(
    node: str,
    outputs: list[OutputSpec],
    inputs: tuple[InputSpec, ...],
    internal: Mapping[str, set[AssetKey]],
) -> list[OutputSpec]:
    """Check `internal_asset_deps` names real outputs and keys (lineage stays node-wide)."""
    names = {o.name for o in outputs}
    known = {i.key for i in inputs} | {o.key for o in outputs}
    for out_name, keys in internal.items():
        if out_name not in names:
            raise DefinitionError(
                f"{node}: internal_asset_deps names output {out_name!r}, which is not in outs",
                asset_key=node,
            )
        for k in keys:
            if to_asset_key(k) not in known:
                raise DefinitionError(
                    f"{node}: internal_asset_deps[{out_name!r}] names {to_asset_key(k)}, "
                    "which is neither an input nor an output of the multi_asset",
                    asset_key=node,
                )
    return outputs


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
        io_manager_key=spec.io_manager_key,
        tags=dict(spec.tags),
        owners=spec.owners,
    )
    return AssetsDefinition(
        node=spec.key.to_user_string(),
        fn=None,
        outputs=(out,),
        partitions_def=spec.partitions_def,
        is_external=True,
    )


def external_asset_group(specs: Sequence[AssetSpec]) -> AssetsDefinition:
    """`AssetsDefinition(specs=[...])`: the specs as external assets of one definition.

    Raises:
        DefinitionError: no specs, or specs with different partitions definitions.
    """
    if not specs:
        raise DefinitionError("AssetsDefinition(specs=[...]) needs at least one AssetSpec")
    parts = [external_asset(spec) for spec in specs]
    pdefs = {id(p.partitions_def) for p in parts if p.partitions_def is not None}
    if len(pdefs) > 1:
        raise DefinitionError(
            "AssetsDefinition(specs=[...]): the specs have different partitions_defs: give "
            "them one, or pass the specs to Definitions(assets=...) one by one"
        )
    return AssetsDefinition(
        node=",".join(p.node for p in parts),
        fn=None,
        outputs=tuple(out for p in parts for out in p.outputs),
        partitions_def=next((p.partitions_def for p in parts if p.partitions_def), None),
        is_external=True,
    )
