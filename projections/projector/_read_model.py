"""The projector's read model: the current state a reader needs, behind one lock.

`ReadModel.apply` is the only writer (the projector's consume loop); the query API's
threads read through the methods here, which return the API's response models. It holds
current state only, compactly (the asset state by column, a completed run as its
summary): history (events, a run's timeline, lineage) is the archive's. The projector
checkpoints it with the positions it has applied (rule 5); a replay rebuilds it (rule 4).
"""

from __future__ import annotations

import operator
import re
import threading
import time
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING

from conflux.events import (
    AnyEvent,
    ConfluxError,
    DefinitionError,
    EpochFence,
    InvalidPartitionKeyError,
    PartitionsSnapshot,
    SelectionError,
)
from conflux.projections.api import (
    AssetSummary,
    LastMaterialization,
    PartitionCounts,
    PartitionDimension,
    PartitionRanges,
    RunSummary,
)
from conflux.projections.folds import (
    AssetStateProjection,
    AutomationFacts,
    BackfillsProjection,
    ChecksProjection,
    ComponentsProjection,
    DefinitionsProjection,
    InstigatorFacts,
    RunRecord,
    RunsProjection,
    latest_materialization,
    resolve_selection,
    status_counts,
    unknown_asset_message,
)
from conflux.projections.projector._dynamic import current_states

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from conflux.events import PartitionRange
    from conflux.projections.api import BrokerStatus, StatusReport

_SORTABLE = re.compile(r"%Y(?:[^%\d]*%m(?:[^%\d]*%d(?:[^%\d]*%H(?:[^%\d]*%M(?:[^%\d]*%S)?)?)?)?)?")
"""Time-window formats whose keys sort as strings in time order: fixed-width fields from
the year down, separated by anything but digits (Dagster's daily, hourly, monthly...)."""
_TOTAL_TTL_S = 30.0
"""How long a time-window asset's partition count is reused (it changes with the clock)."""


class ReadModel:
    """Definitions, asset state, runs, backfills, checks and components, kept together.

    `apply` records the position it has applied up to (`positions`, per topic partition)
    in the same locked step (rule 5), and skips a record below it (already applied: a
    restart from a checkpoint reads a little again); each fold is idempotent, so a
    duplicate event changes nothing. Every read takes the lock, so a reader never sees
    half of an event applied. It pickles without its lock and caches (a checkpoint).
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.definitions = DefinitionsProjection()
        self.asset_state = AssetStateProjection()
        self.runs = RunsProjection()
        self.backfills = BackfillsProjection()
        self.checks = ChecksProjection()
        self.applied = 0
        """Events applied (records skipped as already applied are not counted)."""
        self.components = ComponentsProjection()
        self.automation = AutomationFacts()
        """What `conflux why` evaluates conditions over (the coordinator folds the same)."""
        self.instigators = InstigatorFacts()
        """Schedules' and sensors' status, cursors and ticks (the coordinator folds the same)."""
        self.fence = EpochFence()
        """Per partition, the newest leadership epoch marked: what `apply` refuses."""
        self.positions: dict[tuple[str, int], int] = {}
        """(topic, partition) -> the next offset to read: where a restart would resume."""
        self._totals: dict[str, tuple[float, int | None]] = {}
        self._changes: dict[str, int] = {}
        """Asset -> how many partition-state events it has had (keys the ranges cache)."""
        self._ranges: dict[str, tuple[tuple[int, int, int], PartitionRanges]] = {}
        """Asset -> (its changes, the definition's identity and size) -> its ranges."""
        self._sorted: dict[str, tuple[tuple[int, int], bool]] = {}
        """Asset -> (its definition's identity, key count) -> keys in string order?"""

    _CACHES = ("_totals", "_ranges", "_sorted")

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        del state["lock"]
        for name in self._CACHES:
            state[name] = {}
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()

    # -- writing -----------------------------------------------------------------------

    def apply(
        self, event: AnyEvent, *, topic: str = "", partition: int = -1, offset: int = -1
    ) -> bool:
        """Fold one event into every projection; False if it was not folded.

        A record is known by its position: one below the position applied so far in its
        topic partition is skipped (events without a position are always folded). A
        decision of a coordinator that had lost leadership (a newer epoch's mark came
        first in its partition) is refused too, before anything sees it: see `fence`
        (which the checkpoint keeps with the state, so a restart fences as a replay does).
        """
        with self.lock:
            if offset >= 0:
                key = (topic, partition)
                if offset < self.positions.get(key, 0):
                    return False
                self.positions[key] = offset + 1
            if not self.fence.admit(event, topic, partition):
                return False
            self.applied += 1
            self.definitions.apply(event)
            self.asset_state.apply(event)
            self.runs.apply(event)
            self.backfills.apply(event)
            self.checks.apply(event)
            self.components.apply(event)
            self.automation.apply(event)
            self.instigators.apply(event)
            if event.type in ("AssetMaterialized", "PartitionStarted", "PartitionFailed"):
                asset = event.asset_key
                self._changes[asset] = self._changes.get(asset, 0) + 1
            if event.type in (
                "DefinitionsPublished",
                "LocationLoadFailed",
                "DynamicPartitionsAdded",
                "DynamicPartitionsDeleted",
            ):
                self._totals.clear()
                self._ranges.clear()
                self.automation.refresh(self.definitions)
            return True

    def apply_all(self, events: Iterable[AnyEvent]) -> int:
        """Apply events in order (no positions); returns how many were applied."""
        return sum(self.apply(e) for e in events)

    # -- assets ------------------------------------------------------------------------

    def asset_summaries(self) -> list[AssetSummary]:
        """Every asset, defined or only seen in events, sorted by key."""
        with self.lock:
            keys = set(self.definitions.assets) | set(self.asset_state.partitions)
            return [self._asset_summary(k) for k in sorted(keys)]

    def asset_summary(self, key: str) -> AssetSummary:
        """One asset.

        Raises:
            SelectionError: no location defines it and no event mentions it.
        """
        with self.lock:
            if key not in self.definitions.assets and key not in self.asset_state.partitions:
                raise SelectionError(unknown_asset_message(key, self.definitions.assets))
            return self._asset_summary(key)

    def partition_ranges(self, key: str) -> PartitionRanges:
        """The asset's partition status as ranges over its definition's key order.

        Raises:
            SelectionError: no location defines the asset.
            DefinitionError: the asset is not partitioned.
        """
        from conflux.projections.projector._ranges import summarize

        with self.lock:
            if key not in self.definitions.assets:
                raise SelectionError(unknown_asset_message(key, self.definitions.assets))
            pdef = self.definitions.partitions_def(key)
            if pdef is None:
                raise DefinitionError(f"{key} is not partitioned: drop --partitions", asset_key=key)
            # A page that follows a busy asset asks again and again: answer from the last
            # summary while neither the asset's state nor its partition space changed.
            version = (self._changes.get(key, 0), id(pdef), pdef.get_num_partitions())
            cached = self._ranges.get(key)
            if cached is not None and cached[0] == version:
                return cached[1]
            table = self.asset_state.partitions.get(key)
            states = table.statuses() if table is not None else {}  # a snapshot, by column
        keys = pdef.get_partition_keys()
        summary = summarize(key, keys, states, keys_sorted=self._keys_sorted(key, pdef, keys))
        from conflux.sdk import MultiPartitionsDefinition

        if isinstance(pdef, MultiPartitionsDefinition):
            dims = [
                PartitionDimension(name=d.name, count=d.partitions_def.get_num_partitions())
                for d in pdef.partitions_defs
            ]
            summary = summary.model_copy(update={"dimensions": dims})
        with self.lock:
            self._ranges[key] = (version, summary)
        return summary

    def _keys_sorted(self, key: str, pdef: object, keys: Sequence[str]) -> bool:
        """Whether the definition lists its keys in string order (checked once per list)."""
        seen = self._sorted.get(key)
        if seen is not None and seen[0] == (id(pdef), len(keys)):
            return seen[1]
        ordered = all(map(operator.lt, keys, islice(keys, 1, None)))
        self._sorted[key] = ((id(pdef), len(keys)), ordered)
        return ordered

    def _asset_summary(self, key: str) -> AssetSummary:
        from conflux.sdk.runtime import describe

        snap = self.definitions.assets.get(key)
        states = current_states(self.definitions, key, self.asset_state.partitions.get(key, {}))
        counts = status_counts(states)  # by column: no PartitionState per partition
        latest = latest_materialization(states)
        partitions_snapshot: PartitionsSnapshot | None = snap.partitions if snap else None
        total = self._total(key) if snap is not None else None
        if total is None:
            total = max(1, len(states))
        return AssetSummary(
            key=key,
            location=self.definitions.location_of(key),
            group_name=snap.group_name if snap else None,
            description=snap.description if snap else None,
            defined=snap is not None,
            partitioned=partitions_snapshot is not None
            or (snap is None and any(pk is not None for pk in states)),
            is_external=snap.is_external if snap else False,
            partitions=PartitionCounts(
                total=total,
                materialized=counts.get("materialized", 0),
                failed=counts.get("failed", 0),
                in_progress=counts.get("in_progress", 0),
            ),
            last_materialization=LastMaterialization(
                partition_key=latest[0],
                data_version=latest[1].data_version,
                time=latest[1].time,
                run_id=latest[1].run_id,
                source=latest[1].source,
                event_id=latest[1].event_id,
            )
            if latest
            else None,
            partitions_snapshot=partitions_snapshot,
            checks=self.checks.summaries(key, self.definitions.asset_checks_of(key)),
            deps=[dep.asset_key for dep in snap.deps] if snap else [],
            automation_condition=describe(snap.automation_condition)
            if snap is not None and snap.automation_condition is not None
            else None,
        )

    def _total(self, key: str) -> int | None:
        """Partitions that exist now (1 unpartitioned; None if this version cannot tell)."""
        cached = self._totals.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < _TOTAL_TTL_S:
            return cached[1]
        try:
            pdef = self.definitions.partitions_def(key)
            total: int | None = pdef.get_num_partitions() if pdef is not None else 1
        except (ConfluxError, ValueError, LookupError):  # a snapshot this version cannot rebuild
            total = None
        self._totals[key] = (now, total)
        return total

    def validate_partition(self, key: str, partition: str | None, to: str | None = None) -> None:
        """Check that `key` is a defined asset and `partition` fits its partitions.

        With `to`, `partition..to` must be a range of the asset's keys: both ends keys,
        `partition` not after `to` (what a request's `--from`/`--to` must be).

        Raises:
            SelectionError: no location defines `key`.
            InvalidPartitionKeyError: `partition` (or `to`) is not one of the asset's keys,
                or the range is empty.
            DefinitionError: a partitioned asset got no partition, or an unpartitioned
                one got one.
        """
        with self.lock:
            if key not in self.definitions.assets:
                raise SelectionError(unknown_asset_message(key, self.definitions.assets))
            pdef = self.definitions.partitions_def(key)
        if pdef is None:
            if partition is not None:
                raise DefinitionError(
                    f"{key} is not partitioned: drop --partition {partition}", asset_key=key
                )
            return
        if partition is None:
            raise DefinitionError(
                f"{key} is partitioned ({pdef.describe_keys()}): pass --partition KEY",
                asset_key=key,
            )
        pdef.validate_partition_key(partition)
        if to is not None:
            from conflux.sdk import MultiPartitionsDefinition

            pdef.validate_partition_key(to)
            if isinstance(pdef, MultiPartitionsDefinition):
                pdef.get_partition_keys_in_range(partition, to)  # a box: each part in order
            elif pdef.index_of(partition) > pdef.index_of(to):
                raise InvalidPartitionKeyError(
                    f"partition range {partition}..{to} is empty: {partition!r} comes after "
                    f"{to!r}; swap --from and --to (the start and end keys)"
                )

    def resolve_selection(self, selection: str) -> list[str]:
        """The asset keys a selection names (see `resolve_selection`)."""
        with self.lock:
            return resolve_selection(selection, self.definitions)

    # -- runs and events ---------------------------------------------------------------

    def run_summaries(self, status: str | None = None, limit: int = 50) -> list[RunSummary]:
        """Runs, newest first, optionally only those with `status`."""
        with self.lock:
            runs = self.runs.newest_first()
            if status is not None:
                runs = [r for r in runs if r.status == status.lower()]
            return [_run_summary(r) for r in runs[: max(0, limit)]]

    def run_summary(self, run_id: str) -> RunSummary | None:
        """One run, or None if no event of it was seen."""
        with self.lock:
            run = self.runs.get(run_id)
            return _run_summary(run) if run is not None else None

    def covers(self, asset: str, span: PartitionRange, key: str) -> bool:
        """Tell whether the range `span` of `asset`'s partitions holds `key`."""
        return self._covers(asset, span, key)

    def keys_in_string_order(self, asset: str) -> bool:
        """Whether `asset`'s partition keys sort as strings in their own order (time windows).

        Then a key range holds only keys between its ends as strings: history readers
        check just the ranges around a key. False when it is not partitioned or unknown.
        Cheap after the first call: a time window's keys are listed once per definition
        (its order is its format's, however many windows pass since), other definitions'
        once per key count.
        """
        from conflux.sdk.partitions import MultiPartitionsDefinition, TimeWindowPartitionsDefinition

        try:
            pdef = self.definitions.partitions_def(asset)
            if pdef is None or isinstance(pdef, MultiPartitionsDefinition):
                return False
            seen = self._sorted.get(asset)
            if isinstance(pdef, TimeWindowPartitionsDefinition):
                if _SORTABLE.fullmatch(pdef.fmt):
                    return True  # e.g. %Y-%m-%d-%H:%M: fixed width, most significant first
                if seen is not None and seen[0][0] == id(pdef):
                    return seen[1]
                return self._keys_sorted(asset, pdef, pdef.get_partition_keys())
            return self._keys_sorted(asset, pdef, pdef.get_partition_keys())
        except (ConfluxError, ValueError, LookupError):
            return False

    def _covers(self, asset: str, span: PartitionRange, key: str) -> bool:
        try:
            pdef = self.definitions.partitions_def(asset)
            if pdef is None:
                return False
            return key in pdef.get_partition_keys_in_range(span.start, span.end)
        except (ConfluxError, ValueError, LookupError):
            return False

    # -- status ------------------------------------------------------------------------

    def status(
        self,
        *,
        caught_up: bool,
        expected_locations: Iterable[str] = (),
        now: datetime | None = None,
        broker_problem: str | None = None,
        brokers: Sequence[BrokerStatus] = (),
        progress: str | None = None,
    ) -> StatusReport:
        """Whether the system is ready, and why not (see `status_report`)."""
        from conflux.projections.projector._status import status_report

        with self.lock:
            return status_report(
                self,
                caught_up=caught_up,
                expected_locations=tuple(expected_locations),
                broker_problem=broker_problem,
                brokers=brokers,
                progress=progress,
                now=now or datetime.now(UTC),
            )


def _run_summary(run: RunRecord) -> RunSummary:
    return RunSummary(
        run_id=run.run_id,
        status=run.status,
        selection=run.selection,
        asset_keys=list(run.asset_keys),
        partition_count=run.partition_count,
        materialized=run.materialized,
        failed=run.failed,
        skipped=run.skipped,
        in_progress=run.in_progress,
        requested_by=run.requested_by,
        trigger=run.trigger,
        requested_at=run.requested_at,
        started_at=run.started_at,
        completed_at=run.completed_at,
        reason=run.completed.reason if run.completed else None,
        held=run.held,
    )
