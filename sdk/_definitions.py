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
        schedules: Sequence[object] | None = None,
        sensors: Sequence[object] | None = None,
        jobs: Sequence[object] | None = None,
        resources: Mapping[str, object] | None = None,
        executor: object = None,
        loggers: Mapping[str, object] | None = None,
        asset_checks: Sequence[object] | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> None:
        self.resources: dict[str, object] = dict(resources or {})
        self.schedules = list(schedules or ())
        self.sensors = list(sensors or ())
        self.jobs = list(jobs or ())
        self.asset_checks = list(asset_checks or ())
        self.executor = executor
        self.loggers = dict(loggers or {})
        self.metadata = dict(metadata or {})
        self.assets: list[object] = list(assets or ())
        """What was passed as `assets`, as given (Dagster's attribute)."""
        nodes: list[AssetsDefinition] = []
        for item in self.assets:
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
        for node in nodes:  # resources attached to assets (with_resources, resource_defs=)
            for key, value in node.resource_defs.items():
                self.resources.setdefault(key, value)
        self.nodes: tuple[AssetsDefinition, ...] = tuple(self._bind_resources(n) for n in nodes)
        self._by_key: dict[AssetKey, tuple[AssetsDefinition, OutputSpec]] = {}
        self._register()
        self.nodes = _resolve_names(self.nodes, self._by_key)
        self.nodes = (*self.nodes, *self._implicit_externals())
        self._by_key = {}
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

    def _register(self) -> None:
        """Index the nodes' outputs by key (duplicates are refused by `_validate`)."""
        for node in self.nodes:
            for out in node.outputs:
                self._by_key.setdefault(out.key, (node, out))

    def _implicit_externals(self) -> list[AssetsDefinition]:
        """An external asset for every `deps` key no asset here defines, as Dagster does.

        Such a key becomes an external asset of this location: another location that
        defines it owns it (the definitions fold keeps the defining location's), so one
        run, backfill or lineage query spans both, as with an explicit `AssetSpec`.
        A loaded parameter (an `ins` or a plain argument) still needs a definition.
        """
        missing: dict[AssetKey, None] = {}
        for node in self.nodes:
            for out in node.outputs:
                for up_key, _, loads in node.upstream_of(out):
                    if up_key not in self._by_key and not loads:
                        missing[up_key] = None
        return [external_asset(AssetSpec(key)) for key in missing]

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
            for out in node.outputs:
                self._check_io_manager(node, out.io_manager_key, "io_manager_key")
            for inp in node.inputs:
                self._check_io_manager(node, inp.input_manager_key, "input_manager_key")
            for res in (*node.resource_params, *node.required_resource_keys):
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

    def _check_io_manager(self, node: AssetsDefinition, key: str | None, what: str) -> None:
        if key is not None and key != IO_MANAGER_KEY and key not in self.resources:
            raise DefinitionError(
                f"asset {node.outputs[0].key} has {what}={key!r}, but Definitions(resources="
                f"...) provides no {key!r}: add resources={{{key!r}: SomeIOManager()}}",
                asset_key=node.outputs[0].key.to_user_string(),
            )

    def _check_dep(
        self,
        node: AssetsDefinition,
        out: OutputSpec,
        up_key: AssetKey,
        mapping: PartitionMapping | None,
        loads: bool,
    ) -> None:
        if up_key == out.key:
            check_self_dependency(out.key, mapping, node.partitions_def)
            return
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
            graph[key] = [up for up, _, _ in node.upstream_of(out) if up != key]
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

    def get_assets_def(self, key: AssetKey | str) -> AssetsDefinition:
        """The node that computes `key` (Dagster's name)."""
        return self.node_for(key if isinstance(key, AssetKey | str) else AssetKey(key))

    def get_asset_spec(self, key: AssetKey | str) -> AssetSpec:
        """The `AssetSpec` of `key`."""
        return self.get_assets_def(key).get_asset_spec(key)

    def resolve_all_asset_specs(self) -> list[AssetSpec]:
        """Every asset here (externals included) as an `AssetSpec`, sorted by key."""
        return [self.get_asset_spec(k) for k in self.asset_keys]

    def resolve_all_asset_keys(self) -> list[AssetKey]:
        """Every asset key here, sorted."""
        return self.asset_keys

    def load_asset_value(
        self, asset_key: AssetKey | str, *, partition_key: str | None = None
    ) -> object:
        """Load an asset's stored value through its IO manager (Dagster's name)."""
        from conflux.sdk._io_manager import InputContext
        from conflux.sdk._resources_runtime import ResourceSet

        key = asset_key if isinstance(asset_key, AssetKey) else AssetKey.from_user_string(asset_key)
        node = self.node_for(key)
        out = next(o for o in node.outputs if o.key == key)
        from conflux.sdk._io_manager import FilesystemIOManager

        resources = ResourceSet(self, default_io_manager=FilesystemIOManager())
        manager = resources.io_manager(out.io_manager_key or IO_MANAGER_KEY, None)
        return manager.load_input(
            InputContext(asset_key=key, partition_key=partition_key, downstream_asset_key="<load>")
        )

    @staticmethod
    def merge(*def_sets: Definitions) -> Definitions:
        """One `Definitions` holding everything of several (Dagster's `Definitions.merge`).

        Raises:
            DefinitionError: two of them give one resource key different values.
        """
        assets: list[object] = []
        schedules: list[object] = []
        sensors: list[object] = []
        jobs: list[object] = []
        checks: list[object] = []
        resources: dict[str, object] = {}

        def add(into: list[object], items: list[object]) -> None:
            for item in items:  # one object given to several Definitions counts once
                if not any(item is seen for seen in into):
                    into.append(item)

        for defs in def_sets:
            add(assets, defs.assets)
            add(schedules, defs.schedules)
            add(sensors, defs.sensors)
            add(jobs, defs.jobs)
            add(checks, defs.asset_checks)
            for key, value in defs.resources.items():
                if key in resources and resources[key] is not value and resources[key] != value:
                    raise DefinitionError(
                        f"Definitions.merge: resource {key!r} is given two different values: "
                        "give one of them another key"
                    )
                resources[key] = value
        return Definitions(
            assets=assets,  # type: ignore[arg-type]
            schedules=schedules,
            sensors=sensors,
            jobs=jobs,
            resources=resources,
            asset_checks=checks,
        )

    @staticmethod
    def validate_loadable(defs: Definitions) -> None:
        """Check that `defs` would load in a worker (Dagster's `validate_loadable`).

        `Definitions(...)` validates on construction already; this also builds the
        location's snapshot, as a worker does before it publishes.

        Raises:
            DefinitionError: the definitions do not validate.
        """
        from conflux.sdk._snapshot import build_location_snapshot

        build_location_snapshot(defs, "validate_loadable")


def check_self_dependency(
    key: AssetKey, mapping: PartitionMapping | None, pdef: PartitionsDefinition | None
) -> None:
    """Allow an asset to depend on itself only on earlier time windows, as Dagster does.

    Raises:
        DependencyCycleError: the mapping does not read strictly earlier time windows.
    """
    from conflux.sdk.partitions import (
        MultiPartitionMapping,
        MultiPartitionsDefinition,
        TimeWindowPartitionMapping,
        TimeWindowPartitionsDefinition,
    )

    window: object = None
    if isinstance(mapping, TimeWindowPartitionMapping) and isinstance(
        pdef, TimeWindowPartitionsDefinition
    ):
        window = mapping
    elif isinstance(mapping, MultiPartitionMapping) and isinstance(pdef, MultiPartitionsDefinition):
        for dim in mapping.downstream_mappings_by_upstream_dimension.values():
            if isinstance(dim.partition_mapping, TimeWindowPartitionMapping):
                window = dim.partition_mapping
    elif isinstance(mapping, TimeWindowPartitionMapping) and isinstance(
        pdef, MultiPartitionsDefinition
    ):
        window = mapping
    if (
        isinstance(window, TimeWindowPartitionMapping)
        and window.start_offset < 0
        and window.end_offset < 0
    ):
        return
    raise DependencyCycleError(
        f'asset "{key}" depends on itself. An asset can only depend on itself if it is '
        "time-partitioned and each partition depends on earlier partitions: use "
        "AssetDep(<itself>, partition_mapping=TimeWindowPartitionMapping(start_offset=-1, "
        "end_offset=-1))",
        asset_key=key.to_user_string(),
    )


def _resolve_names(
    nodes: tuple[AssetsDefinition, ...],
    by_key: Mapping[AssetKey, tuple[AssetsDefinition, OutputSpec]],
) -> tuple[AssetsDefinition, ...]:
    """Resolve a one-name key no asset has to the one asset of that name in the same group.

    Dagster's rule (`resolve_assets_def_deps`): `@asset(key_prefix="staging")` with a
    parameter `upstream` (or `deps=["upstream"]`) reads `staging/upstream` when that is
    the only asset named `upstream` in its group and no asset has the key `upstream`.
    """
    by_group_name: dict[tuple[str, str], list[AssetKey]] = {}
    for key, (_, out) in by_key.items():
        by_group_name.setdefault((out.group_name, key.path[-1]), []).append(key)

    def resolve(key: AssetKey, node: AssetsDefinition, group: str) -> AssetKey:
        if key in by_key or len(key.path) != 1:
            return key
        found = by_group_name.get((group, key.path[0]), [])
        if len(found) == 1 and found[0] not in node.keys:
            return found[0]
        return key

    out_nodes: list[AssetsDefinition] = []
    for node in nodes:
        group = node.outputs[0].group_name
        inputs = tuple(dataclasses.replace(i, key=resolve(i.key, node, group)) for i in node.inputs)
        deps = tuple(dataclasses.replace(d, asset=resolve(d.key, node, group)) for d in node.deps)
        outputs = tuple(
            dataclasses.replace(
                o,
                deps=tuple(
                    dataclasses.replace(d, asset=resolve(d.key, node, o.group_name)) for d in o.deps
                ),
            )
            for o in node.outputs
        )
        if inputs != node.inputs or deps != node.deps or outputs != node.outputs:
            node = dataclasses.replace(node, inputs=inputs, deps=deps, outputs=outputs)
        out_nodes.append(node)
    return tuple(out_nodes)
