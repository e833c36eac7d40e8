"""The definitions projection: every location's snapshot folded into one asset graph.

The coordinator and every reader learn assets, partitions and dependencies here, from
`DefinitionsPublished` and `LocationLoadFailed` events, never from user code (rule 7).
The keys of dynamic partitions are folded here too (`DynamicPartitionsAdded`,
`DynamicPartitionsDeleted`), so `partitions_def(asset_key)` answers with the live keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from conflux.events import (
    AnyEvent,
    AssetCheckSnapshot,
    AssetSnapshot,
    DefinitionsPublished,
    DynamicPartitionsAdded,
    DynamicPartitionsDeleted,
    DynamicPartitionsSnapshot,
    LocationLoadFailed,
    LocationSnapshot,
    MultiPartitionsSnapshot,
)

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.events import PartitionsSnapshot
    from conflux.sdk.partitions import PartitionMapping, PartitionsDefinition


@dataclass
class LocationState:
    """What is known of one code location: its last good snapshot and its status."""

    name: str
    status: Literal["loaded", "failed"]
    updated: datetime
    snapshot_id: str | None = None
    snapshot: LocationSnapshot | None = None
    error: LocationLoadFailed | None = None
    """The last load failure, if the location's latest word was a failure."""


@dataclass
class DefinitionsProjection:
    """Fold of the definitions topic: locations, and the asset graph across them.

    A location's new snapshot replaces its previous one whole. A load failure marks the
    location failed but keeps its last good assets, so their history stays readable.
    An asset a location only declares (an external `AssetSpec`, e.g. another location's
    upstream) never displaces the same key defined by another location.
    Dynamic partition keys are kept per name, in order of first addition (a key removed
    and added again goes to the end); adding a present key or removing an absent one
    changes nothing. `apply` is idempotent: applying an event twice changes nothing (for
    dynamic partitions, by event id, so a late duplicate cannot undo a removal).
    """

    locations: dict[str, LocationState] = field(default_factory=dict)
    assets: dict[str, AssetSnapshot] = field(default_factory=dict)
    asset_location: dict[str, str] = field(default_factory=dict)
    dynamic_partitions: dict[str, dict[str, None]] = field(default_factory=dict)
    """Dynamic partitions name -> its current keys, in order (a dict used as an ordered
    set). A name appears once a key was added to it, whether or not an asset uses it."""
    _dynamic_applied: set[str] = field(default_factory=set)
    """Ids of the dynamic partitions events folded (their duplicates are dropped)."""
    _partitions_cache: dict[str, PartitionsDefinition | None] = field(default_factory=dict)
    _downstream: dict[str, list[str]] | None = None
    _nodes: dict[tuple[str, str], list[str]] | None = None
    _checks: dict[str, tuple[AssetCheckSnapshot, ...]] | None = None

    def apply(self, event: AnyEvent) -> None:
        """Fold one event; events of other types are ignored."""
        if isinstance(event, DefinitionsPublished):
            self._publish(event)
        elif isinstance(event, DynamicPartitionsAdded | DynamicPartitionsDeleted):
            self._dynamic(event)
        elif isinstance(event, LocationLoadFailed):
            previous = self.locations.get(event.location)
            if previous is not None and previous.updated > event.time:
                return
            self.locations[event.location] = LocationState(
                name=event.location,
                status="failed",
                updated=event.time,
                snapshot_id=previous.snapshot_id if previous else None,
                snapshot=previous.snapshot if previous else None,
                error=event,
            )

    def _publish(self, event: DefinitionsPublished) -> None:
        previous = self.locations.get(event.location)
        if previous is not None and previous.updated > event.time:
            return
        if previous is not None and previous.snapshot is not None:
            for asset in previous.snapshot.assets:
                if self.asset_location.get(asset.key) == event.location:
                    del self.assets[asset.key]
                    del self.asset_location[asset.key]
        for asset in event.snapshot.assets:
            if asset.is_external and not self.assets.get(asset.key, asset).is_external:
                continue  # another location defines it; this one only declares it (AssetSpec)
            self.assets[asset.key] = asset
            self.asset_location[asset.key] = event.location
        self.locations[event.location] = LocationState(
            name=event.location,
            status="loaded",
            updated=event.time,
            snapshot_id=event.snapshot_id,
            snapshot=event.snapshot,
        )
        self._partitions_cache.clear()
        self._downstream = None
        self._nodes = None
        self._checks = None

    def _dynamic(self, event: DynamicPartitionsAdded | DynamicPartitionsDeleted) -> None:
        if event.event_id in self._dynamic_applied:
            return
        self._dynamic_applied.add(event.event_id)
        name = event.partitions_def_name
        keys = self.dynamic_partitions.setdefault(name, {})
        before = len(keys)
        if isinstance(event, DynamicPartitionsAdded):
            for key in event.partition_keys:
                keys.setdefault(key, None)
        else:
            for key in event.partition_keys:
                keys.pop(key, None)
        if len(keys) != before:  # definitions bound to the old keys are stale
            for asset_key in [k for k in self._partitions_cache if self._uses(k, name)]:
                del self._partitions_cache[asset_key]

    def _uses(self, asset_key: str, name: str) -> bool:
        asset = self.assets.get(asset_key)
        return asset is not None and name in dynamic_names(asset.partitions)

    # -- queries -----------------------------------------------------------------------

    def partitions_def(self, asset_key: str) -> PartitionsDefinition | None:
        """The live partitions definition of an asset (None: unpartitioned or unknown).

        Dynamic partitions (alone or as a dimension) come bound to their current keys:
        the object answers from the keys at the time it was handed out, and a later
        call after keys change returns a new object.
        """
        if asset_key not in self._partitions_cache:
            from conflux.sdk.partitions import partitions_from_snapshot

            asset = self.assets.get(asset_key)
            snap = asset.partitions if asset is not None else None
            self._partitions_cache[asset_key] = (
                partitions_from_snapshot(snap, self.dynamic_partitions)
                if snap is not None
                else None
            )
        return self._partitions_cache[asset_key]

    def get_dynamic_partitions(self, partitions_def_name: str) -> list[str]:
        """The current keys of dynamic partitions `partitions_def_name`, in order.

        Dagster's `DynamicPartitionsStore` method: pass this projection as
        `dynamic_partitions_store=` to an unbound `DynamicPartitionsDefinition`.
        """
        return list(self.dynamic_partitions.get(partitions_def_name, ()))

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        """True when `partition_key` is a current key of `partitions_def_name`."""
        return partition_key in self.dynamic_partitions.get(partitions_def_name, {})

    def dynamic_partitions_users(self) -> dict[str, list[str]]:
        """Dynamic partitions name -> the keys of the assets partitioned by it, sorted."""
        users: dict[str, list[str]] = {}
        for key in sorted(self.assets):
            for name in dynamic_names(self.assets[key].partitions):
                users.setdefault(name, []).append(key)
        return users

    def mapping(self, downstream_key: str, upstream_key: str) -> PartitionMapping:
        """How `downstream_key`'s partitions map onto `upstream_key`'s (explicit or default)."""
        from conflux.sdk.partitions import default_partition_mapping, mapping_from_snapshot

        asset = self.assets[downstream_key]
        for dep in asset.deps:
            if dep.asset_key == upstream_key and dep.partition_mapping is not None:
                return mapping_from_snapshot(dep.partition_mapping)
        return default_partition_mapping(
            self.partitions_def(downstream_key), self.partitions_def(upstream_key)
        )

    def upstream_of(self, asset_key: str) -> list[str]:
        """Keys of the assets `asset_key` depends on (known or not)."""
        asset = self.assets.get(asset_key)
        return [dep.asset_key for dep in asset.deps] if asset is not None else []

    def downstream_of(self, asset_key: str) -> list[str]:
        """Keys of the known assets that depend on `asset_key`."""
        if self._downstream is None:
            downstream: dict[str, list[str]] = {}
            for key, asset in self.assets.items():
                for dep in asset.deps:
                    downstream.setdefault(dep.asset_key, []).append(key)
            self._downstream = downstream
        return self._downstream.get(asset_key, [])

    def asset_checks_of(self, asset_key: str) -> tuple[AssetCheckSnapshot, ...]:
        """The checks its location defines on `asset_key`, by name (cached per snapshot).

        Only the location that defines the asset counts: the worker that materializes it
        is the one that runs them.
        """
        if self._checks is None:
            found: dict[str, list[AssetCheckSnapshot]] = {}
            for name, loc in sorted(self.locations.items()):
                for check in loc.snapshot.asset_checks if loc.snapshot is not None else ():
                    if self.asset_location.get(check.asset_key) == name:
                        found.setdefault(check.asset_key, []).append(check)
            self._checks = {k: tuple(sorted(v, key=lambda c: c.name)) for k, v in found.items()}
        return self._checks.get(asset_key, ())

    def location_of(self, asset_key: str) -> str | None:
        """The location that defines `asset_key`, if any."""
        return self.asset_location.get(asset_key)

    def node_keys(self, asset_key: str) -> list[str]:
        """Every key computed by the same node (function) as `asset_key`, itself included."""
        if self._nodes is None:
            nodes: dict[tuple[str, str], list[str]] = {}
            for key in sorted(self.assets):
                nodes.setdefault((self.asset_location[key], self.assets[key].node), []).append(key)
            self._nodes = nodes
        return list(self._nodes[(self.asset_location[asset_key], self.assets[asset_key].node)])


def dynamic_names(snapshot: PartitionsSnapshot | None) -> list[str]:
    """The names of the dynamic partitions a partitions snapshot uses (also as dimensions)."""
    if isinstance(snapshot, DynamicPartitionsSnapshot):
        return [snapshot.name]
    if isinstance(snapshot, MultiPartitionsSnapshot):
        return [name for _, dim in snapshot.dimensions for name in dynamic_names(dim)]
    return []
