"""Graph assets: `@graph_asset`, `@graph_multi_asset`, `AssetsDefinition.from_graph`.

A graph body is traced once, at decoration (see `_ops.py`); the asset's function runs
the recorded ops in order in one work item, passing values from op to op in memory, and
returns the graph's outputs: only those (the assets) go through the IO manager.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from conflux.events import DefinitionError
from conflux.sdk._ops import GraphDefinition, TracedGraph, trace_graph

if TYPE_CHECKING:
    from conflux.sdk._asset import AssetsDefinition
    from conflux.sdk._automation import AutomationCondition
    from conflux.sdk._checks import AssetCheckSpec
    from conflux.sdk._context import AssetExecutionContext
    from conflux.sdk._keys import CoercibleToAssetKey
    from conflux.sdk._policies import BackfillPolicy, RetryPolicy
    from conflux.sdk._specs import AssetIn, AssetOut
    from conflux.sdk.partitions import PartitionMapping, PartitionsDefinition


def _graph_node_fn(
    traced: TracedGraph, outputs: Sequence[str], multi: bool
) -> Callable[..., object]:
    """The function the executor calls for a graph asset: run the ops, return the assets."""

    def run_graph(__context: AssetExecutionContext, **inputs: object) -> object:
        values = traced.run(__context, inputs, __context.resources)
        result = traced.result
        if not multi:
            if result is None:
                return None
            return traced.value_of(result, values, inputs)
        if isinstance(result, Mapping):
            return tuple(traced.value_of(result[name], values, inputs) for name in outputs)
        if isinstance(result, tuple | list):
            return tuple(traced.value_of(h, values, inputs) for h in result)
        return traced.value_of(result, values, inputs)

    return run_graph


def _resource_params(traced: TracedGraph) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for inv in traced.invocations:
        for res in (*inv.op.resource_params, *inv.op.required_resource_keys):
            found[res] = None
    return tuple(found)


def graph_asset(
    compose_fn: Callable[..., object] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    config: object = None,
    key_prefix: str | Sequence[str] | None = None,
    group_name: str | None = None,
    partitions_def: PartitionsDefinition | None = None,
    metadata: Mapping[str, object] | None = None,
    tags: Mapping[str, str] | None = None,
    owners: Sequence[str] | None = None,
    automation_condition: AutomationCondition | None = None,
    backfill_policy: BackfillPolicy | None = None,
    resource_defs: Mapping[str, object] | None = None,
    check_specs: Sequence[AssetCheckSpec] | None = None,
    code_version: str | None = None,
    key: CoercibleToAssetKey | None = None,
    kinds: Sequence[str] | None = None,
    retry_policy: RetryPolicy | None = None,
    pool: str | None = None,
) -> Any:
    """Declare an asset computed by a graph of ops (Dagster's `@graph_asset`).

    The function wires ops together and returns the op output that is the asset's value;
    its parameters are upstream assets, as for `@asset`. The worker runs the whole graph
    as one work item; values pass between ops in memory.

    Example:
        >>> @op
        ... def fetch() -> list[int]: ...
        >>> @op
        ... def clean(rows: list[int]) -> list[int]: ...
        >>> @graph_asset
        ... def cleaned_rows() -> list[int]:
        ...     return clean(fetch())
    """
    del config

    def wrap(fn: Callable[..., object]) -> AssetsDefinition:
        from conflux.sdk._asset import OutputSpec, _inspect_params, _prefix
        from conflux.sdk._automation import coerce_condition
        from conflux.sdk._keys import AssetKey, to_asset_key

        node = name or fn.__name__
        asset_key = to_asset_key(key) if key is not None else _prefix(AssetKey([node]), key_prefix)
        _, inputs, _ = _inspect_params(fn, ins or {})
        traced = trace_graph(fn, node, [i.param for i in inputs])
        if traced.result is None:
            raise DefinitionError(
                f"@graph_asset {node} returns nothing: return the output of the op that "
                "computes the asset's value",
                asset_key=asset_key.to_user_string(),
            )
        out = OutputSpec(
            name="result",
            key=asset_key,
            description=description or inspect.getdoc(fn),
            metadata=dict(metadata or {}),
            group_name=group_name or "default",
            code_version=code_version,
            kinds=tuple(kinds or ()),
            automation_condition=coerce_condition(automation_condition, f"asset {asset_key}"),
            tags=dict(tags or {}),
            owners=tuple(owners or ()),
        )
        return _graph_assets_definition(
            node,
            traced,
            (out,),
            inputs,
            partitions_def,
            check_specs,
            backfill_policy,
            retry_policy,
            pool,
            resource_defs,
            multi=False,
        )

    return wrap(compose_fn) if compose_fn is not None else wrap


def graph_multi_asset(
    *,
    outs: Mapping[str, AssetOut],
    name: str | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    partitions_def: PartitionsDefinition | None = None,
    backfill_policy: BackfillPolicy | None = None,
    group_name: str | None = None,
    can_subset: bool = False,
    resource_defs: Mapping[str, object] | None = None,
    check_specs: Sequence[AssetCheckSpec] | None = None,
    config: object = None,
    retry_policy: RetryPolicy | None = None,
    pool: str | None = None,
) -> Callable[[Callable[..., object]], AssetsDefinition]:
    """Declare several assets computed by one graph of ops (Dagster's `@graph_multi_asset`).

    The function returns a dict of output name -> op output (or a tuple in the order of
    `outs`). `can_subset` is accepted; Conflux runs the whole graph.

    Example:
        >>> @graph_multi_asset(outs={"first": AssetOut(), "second": AssetOut()})
        ... def two_assets(upstream_asset: int) -> dict[str, object]:
        ...     one, two = split(upstream_asset)
        ...     return {"first": one, "second": two}
    """
    del config, can_subset

    def wrap(fn: Callable[..., object]) -> AssetsDefinition:
        from conflux.sdk._asset import OutputSpec, _inspect_params, _prefix
        from conflux.sdk._automation import coerce_condition
        from conflux.sdk._keys import AssetKey, to_asset_key

        node = name or fn.__name__
        _, inputs, _ = _inspect_params(fn, ins or {})
        traced = trace_graph(fn, node, [i.param for i in inputs])
        outputs = []
        for out_name, spec in outs.items():
            out_key = (
                to_asset_key(spec.key)
                if spec.key
                else _prefix(AssetKey([out_name]), spec.key_prefix)
            )
            outputs.append(
                OutputSpec(
                    name=out_name,
                    key=out_key,
                    description=spec.description,
                    metadata=dict(spec.metadata or {}),
                    group_name=spec.group_name or group_name or "default",
                    code_version=spec.code_version,
                    kinds=tuple(spec.kinds or ()),
                    automation_condition=coerce_condition(
                        spec.automation_condition, f"{node}: {out_key}"
                    ),
                    io_manager_key=spec.io_manager_key,
                    tags=dict(spec.tags or {}),
                    owners=tuple(spec.owners or ()),
                    is_required=spec.is_required,
                )
            )
        result = traced.result
        if isinstance(result, Mapping):
            unknown = set(result) - set(outs)
            if unknown:
                raise DefinitionError(
                    f"@graph_multi_asset {node} returns outputs {sorted(unknown)} that outs "
                    "does not declare",
                    asset_key=node,
                )
        return _graph_assets_definition(
            node,
            traced,
            tuple(outputs),
            inputs,
            partitions_def,
            check_specs,
            backfill_policy,
            retry_policy,
            pool,
            resource_defs,
            multi=True,
        )

    return wrap


def _graph_assets_definition(
    node: str,
    traced: TracedGraph,
    outputs: tuple[Any, ...],
    inputs: tuple[Any, ...],
    partitions_def: PartitionsDefinition | None,
    check_specs: Sequence[AssetCheckSpec] | None,
    backfill_policy: BackfillPolicy | None,
    retry_policy: RetryPolicy | None,
    pool: str | None,
    resource_defs: Mapping[str, object] | None,
    *,
    multi: bool,
) -> AssetsDefinition:
    from conflux.sdk._asset import AssetsDefinition, _check_specs

    fn = _graph_node_fn(traced, [o.name for o in outputs], multi)
    return AssetsDefinition(
        node=node,
        fn=fn,
        outputs=outputs,
        inputs=inputs,
        partitions_def=partitions_def,
        context_param="__context",
        required_resource_keys=_resource_params(traced),
        retry_policy=retry_policy,
        pool=pool,
        backfill_policy=backfill_policy,
        check_specs=_check_specs(check_specs, node),
        op_name=node,
        resource_defs=dict(resource_defs or {}),
        graph=traced,
    )


def assets_from_graph(
    graph_def: GraphDefinition,
    keys_by_input_name: Mapping[str, CoercibleToAssetKey] | None = None,
    keys_by_output_name: Mapping[str, CoercibleToAssetKey] | None = None,
    *,
    key_prefix: str | Sequence[str] | None = None,
    group_name: str | None = None,
    partitions_def: PartitionsDefinition | None = None,
    resource_defs: Mapping[str, object] | None = None,
    partition_mappings: Mapping[str, PartitionMapping] | None = None,
) -> AssetsDefinition:
    """`AssetsDefinition.from_graph`: a graph's outputs as assets (one asset: the graph's).

    `partition_mappings` is keyed by the graph's input names, as Dagster's.

    Raises:
        DefinitionError: `partition_mappings` names an input the graph does not have.
    """
    from conflux.sdk._asset import InputSpec, OutputSpec, _prefix
    from conflux.sdk._keys import AssetKey, to_asset_key

    inputs = tuple(
        InputSpec(
            p,
            to_asset_key((keys_by_input_name or {})[p])
            if p in (keys_by_input_name or {})
            else AssetKey([p]),
            (partition_mappings or {}).get(p),
        )
        for p in graph_def.input_names
    )
    unknown = sorted(set(partition_mappings or {}) - set(graph_def.input_names))
    if unknown:
        from conflux.events import DefinitionError

        raise DefinitionError(
            f"{graph_def.name}: partition_mappings names {', '.join(unknown)}, which the graph "
            f"does not take as input (its inputs: {', '.join(graph_def.input_names) or 'none'})",
            asset_key=graph_def.name,
        )
    traced = trace_graph(graph_def.fn, graph_def.name, [i.param for i in inputs])
    result = traced.result
    names = list(result) if isinstance(result, Mapping) else ["result"]
    outputs = []
    for out_name in names:
        given = (keys_by_output_name or {}).get(out_name)
        default = AssetKey([graph_def.name if out_name == "result" else out_name])
        outputs.append(
            OutputSpec(
                name=out_name,
                key=to_asset_key(given) if given is not None else _prefix(default, key_prefix),
                description=graph_def.description,
                metadata={},
                group_name=group_name or "default",
                code_version=None,
                kinds=(),
            )
        )
    return _graph_assets_definition(
        graph_def.name,
        traced,
        tuple(outputs),
        inputs,
        partitions_def,
        None,
        None,
        None,
        None,
        resource_defs,
        multi=isinstance(result, Mapping),
    )
