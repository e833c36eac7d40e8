"""Asset checks: `@asset_check`, `AssetCheckSpec`, `AssetCheckResult` (Dagster's names).

A check is a function the worker runs right after the asset it targets materialized, in
the same work item and for the same partition; its result is an `AssetCheckEvaluated`
event. A *blocking* check that fails (with severity ERROR) stops the asset's dependents in
the run: the coordinator skips them. Checks are declared two ways:

- `@asset_check(asset=orders)` on a function of its own, which may receive the asset's
  value (loaded through the IO manager), the context and resources;
- `@asset(check_specs=[AssetCheckSpec("positive", asset="orders")])`, where the asset's
  function yields (or returns) `AssetCheckResult`s with its output;
- `@multi_asset_check(specs=[...])`: one function yields the results of several checks
  (of one or several assets); the worker runs it once in each work item that materializes
  one of those assets, and records the results of that item's assets' checks.

`Definitions(asset_checks=[...])` validates them: the target asset must be defined (and
computed) in the location, and check names are unique per asset.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from conflux.events import AssetCheckSnapshot, DefinitionError, UnknownDependencyError
from conflux.sdk._asset import CONTEXT_NAMES, AssetsDefinition
from conflux.sdk._keys import AssetKey, CoercibleToAssetKey, to_asset_key

if TYPE_CHECKING:
    from conflux.sdk._automation import AutomationCondition, SelectionResolver
    from conflux.sdk._definitions import Definitions
    from conflux.sdk._freshness import FreshnessCheckParams


@dataclass(frozen=True)
class AssetCheckKey:
    """A check's identity: the asset it checks and its name (Dagster's `AssetCheckKey`)."""

    asset_key: AssetKey
    name: str

    def to_user_string(self) -> str:
        """`asset:name`, as `conflux` prints a check."""
        return f"{self.asset_key.to_user_string()}:{self.name}"


class UnknownCheckTargetError(UnknownDependencyError):
    """An asset check targets an asset that its location does not compute."""


class DuplicateCheckNameError(DefinitionError):
    """Two checks of one asset share a name."""


class ExternalCheckTargetWarning(UserWarning):
    """A check targets an asset no worker of its location computes, so it never runs.

    Dagster accepts such checks (the asset becomes external) and can run them on their
    own; Conflux runs checks with their asset's materialization.
    """


class AssetCheckSeverity(enum.Enum):
    """How bad a failed check is: ERROR blocks dependents (if the check is blocking)."""

    WARN = "WARN"
    ERROR = "ERROR"


CheckTarget = AssetsDefinition | CoercibleToAssetKey


def _target_key(asset: CheckTarget, what: str) -> AssetKey:
    if isinstance(asset, AssetsDefinition):
        if len(asset.outputs) != 1:
            raise DefinitionError(
                f"{what}: asset={asset.node} computes {len(asset.outputs)} assets: pass "
                "the AssetKey (or key string) of the one to check",
                asset_key=asset.node,
            )
        return asset.key
    return to_asset_key(asset)


@dataclass(frozen=True)
class AssetCheckResult:
    """The outcome of one check: passed or not, with metadata for people.

    Example:
        >>> @asset_check(asset=orders, blocking=True)
        ... def no_nulls(orders: list[dict[str, object]]) -> AssetCheckResult:
        ...     nulls = sum(1 for row in orders if row["id"] is None)
        ...     return AssetCheckResult(passed=nulls == 0, metadata={"nulls": nulls})
    """

    passed: bool
    metadata: Mapping[str, object] = field(default_factory=dict)
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    description: str | None = None
    asset_key: CoercibleToAssetKey | None = None
    """Which asset (needed only when an asset yielding results computes several)."""
    check_name: str | None = None
    """Which check (needed only when an asset yielding results has several specs)."""


class AssetCheckSpec:
    """A check declared by name, whose result the asset's own function yields.

    Example:
        >>> @asset(check_specs=[AssetCheckSpec("positive", asset="orders", blocking=True)])
        ... def orders() -> Iterator[object]:
        ...     rows = fetch()
        ...     yield Output(rows)
        ...     yield AssetCheckResult(passed=all(r["amount"] > 0 for r in rows))
    """

    __slots__ = ("asset_key", "automation_condition", "blocking", "description", "name")

    def __init__(
        self,
        name: str,
        *,
        asset: CheckTarget,
        description: str | None = None,
        blocking: bool = False,
        automation_condition: AutomationCondition | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise DefinitionError(f"an asset check needs a name, not {name!r}")
        self.name = name
        self.asset_key = _target_key(asset, f"check {name}")
        self.description = description
        self.blocking = blocking
        self.automation_condition = automation_condition

    @property
    def key(self) -> AssetCheckKey:
        """The check's key (asset and name)."""
        return AssetCheckKey(self.asset_key, self.name)

    def to_snapshot(self, resolve: SelectionResolver | None = None) -> AssetCheckSnapshot:
        """The check as the coordinator sees it."""
        condition = self.automation_condition
        return AssetCheckSnapshot(
            name=self.name,
            asset_key=self.asset_key.to_user_string(),
            blocking=self.blocking,
            description=self.description,
            automation_condition=condition.to_snapshot(resolve) if condition else None,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AssetCheckSpec) and (
            (self.name, self.asset_key, self.blocking, self.description)
            == (other.name, other.asset_key, other.blocking, other.description)
        )

    def __hash__(self) -> int:
        return hash((self.name, self.asset_key))

    def __repr__(self) -> str:
        return f"AssetCheckSpec({self.name!r}, asset={self.asset_key.to_user_string()!r})"


@dataclass(frozen=True)
class AssetChecksDefinition:
    """Check functions and their specs; made by `@asset_check` or `@multi_asset_check`.

    Calling it calls the function (handy in unit tests).
    """

    specs: tuple[AssetCheckSpec, ...]
    fn: Callable[..., object]
    context_param: str | None = None
    value_params: tuple[str, ...] = ()
    """Parameters that are neither the context nor typed resources; once `Definitions`
    bound those named after resource keys, at most one is left: the asset's value."""
    resource_params: tuple[str, ...] = ()
    multi: bool = False
    """True for `@multi_asset_check`: the function yields a result per spec."""
    freshness: FreshnessCheckParams | None = None
    """Set for the checks `build_last_update_freshness_checks` builds: no function runs,
    the coordinator evaluates them from the asset's last update (see `_freshness`)."""

    @property
    def spec(self) -> AssetCheckSpec:
        """The check's spec (the first, for a multi-asset check)."""
        return self.specs[0]

    @property
    def value_param(self) -> str | None:
        """The parameter that receives the asset's value (None: the check loads nothing)."""
        return self.value_params[0] if len(self.value_params) == 1 else None

    @property
    def name(self) -> str:
        """The check's name (the function's, unless `name=` was given)."""
        return self.spec.name

    @property
    def asset_key(self) -> AssetKey:
        """The asset it checks (the first spec's, for a multi-asset check)."""
        return self.spec.asset_key

    @property
    def blocking(self) -> bool:
        """True when a failure (severity ERROR) skips the asset's dependents in the run."""
        return self.spec.blocking

    @property
    def check_keys(self) -> set[AssetCheckKey]:
        """The keys of its checks (Dagster's name)."""
        return {spec.key for spec in self.specs}

    @property
    def check_specs(self) -> tuple[AssetCheckSpec, ...]:
        """Its specs (Dagster's name)."""
        return self.specs

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self.fn(*args, **kwargs)


def _is_check_context(annotation: object) -> bool:
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return isinstance(name, str) and name.rsplit(".", 1)[-1] in (
        "AssetCheckExecutionContext",
        "AssetExecutionContext",
    )


def _sort_params(fn: Callable[..., object]) -> tuple[str | None, list[str], list[str]]:
    """(context parameter, value candidates, resources typed as `ConfigurableResource`)."""
    from conflux.sdk._resources import ConfigurableResource

    try:
        signature = inspect.signature(fn, eval_str=True)
    except (NameError, TypeError, SyntaxError):
        signature = inspect.signature(fn)
    context: str | None = None
    values: list[str] = []
    resources: list[str] = []
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(
                f"check {fn.__name__}: *args/**kwargs are not supported: take the asset's "
                "value as one named parameter"
            )
        annotation = param.annotation
        if name in CONTEXT_NAMES or _is_check_context(annotation):
            context = name
        elif isinstance(annotation, type) and issubclass(annotation, ConfigurableResource):
            resources.append(name)
        else:
            values.append(name)
    return context, values, resources


Fn = Callable[..., object]


@overload
def asset_check(fn: Fn, /) -> AssetChecksDefinition: ...


@overload
def asset_check(
    *,
    asset: CheckTarget,
    name: str | None = ...,
    description: str | None = ...,
    blocking: bool = ...,
    automation_condition: AutomationCondition | None = ...,
) -> Callable[[Fn], AssetChecksDefinition]: ...


def asset_check(
    fn: Fn | None = None,
    /,
    *,
    asset: CheckTarget | None = None,
    name: str | None = None,
    description: str | None = None,
    blocking: bool = False,
    automation_condition: AutomationCondition | None = None,
) -> AssetChecksDefinition | Callable[[Fn], AssetChecksDefinition]:
    """Declare a check of `asset`, run by the worker right after each materialization.

    The function may take `context` (an `AssetCheckExecutionContext`: `partition_key`,
    `run_id`, `log`), resources (by parameter name or `ConfigurableResource` type), and
    one more parameter, which receives the asset's value through the IO manager. It
    returns an `AssetCheckResult` (or a bool). A check that raises counts as failed.
    `automation_condition` is carried in the snapshot and shown with the check; Conflux
    runs a check with its asset, not on its own (docs/porting-from-dagster.md).

    Example:
        >>> @asset_check(asset=orders, blocking=True)
        ... def no_nulls(context: AssetCheckExecutionContext, orders: list[dict]) -> bool:
        ...     return all(row["id"] is not None for row in orders)
    """
    if fn is not None:
        raise DefinitionError(
            f"@asset_check on {getattr(fn, '__name__', fn)!r} needs the asset it checks: "
            "write @asset_check(asset=...)"
        )
    if asset is None:
        raise DefinitionError("@asset_check needs the asset it checks: @asset_check(asset=...)")

    def decorate(f: Fn) -> AssetChecksDefinition:
        from conflux.sdk._automation import coerce_condition

        spec = AssetCheckSpec(
            name or f.__name__,
            asset=asset,
            description=description or inspect.getdoc(f),
            blocking=blocking,
            automation_condition=coerce_condition(automation_condition, f"check {f.__name__}"),
        )
        context, values, resources = _sort_params(f)
        return AssetChecksDefinition(
            specs=(spec,),
            fn=f,
            context_param=context,
            value_params=tuple(values),
            resource_params=tuple(resources),
        )

    return decorate


def multi_asset_check(
    *,
    specs: Sequence[AssetCheckSpec],
    name: str | None = None,
    description: str | None = None,
    can_subset: bool = False,
    **_ignored: Any,
) -> Callable[[Fn], AssetChecksDefinition]:
    """Declare one function that yields the results of several checks (Dagster's).

    The function takes `context` and resources like `@asset_check` (no asset value) and
    yields (or returns a list of) `AssetCheckResult`s naming `asset_key` / `check_name`
    where the specs need it. It runs in each work item that materializes one of the
    specs' assets, and the results of that item's assets' checks are recorded; a spec of
    such an asset without a result counts as failed.

    Example:
        >>> @multi_asset_check(specs=[AssetCheckSpec("one", asset="a"),
        ...                           AssetCheckSpec("two", asset="b")])
        ... def the_checks(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        ...     yield AssetCheckResult(passed=True, asset_key="a")
        ...     yield AssetCheckResult(passed=True, asset_key="b")
    """
    found = tuple(specs)
    if not found or not all(isinstance(s, AssetCheckSpec) for s in found):
        raise DefinitionError(
            f"@multi_asset_check(specs={list(specs)!r}): pass one or more AssetCheckSpec"
        )
    del can_subset  # Conflux runs each work item's checks; there is no subset to choose

    def decorate(f: Fn) -> AssetChecksDefinition:
        context, values, resources = _sort_params(f)
        if values:
            raise DefinitionError(
                f"@multi_asset_check {name or f.__name__}: parameters {values} are neither "
                "the context nor resources; a multi-asset check receives no asset value"
            )
        return AssetChecksDefinition(
            specs=found,
            fn=f,
            context_param=context,
            resource_params=tuple(resources),
            multi=True,
        )

    del description
    return decorate


def unknown_targets(checks: Sequence[object], nodes: Sequence[AssetsDefinition]) -> list[AssetKey]:
    """The assets the checks target that no node defines (sorted, each once)."""
    defined = {key for node in nodes for key in node.keys}
    found = {
        spec.asset_key
        for check in checks
        if isinstance(check, AssetChecksDefinition)
        for spec in check.specs
        if spec.asset_key not in defined
    }
    return sorted(found, key=lambda k: k.to_user_string())


def coerce_check_specs(
    specs: Sequence[AssetCheckSpec] | None, node: str
) -> tuple[AssetCheckSpec, ...]:
    """Validate `@asset(check_specs=...)` as given (targets are checked by `Definitions`)."""
    found = tuple(specs or ())
    for spec in found:
        if not isinstance(spec, AssetCheckSpec):
            raise DefinitionError(
                f"{node}: check_specs takes AssetCheckSpec objects, not {spec!r}", asset_key=node
            )
    return found


# -- validation, by Definitions ------------------------------------------------------------


@dataclass(frozen=True)
class LocationChecks:
    """A location's checks, validated: `@asset_check` functions and asset-yielded specs."""

    functions: dict[AssetKey, tuple[AssetChecksDefinition, ...]] = field(default_factory=dict)
    specs: dict[AssetKey, tuple[AssetCheckSpec, ...]] = field(default_factory=dict)
    """Specs whose results the asset's own function yields."""

    def snapshots(self, resolve: SelectionResolver | None = None) -> tuple[AssetCheckSnapshot, ...]:
        """Every check as data, sorted by (asset, name)."""
        found = {
            (spec.asset_key, spec.name): spec.to_snapshot(resolve)
            if c.freshness is None
            else c.freshness.to_snapshot(spec, resolve)
            for cs in self.functions.values()
            for c in cs
            for spec in c.specs
        }
        for ss in self.specs.values():
            for spec in ss:
                found[(spec.asset_key, spec.name)] = spec.to_snapshot(resolve)
        return tuple(sorted(found.values(), key=lambda s: (s.asset_key, s.name)))


def validate_checks(defs: Definitions, checks: Sequence[object]) -> LocationChecks:
    """Bind the checks' resources and validate their targets and names.

    Raises:
        UnknownCheckTargetError: an asset's `check_specs` name an asset it does not compute.
        DuplicateCheckNameError: two checks of one asset share a name.
        DefinitionError: not a check, a missing resource, or several value parameters.
    """
    functions: dict[AssetKey, list[AssetChecksDefinition]] = {}
    specs: dict[AssetKey, list[AssetCheckSpec]] = {}
    names: dict[AssetKey, set[str]] = {}
    for item in checks:
        if not isinstance(item, AssetChecksDefinition):
            raise DefinitionError(
                f"Definitions(asset_checks=...) got {item!r}: pass functions decorated with "
                "@asset_check(asset=...)"
            )
        check = _bind(defs, item)
        for spec in check.specs:
            _target(defs, spec, names, observed_ok=check.freshness is not None)
            listed = functions.setdefault(spec.asset_key, [])
            if check not in listed:
                listed.append(check)
    for node in defs.nodes:
        for spec in node.check_specs:
            if spec.asset_key not in node.keys:
                raise UnknownCheckTargetError(
                    f"asset {node.node} declares check {spec.name} on {spec.asset_key}, which "
                    f"it does not compute: target one of {[str(k) for k in node.keys]}, or "
                    "write the check as @asset_check(asset=...)",
                    asset_key=spec.asset_key.to_user_string(),
                )
            _target(defs, spec, names)
            specs.setdefault(spec.asset_key, []).append(spec)
    return LocationChecks(
        functions={k: tuple(v) for k, v in functions.items()},
        specs={k: tuple(v) for k, v in specs.items()},
    )


def _bind(defs: Definitions, check: AssetChecksDefinition) -> AssetChecksDefinition:
    """Parameters named after a resource key receive it; at most one value is left."""
    import dataclasses

    moved = tuple(p for p in check.value_params if p in defs.resources)
    values = [p for p in check.value_params if p not in defs.resources]
    where = f"check {check.name} on {check.asset_key}"
    if len(values) > 1:
        raise DefinitionError(
            f"{where}: parameters {values} are neither the context nor resources, and a "
            "check receives one value (its asset's): remove all but one, or provide "
            "resources of those names",
            asset_key=check.asset_key.to_user_string(),
        )
    for res in check.resource_params:
        if res not in defs.resources:
            raise DefinitionError(
                f"{where} needs resource {res!r}, which Definitions(resources=...) does not "
                f"provide: add resources={{{res!r}: ...}}",
                asset_key=check.asset_key.to_user_string(),
            )
    return dataclasses.replace(
        check, value_params=tuple(values), resource_params=(*check.resource_params, *moved)
    )


def _target(
    defs: Definitions,
    spec: AssetCheckSpec,
    names: dict[AssetKey, set[str]],
    *,
    observed_ok: bool = False,
) -> None:
    """Check that `spec` targets an asset here (computed, unless `observed_ok`)."""
    key = spec.asset_key
    where = f"check {spec.name} on {key}"
    try:
        node = defs.node_for(key)
    except UnknownDependencyError:
        import difflib

        known = [k.to_user_string() for k in defs.asset_keys]
        close = difflib.get_close_matches(key.to_user_string(), known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownCheckTargetError(
            f"{where}: no asset {key} in this location{hint}: define the asset here, or fix asset=",
            asset_key=key.to_user_string(),
        ) from None
    if node.is_external and not observed_ok:
        import difflib
        import warnings

        known = [k.to_user_string() for k in defs.asset_keys if not defs.node_for(k).is_external]
        close = difflib.get_close_matches(key.to_user_string(), known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        warnings.warn(
            f"{where}: {key} is an external asset here{hint}; Conflux runs a check in the work "
            "item that materializes its asset, so this check never runs: check an asset "
            "computed here, or define the asset in this location",
            ExternalCheckTargetWarning,
            stacklevel=4,
        )
    taken = names.setdefault(key, set())
    if spec.name in taken:
        raise DuplicateCheckNameError(
            f"{where}: {key} already has a check named {spec.name!r}: give one of them "
            "another name (name=...)",
            asset_key=key.to_user_string(),
        )
    taken.add(spec.name)
