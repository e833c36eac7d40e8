"""The planner: one `MaterializationRequested` and the asset graph in, a run's work items out.

Pure and deterministic: the same request over the same graph gives the same plan, with
the same derived work item ids, so a coordinator that re-plans after a restart decides
exactly what it decided before. Time-dependent partitions are read at the request's time.

A node whose asset has a `BackfillPolicy` gets *ranged* items when the run covers several
of its partitions: its keys, in the definition's order, are cut into runs of consecutive
keys (at most `max_partitions_per_run` each; `single_run`: as long as they are
consecutive), one work item per run, executed in one call (`context.partition_key_range`).
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

    from conflux.events import BackfillPolicySnapshot, RetryPolicySnapshot
    from conflux.projections.folds import DefinitionsProjection
    from conflux.sdk.partitions import PartitionMapping, PartitionsDefinition


class PartitionsRequiredError(DefinitionError):
    """A request selects a partitioned asset but names no partition (nor a range)."""


MAX_RANGE_UPSTREAM = 2000
"""A ranged item reads at most this many upstream partitions (more go to the next item):
its dispatch lists each with its data version (the lineage), ~150 bytes apiece, and a
Kafka record stays under 1 MB by default. A single partition is never cut."""

MAX_LISTED_KEYS = 2000
"""A ranged item whose keys the worker cannot expand from the range (dynamic partitions)
lists them in its dispatch, and then covers at most this many."""


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One node x partition (or x range of partitions) of a run: one worker's one go.

    Attributes:
        work_item_id: `derived_id("work", run_id, node, partition_key or "")`; for a
            ranged item `derived_id("work-range", run_id, node, start, end)`.
        location: the code location whose workers execute it.
        node: the function that computes `asset_keys`.
        asset_keys: every key the node computes, sorted.
        partition_key: the partition, or None for unpartitioned nodes and ranged items.
        depends_on: ids of the work items of the same run whose outcome it reads, in
            plan order; it may run once they all materialized.
        upstream: every (asset key, partition key) the node reads, in- or outside the
            run, in dependency order: what `WorkItemDispatched.upstream` reports (for a
            ranged item, what any of its partitions reads, each once).
        retry_policy: the node's retry policy (None: a failure is final).
        pool: the concurrency pool the item counts against, if any.
        partition_range: a ranged item's first and last key (None: one partition).
        partition_count: how many partitions the item covers (1 unless ranged).
        partition_keys: a ranged item's keys when the worker cannot expand the range
            (dynamic partitions), else None.
        upstream_spans: a ranged item's lineage, per partition: index spans of `upstream`.
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
    partition_range: PartitionRange | None = None
    partition_count: int = 1
    partition_keys: tuple[str, ...] | None = None
    upstream_spans: tuple[tuple[int, ...], ...] = ()

    @property
    def max_retries(self) -> int:
        """How many times a failure is retried (0 without a policy)."""
        return self.retry_policy.max_retries if self.retry_policy is not None else 0

    @property
    def partition_label(self) -> str | None:
        """The partition for messages: the key, `start..end` for a range, None if none."""
        if self.partition_range is not None:
            return f"{self.partition_range.start}..{self.partition_range.end}"
        return self.partition_key


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
        return sum(len(item.asset_keys) * item.partition_count for item in self.items)

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


def range_work_item_id(run_id: str, node: str, start: str, end: str) -> str:
    """Derive the id of a run's node x range of partitions (the same on every re-plan)."""
    return derived_id("work-range", run_id, node, start, end)


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
    reads = _Reads(graph, node_of, now)
    items: list[WorkItem] = []
    for n in order:
        asset = graph.assets[n.keys[0]]
        keys = parts[n]
        if _self_dependent(n, graph) and len(keys) > 1:
            keys = _in_partition_order(graph, n, keys, now)
        policy = asset.backfill_policy
        if policy is not None and len(keys) > 1:
            items.extend(_ranged_items(request, graph, n, keys, policy, reads))
            continue
        for p in keys:
            upstream, deps = reads.of(n, p)
            item = WorkItem(
                work_item_id=work_item_id(request.run_id, n.node, p),
                location=n.location,
                node=n.node,
                asset_keys=n.keys,
                partition_key=p,
                depends_on=tuple(deps),
                upstream=tuple(upstream),
                retry_policy=asset.retry_policy,
                pool=asset.pool,
            )
            reads.ids[(n.node, p)] = item.work_item_id
            items.append(item)
    return Plan(request.run_id, tuple(items), tuple(sorted(node_of)))


def _self_dependent(n: _Node, graph: DefinitionsProjection) -> bool:
    """True when an asset of the node reads its own earlier partitions.

    Dagster allows it on time windows:
    `AssetDep(itself, partition_mapping=TimeWindowPartitionMapping(-1, -1))`.
    """
    return any(key in graph.upstream_of(key) for key in n.keys)


def _in_partition_order(
    graph: DefinitionsProjection, n: _Node, keys: list[str | None], now: datetime
) -> list[str | None]:
    """A self-dependent node's keys in the definition's order.

    So each partition's item is planned after (and depends on) the items of the
    partitions before it.
    """
    pdef = graph.partitions_def(n.keys[0])
    if pdef is None:
        return keys
    return sorted(keys, key=lambda k: pdef.index_of(k, now) if k is not None else -1)


class _Reads:
    """What one partition of a node reads, and the items of the run that compute it.

    `ids` maps (node, partition) to the id of the item that covers it; nodes are planned
    in dependency order, so an upstream's items are known when a dependent is planned.
    """

    def __init__(self, graph: DefinitionsProjection, node_of: dict[str, _Node], now: datetime):
        self.graph = graph
        self.node_of = node_of
        self.now = now
        self.ids: dict[tuple[str, str | None], str] = {}
        self.mappings: dict[tuple[str, str], PartitionMapping] = {}

    def of(
        self, n: _Node, p: str | None
    ) -> tuple[dict[tuple[str, str | None], None], dict[str, None]]:
        """(upstream partitions read, ids of in-run items depended on), each in order."""
        upstream: dict[tuple[str, str | None], None] = {}
        deps: dict[str, None] = {}
        for key in n.keys:
            for up_key in self.graph.upstream_of(key):
                if up_key in n.keys and up_key != key:
                    continue  # computed by this very node
                # (up_key == key: a self-dependency on earlier partitions, which the node's
                # items of those partitions, planned first, compute)
                up_node = self.node_of.get(up_key)
                for up_p in _upstream_partitions(
                    self.graph, self.mappings, key, up_key, p, self.now
                ):
                    upstream[(up_key, up_p)] = None
                    dep = self.ids.get((up_node.node, up_p)) if up_node is not None else None
                    if dep is not None:
                        deps[dep] = None
        return upstream, deps


def _ranged_items(
    request: MaterializationRequested,
    graph: DefinitionsProjection,
    n: _Node,
    keys: list[str | None],
    policy: BackfillPolicySnapshot,
    reads: _Reads,
) -> list[WorkItem]:
    """Cut a node's keys into runs of consecutive keys, one work item per run.

    A run ends at `max_partitions_per_run` keys (`single_run`: no limit), at a gap in the
    definition's key order, at `MAX_RANGE_UPSTREAM` upstream partitions read, and, when its
    keys are listed, at `MAX_LISTED_KEYS`. A run of one key is an ordinary item.
    """
    from conflux.projections.folds import dynamic_names

    asset = graph.assets[n.keys[0]]
    pdef = graph.partitions_def(n.keys[0])
    assert pdef is not None, "a node with several keys is partitioned"
    listed = bool(dynamic_names(asset.partitions))
    limit = policy.max_partitions_per_run if policy.kind == "multi_run" else None
    if listed:
        limit = min(limit or MAX_LISTED_KEYS, MAX_LISTED_KEYS)
    ordered = _in_key_order(pdef, [k for k in keys if k is not None], request, reads.now)
    groups: list[_Group] = []
    previous = -2
    for position, key in ordered:
        upstream, key_deps = reads.of(n, key)
        group = groups[-1] if groups else None
        if (
            group is None
            or position != previous + 1
            or (limit is not None and len(group.keys) >= limit)
            or len(group.union) + sum(ref not in group.union for ref in upstream)
            > MAX_RANGE_UPSTREAM
        ):
            group = _Group()
            groups.append(group)
        group.keys.append(key)
        group.per_key.append(upstream)
        group.union.update(upstream)
        group.deps.update(key_deps)
        previous = position
    items: list[WorkItem] = []
    for group in groups:
        first, last = group.keys[0], group.keys[-1]
        ranged = len(group.keys) > 1
        item = WorkItem(
            work_item_id=(
                range_work_item_id(request.run_id, n.node, first, last)
                if ranged
                else work_item_id(request.run_id, n.node, first)
            ),
            location=n.location,
            node=n.node,
            asset_keys=n.keys,
            partition_key=None if ranged else first,
            depends_on=tuple(group.deps),
            upstream=tuple(group.union),
            retry_policy=asset.retry_policy,
            pool=asset.pool,
            partition_range=PartitionRange(start=first, end=last) if ranged else None,
            partition_count=len(group.keys),
            partition_keys=tuple(group.keys) if ranged and listed else None,
            upstream_spans=_spans(group.union, group.per_key) if ranged and group.union else (),
        )
        for key in group.keys:
            reads.ids[(n.node, key)] = item.work_item_id
        items.append(item)
    return items


@dataclass
class _Group:
    """One run of consecutive keys being collected into a ranged item."""

    keys: list[str] = field(default_factory=list)
    per_key: list[dict[tuple[str, str | None], None]] = field(default_factory=list)
    union: dict[tuple[str, str | None], None] = field(default_factory=dict)
    deps: dict[str, None] = field(default_factory=dict)


def _in_key_order(
    pdef: PartitionsDefinition,
    keys: list[str],
    request: MaterializationRequested,
    now: datetime,
) -> list[tuple[int, str]]:
    """The keys with their positions in the definition, in key order.

    A range of a one-dimensional definition expands to consecutive keys already; explicit
    keys (and the box of a multi-dimensional range) are placed with `index_of`.
    """
    from conflux.sdk.partitions import MultiPartitionsDefinition

    if request.partition_range is not None and not isinstance(pdef, MultiPartitionsDefinition):
        return list(enumerate(keys))
    return sorted((pdef.index_of(key, now), key) for key in keys)


def _spans(
    union: dict[tuple[str, str | None], None],
    per_key: list[dict[tuple[str, str | None], None]],
) -> tuple[tuple[int, ...], ...]:
    """Per key, the half-open spans `lo, hi, ...` of `union`'s positions it reads."""
    index = {ref: i for i, ref in enumerate(union)}
    out: list[tuple[int, ...]] = []
    for upstream in per_key:
        flat: list[int] = []
        for position in sorted(index[ref] for ref in upstream):
            if flat and flat[-1] == position:
                flat[-1] = position + 1
            else:
                flat += [position, position + 1]
        out.append(tuple(flat))
    return tuple(out)


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
