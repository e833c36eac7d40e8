"""Ops inside assets: `@op`, `@graph`, `@graph_asset`, `@graph_multi_asset` (Dagster's names).

An asset may be computed by a graph of ops instead of one function. The graph's function
is *traced* once, at decoration: calling an op inside it records an invocation and
returns a handle to its output(s), so the function's body says which op feeds which. The
result is an ordinary `AssetsDefinition` whose function runs the recorded ops in order,
passing values from op to op in memory: the worker executes the whole graph as one work
item, and only the graph's outputs (the assets) go through the IO manager.

An op receives, like an asset function, `context` (the asset's `AssetExecutionContext`,
also named `OpExecutionContext`), `config` (its own `Config`, from the run config under
`ops: {<asset>: {ops: {<op>: {config: ...}}}}`, or directly under `ops: {<op>: ...}`),
resources by type or name, and its inputs. Called outside a graph, an op calls its
function directly (a unit test).

Jobs made only of ops (`@job`) are not supported: see docs/porting-from-dagster.md. The
graph assets built from traced graphs are in `_graph_assets.py`.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from conflux.events import DefinitionError
from conflux.sdk._context import AssetExecutionContext
from conflux.sdk._params import inspect_params

if TYPE_CHECKING:
    from pydantic import BaseModel

    from conflux.sdk._policies import RetryPolicy

OpExecutionContext = AssetExecutionContext
"""Dagster's op context: in Conflux an op runs inside an asset and gets the asset's context."""

_NO_VALUE: Any = object()


class Nothing:
    """Dagster's type of an input that carries no value, only order (`In(Nothing)`).

    Such an input is not a parameter of the op's function; wiring an op's output to it
    makes the op run after that op.
    """


@dataclass(frozen=True)
class In:
    """An op's input (Dagster's `In`): a default value, metadata, an input manager."""

    dagster_type: object = None
    description: str | None = None
    default_value: object = _NO_VALUE
    metadata: Mapping[str, object] | None = None
    asset_key: object = None
    asset_partitions: object = None
    input_manager_key: str | None = None


@dataclass(frozen=True)
class Out:
    """An op's output (Dagster's `Out`); inside a graph asset values pass in memory."""

    dagster_type: object = None
    description: str | None = None
    is_required: bool = True
    io_manager_key: str | None = None
    metadata: Mapping[str, object] | None = None
    code_version: str | None = None


@dataclass(frozen=True)
class GraphIn:
    """A graph's input (Dagster's `GraphIn`)."""

    description: str | None = None


@dataclass(frozen=True)
class GraphOut:
    """A graph's output (Dagster's `GraphOut`)."""

    description: str | None = None


# -- tracing ------------------------------------------------------------------------------


@dataclass(eq=False)
class _Invocation:
    op: OpDefinition
    name: str
    args: dict[str, object]
    """Parameter -> a `_Handle` (an upstream op's output, or a graph input) or a constant."""


@dataclass(frozen=True, eq=False)
class _Handle:
    invocation: _Invocation | None
    output: str
    """The op's output name; for a graph input (`invocation` None), the input's name."""

    def __iter__(self) -> Iterator[_Handle]:
        raise DefinitionError(
            f"the output of op {self.invocation.name if self.invocation else self.output!r} "
            "is one value: give the op out={'a': Out(), 'b': Out()} to unpack several"
        )


class _Outputs(tuple[_Handle, ...]):
    """An op's several outputs in a graph body: unpack them, index them, or by name."""

    names: tuple[str, ...]

    def __new__(cls, handles: Sequence[_Handle], names: Sequence[str]) -> _Outputs:
        made = super().__new__(cls, handles)
        made.names = tuple(names)
        return made

    def __getattr__(self, name: str) -> _Handle:
        if name in self.names:
            return self[self.names.index(name)]
        raise AttributeError(name)


@dataclass
class _Trace:
    invocations: list[_Invocation] = field(default_factory=list)
    used: dict[str, int] = field(default_factory=dict)

    def unique(self, name: str) -> str:
        count = self.used.get(name, 0)
        self.used[name] = count + 1
        return name if count == 0 else f"{name}_{count + 1}"


_TRACE: contextvars.ContextVar[_Trace | None] = contextvars.ContextVar("conflux_graph_trace")


# -- ops ----------------------------------------------------------------------------------


class OpDefinition:
    """A function a graph asset runs (made by `@op`); calling it outside a graph calls it."""

    def __init__(
        self,
        fn: Callable[..., object],
        *,
        name: str | None = None,
        ins: Mapping[str, In] | None = None,
        out: Out | Mapping[str, Out] | None = None,
        config_schema: object = None,
        required_resource_keys: Iterable[str] | None = None,
        tags: Mapping[str, object] | None = None,
        description: str | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.description = description or inspect.getdoc(fn)
        self.tags = dict(tags or {})
        self.retry_policy = retry_policy
        self.ins = dict(ins or {})
        if isinstance(out, Mapping):
            self.outs: dict[str, Out] = dict(out)
        else:
            self.outs = {"result": out or Out()}
        params = inspect_params(fn, f"op {self.name}")
        self.context_param = params.context
        self.config_param = params.config
        self.config_type: type[BaseModel] | None = params.config_type
        self.op_config = False
        if self.config_type is None and config_schema is not None:
            from conflux.sdk._config import schema_model

            self.config_type, self.op_config = schema_model(self.name, config_schema), True
        self.resource_params = params.resources
        self.required_resource_keys = tuple(required_resource_keys or ())
        self.input_names = params.inputs
        self.order_inputs = tuple(
            n
            for n, spec in self.ins.items()
            if spec.dagster_type is Nothing and n not in params.inputs
        )
        unknown = set(self.ins) - set(self.input_names) - set(self.order_inputs)
        if unknown:
            raise DefinitionError(
                f"op {self.name}: ins names {sorted(unknown)} but the function has no such "
                "parameter"
            )

    @property
    def output_names(self) -> list[str]:
        """The op's output names, in order."""
        return list(self.outs)

    def __call__(self, *args: object, **kwargs: object) -> Any:
        trace = _TRACE.get(None)
        if trace is None:
            return self.fn(*args, **kwargs)  # a direct call (a unit test)
        return self._invoke(trace, self.name, args, kwargs)

    def alias(self, name: str) -> _AliasedOp:
        """This op under another name in a graph (Dagster's `alias`)."""
        return _AliasedOp(self, name)

    def tag(self, tags: Mapping[str, object]) -> OpDefinition:
        """Dagster's `tag`: this op (tags are kept on the definition only)."""
        return self

    def with_hooks(self, hooks: object) -> OpDefinition:
        """Dagster's `with_hooks`: accepted, hooks are not run."""
        return self

    def _invoke(
        self, trace: _Trace, name: str, args: Sequence[object], kwargs: Mapping[str, object]
    ) -> Any:
        if len(args) > len(self.input_names):
            raise DefinitionError(
                f"op {self.name} takes {len(self.input_names)} input(s) in a graph, got {len(args)}"
            )
        bound: dict[str, object] = dict(zip(self.input_names, args, strict=False))
        for key, value in kwargs.items():
            if key in self.order_inputs:
                continue  # a Nothing input: ordering only, and ops run in the order wired
            if key not in self.input_names:
                raise DefinitionError(f"op {self.name} has no input {key!r}")
            bound[key] = value
        for missing in (p for p in self.input_names if p not in bound):
            spec = self.ins.get(missing)
            if spec is not None and spec.default_value is not _NO_VALUE:
                bound[missing] = spec.default_value
            elif not _has_default(self.fn, missing):
                raise DefinitionError(
                    f"op {self.name}: input {missing!r} is not connected in the graph: pass it "
                    "the output of another op (or a graph input)"
                )
        invocation = _Invocation(self, trace.unique(name), bound)
        trace.invocations.append(invocation)
        names = self.output_names
        if len(names) == 1:
            return _Handle(invocation, names[0])
        return _Outputs([_Handle(invocation, n) for n in names], names)

    def __repr__(self) -> str:
        return f"OpDefinition({self.name!r})"


@dataclass(frozen=True)
class _AliasedOp:
    op: OpDefinition
    name: str

    def __call__(self, *args: object, **kwargs: object) -> Any:
        trace = _TRACE.get(None)
        if trace is None:
            return self.op.fn(*args, **kwargs)
        return self.op._invoke(trace, self.name, args, kwargs)


def _has_default(fn: Callable[..., object], param: str) -> bool:
    try:
        parameter = inspect.signature(fn).parameters[param]
    except (KeyError, TypeError, ValueError):
        return False
    return parameter.default is not inspect.Parameter.empty


@overload
def op(compute_fn: Callable[..., object], /) -> OpDefinition: ...


@overload
def op(
    compute_fn: None = None,
    *,
    name: str | None = ...,
    description: str | None = ...,
    ins: Mapping[str, In] | None = ...,
    out: Out | Mapping[str, Out] | None = ...,
    config_schema: object = ...,
    required_resource_keys: Iterable[str] | None = ...,
    tags: Mapping[str, object] | None = ...,
    version: str | None = ...,
    retry_policy: RetryPolicy | None = ...,
    code_version: str | None = ...,
    pool: str | None = ...,
) -> Callable[[Callable[..., object]], OpDefinition]: ...


def op(
    compute_fn: Callable[..., object] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    config_schema: object = None,
    required_resource_keys: Iterable[str] | None = None,
    tags: Mapping[str, object] | None = None,
    version: str | None = None,
    retry_policy: RetryPolicy | None = None,
    code_version: str | None = None,
    pool: str | None = None,
) -> OpDefinition | Callable[[Callable[..., object]], OpDefinition]:
    """Declare an op: a step of a graph asset (Dagster's `@op`).

    Example:
        >>> @op
        ... def add_one(value: int) -> int:
        ...     return value + 1
        ...
        >>> @graph_asset
        ... def incremented(upstream_asset: int) -> int:
        ...     return add_one(add_one(upstream_asset))
    """
    del version, code_version, pool

    def wrap(fn: Callable[..., object]) -> OpDefinition:
        return OpDefinition(
            fn,
            name=name,
            ins=ins,
            out=out,
            config_schema=config_schema,
            required_resource_keys=required_resource_keys,
            tags=tags,
            description=description,
            retry_policy=retry_policy,
        )

    return wrap(compute_fn) if compute_fn is not None else wrap


# -- graphs -------------------------------------------------------------------------------


class GraphDefinition:
    """A composition of ops (made by `@graph`).

    Used inside graph assets, or turned into assets with `AssetsDefinition.from_graph`.
    """

    def __init__(
        self,
        fn: Callable[..., object],
        *,
        name: str | None = None,
        ins: Mapping[str, object] | None = None,
        out: object = None,
        description: str | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.description = description or inspect.getdoc(fn)
        self.ins = dict(ins or {})
        self.out = out
        self.input_names = [
            n
            for n, p in inspect.signature(fn).parameters.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def __call__(self, *args: object, **kwargs: object) -> Any:
        trace = _TRACE.get(None)
        if trace is None:
            raise DefinitionError(
                f"graph {self.name} runs inside an asset: wrap it with @graph_asset or "
                "AssetsDefinition.from_graph(...) (jobs of ops are not supported)"
            )
        return self.fn(*args, **kwargs)  # nested: its ops join the outer trace

    def __repr__(self) -> str:
        return f"GraphDefinition({self.name!r})"


@overload
def graph(compose_fn: Callable[..., object], /) -> GraphDefinition: ...


@overload
def graph(
    compose_fn: None = None,
    *,
    name: str | None = ...,
    description: str | None = ...,
    ins: Mapping[str, object] | None = ...,
    out: object = ...,
    config: object = ...,
    tags: Mapping[str, object] | None = ...,
) -> Callable[[Callable[..., object]], GraphDefinition]: ...


def graph(
    compose_fn: Callable[..., object] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, object] | None = None,
    out: object = None,
    config: object = None,
    tags: Mapping[str, object] | None = None,
) -> GraphDefinition | Callable[[Callable[..., object]], GraphDefinition]:
    """Declare a graph of ops (Dagster's `@graph`), for use in graph assets."""
    del config, tags

    def wrap(fn: Callable[..., object]) -> GraphDefinition:
        return GraphDefinition(fn, name=name, ins=ins, out=out, description=description)

    return wrap(compose_fn) if compose_fn is not None else wrap


@dataclass(frozen=True)
class TracedGraph:
    """A graph body traced into invocations, and what it returns."""

    name: str
    invocations: tuple[_Invocation, ...]
    inputs: tuple[str, ...]
    result: object
    """A `_Handle`, a dict of output name -> `_Handle`, a tuple of them, or None."""

    def run(
        self, context: AssetExecutionContext, inputs: Mapping[str, object], resources: Any
    ) -> dict[tuple[str, str], object]:
        """Run the ops in order; return every output value by (invocation name, output)."""
        values: dict[tuple[str, str], object] = {}
        for inv in self.invocations:
            produced = _run_op(inv, context, values, inputs, resources)
            for out_name, value in produced.items():
                values[(inv.name, out_name)] = value
        return values

    def value_of(
        self,
        handle: object,
        values: Mapping[tuple[str, str], object],
        inputs: Mapping[str, object],
    ) -> object:
        """The value a handle stands for after a run."""
        if isinstance(handle, _Handle):
            if handle.invocation is None:
                return inputs[handle.output]
            return values[(handle.invocation.name, handle.output)]
        return handle


def trace_graph(fn: Callable[..., object], name: str, inputs: Sequence[str]) -> TracedGraph:
    """Trace a graph body: call it with handles for its inputs, recording op invocations.

    Raises:
        DefinitionError: the body does something other than wire ops together.
    """
    trace = _Trace()
    token = _TRACE.set(trace)
    try:
        result = fn(**{p: _Handle(None, p) for p in inputs})
    finally:
        _TRACE.reset(token)
    return TracedGraph(name, tuple(trace.invocations), tuple(inputs), result)


def _run_op(
    inv: _Invocation,
    context: AssetExecutionContext,
    values: Mapping[tuple[str, str], object],
    inputs: Mapping[str, object],
    resources: Any,
) -> dict[str, object]:
    """Call one op with its inputs, context, config and resources; its outputs by name."""
    from conflux.sdk._results import Output

    definition = inv.op
    kwargs: dict[str, object] = {}
    for param, arg in inv.args.items():
        if isinstance(arg, _Handle):
            kwargs[param] = (
                inputs[arg.output]
                if arg.invocation is None
                else values[(arg.invocation.name, arg.output)]
            )
        else:
            kwargs[param] = arg
    import dataclasses

    op_context = dataclasses.replace(context, output_names=tuple(definition.output_names))
    if definition.config_type is not None:
        from conflux.sdk._config import build_config

        raw = _op_config(context, inv.name)
        config = build_config(definition.config_type, raw, f"op {inv.name}")  # type: ignore[arg-type]
        if definition.config_param is not None:
            kwargs[definition.config_param] = config
        if definition.op_config:
            op_context = dataclasses.replace(op_context, op_config=config.model_dump())
    if definition.context_param is not None:
        kwargs[definition.context_param] = op_context
    for res in definition.resource_params:
        kwargs[res] = getattr(resources, res)
    result = definition.fn(**kwargs)
    names = definition.output_names
    if inspect.isgenerator(result):
        result = list(result)
        if any(isinstance(i, Output) for i in result):
            # events an op yields beside its outputs (AssetMaterialization, ...) are logged
            for item in result:
                if not isinstance(item, Output):
                    context.log.info("op %s yielded %r", inv.name, item)
            result = [i for i in result if isinstance(i, Output)]
    if len(names) == 1:
        if isinstance(result, list) and len(result) == 1 and isinstance(result[0], Output):
            result = result[0]
        return {names[0]: result.value if isinstance(result, Output) else result}
    out: dict[str, object] = {}
    items = list(result) if isinstance(result, list | tuple) else [result]
    if items and all(isinstance(i, Output) for i in items):
        for item in items:
            assert isinstance(item, Output)
            out[item.output_name or "result"] = item.value
        return out
    if len(items) != len(names):
        raise DefinitionError(
            f"op {inv.name} has outputs {names} but returned {len(items)} value(s): return a "
            "tuple in that order, or yield Output(value, output_name=...)"
        )
    return dict(zip(names, items, strict=True))


def _op_config(context: AssetExecutionContext, op_name: str) -> object:
    """An op's config in the run config: nested under its asset, or directly by name."""
    run_config = context.run_config or {}
    ops = run_config.get("ops") if isinstance(run_config, Mapping) else None
    if not isinstance(ops, Mapping):
        return None
    for node in (context.node_name, *(str(k) for k in context.asset_keys)):
        entry = ops.get(node) if node else None
        if isinstance(entry, Mapping) and isinstance(entry.get("ops"), Mapping):
            inner = entry["ops"].get(op_name)
            if isinstance(inner, Mapping):
                return inner.get("config")
    entry = ops.get(op_name)
    return entry.get("config") if isinstance(entry, Mapping) else None
