"""What a schedule or sensor targets: `AssetSelection`, `define_asset_job`, and coercion.

A target may be an `AssetSelection`, a job made by `define_asset_job`, a selection string
in the CLI's syntax (`a,b`, `*a`, `a*`, `+a`, `a+`, `group:g`, `*`), an asset, an asset key,
or a list of those. `Definitions(...)` resolves every target to asset keys once, against
the location's own assets, so the snapshot carries plain keys and an unknown asset is an
error before anything is published.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import UnknownDependencyError
from conflux.sdk._keys import AssetKey

if TYPE_CHECKING:
    from conflux.sdk._definitions import Definitions
    from conflux.sdk.partitions import PartitionsDefinition


class UnknownTargetError(UnknownDependencyError):
    """A schedule's or sensor's target names an asset (or group) the location lacks."""


class _Graph:
    """The location's assets as a selection sees them: groups, edges, external or not."""

    def __init__(self, defs: Definitions) -> None:
        self.groups: dict[str, str] = {}
        self.external: set[str] = set()
        self.up: dict[str, list[str]] = {}
        self.down: dict[str, list[str]] = {}
        for key in defs.asset_keys:
            node = defs.node_for(key)
            name = key.to_user_string()
            out = next(o for o in node.outputs if o.key == key)
            self.groups[name] = out.group_name
            if node.is_external:
                self.external.add(name)
            ups = [u.to_user_string() for u, _, _ in node.upstream_of(out)]
            self.up[name] = ups
            for u in ups:
                self.down.setdefault(u, []).append(name)

    def walk(self, start: set[str], edges: dict[str, list[str]], depth: int | None) -> set[str]:
        found = set(start)
        frontier = list(start)
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            frontier = [n for k in frontier for n in edges.get(k, ()) if n not in found]
            found.update(frontier)
        return found


class AssetSelection:
    """A set of assets, resolved against a location's definitions (Dagster's name).

    Example:
        >>> AssetSelection.groups("sales") | AssetSelection.assets("raw/orders").downstream()
    """

    def _resolve(self, graph: _Graph, what: str) -> set[str]:
        raise NotImplementedError

    is_checks_only: bool = False
    """True for a selection of asset checks alone (`checks_for_assets`, `checks`)."""

    def resolve(self, defs: Definitions, what: str = "target") -> list[str]:
        """The selected asset keys (`a/b` strings), sorted; external assets left out.

        Raises:
            UnknownTargetError: a named asset or group is not in `defs`, nothing is
                selected, or only checks are (the message names `what` and the fix).
        """
        if self.is_checks_only:
            raise UnknownTargetError(
                f"{what} selects asset checks only: Conflux runs an asset's checks with the "
                "asset, in the same work item, so target the assets themselves"
            )
        graph = _Graph(defs)
        keys = self._resolve(graph, what) - graph.external
        if not keys:
            raise UnknownTargetError(
                f"{what} selects no asset that can be materialized: target assets this "
                "location computes"
            )
        return sorted(keys)

    @staticmethod
    def assets(*assets: object) -> AssetSelection:
        """These assets (assets, `AssetKey`s, `a/b` strings or paths)."""
        return _Keys(tuple(k for item in assets for k in _keys(item)))

    @staticmethod
    def keys(*keys: object) -> AssetSelection:
        """These asset keys (same as `assets`)."""
        return AssetSelection.assets(*keys)

    @staticmethod
    def groups(*names: str) -> AssetSelection:
        """Every asset of these groups."""
        return _Groups(tuple(names))

    @staticmethod
    def all() -> AssetSelection:
        """Every asset the location computes."""
        return _All()

    @staticmethod
    def from_string(text: str) -> AssetSelection:
        """The CLI's selection syntax: `a,b`, `*a`, `a*`, `+a`, `a+`, `group:g`, `*`."""
        return _parse(text)

    @staticmethod
    def checks_for_assets(*assets: object) -> AssetSelection:
        """The checks of these assets, without the assets (Dagster's name).

        Conflux runs checks with their asset, so this selection can name a job but not be
        a schedule's or sensor's target (docs/porting-from-dagster.md).
        """
        return _Checks(AssetSelection.assets(*assets), ())

    @staticmethod
    def checks(*checks: object) -> AssetSelection:
        """These asset checks (`AssetChecksDefinition`s or `AssetCheckKey`s), alone."""
        names: list[str] = []
        for item in checks:
            for key in getattr(item, "check_keys", None) or [item]:
                names.append(key.to_user_string() if hasattr(key, "to_user_string") else str(key))
        return _Checks(_Keys(()), tuple(names))

    @staticmethod
    def all_asset_checks() -> AssetSelection:
        """Every asset check (alone; see `checks_for_assets`)."""
        return _Checks(_All(), ())

    def without_checks(self) -> AssetSelection:
        """The same assets, without their checks (Dagster's name).

        Conflux runs an asset's checks whenever it materializes the asset, so the checks
        still run (docs/porting-from-dagster.md); the selected assets are the same.
        """
        return self

    def upstream(self, depth: int | None = None) -> AssetSelection:
        """With everything upstream (up to `depth` levels)."""
        return _Walk(self, "up", depth)

    def downstream(self, depth: int | None = None) -> AssetSelection:
        """With everything downstream (up to `depth` levels)."""
        return _Walk(self, "down", depth)

    def __or__(self, other: AssetSelection) -> AssetSelection:
        return _Op(self, other, "|")

    def __and__(self, other: AssetSelection) -> AssetSelection:
        return _Op(self, other, "&")

    def __sub__(self, other: AssetSelection) -> AssetSelection:
        return _Op(self, other, "-")


@dataclass(frozen=True)
class _Keys(AssetSelection):
    names: tuple[str, ...]

    def _resolve(self, graph: _Graph, what: str) -> set[str]:
        for name in self.names:
            if name not in graph.groups:
                close = difflib.get_close_matches(name, sorted(graph.groups), n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise UnknownTargetError(
                    f"{what} targets asset {name}, which this location does not define{hint}: "
                    "fix the key, or add the asset to Definitions(assets=...)",
                    asset_key=name,
                )
            if name in graph.external:
                raise UnknownTargetError(
                    f"{what} targets {name}, an external asset (AssetSpec), which cannot be "
                    "materialized: target the assets computed from it",
                    asset_key=name,
                )
        return set(self.names)


@dataclass(frozen=True)
class _Groups(AssetSelection):
    names: tuple[str, ...]

    def _resolve(self, graph: _Graph, what: str) -> set[str]:
        found: set[str] = set()
        for name in self.names:
            members = {k for k, g in graph.groups.items() if g == name}
            if not members:
                known = ", ".join(sorted(set(graph.groups.values()))) or "none"
                raise UnknownTargetError(
                    f"{what} targets group {name!r}, which has no asset here (groups: {known}): "
                    "fix the group name"
                )
            found |= members
        return found


@dataclass(frozen=True)
class _Checks(AssetSelection):
    """Checks alone: of the assets `of` selects, or named `asset:check`."""

    of: AssetSelection
    names: tuple[str, ...]
    is_checks_only: bool = True

    def _resolve(self, graph: _Graph, what: str) -> set[str]:
        return set()


@dataclass(frozen=True)
class _All(AssetSelection):
    def _resolve(self, graph: _Graph, what: str) -> set[str]:
        return set(graph.groups)


@dataclass(frozen=True)
class _Walk(AssetSelection):
    inner: AssetSelection
    direction: str
    depth: int | None

    def _resolve(self, graph: _Graph, what: str) -> set[str]:
        edges = graph.up if self.direction == "up" else graph.down
        return graph.walk(self.inner._resolve(graph, what), edges, self.depth)


@dataclass(frozen=True)
class _Op(AssetSelection):
    left: AssetSelection
    right: AssetSelection
    op: str

    def _resolve(self, graph: _Graph, what: str) -> set[str]:
        a, b = self.left._resolve(graph, what), self.right._resolve(graph, what)
        return a | b if self.op == "|" else a & b if self.op == "&" else a - b


def _keys(item: object) -> list[str]:
    from conflux.sdk._asset import AssetsDefinition

    if isinstance(item, AssetsDefinition):
        return [k.to_user_string() for k in item.keys]
    if isinstance(item, AssetKey):
        return [item.to_user_string()]
    if isinstance(item, str):
        return [AssetKey.from_user_string(item).to_user_string()]
    if isinstance(item, Sequence):
        return [AssetKey(list(item)).to_user_string()]
    raise TypeError(f"not an asset or asset key: {item!r}")


def _parse(text: str) -> AssetSelection:
    terms = [t.strip() for t in text.split(",") if t.strip()]
    if not terms:
        raise UnknownTargetError(
            f"empty selection {text!r}: name assets, e.g. 'a', '*a', 'group:g'"
        )
    result: AssetSelection | None = None
    for term in terms:
        sel: AssetSelection
        if term == "*":
            sel = _All()
        elif term.startswith("group:"):
            sel = _Groups((term[len("group:") :].strip(),))
        else:
            up: int | None = 0
            down: int | None = 0
            if term.startswith("*"):
                up, term = None, term[1:]
            else:
                while term.startswith("+"):
                    up, term = (up or 0) + 1, term[1:]
            if term.endswith("*"):
                down, term = None, term[:-1]
            else:
                while term.endswith("+"):
                    down, term = (down or 0) + 1, term[:-1]
            sel = _Keys((AssetKey.from_user_string(term.strip()).to_user_string(),))
            if up != 0:
                sel = sel | sel.upstream(up)
            if down != 0:
                sel = sel | sel.downstream(down)
        result = sel if result is None else result | sel
    assert result is not None
    return result


@dataclass(frozen=True)
class UnresolvedAssetJobDefinition:
    """A named selection of assets to run together (made by `define_asset_job`)."""

    name: str
    selection: AssetSelection
    partitions_def: PartitionsDefinition | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None


def define_asset_job(
    name: str,
    selection: object = None,
    *,
    partitions_def: PartitionsDefinition | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    automation_condition: object = None,
) -> UnresolvedAssetJobDefinition:
    """A named asset selection for `@schedule(job=...)` and `build_schedule_from_partitioned_job`.

    Args:
        name: the job's name (schedules built from it are named `{name}_schedule`).
        selection: what it runs (any target form; None: every asset of the location).
        partitions_def: the partitions the job runs over (default: its assets' own).
        tags: tags added to every run it starts.
        description: shown with the job.
        automation_condition: accepted (a preview API in Dagster) and not evaluated:
            Conflux automates assets, not jobs (a warning says so); put the condition on
            the job's assets.
    """
    if automation_condition is not None:
        import warnings

        warnings.warn(
            f"define_asset_job({name!r}, automation_condition=...): Conflux automates assets, "
            "not jobs, so this condition is not evaluated: give the job's assets their "
            "automation_condition",
            UserWarning,
            stacklevel=2,
        )
    return UnresolvedAssetJobDefinition(
        name=name,
        selection=coerce_target(selection) if selection is not None else _All(),
        partitions_def=partitions_def,
        tags=dict(tags or {}),
        description=description,
    )


def coerce_target(target: object) -> AssetSelection:
    """Any target form as an `AssetSelection` (see the module docstring).

    Raises:
        TypeError: `target` is none of the accepted forms.
    """
    from conflux.sdk._asset import AssetsDefinition

    if isinstance(target, AssetSelection):
        return target
    if isinstance(target, UnresolvedAssetJobDefinition):
        return target.selection
    if isinstance(target, str):
        return _parse(target)
    if isinstance(target, AssetsDefinition | AssetKey):
        return AssetSelection.assets(target)
    if isinstance(target, Sequence) and all(isinstance(t, str) for t in target):
        return AssetSelection.assets(*target)  # a list of key strings, not one path
    if isinstance(target, Sequence):
        return AssetSelection.assets(*target)
    raise TypeError(
        f"target={target!r}: pass an AssetSelection, a job from define_asset_job, a "
        "selection string, an asset, an asset key, or a list of them"
    )


def resolve_loosely(selection: AssetSelection, defs: Definitions) -> tuple[str, ...]:
    """The keys `selection` names in `defs`, external assets and unknown keys included.

    How Dagster resolves the selections of `AutomationCondition.allow()` / `.ignore()`
    (`allow_missing=True`): a dependency defined elsewhere may be named by key, and a
    selection that matches nothing is empty, not an error.
    """
    graph = _Graph(defs)
    return tuple(sorted(_loose(selection, graph)))


def _loose(selection: AssetSelection, graph: _Graph) -> set[str]:
    if isinstance(selection, _Keys):
        return set(selection.names)
    if isinstance(selection, _Groups):
        return {k for k, g in graph.groups.items() if g in selection.names}
    if isinstance(selection, _Walk):
        edges = graph.up if selection.direction == "up" else graph.down
        return graph.walk(_loose(selection.inner, graph), edges, selection.depth)
    if isinstance(selection, _Op):
        a, b = _loose(selection.left, graph), _loose(selection.right, graph)
        return a | b if selection.op == "|" else a & b if selection.op == "&" else a - b
    return selection._resolve(graph, "selection")
