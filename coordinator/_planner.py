"""The planner: one `MaterializationRequested` and the asset graph in, a run's work items out.

Pure and deterministic: the same request over the same graph gives the same plan, with
the same derived work item ids, so a coordinator that re-plans after a restart decides
exactly what it decided before. Time-dependent partitions are read at the request's time.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import (
    DefinitionError,
    DependencyCycleError,
    InvalidPartitionKeyError,
    MaterializationRequested,
    PartitionRange,
    SelectionError,
    derived_id,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from conflux.events import RetryPolicySnapshot
    from conflux.projections import DefinitionsProjection
    from conflux.sdk.partitions import PartitionMapping, PartitionsDefinition


class PartitionsRequiredError(DefinitionError):
    """A request selects a partitioned asset but names no partition (nor a range)."""


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One node x partition of a run: what one worker executes in one go.

    Attributes:
        work_item_id: `derived_id("work", run_id, node, partition_key or "")`.
        location: the code location whose workers execute it.
        node: the function that computes `asset_keys`.
        asset_keys: every key the node computes, sorted.
        partition_key: the partition, or None for unpartitioned nodes.
        depends_on: ids of the work items of the same run whose outcome it reads, in
            plan order; it may run once they all materialized.
        upstream: every (asset key, partition key) the node reads, in- or outside the
            run, in dependency order: what `WorkItemDispatched.upstream` reports.
        retry_policy: the node's retry policy (None: a failure is final).
        pool: the concurrency pool the item counts against, if any.
    """

    work_item_id: str
    location: str
    node: str
    asset_keys: tuple[str, ...]
    partition_key: str | None
    depends_on: tuple[str, ...] = ()
    upstream: tuple[tuple[str, str | None], ...] = ()
    retry_policy: RetryPolicySnapshot | None = None
    pool: str | None = None

    @property
    def max_retries(self) -> int:
        """How many times a failure is retried (0 without a policy)."""
        return self.retry_policy.max_retries if self.retry_policy is not None else 0


@dataclass(frozen=True)
class Plan:
    """A run's work items in dependency order (every item after all it depends on).

    Attributes:
        run_id: the run the plan belongs to.
        items: the work items, topologically ordered; ties in node order, then partition
            order, so equal inputs give equal plans.
        asset_keys: every asset the run materializes, sorted.
    """

    run_id: str
    items: tuple[WorkItem, ...]
    asset_keys: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _dependents: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        dependents: dict[str, list[str]] = {}
        for item in self.items:
            for dep in item.depends_on:
                dependents.setdefault(dep, []).append(item.work_item_id)
        object.__setattr__(self, "_index", {it.work_item_id: i for i, it in enumerate(self.items)})
        object.__setattr__(self, "_dependents", {k: tuple(v) for k, v in dependents.items()})

    @property
    def partition_count(self) -> int:
        """Number of (asset, partition) pairs the run covers (`RunStarted.partition_count`)."""
        return sum(len(item.asset_keys) for item in self.items)

    def index(self, work_item_id: str) -> int:
        """Return the item's position in `items` (its dispatch order)."""
        return self._index[work_item_id]

    def item(self, work_item_id: str) -> WorkItem:
        """Return the work item with that id (KeyError if it is not in this plan)."""
        return self.items[self._index[work_item_id]]

    def dependents(self, work_item_id: str) -> tuple[str, ...]:
        """Ids of the items that wait for `work_item_id`."""
        return self._dependents.get(work_item_id, ())


@dataclass(frozen=True, slots=True)
class _Node:
    location: str
    node: str
    keys: tuple[str, ...]


def work_item_id(run_id: str, node: str, partition_key: str | None) -> str:
    """Derive the id of a run's node x partition (the same on every re-plan)."""
    return derived_id("work", run_id, node, partition_key or "")


def plan_run(request: MaterializationRequested, graph: DefinitionsProjection) -> Plan:
    """Plan a request into work items with their in-run dependencies.

    A selected asset brings every key of its node; external assets are observed, never
    executed, and are left out. Unpartitioned nodes get the single partition None;
    partitioned ones get the request's keys or its expanded range (see
    `_assign_partitions` for selections that mix partitions definitions).

    Raises:
        SelectionError: the selection is empty, names an unknown asset, or only
            external ones.
        PartitionsRequiredError: a partitioned asset is selected without partitions.
        InvalidPartitionKeyError: a key (or range) is not valid for a selected asset.
        DependencyCycleError: the selected nodes depend on each other in a cycle.
    """
    nodes = _select_nodes(request.asset_keys, graph)
    now = request.time
    parts = _assign_partitions(nodes, request, graph, now)
    node_of = {key: n for n in nodes for key in n.keys}
    order = _node_order(nodes, node_of, graph)
    ids = {(n.node, p): work_item_id(request.run_id, n.node, p) for n in nodes for p in parts[n]}
    mappings: dict[tuple[str, str], PartitionMapping] = {}
    items: list[WorkItem] = []
    for n in order:
        asset = graph.assets[n.keys[0]]
        for p in parts[n]:
            upstream: dict[tuple[str, str | None], None] = {}
            deps: dict[str, None] = {}
            for key in n.keys:
                for up_key in graph.upstream_of(key):
                    if up_key in n.keys:
                        continue  # computed by this very node
                    for up_p in _upstream_partitions(graph, mappings, key, up_key, p, now):
                        upstream[(up_key, up_p)] = None
                        up_node = node_of.get(up_key)
                        dep = ids.get((up_node.node, up_p)) if up_node is not None else None
                        if dep is not None:
                            deps[dep] = None
            items.append(
                WorkItem(
                    work_item_id=ids[(n.node, p)],
                    location=n.location,
                    node=n.node,
                    asset_keys=n.keys,
                    partition_key=p,
                    depends_on=tuple(deps),
                    upstream=tuple(upstream),
                    retry_policy=asset.retry_policy,
                    pool=asset.pool,
                )
            )
    return Plan(request.run_id, tuple(items), tuple(sorted(node_of)))


# -- selection ----------------------------------------------------------------------------


def _select_nodes(asset_keys: Sequence[str], graph: DefinitionsProjection) -> list[_Node]:
    if not asset_keys:
        raise SelectionError("the selection names no asset")
    unknown = sorted({k for k in asset_keys if k not in graph.assets})
    if unknown:
        raise SelectionError(f"unknown asset(s): {', '.join(unknown)}")
    nodes: dict[tuple[str, str], _Node] = {}
    for key in sorted(set(asset_keys)):
        asset = graph.assets[key]
        if asset.is_external:
            continue
        location = graph.asset_location[key]
        if (location, asset.node) not in nodes:
            keys = tuple(k for k in graph.node_keys(key) if not graph.assets[k].is_external)
            nodes[(location, asset.node)] = _Node(location, asset.node, keys)
    if not nodes:
        raise SelectionError(
            f"asset(s) {', '.join(sorted(set(asset_keys)))} are external (observed, never "
            "executed): report their materializations with `conflux report` instead"
        )
    return [nodes[k] for k in sorted(nodes)]


# -- partitions -------------------------------------------------------------------------


def _assign_partitions(
    nodes: list[_Node],
    request: MaterializationRequested,
    graph: DefinitionsProjection,
    now: datetime,
) -> dict[_Node, list[str | None]]:
    """Which partitions each node runs.

    When every partitioned node shares one partitions definition (the usual case), each
    requested key must be valid for it. When they differ (an hourly asset upstream of a
    daily one), each key goes to the definitions that contain it: every key must fit at
    least one of them and every partitioned node must get at least one key. A range must
    be valid for each definition.
    """
    out: dict[_Node, list[str | None]] = {}
    groups: dict[str, list[_Node]] = {}
    for n in nodes:
        snap = graph.assets[n.keys[0]].partitions
        if snap is None:
            out[n] = [None]
        else:
            groups.setdefault(snap.model_dump_json(), []).append(n)
    if not groups:
        return out
    first_key = min(k for group in groups.values() for n in group for k in n.keys)
    if request.partition_keys is None and request.partition_range is None:
        raise PartitionsRequiredError(
            f"asset {first_key} is partitioned: pass --partition KEY or --from/--to",
            asset_key=first_key,
        )
    defs = [(group, _partitions_def(graph, group[0])) for group in groups.values()]
    requested = list(dict.fromkeys(request.partition_keys or ()))
    if len(defs) > 1:
        for key in requested:
            if not any(pdef.has_partition_key(key, now) for _, pdef in defs):
                raise InvalidPartitionKeyError(
                    f"partition {key!r} is not a partition of any selected asset",
                    asset_key=first_key,
                )
    for group, pdef in defs:
        first = group[0].keys[0]
        try:
            keys = _group_keys(pdef, request, requested, first, now, mixed=len(defs) > 1)
        except InvalidPartitionKeyError as exc:
            if exc.asset_key is not None:
                raise
            raise InvalidPartitionKeyError(f"asset {first}: {exc}", asset_key=first) from exc
        for n in group:
            out[n] = [*keys]
    return out


def _group_keys(
    pdef: PartitionsDefinition,
    request: MaterializationRequested,
    requested: list[str],
    first: str,
    now: datetime,
    *,
    mixed: bool,
) -> list[str]:
    """The keys one partitions definition gets (see `_assign_partitions`)."""
    if request.partition_range is not None:
        return _expand_range(pdef, request.partition_range, first, now, strict=mixed)
    if not mixed:
        for key in requested:
            pdef.validate_partition_key(key, now)
        return requested
    keys = [k for k in requested if pdef.has_partition_key(k, now)]
    if not keys:
        raise InvalidPartitionKeyError(
            f"none of the requested partitions ({', '.join(requested)}) is a "
            f"partition of asset {first}",
            asset_key=first,
        )
    return keys


def _expand_range(
    pdef: PartitionsDefinition,
    rng: PartitionRange,
    asset_key: str,
    now: datetime,
    *,
    strict: bool,
) -> list[str]:
    if strict and not (
        pdef.has_partition_key(rng.start, now) and pdef.has_partition_key(rng.end, now)
    ):
        raise InvalidPartitionKeyError(
            f"range {rng.start}..{rng.end} is not a range of asset {asset_key}'s partitions",
            asset_key=asset_key,
        )
    return list(pdef.get_partition_keys_in_range(rng.start, rng.end, now))


def _partitions_def(graph: DefinitionsProjection, node: _Node) -> PartitionsDefinition:
    pdef = graph.partitions_def(node.keys[0])
    assert pdef is not None, "only partitioned nodes are grouped"
    return pdef


def _upstream_partitions(
    graph: DefinitionsProjection,
    mappings: dict[tuple[str, str], PartitionMapping],
    key: str,
    up_key: str,
    partition: str | None,
    now: datetime,
) -> list[str | None]:
    """Map partition `partition` of `key` to the partitions of `up_key` it reads."""
    if up_key not in graph.assets:
        return [None]  # not (yet) defined anywhere: read as it is
    up_def = graph.partitions_def(up_key)
    if up_def is None:
        return [None]
    mapping = mappings.get((key, up_key))
    if mapping is None:
        mapping = mappings[(key, up_key)] = graph.mapping(key, up_key)
    return list(
        mapping.get_upstream_partition_keys(
            partition, graph.partitions_def(key), up_def, current_time=now
        )
    )


# -- order ------------------------------------------------------------------------------


def _node_order(
    nodes: list[_Node], node_of: dict[str, _Node], graph: DefinitionsProjection
) -> list[_Node]:
    """Nodes in dependency order (Kahn's algorithm; ties broken by (location, node))."""
    rank = {n: i for i, n in enumerate(nodes)}
    ups: dict[_Node, set[_Node]] = {n: set() for n in nodes}
    downs: dict[_Node, set[_Node]] = {n: set() for n in nodes}
    for n in nodes:
        for key in n.keys:
            for up_key in graph.upstream_of(key):
                up = node_of.get(up_key)
                if up is not None and up != n:
                    ups[n].add(up)
                    downs[up].add(n)
    waiting = {n: len(ups[n]) for n in nodes}
    ready = [rank[n] for n in nodes if waiting[n] == 0]
    heapq.heapify(ready)
    order: list[_Node] = []
    while ready:
        n = nodes[heapq.heappop(ready)]
        order.append(n)
        for d in downs[n]:
            waiting[d] -= 1
            if waiting[d] == 0:
                heapq.heappush(ready, rank[d])
    if len(order) < len(nodes):
        stuck = sorted(k for n in nodes if waiting[n] > 0 for k in n.keys)
        raise DependencyCycleError(
            f"the selected assets depend on each other in a cycle: {', '.join(stuck)}",
            asset_key=stuck[0],
        )
    return order
