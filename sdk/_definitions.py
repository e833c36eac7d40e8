"""`Definitions`: everything one code location defines, validated as a whole."""

from __future__ import annotations

import dataclasses
import difflib
from typing import TYPE_CHECKING

from conflux.events import (
    DefinitionError,
    DependencyCycleError,
    DuplicateAssetKeyError,
    IncompatiblePartitionMappingError,
    UnknownDependencyError,
)
from conflux.sdk._asset import AssetsDefinition, InputSpec, OutputSpec, external_asset
from conflux.sdk._keys import AssetKey
from conflux.sdk._specs import AssetSpec

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from conflux.sdk._checks import AssetChecksDefinition
    from conflux.sdk.partitions import PartitionMapping, PartitionsDefinition

IO_MANAGER_KEY = "io_manager"


def _is_check(item: object) -> bool:
    from conflux.sdk._checks import AssetChecksDefinition

    return isinstance(item, AssetChecksDefinition)


class Definitions:
    """The assets and resources of one code location (Dagster's `Definitions`).

    Construction validates the whole graph and raises a `DefinitionError` naming the
    asset and the fix: duplicate keys, unknown dependencies, cycles, partition mappings
    that cannot map between their partitions definitions. A location whose definitions
    do not validate is refused before anything is emitted.

    Example:
        >>> defs = Definitions(
        ...     assets=[raw_orders, daily_revenue],
        ...     resources={"warehouse": Warehouse(url="duckdb:///local.db")},
        ... )
    """

    def __init__(
        self,
        assets: Iterable[AssetsDefinition | AssetSpec | AssetChecksDefinition] | None = None,
        *,
        resources: Mapping[str, object] | None = None,
        schedules: Sequence[object] | None = None,
        sensors: Sequence[object] | None = None,
        jobs: Sequence[object] | None = None,
        asset_checks: Sequence[object] | None = None,
    ) -> None:
        self.resources: dict[str, object] = dict(resources or {})
        self.schedules = list(schedules or ())
        self.sensors = list(sensors or ())
        self.jobs = list(jobs or ())
        self.asset_checks = list(asset_checks or ())
        nodes: list[AssetsDefinition] = []
        for item in assets or ():
            if _is_check(item):  # as Dagster's materialize([asset, check]) allows
                self.asset_checks.append(item)
            elif isinstance(item, AssetSpec):
                nodes.append(external_asset(item))
            elif isinstance(item, AssetsDefinition):
                nodes.append(item)
            else:
                raise DefinitionError(
                    f"Definitions(assets=...) got {item!r}: pass functions decorated with "
                    "@asset or @multi_asset, or AssetSpec objects"
                )
        from conflux.sdk._checks import unknown_targets

        # a check of an asset defined nowhere here makes it an external asset, as in Dagster
        nodes.extend(
            external_asset(AssetSpec(k)) for k in unknown_targets(self.asset_checks, nodes)
        )
        self.nodes: tuple[AssetsDefinition, ...] = tuple(self._bind_resources(n) for n in nodes)
        self._by_key: dict[AssetKey, tuple[AssetsDefinition, OutputSpec]] = {}
        self._validate()
        from conflux.sdk._checks import validate_checks

        self.checks = validate_checks(self, self.asset_checks)
        """The asset checks, validated and bound to their resources (see `sdk/_checks.py`)."""
        from conflux.sdk._instigators import validate_instigators

        self.instigators = validate_instigators(self, self.schedules, self.sensors, self.jobs)
        """The schedules and sensors, validated, by name (see `sdk/_instigators.py`)."""

    # -- construction ---------------------------------------------------------------------

    def _bind_resources(self, node: AssetsDefinition) -> AssetsDefinition:
        """Parameters named after a resource key receive that resource, not an asset."""
        moved = [inp for inp in node.inputs if inp.param in self.resources]
        if not moved:
            return node
        return dataclasses.replace(
            node,
            inputs=tuple(inp for inp in node.inputs if inp.param not in self.resources),
            resource_params=(*node.resource_params, *(inp.param for inp in moved)),
        )

    def _validate(self) -> None:
        node_names: dict[str, AssetsDefinition] = {}
        for node in self.nodes:
            if node.node in node_names and not node.is_external:
                raise DuplicateAssetKeyError(
                    f"two assets share the function name {node.node!r}: rename one, or give "
                    "one an explicit name=",
                    asset_key=node.node,
                )
            node_names[node.node] = node
            for out in node.outputs:
                if out.key in self._by_key:
                    raise DuplicateAssetKeyError(
                        f"asset key {out.key} is defined twice (by {self._by_key[out.key][0].node} "
                        f"and {node.node}): give one a different key or key_prefix",
                        asset_key=out.key.to_user_string(),
                    )
                self._by_key[out.key] = (node, out)
        for node in self.nodes:
            for res in node.resource_params:
                if res not in self.resources:
                    raise DefinitionError(
                        f"asset {node.outputs[0].key} needs resource {res!r}, which "
                        "Definitions(resources=...) does not provide: add "
                        f"resources={{{res!r}: ...}}",
                        asset_key=node.outputs[0].key.to_user_string(),
                    )
            for out in node.outputs:
                for up_key, mapping, loads in node.upstream_of(out):
                    self._check_dep(node, out, up_key, mapping, loads)
        self._check_cycles()

    def _check_dep(
        self,
        node: AssetsDefinition,
        out: OutputSpec,
        up_key: AssetKey,
        mapping: PartitionMapping | None,
        loads: bool,
    ) -> None:
        if up_key not in self._by_key:
            known = [k.to_user_string() for k in self._by_key]
            close = difflib.get_close_matches(up_key.to_user_string(), known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            what = "parameter" if loads else "deps entry"
            raise UnknownDependencyError(
                f"asset {out.key} depends on {up_key} (a {what}), which no asset defines{hint}: "
                "define it, fix the name, or declare it with "
                f"AssetSpec({up_key.to_user_string()!r})"
                + (" or provide a resource of that name" if loads else ""),
                asset_key=out.key.to_user_string(),
            )
        from conflux.sdk.partitions import default_partition_mapping

        up_def = self._by_key[up_key][0].partitions_def
        down_def = node.partitions_def
        effective = mapping or default_partition_mapping(down_def, up_def)
        try:
            effective.validate(down_def, up_def)
        except IncompatiblePartitionMappingError as exc:
            raise IncompatiblePartitionMappingError(
                f"Invalid partition mapping from {out.key} to {up_key}: {exc}",
                asset_key=out.key.to_user_string(),
            ) from exc

    def _check_cycles(self) -> None:
        """Depth-first search over keys; a back edge is a cycle, reported as its path."""
        graph: dict[AssetKey, list[AssetKey]] = {}
        for key, (node, out) in self._by_key.items():
            graph[key] = [up for up, _, _ in node.upstream_of(out)]
        state: dict[AssetKey, int] = {}
        stack: list[AssetKey] = []

        def visit(key: AssetKey) -> None:
            state[key] = 1
            stack.append(key)
            for up in graph.get(key, ()):
                if state.get(up) == 1:
                    cycle = [*stack[stack.index(up) :], up]
                    path = " -> ".join(k.to_user_string() for k in reversed(cycle))
                    raise DependencyCycleError(
                        f"assets depend on each other in a cycle: {path}: remove one of these "
                        "dependencies",
                        asset_key=up.to_user_string(),
                    )
                if state.get(up) is None:
                    visit(up)
            stack.pop()
            state[key] = 2

        for key in sorted(graph):
            if key not in state:
                visit(key)

    # -- queries --------------------------------------------------------------------------

    @property
    def asset_keys(self) -> list[AssetKey]:
        """Every asset key defined here, sorted."""
        return sorted(self._by_key)

    def node_for(self, key: AssetKey | str) -> AssetsDefinition:
        """The node that computes `key`.

        Raises:
            UnknownDependencyError: no asset here has that key.
        """
        asset_key = AssetKey.from_user_string(key) if isinstance(key, str) else key
        try:
            return self._by_key[asset_key][0]
        except KeyError:
            raise UnknownDependencyError(
                f"no asset {asset_key} in these definitions", asset_key=str(asset_key)
            ) from None

    def node_named(self, name: str) -> AssetsDefinition:
        """The node whose function (or `name=`) is `name`."""
        for node in self.nodes:
            if node.node == name:
                return node
        raise UnknownDependencyError(f"no asset function named {name!r} in these definitions")

    def partitions_def_for(self, key: AssetKey) -> PartitionsDefinition | None:
        """The partitions definition of the node computing `key`."""
        return self.node_for(key).partitions_def

    def inputs_of(self, node: AssetsDefinition) -> tuple[InputSpec, ...]:
        """The inputs of a node, after resource binding."""
        return node.inputs
