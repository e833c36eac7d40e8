"""A backfill's partition space: what its chunks hold, resolved from the request and the graph.

A backfill is one `BackfillRequested` walked lazily in chunks (`coordinator/_backfill.py`):
the coordinator, which requests the chunks, and the read side, which counts the
backfill's partitions, resolve the same space from the same facts, so they agree.

Chunks are cut along one partitions definition, the *primary* one: that of the selected
partitioned assets. When the selection mixes time-window definitions (an hourly asset
upstream of a daily one), the primary one is the one whose keys `--from`/`--to` name,
and each other definition's partitions join the chunk in which their window ends, so a
daily partition runs in the chunk that holds its last hour. Unpartitioned assets run in
the first chunk, or in the last when they depend on a partitioned asset of the selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

from conflux.events import InvalidPartitionKeyError, SelectionError

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.events import BackfillRequested
    from conflux.projections.folds._definitions import DefinitionsProjection
    from conflux.sdk.partitions import PartitionsDefinition

CHUNK_PARTITIONS = 5000
"""Partitions of the primary definition per chunk: large enough that the pause between
chunks (the last items of one finishing before the next is planned) costs under 1% of
the throughput, small enough that one chunk's plan stays a few megabytes."""


@dataclass(frozen=True)
class _Group:
    """Selected partitioned assets that share one (non-primary) partitions definition."""

    asset_keys: tuple[str, ...]
    pdef: PartitionsDefinition


@dataclass(frozen=True)
class BackfillSpace:
    """Where a backfill's chunks come from: resolved once from the request and the graph.

    Attributes:
        primary_keys: selected assets on the primary partitions definition.
        primary: that definition (None when no selected asset is partitioned).
        lo, hi: the inclusive index range of the primary keys (without explicit keys).
        explicit: the request's explicit keys, when it gave keys instead of a range.
        others: selected assets on other (time-window) definitions.
        first, last: unpartitioned assets of the first and of the last chunk.
        now: the request's time (time-window partitions are read as of then).
    """

    primary_keys: tuple[str, ...]
    primary: PartitionsDefinition | None
    lo: int
    hi: int
    explicit: tuple[str, ...] | None
    others: tuple[_Group, ...]
    first: tuple[str, ...]
    last: tuple[str, ...]
    now: datetime

    @property
    def size(self) -> int:
        """Partitions of the primary definition the backfill covers."""
        if self.primary is None:
            return 0
        return len(self.explicit) if self.explicit is not None else self.hi - self.lo + 1

    @property
    def chunk_count(self) -> int:
        """How many chunks the backfill has (at least one)."""
        return max(1, -(-self.size // CHUNK_PARTITIONS))

    def chunk_keys(self, index: int) -> list[str]:
        """The primary keys of chunk `index`, in order."""
        if self.primary is None:
            return []
        a = index * CHUNK_PARTITIONS
        if self.explicit is not None:
            return list(self.explicit[a : a + CHUNK_PARTITIONS])
        start, end = self.lo + a, min(self.hi, self.lo + a + CHUNK_PARTITIONS - 1)
        return [self.primary.key_at(i, self.now) for i in range(start, end + 1)]

    def others_between(self, first: str, last: str) -> list[tuple[tuple[str, ...], list[str]]]:
        """(assets, keys) of each other definition whose windows end in primary `first..last`.

        Those are the partitions a chunk spanning those primary keys owns.
        """
        if not self.others or self.primary is None:
            return []
        t0, t1 = _window(self.primary, first)[0], _window(self.primary, last)[1]
        found = [(g.asset_keys, _keys_ending_in(g.pdef, t0, t1, self.now)) for g in self.others]
        return [(assets, keys) for assets, keys in found if keys]


def resolve_space(request: BackfillRequested, graph: DefinitionsProjection) -> BackfillSpace:
    """Resolve a backfill's selection into its partition space.

    Raises:
        SelectionError: an asset is unknown, or the selection mixes partitions definitions
            that are not all time windows.
        InvalidPartitionKeyError: the range or a key is not valid for the assets.
    """
    now = request.time
    unknown = sorted(k for k in request.asset_keys if k not in graph.assets)
    if unknown:
        raise SelectionError(f"unknown asset(s): {', '.join(unknown)}")
    keys = sorted(k for k in set(request.asset_keys) if not graph.assets[k].is_external)
    if not keys:
        raise SelectionError("the backfill selects no asset that Conflux executes")
    by_def: dict[str, list[str]] = {}
    unpartitioned: list[str] = []
    for key in keys:
        snap = graph.assets[key].partitions
        if snap is None:
            unpartitioned.append(key)
        else:
            by_def.setdefault(snap.model_dump_json(), []).append(key)
    first, last = _split_unpartitioned(unpartitioned, set(keys) - set(unpartitioned), graph)
    if not by_def:
        return BackfillSpace((), None, 0, -1, None, (), first, last, now)
    if request.partition_keys is None and request.partition_range is None:
        raise InvalidPartitionKeyError(
            f"asset {min(k for g in by_def.values() for k in g)} is partitioned: pass "
            "--from KEY --to KEY or --partition KEY"
        )
    groups = [(tuple(g), graph.partitions_def(g[0])) for g in by_def.values()]
    primary_keys, primary = _primary(groups, request, now)
    others = tuple(_Group(g, p) for g, p in groups if g != primary_keys and p is not None)
    if others and not (_is_time_window(primary) and all(_is_time_window(g.pdef) for g in others)):
        raise SelectionError(
            "a backfill over assets with different partitions definitions needs time-window "
            f"partitions on each ({', '.join(k for g in by_def.values() for k in g[:1])}): "
            "backfill them one definition at a time"
        )
    if request.partition_keys is not None:
        explicit = tuple(dict.fromkeys(request.partition_keys))
        for key in explicit:
            primary.validate_partition_key(key, now)
        return BackfillSpace(primary_keys, primary, 0, -1, explicit, others, first, last, now)
    assert request.partition_range is not None
    lo = primary.index_of(request.partition_range.start, now)
    hi = primary.index_of(request.partition_range.end, now)
    if lo > hi:
        raise InvalidPartitionKeyError(
            f"partition range {request.partition_range.start}..{request.partition_range.end} "
            "is empty: swap --from and --to"
        )
    return BackfillSpace(primary_keys, primary, lo, hi, None, others, first, last, now)


def space_total(space: BackfillSpace) -> int:
    """How many asset partitions the backfill covers (before any `only` filter)."""
    total = space.size * len(space.primary_keys) + len(space.first) + len(space.last)
    if space.others and space.primary is not None and space.size:
        first = space.explicit[0] if space.explicit else space.primary.key_at(space.lo, space.now)
        last = space.explicit[-1] if space.explicit else space.primary.key_at(space.hi, space.now)
        for asset_keys, keys in space.others_between(first, last):
            total += len(keys) * len(asset_keys)
    return total


# -- helpers ----------------------------------------------------------------------------


def _primary(
    groups: list[tuple[tuple[str, ...], PartitionsDefinition | None]],
    request: BackfillRequested,
    now: datetime,
) -> tuple[tuple[str, ...], PartitionsDefinition]:
    """The group whose definition holds the requested keys (the first, by asset key)."""
    probe = (
        [request.partition_range.start, request.partition_range.end]
        if request.partition_range is not None
        else list(request.partition_keys or ())[:1]
    )
    for keys, pdef in groups:
        if pdef is not None and all(pdef.has_partition_key(k, now) for k in probe):
            return keys, pdef
    described = ", ".join(f"{keys[0]}: {pdef.describe_keys()}" for keys, pdef in groups if pdef)
    raise InvalidPartitionKeyError(
        f"{'..'.join(probe)} names no partitions of the selected assets ({described}): pass "
        "keys in one of those formats"
    )


def _split_unpartitioned(
    unpartitioned: list[str], partitioned: set[str], graph: DefinitionsProjection
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Unpartitioned assets without a partitioned ancestor run first, the others last."""
    first: list[str] = []
    last: list[str] = []
    for key in unpartitioned:
        seen: set[str] = set()
        stack = list(graph.upstream_of(key))
        late = False
        while stack and not late:
            up = stack.pop()
            if up in seen:
                continue
            seen.add(up)
            late = up in partitioned
            stack.extend(graph.upstream_of(up))
        (last if late else first).append(key)
    return tuple(first), tuple(last)


def _is_time_window(pdef: PartitionsDefinition | None) -> bool:
    return pdef is not None and hasattr(pdef, "time_window_for_partition_key")


def _window(pdef: PartitionsDefinition, key: str) -> tuple[datetime, datetime]:
    window = pdef.time_window_for_partition_key(key)  # type: ignore[attr-defined]
    return window.start.astimezone(UTC), window.end.astimezone(UTC)


def _keys_ending_in(
    pdef: PartitionsDefinition, t0: datetime, t1: datetime, now: datetime
) -> list[str]:
    """Keys of `pdef` whose window ends in (t0, t1]: those a chunk spanning [t0, t1) owns."""
    key = pdef.get_partition_key_for_time(t0)  # type: ignore[attr-defined]
    count = pdef.get_num_partitions(now)
    try:
        index = pdef.index_of(key, now)
    except InvalidPartitionKeyError:
        first = pdef.get_first_partition_key(now)
        if first is None or _window(pdef, first)[0] >= t1:
            return []
        index = 0
    out: list[str] = []
    while index < count:
        key = pdef.key_at(index, now)
        end = _window(pdef, key)[1]
        if end > t1:
            break
        if end > t0:
            out.append(key)
        index += 1
    return out
