"""Running asset checks: the context a check receives, and checks turned into events.

The executor calls `CheckRunner.evaluate` right after a node's assets materialized, in the
same work item: one `AssetCheckEvaluated` per check of each asset and partition (in a
ranged item a check function runs once per partition, and a result the asset yielded
holds for each), after its `AssetMaterialized` (which it names). A check function that
raises, returns something that is not a result, or cannot load the asset's value counts as
failed (severity ERROR, with the error's type and message); it never fails the asset or
the worker. A check function that returns None records nothing, as in Dagster.
"""

from __future__ import annotations

import inspect
import logging
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conflux.sdk._checks import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
)
from conflux.sdk._context import AssetExecutionContext
from conflux.sdk._context_log import context_logger
from conflux.sdk._execute import OutputMismatchError, _jsonable, error_type_name
from conflux.sdk._keys import AssetKey, to_asset_key

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pydantic import JsonValue

    from conflux.events import AssetCheckEvaluated, AssetMaterialized
    from conflux.sdk._asset import AssetsDefinition
    from conflux.sdk._asset_events import CheckInstance
    from conflux.sdk._definitions import Definitions
    from conflux.sdk._execute import ExecutionRequest


class CheckResultError(Exception):
    """A check function returned something other than an `AssetCheckResult` or a bool."""


@dataclass
class AssetCheckExecutionContext(AssetExecutionContext):
    """What a check knows when it runs: the asset partition it checks, the run, a logger.

    `partition_key`, `has_partition_key` and `partition_time_window` work as for assets.
    """

    check_name: str = ""
    materialization: AssetMaterialized | None = None
    """The materialization being checked (None when it is not known)."""

    @property
    def instance(self) -> CheckInstance:
        """Dagster's instance, as far as a check uses it (`get_latest_materialization_event`)."""
        from conflux.sdk._asset_events import CheckInstance

        return CheckInstance(self.materialization)


Yielded = dict[tuple[AssetKey, str], AssetCheckResult]
"""Results an asset's own function yielded, by (asset key, check name)."""


def split_check_results(node: AssetsDefinition, result: object) -> tuple[object, Yielded]:
    """Take the `AssetCheckResult`s out of what an asset with `check_specs` returned.

    Returns what is left for the outputs, and the results matched with the node's specs.

    Raises:
        OutputMismatchError: a result names no spec of the node, names one twice, or the
            function returned only check results (no output).
    """
    if not node.check_specs:
        return result, {}
    if isinstance(result, AssetCheckResult) or inspect.isgenerator(result):
        result = [result] if isinstance(result, AssetCheckResult) else list(result)
    if not isinstance(result, list | tuple) or not any(
        isinstance(r, AssetCheckResult) for r in result
    ):
        return result, {}
    checks = [r for r in result if isinstance(r, AssetCheckResult)]
    rest = [r for r in result if not isinstance(r, AssetCheckResult)]
    if not rest:
        raise OutputMismatchError(
            f"{node.node} returned check results but no output: also yield Output(value) "
            "or MaterializeResult()"
        )
    matched: Yielded = {}
    for check in checks:
        spec = _spec_for(node, check)
        slot = (spec.asset_key, spec.name)
        if slot in matched:
            raise OutputMismatchError(f"{node.node} returned two results for check {spec.name}")
        matched[slot] = check
    return (rest[0] if len(rest) == 1 and len(node.outputs) == 1 else rest), matched


def _spec_for(node: AssetsDefinition, result: AssetCheckResult) -> AssetCheckSpec:
    specs = list(node.check_specs)
    if result.asset_key is not None:
        key = to_asset_key(result.asset_key)
        specs = [s for s in specs if s.asset_key == key]
    if result.check_name is not None:
        specs = [s for s in specs if s.name == result.check_name]
    if len(specs) != 1:
        what = "no" if not specs else "more than one"
        names = [s.name for s in node.check_specs]
        raise OutputMismatchError(
            f"{node.node} returned {result!r}, which matches {what} of its check_specs "
            f"{names}: set check_name= (and asset_key= for a multi_asset)"
        )
    return specs[0]


class CheckRunner:
    """Runs a location's checks for the assets a work item materialized."""

    def __init__(
        self,
        defs: Definitions,
        *,
        load: Callable[[str, str | None, ExecutionRequest], object],
        resource: Callable[[str], object],
        worker_id: str,
        producer: str,
        errors: dict[str, BaseException] | None = None,
    ) -> None:
        self.defs = defs
        self.load = load
        """Asset key, partition key, request -> the stored value (through its IO manager)."""
        self.resource = resource
        self.worker_id = worker_id
        self.producer = producer
        self.errors = errors
        """With `materialize(raise_on_error=True)`: `work item/check` -> what a check raised."""

    def evaluate(
        self,
        node: AssetsDefinition,
        req: ExecutionRequest,
        materialized: Sequence[AssetMaterialized],
        yielded: Yielded,
    ) -> list[AssetCheckEvaluated]:
        """One `AssetCheckEvaluated` per check of every asset in `materialized`."""
        events: list[AssetCheckEvaluated] = []
        checks = self.defs.checks
        multi: dict[int, Yielded | tuple[str, str]] = {}
        for mat in materialized:
            key = AssetKey.from_user_string(mat.asset_key)
            for spec in checks.specs.get(key, ()):
                result = yielded.get((key, spec.name))
                if result is None:
                    events.append(
                        self._event(
                            spec,
                            mat,
                            req,
                            None,
                            (
                                "MissingCheckResult",
                                "the asset's function "
                                f"yielded no AssetCheckResult for check {spec.name}",
                            ),
                        )
                    )
                else:
                    events.append(self._event(spec, mat, req, result, None))
            for check in checks.functions.get(key, ()):
                if check.freshness is not None:
                    continue  # evaluated by the coordinator from the asset's last update
                if not check.multi:
                    ran = self._run_one(node, check, mat, req)
                    if ran is not None:
                        events.append(ran)
                    continue
                if id(check) not in multi:  # once per work item, for all its assets
                    multi[id(check)] = self._run_multi(node, check, mat, req)
                outcome = multi[id(check)]
                for spec in check.specs:
                    if spec.asset_key != key:
                        continue
                    if isinstance(outcome, tuple):
                        events.append(self._event(spec, mat, req, None, outcome))
                        continue
                    result = outcome.get((key, spec.name))
                    missing = (
                        "MissingCheckResult",
                        f"{check.fn.__name__} yielded no AssetCheckResult for check {spec.name}",
                    )
                    events.append(self._event(spec, mat, req, result, None if result else missing))
        return events

    def _run_multi(
        self,
        node: AssetsDefinition,
        check: AssetChecksDefinition,
        mat: AssetMaterialized,
        req: ExecutionRequest,
    ) -> Yielded | tuple[str, str]:
        """Run a multi-asset check once: its results by (asset, name), or the error."""
        name = check.fn.__name__
        try:
            kwargs: dict[str, object] = {}
            if check.context_param is not None:
                kwargs[check.context_param] = self._context(node, check, mat, req)
            for param in check.resource_params:
                kwargs[param] = self.resource(param)
            found = check.fn(**kwargs)
            results = [found] if isinstance(found, AssetCheckResult) else list(found or ())  # type: ignore[call-overload]
            matched: Yielded = {}
            for result in results:
                if not isinstance(result, AssetCheckResult):
                    raise CheckResultError(
                        f"check {name} yielded {type(result).__name__}, not an AssetCheckResult"
                    )
                spec = _multi_spec(check, result)
                matched[(spec.asset_key, spec.name)] = result
            return matched
        except Exception as exc:
            if self.errors is not None:
                self.errors.setdefault(f"{req.work_item_id}/{name}", exc)
            logging.getLogger("conflux.check").warning(
                "check %s raised:\n%s", name, "".join(traceback.format_exception(exc))
            )
            return (error_type_name(exc), str(exc) or error_type_name(exc))

    def _context(
        self,
        node: AssetsDefinition,
        check: AssetChecksDefinition,
        mat: AssetMaterialized,
        req: ExecutionRequest,
    ) -> AssetCheckExecutionContext:
        return AssetCheckExecutionContext(
            run_id=req.run_id,
            asset_keys=(check.asset_key,),
            partition_key_or_none=mat.partition_key,
            partitions_def=node.partitions_def,
            log=context_logger(f"conflux.check.{check.name}"),
            attempt=req.attempt,
            check_name=check.name,
            materialization=mat,
        )

    def _run_one(
        self,
        node: AssetsDefinition,
        check: AssetChecksDefinition,
        mat: AssetMaterialized,
        req: ExecutionRequest,
    ) -> AssetCheckEvaluated | None:
        try:
            kwargs: dict[str, object] = {}
            if check.context_param is not None:
                kwargs[check.context_param] = self._context(node, check, mat, req)
            for name in check.resource_params:
                kwargs[name] = self.resource(name)
            if check.value_param is not None:
                kwargs[check.value_param] = self.load(mat.asset_key, mat.partition_key, req)
            returned = check.fn(**kwargs)
            if returned is None:
                return None  # Dagster records no evaluation for a check that returns nothing
            result = _coerce(returned, check.name)
        except Exception as exc:
            if self.errors is not None:
                self.errors.setdefault(f"{req.work_item_id}/{check.name}", exc)
            message = str(exc) or error_type_name(exc)
            logging.getLogger("conflux.check").warning(
                "check %s on %s raised:\n%s",
                check.name,
                mat.asset_key,
                "".join(traceback.format_exception(exc)),
            )
            return self._event(check.spec, mat, req, None, (error_type_name(exc), message))
        return self._event(check.spec, mat, req, result, None)

    def _event(
        self,
        spec: AssetCheckSpec,
        mat: AssetMaterialized,
        req: ExecutionRequest,
        result: AssetCheckResult | None,
        error: tuple[str, str] | None,
    ) -> AssetCheckEvaluated:
        metadata: dict[str, JsonValue] = {}
        severity = AssetCheckSeverity.ERROR
        description = spec.description
        if result is not None:
            metadata = {str(k): _jsonable(v) for k, v in result.metadata.items()}
            severity = AssetCheckSeverity(result.severity)
            description = result.description or description
        from conflux.events import AssetCheckEvaluated

        return AssetCheckEvaluated(
            asset_key=mat.asset_key,
            partition_key=mat.partition_key,
            check_name=spec.name,
            passed=result.passed if result is not None else False,
            severity=severity.value,
            blocking=spec.blocking,
            description=description,
            metadata=metadata,
            error_type=error[0] if error else None,
            message=error[1] if error else None,
            run_id=req.run_id,
            work_item_id=req.work_item_id,
            worker_id=self.worker_id,
            attempt=req.attempt,
            materialization_event_id=mat.event_id,
            producer=self.producer,
            correlation_id=req.run_id,
            causation_id=mat.event_id,
        )


def _multi_spec(check: AssetChecksDefinition, result: AssetCheckResult) -> AssetCheckSpec:
    specs = list(check.specs)
    if result.asset_key is not None:
        key = to_asset_key(result.asset_key)
        specs = [s for s in specs if s.asset_key == key]
    if result.check_name is not None:
        specs = [s for s in specs if s.name == result.check_name]
    if len(specs) != 1:
        what = "no" if not specs else "more than one"
        raise CheckResultError(
            f"check {check.fn.__name__} yielded {result!r}, which matches {what} of its specs "
            f"{[s.name for s in check.specs]}: set asset_key= (and check_name=)"
        )
    return specs[0]


def _coerce(value: object, name: str) -> AssetCheckResult:
    if isinstance(value, AssetCheckResult):
        if value.check_name is not None and value.check_name != name:
            raise CheckResultError(
                f"check {name} returned a result for check {value.check_name!r}: drop "
                "check_name= or make it match"
            )
        return value
    if isinstance(value, bool):
        return AssetCheckResult(passed=value)
    raise CheckResultError(
        f"check {name} returned {type(value).__name__}, not an AssetCheckResult: return "
        "AssetCheckResult(passed=...) or a bool"
    )
