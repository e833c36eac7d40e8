"""Execute one node x partition (or x range of partitions) and say what happened as events.

Shared by workers and by the in-process `materialize()`, so a test run and a production
run execute user code the same way. A user exception fails the partition (a
`PartitionFailed` event per asset) and never escapes.

A ranged work item (an asset with a `BackfillPolicy`) calls the function once for all
its partitions (`context.partition_key_range`); what it returns is stored per partition
(a dict keyed by exactly the range's keys; `None` and `MaterializeResult` store nothing)
and one event per asset and partition says how it went.
"""

from __future__ import annotations

import hashlib
import inspect
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conflux.events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    PartitionFailed,
    PartitionRange,
    PartitionStarted,
    UpstreamRef,
    WorkItemDispatched,
)
from conflux.sdk._context import AssetExecutionContext
from conflux.sdk._context_log import context_logger
from conflux.sdk._definitions import IO_MANAGER_KEY, Definitions
from conflux.sdk._input_partitions import InputPartitions
from conflux.sdk._io_manager import InputContext, IOManager, OutputContext
from conflux.sdk._keys import AssetKey
from conflux.sdk._metadata import metadata_to_json
from conflux.sdk._resources_runtime import ResourceSet
from conflux.sdk._results import DataVersion, MaterializeResult, Output

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from pydantic import JsonValue

    from conflux.sdk._asset import AssetsDefinition, InputSpec, OutputSpec


@dataclass(frozen=True)
class ExecutionRequest:
    """One node x partition (or x range of partitions) to execute, as a work item says."""

    node: str
    partition_key: str | None
    run_id: str
    work_item_id: str
    attempt: int = 1
    upstream: tuple[UpstreamRef, ...] = ()
    causation_id: str | None = None
    partition_range: PartitionRange | None = None
    """A ranged item's first and last key (then `partition_key` is None)."""
    partition_count: int = 1
    partition_keys: tuple[str, ...] | None = None
    """A ranged item's keys when listed (dynamic partitions); else expanded from the range."""
    upstream_spans: tuple[tuple[int, ...], ...] = ()
    """Per partition of the range: the spans of `upstream` it reads (see the dispatch)."""
    run_config: Mapping[str, JsonValue] | None = None
    """The run's config (Dagster's shape); the node's part configures its `config`."""
    tags: Mapping[str, str] | None = None

    @classmethod
    def from_dispatch(cls, item: WorkItemDispatched) -> ExecutionRequest:
        """What a dispatched work item asks for."""
        return cls(
            node=item.node,
            partition_key=item.partition_key,
            run_id=item.run_id,
            work_item_id=item.work_item_id,
            attempt=item.attempt,
            upstream=item.upstream,
            causation_id=item.event_id,
            partition_range=item.partition_range,
            partition_count=item.partition_count,
            partition_keys=item.partition_keys,
            upstream_spans=item.upstream_spans,
            run_config=item.run_config,
            tags=item.tags,
        )

    def upstream_of(self, index: int) -> tuple[UpstreamRef, ...]:
        """What partition `index` of a ranged item reads (everything when not ranged)."""
        if self.partition_range is None:
            return self.upstream
        flat = self.upstream_spans[index] if index < len(self.upstream_spans) else ()
        return tuple(
            ref
            for lo, hi in zip(flat[::2], flat[1::2], strict=True)
            for ref in self.upstream[lo:hi]
        )


class RangeError(Exception):
    """A ranged work item's partitions cannot be told from its range (the definition changed)."""


def error_type_name(exc: BaseException) -> str:
    """The qualified name of an exception's type, as events record it.

    Builtins stay short (`ValueError`); others carry their module
    (`requests.exceptions.Timeout`).
    """
    return f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")


class OutputMismatchError(Exception):
    """An asset function returned something that does not fit its outputs."""


def _jsonable(value: object) -> JsonValue:
    from conflux.sdk._metadata import _plain

    return _plain(value)


class IOManagerLookupError(Exception):
    """An input names a resource that is not an IO manager."""


class NodeExecutor:
    """Executes nodes of one `Definitions`; owns resource set-up and tear-down."""

    def __init__(
        self,
        defs: Definitions,
        *,
        default_io_manager: IOManager,
        worker_id: str,
        producer: str,
        keep_errors: bool = False,
    ) -> None:
        self.defs = defs
        self.worker_id = worker_id
        self.producer = producer
        self.resources = ResourceSet(defs, default_io_manager=default_io_manager)
        """Resources as assets receive them (set up once, torn down by `close`)."""
        self.io_manager = self.resources.io_manager(IO_MANAGER_KEY, None)
        self.keep_errors = keep_errors
        self.errors: dict[str, BaseException] = {}
        """With `keep_errors`: work item id -> what user code raised (`materialize`
        re-raises the first); a worker keeps none."""
        self.check_errors: dict[str, BaseException] = {}
        """With `keep_errors`: `work item id/check name` -> what a check function raised."""
        from conflux.sdk._check_context import CheckRunner

        self.checks = CheckRunner(
            defs,
            load=self.load_stored,
            resource=self._resource,
            worker_id=worker_id,
            producer=producer,
            errors=self.check_errors if keep_errors else None,
        )

    def close(self) -> None:
        """Tear down every resource that was set up."""
        self.resources.close()

    def partitions(self, node: AssetsDefinition, req: ExecutionRequest) -> list[str | None]:
        """The partitions `req` covers, in order: its key, or a ranged item's keys.

        Raises:
            RangeError: the range does not expand to the item's keys here (the location's
                partitions definition changed since the run was planned).
        """
        rng = req.partition_range
        if rng is None:
            return [req.partition_key]
        pdef = node.partitions_def
        if pdef is None:
            raise RangeError(f"{node.node} is not partitioned here, but was planned for {rng}")
        from conflux.sdk.partitions import MultiPartitionsDefinition, keys_in_key_range

        try:
            keys: list[str] = list(
                req.partition_keys or keys_in_key_range(pdef, rng.start, rng.end)
            )
        except Exception as exc:
            raise RangeError(f"{node.node}: partitions {rng.start}..{rng.end}: {exc}") from exc
        if len(keys) != req.partition_count:
            raise RangeError(
                f"{node.node}: partitions {rng.start}..{rng.end} are {len(keys)} keys here, but "
                f"{req.partition_count} when the run was planned: the partitions definition "
                "changed; request the range again"
            )
        if isinstance(pdef, MultiPartitionsDefinition):
            keys = [pdef.get_partition_key_from_str(k) for k in keys]
        return list(keys)

    def _partitions_or_ends(
        self, node: AssetsDefinition, req: ExecutionRequest
    ) -> list[str | None]:
        """`partitions`, or the range's first key when it cannot be expanded (to say so)."""
        try:
            return self.partitions(node, req)
        except RangeError:
            assert req.partition_range is not None
            return [req.partition_range.start]

    def started(self, req: ExecutionRequest) -> list[PartitionStarted]:
        """The events that announce `req` is starting (one per asset and partition)."""
        node = self.defs.node_named(req.node)
        return [
            PartitionStarted(
                asset_key=out.key.to_user_string(),
                partition_key=key,
                run_id=req.run_id,
                work_item_id=req.work_item_id,
                worker_id=self.worker_id,
                attempt=req.attempt,
                producer=self.producer,
                correlation_id=req.run_id,
                causation_id=req.causation_id,
            )
            for out in node.outputs
            for key in self._partitions_or_ends(node, req)
        ]

    def run(
        self, req: ExecutionRequest
    ) -> list[AssetMaterialized | AssetObserved | PartitionFailed | AssetCheckEvaluated]:
        """Execute `req`: an `AssetMaterialized`, or a `PartitionFailed`, per asset and partition.

        After the materializations come the assets' checks (`AssetCheckEvaluated`, one per
        check and partition), run here, in the same work item.
        """
        from conflux.sdk._check_context import split_check_results

        node = self.defs.node_named(req.node)
        started = time.perf_counter()
        try:
            keys = self.partitions(node, req)
        except RangeError as exc:
            return [*self._failed(node, req, exc, self._partitions_or_ends(node, req))]
        if node.is_observable:  # an observable source asset: observed, never materialized
            from conflux.sdk._asset_events import observe

            return [*observe(self, node, req, keys)]
        context = AssetExecutionContext(
            run_id=req.run_id,
            asset_keys=tuple(node.keys),
            partition_key_or_none=req.partition_key,
            partitions_def=node.partitions_def,
            log=context_logger(f"conflux.asset.{node.node}"),
            attempt=req.attempt,
            range_keys=tuple(k for k in keys if k is not None)
            if req.partition_range is not None
            else None,
            input_partitions=InputPartitions(self.defs, node, keys),
            resources=self.resources.namespace(req.run_config),
            run_config=req.run_config,
            output_names=tuple(out.name for out in node.outputs),
            node_name=node.node,
            run_tags=dict(req.tags or {}),
            _check_keys=tuple(s.key for s in node.check_specs),
        )
        try:
            kwargs = self._arguments(node, req, context)
            assert node.fn is not None, "external assets are never dispatched"
            result, yielded = split_check_results(node, _expand_check_results(node.fn(**kwargs)))
            produced = dict(self._outputs(node, result))
            values = {
                out.key: self._per_partition(node, out, produced[out.key], keys)
                for out in node.outputs
            }
            events = [
                self._materialized(node, out, value, req, context, started, index, key)
                for out in node.outputs
                for index, (key, value) in enumerate(zip(keys, values[out.key], strict=True))
            ]
        except Exception as exc:
            return [*self._failed(node, req, exc, keys)]
        return [*events, *self.checks.evaluate(node, req, events, yielded)]

    # -- inputs ---------------------------------------------------------------------------

    def _arguments(
        self, node: AssetsDefinition, req: ExecutionRequest, context: AssetExecutionContext
    ) -> dict[str, object]:
        kwargs: dict[str, object] = {}
        if node.config_type is not None:
            from conflux.sdk._config import build_config, node_config

            raw = node_config(req.run_config, node.node, node.op_name or node.node)
            config = build_config(node.config_type, raw, f"asset {node.outputs[0].key}")
            if node.config_param is not None:
                kwargs[node.config_param] = config
            if node.op_config:
                context.op_config = config.model_dump()
        if node.context_param is not None:
            kwargs[node.context_param] = context
        for name in node.resource_params:
            kwargs[name] = self._resource(name, req.run_config)
        for inp in node.inputs:
            kwargs[inp.param] = self._load(node, inp, req)
        return kwargs

    def _load(self, node: AssetsDefinition, inp: InputSpec, req: ExecutionRequest) -> object:
        """Load one input through the IO manager that stores it (or `input_manager_key`)."""
        key = inp.key.to_user_string()
        refs = [ref for ref in req.upstream if ref.asset_key == key]
        if not refs:
            # the mapping reads no upstream partition (before the upstream's first one, or a
            # self-dependency's first partition): Dagster's IO managers load None then
            return None
        partition_keys = tuple(ref.partition_key for ref in refs) or (None,)
        up = self._upstream_output(inp.key, partition_keys)
        manager = self.resources.io_manager(
            inp.input_manager_key or self._io_key(inp.key), req.run_config
        )
        loader = getattr(manager, "load_input", None)
        if loader is None:
            raise IOManagerLookupError(
                f"{node.outputs[0].key} loads {key} with resource "
                f"{inp.input_manager_key or self._io_key(inp.key)!r}, which is not an IO manager"
            )
        return loader(
            InputContext(
                asset_key=inp.key,
                partition_key=partition_keys[0] if len(partition_keys) == 1 else None,
                partition_keys=partition_keys,
                downstream_asset_key=node.outputs[0].key.to_user_string(),
                multi_partition=len(refs) > 1,
                name=inp.param,
                upstream_output=up,
                definition_metadata=up.definition_metadata,
                partitions_def=up.partitions_def,
                resources=self.resources.namespace(req.run_config),
                downstream_partition_key=self._run_partition(node, req),
            )
        )

    @staticmethod
    def _run_partition(node: AssetsDefinition, req: ExecutionRequest) -> str | None:
        """The one partition the call is for (None: unpartitioned, or a range)."""
        from conflux.sdk.partitions import MultiPartitionsDefinition

        key = req.partition_key if req.partition_range is None else None
        if key is not None and isinstance(node.partitions_def, MultiPartitionsDefinition):
            return node.partitions_def.get_partition_key_from_str(key)
        return key

    def load_stored(
        self, asset_key: str, partition_key: str | None, req: ExecutionRequest
    ) -> object:
        """An asset partition's stored value, through the IO manager that stores it.

        What a check's parameter named after its asset receives.
        """
        key = AssetKey.from_user_string(asset_key)
        up = self._upstream_output(key, (partition_key,))
        manager = self.resources.io_manager(self._io_key(key), req.run_config)
        return manager.load_input(
            InputContext(
                asset_key=key,
                partition_key=partition_key,
                partition_keys=(partition_key,),
                downstream_asset_key=asset_key,
                upstream_output=up,
                definition_metadata=up.definition_metadata,
                partitions_def=up.partitions_def,
                resources=self.resources.namespace(req.run_config),
            )
        )

    def _io_key(self, key: AssetKey) -> str:
        """The IO manager resource key that stores `key` (`io_manager` unless told)."""
        try:
            node = self.defs.node_for(key)
        except Exception:  # another location's asset: the default
            return IO_MANAGER_KEY
        for out in node.outputs:
            if out.key == key:
                return out.io_manager_key or IO_MANAGER_KEY
        return IO_MANAGER_KEY

    def _upstream_output(
        self, key: AssetKey, partition_keys: tuple[str | None, ...]
    ) -> OutputContext:
        """The `upstream_output` of an input: what Dagster says about the stored output."""
        try:
            node = self.defs.node_for(key)
        except Exception:
            return OutputContext(asset_key=key, partition_keys=partition_keys)
        out = next(o for o in node.outputs if o.key == key)
        return OutputContext(
            asset_key=key,
            partition_key=partition_keys[0] if len(partition_keys) == 1 else None,
            partition_keys=partition_keys,
            name=out.name,
            step_key=node.op_name or node.node,
            definition_metadata=out.metadata,
            partitions_def=node.partitions_def,
        )

    def _resource(self, name: str, run_config: Mapping[str, JsonValue] | None = None) -> object:
        return self.resources.get(name, run_config)

    # -- outputs --------------------------------------------------------------------------

    def _outputs(self, node: AssetsDefinition, result: object) -> Iterator[tuple[AssetKey, object]]:
        """Pair what the function returned with the node's outputs."""
        outputs = node.outputs
        if inspect.isgenerator(result):
            result = list(result)
        if len(outputs) == 1:
            if (
                isinstance(result, list)
                and len(result) == 1
                and isinstance(result[0], Output | MaterializeResult)
            ):
                result = result[0]
            yield outputs[0].key, result
            return
        if result is None or (isinstance(result, list) and not result):
            # nothing returned: every output materialized with no value (as Dagster does for
            # `@multi_asset(specs=...)`), or left out when it is not required
            for each in outputs:
                yield each.key, MaterializeResult()
            return
        items = list(result) if isinstance(result, list | tuple) else [result]
        by_name = {out.name: out for out in outputs}
        by_key = {out.key: out for out in outputs}
        named = all(
            (isinstance(i, Output) and i.output_name is not None)
            or (isinstance(i, MaterializeResult) and i.asset_key is not None)
            for i in items
        )
        if named:
            from conflux.sdk._keys import to_asset_key

            seen: set[AssetKey] = set()
            for item in items:
                if isinstance(item, Output):
                    out = by_name.get(item.output_name or "")
                else:
                    assert isinstance(item, MaterializeResult) and item.asset_key is not None
                    out = by_key.get(to_asset_key(item.asset_key))
                if out is None:
                    raise OutputMismatchError(f"{node.node} returned an unknown output: {item!r}")
                seen.add(out.key)
                yield out.key, item
            missing = [str(o.key) for o in outputs if o.key not in seen and o.is_required]
            if missing:
                raise OutputMismatchError(f"{node.node} returned no value for {missing}")
            for each in outputs:
                if each.key not in seen:  # an optional output the function left out
                    yield each.key, MaterializeResult()
            return
        if len(items) != len(outputs):
            raise OutputMismatchError(
                f"{node.node} computes {len(outputs)} assets but returned {len(items)} values: "
                "return a tuple in the order of outs, or Output(..., output_name=...) per asset"
            )
        for out, item in zip(outputs, items, strict=True):
            yield out.key, item

    @staticmethod
    def _per_partition(
        node: AssetsDefinition, out: OutputSpec, value: object, keys: list[str | None]
    ) -> list[object]:
        """What one output gave, for each partition of the work item (checked, not stored).

        One partition: the value itself. A range: `MaterializeResult` and `None` for every
        partition; otherwise a dict keyed by exactly the range's keys, split per partition.

        Raises:
            OutputMismatchError: a range's value that is not such a dict.
        """
        if len(keys) == 1:
            return [value]
        if isinstance(value, MaterializeResult) or value is None:
            return [value] * len(keys)
        wrapper = value if isinstance(value, Output) else None
        inner = wrapper.value if wrapper is not None else value
        if inner is None:
            return [value] * len(keys)
        wanted = {str(k) for k in keys}
        if (
            isinstance(inner, dict)
            and {str(k) for k in inner} == wanted
            and len(inner) == len(wanted)
        ):
            by_key = {str(k): v for k, v in inner.items()}
            if wrapper is None:
                return [by_key[str(k)] for k in keys]
            return [
                Output(by_key[str(k)], metadata=wrapper.metadata, data_version=wrapper.data_version)
                for k in keys
            ]
        first, last = keys[0], keys[-1]
        got = (
            f"a dict with keys {_some(sorted(map(str, inner)))}"
            if isinstance(inner, dict)
            else f"a {type(inner).__name__}"
        )
        raise OutputMismatchError(
            f"{node.node} ran once for the {len(keys)} partitions {first}..{last} (its "
            f"BackfillPolicy) and returned {got} for {out.key.to_user_string()}: return a dict "
            "{partition_key: value} with exactly the keys of context.partition_keys (each is "
            "stored as that partition's value), or MaterializeResult() / None to store nothing"
        )

    def _materialized(
        self,
        node: AssetsDefinition,
        out: OutputSpec,
        value: object,
        req: ExecutionRequest,
        context: AssetExecutionContext,
        started: float,
        index: int = 0,
        partition_key: str | None = None,
    ) -> AssetMaterialized:
        key = out.key.to_user_string()
        if req.partition_range is None:
            partition_key = req.partition_key
        upstream = req.upstream_of(index)
        metadata: dict[str, JsonValue] = {}
        version: DataVersion | str | None = None
        fingerprint: str | None = None
        store = True
        if isinstance(value, MaterializeResult):
            metadata.update(metadata_to_json(value.metadata))
            version = value.data_version
            store = value.value is not None
            value = value.value
        elif isinstance(value, Output):
            metadata.update(metadata_to_json(value.metadata))
            version = value.data_version
            value = value.value
        if value is None and node.returns_none:
            store = False  # `-> None`: nothing to store, as in Dagster
        if store:
            output_context = OutputContext(
                asset_key=out.key,
                partition_key=partition_key,
                run_id=req.run_id,
                name=out.name,
                step_key=node.op_name or node.node,
                definition_metadata=out.metadata,
                partitions_def=node.partitions_def,
                resources=context.resources,
            )
            manager = self.resources.io_manager(
                out.io_manager_key or IO_MANAGER_KEY, req.run_config
            )
            handled = manager.handle_output(output_context, value)
            fingerprint = handled if isinstance(handled, str) else None
            metadata.update(metadata_to_json(output_context.get_logged_metadata()))
        for extra in (context._metadata.get(""), context._metadata.get(out.name)):
            if extra:
                metadata.update({k: _jsonable(v) for k, v in extra.items()})
        data_version = (
            (version.value if isinstance(version, DataVersion) else version)
            or fingerprint
            or self._derived_version(out, req, upstream, partition_key)
        )
        return AssetMaterialized(
            asset_key=key,
            partition_key=partition_key,
            data_version=data_version,
            code_version=out.code_version,
            source="executed",
            upstream=tuple(
                ref for ref in upstream if ref.asset_key in self._upstream_keys(node, out)
            ),
            metadata=metadata,
            run_id=req.run_id,
            work_item_id=req.work_item_id,
            worker_id=self.worker_id,
            attempt=req.attempt,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            producer=self.producer,
            correlation_id=req.run_id,
            causation_id=req.causation_id,
        )

    @staticmethod
    def _upstream_keys(node: AssetsDefinition, out: OutputSpec) -> set[str]:
        return {key.to_user_string() for key, _, _ in node.upstream_of(out)}

    @staticmethod
    def _derived_version(
        out: OutputSpec,
        req: ExecutionRequest,
        upstream: tuple[UpstreamRef, ...],
        partition_key: str | None,
    ) -> str:
        """Derive a version from the code version and what was read.

        Used when the asset gave no version and stored no value, so that equal code over
        equal inputs yields an equal version. A partition of a range adds its key (its
        work item covers other partitions too).
        """
        parts = [out.code_version or req.work_item_id]
        parts += sorted(f"{r.asset_key}[{r.partition_key}]={r.data_version}" for r in upstream)
        if req.partition_range is not None:
            parts.append(f"partition={partition_key}")
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]

    def _failed(
        self,
        node: AssetsDefinition,
        req: ExecutionRequest,
        exc: BaseException,
        keys: list[str | None],
    ) -> list[AssetMaterialized | PartitionFailed | AssetCheckEvaluated]:
        """One `PartitionFailed` per asset and partition.

        A range's traceback is on its first partition's event only (one call failed them all).
        """
        if self.keep_errors:
            self.errors[req.work_item_id] = exc
        error_type = error_type_name(exc)
        tb = "".join(traceback.format_exception(exc))
        from conflux.sdk._definitions_tools import RetryRequested

        retry = exc if isinstance(exc, RetryRequested) else None
        return [
            PartitionFailed(
                asset_key=out.key.to_user_string(),
                partition_key=key,
                run_id=req.run_id,
                work_item_id=req.work_item_id,
                worker_id=self.worker_id,
                attempt=req.attempt,
                error_type=error_type,
                message=str(exc) or error_type,
                traceback=tb if index == 0 else "",
                retry_requested=retry.max_retries if retry is not None else None,
                retry_after_s=retry.seconds_to_wait if retry is not None else None,
                producer=self.producer,
                correlation_id=req.run_id,
                causation_id=req.causation_id,
            )
            for out in node.outputs
            for index, key in enumerate(keys)
        ]


def _as_result(item: object) -> object:
    """A yielded `AssetMaterialization` of the node's own asset, as a `MaterializeResult`.

    Dagster lets an asset yield one for an output it stores nothing for. Matched by name
    and shape, so that this module needs no import of the sensor events' module.
    """
    if type(item).__name__ == "AssetMaterialization" and hasattr(item, "asset_key"):
        metadata = getattr(item, "metadata", None) or {}
        return MaterializeResult(asset_key=item.asset_key, metadata=metadata)
    return item


def _expand_check_results(result: object) -> object:
    """`MaterializeResult(check_results=[...])` as the results beside the materialization."""
    import dataclasses

    items = list(result) if inspect.isgenerator(result) else result
    items = [_as_result(i) for i in items] if isinstance(items, list | tuple) else _as_result(items)
    if isinstance(items, MaterializeResult) and items.check_results:
        return [dataclasses.replace(items, check_results=()), *items.check_results]
    if isinstance(items, list | tuple) and any(
        isinstance(i, MaterializeResult) and i.check_results for i in items
    ):
        out: list[object] = []
        for item in items:
            if isinstance(item, MaterializeResult) and item.check_results:
                out += [dataclasses.replace(item, check_results=()), *item.check_results]
            else:
                out.append(item)
        return out
    return items


def _some(keys: list[str], shown: int = 5) -> str:
    """A few keys for a message, and how many more."""
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(repr(k) for k in keys[:shown]) + more
