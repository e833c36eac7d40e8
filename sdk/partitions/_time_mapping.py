"""How `TimeWindowPartitionMapping` maps windows: Dagster's algorithm, on window ordinals.

A subset is mapped run by run (a run is consecutive windows, so offsets move the run's
ends, not each window's). Downstream to upstream: the run's start and end move by the
offsets in downstream windows, clamped to the upstream's existing span; the result widens
to whole upstream windows. Upstream to downstream: the run widens to whole downstream
windows first, then moves by the negated offsets. What falls outside the target's
existing windows is dropped, and (downstream to upstream, unless
`allow_nonexistent_upstream_partitions`) reported as required but nonexistent. The short
cuts Dagster takes when nothing needs computing (equal definitions and no offsets, ...)
are kept, since they decide what a future or past window maps to.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conflux.events import IncompatiblePartitionMappingError
from conflux.sdk.partitions._time_window import TimeWindow

if TYPE_CHECKING:
    from conflux.sdk.partitions._subset import TimeWindowPartitionsSubset
    from conflux.sdk.partitions._time_window import TimeWindowPartitionsDefinition


def check_zones(up: TimeWindowPartitionsDefinition, down: TimeWindowPartitionsDefinition) -> None:
    """Refuse two definitions in different zones, as Dagster does.

    Raises:
        IncompatiblePartitionMappingError: the zones differ.
    """
    if up.timezone != down.timezone:
        raise IncompatiblePartitionMappingError(
            f"Timezones {up.timezone} and {down.timezone} don't match: a time-window mapping "
            "compares windows in one zone; give both assets the same timezone"
        )


def _utc(defn: TimeWindowPartitionsDefinition, n: int) -> datetime:
    """Tick `n` in UTC.

    Python compares two datetimes of one zone by wall clock, which would find the two
    occurrences of a repeated hour equal.
    """
    return defn.utc_tick(n)


def _window_utc(window: TimeWindow | None) -> TimeWindow | None:
    return (
        None
        if window is None
        else TimeWindow(window.start.astimezone(UTC), window.end.astimezone(UTC))
    )


def _offset(defn: TimeWindowPartitionsDefinition, moment: datetime, count: int) -> datetime:
    """`moment` (a tick of `defn`) moved by `count` windows that are not excluded."""
    n = defn.ordinal_of_time(moment)
    if count < 0:
        for _ in range(-count):
            n = defn.prev_included_ordinal(n - 1)
        return _utc(defn, n)
    for _ in range(count):
        n = defn.next_included_ordinal(n) + 1
    return _utc(defn, n)


def _offset_within(
    defn: TimeWindowPartitionsDefinition,
    moment: datetime,
    count: int,
    bounds: TimeWindow | None,
) -> datetime:
    """`_offset`, kept inside `bounds` on the side it moves towards."""
    if count == 0:
        return moment
    moved = _offset(defn, moment, count)
    if bounds is not None:
        moved = max(moved, bounds.start) if count < 0 else min(moved, bounds.end)
    return moved


def _rebased(
    subset: TimeWindowPartitionsSubset, to: TimeWindowPartitionsDefinition
) -> TimeWindowPartitionsSubset:
    """The same instants as windows of `to` (a definition of the same cron and zone)."""
    frm = subset.partitions_def
    runs = [
        (to.ordinal_at_or_after_time(frm.tick(a)), to.ordinal_at_or_after_time(frm.tick(b + 1)) - 1)
        for a, b in subset.runs
    ]
    return to.empty_subset().with_ordinal_runs(runs)


def _in_window(
    to: TimeWindowPartitionsDefinition, window: TimeWindow
) -> TimeWindowPartitionsSubset:
    return to.subset_in_time_window(window)


def _cheap(
    frm: TimeWindowPartitionsDefinition,
    to: TimeWindowPartitionsDefinition,
    subset: TimeWindowPartitionsSubset,
    offsets: tuple[int, int],
    allow_nonexistent: bool,
    current_time: datetime | None,
) -> tuple[TimeWindowPartitionsSubset, TimeWindowPartitionsSubset] | None:
    """Dagster's short cuts, which skip the bounds (None: none applies)."""
    empty = to.empty_subset()
    if subset.is_empty:
        return empty, empty
    if offsets != (0, 0):
        return None
    if frm == to:
        return _rebased(subset, to), empty
    first_start = _utc(frm, subset.runs[0][0])
    to_start = to.start.astimezone(UTC)
    starts_in = frm.start.astimezone(UTC) >= to_start or first_start >= to_start
    if (
        frm.equal_except_for_start_or_end(to)
        and starts_in
        and (to.end is None or (frm.end is not None and to.end >= frm.end))
    ):
        return _rebased(subset, to), empty
    if frm.is_basic_daily and to.is_basic_hourly and starts_in:
        frm_last = _window_utc(frm.get_last_partition_window(current_time))
        to_last = _window_utc(to.get_last_partition_window(current_time))
        if frm_last is not None and to_last is not None and frm_last.end <= to_last.end:
            return _rebased(subset, to), empty
    if _utc(frm, subset.runs[-1][1] + 1) <= to_start:
        missing = empty
        if not allow_nonexistent:
            for window in subset.included_time_windows:
                missing = missing.with_ordinal_runs(_in_window(to, window).runs)  # type: ignore[arg-type]
        return empty, missing
    return None


def map_windows(
    frm: TimeWindowPartitionsDefinition,
    to: TimeWindowPartitionsDefinition,
    subset: TimeWindowPartitionsSubset,
    offsets: tuple[int, int],
    downstream_to_upstream: bool,
    allow_nonexistent: bool,
    current_time: datetime | None,
) -> tuple[TimeWindowPartitionsSubset, TimeWindowPartitionsSubset]:
    """The windows of `to` that `subset` (of `frm`) maps to, and those required but missing.

    Args:
        frm: the definition the subset belongs to.
        to: the definition mapped to.
        subset: the windows to map.
        offsets: (start, end) offsets, in `frm`'s windows downstream to upstream; upstream
            to downstream, the caller passes the mapping's offsets negated and swapped.
        downstream_to_upstream: which way the mapping is read.
        allow_nonexistent: report no missing windows (they are dropped either way).
        current_time: which windows exist (default now).

    Raises:
        IncompatiblePartitionMappingError: the zones differ.
    """
    check_zones(to, frm)
    cheap = _cheap(frm, to, subset, offsets, allow_nonexistent, current_time)
    if cheap is not None:
        return cheap
    start_offset, end_offset = offsets
    first = _window_utc(to.get_first_partition_window(current_time))
    last = _window_utc(to.get_last_partition_window(current_time))
    span = TimeWindow(first.start, last.end) if first is not None and last is not None else None
    same_grid = frm.cron_schedule == to.cron_schedule or (frm.is_basic_daily and to.is_basic_hourly)
    windows: list[TimeWindow] = []
    for a, b in subset.runs:
        start, end = _utc(frm, a), _utc(frm, b + 1)
        if downstream_to_upstream:
            start = _offset_within(frm, start, start_offset, span)
            end = _offset_within(frm, end, end_offset, span)
        if not same_grid:
            start = _utc(to, to.prev_included_ordinal(to.ordinal_of_time(start)))
            n = to.ordinal_of_time(end)
            n = n - 1 if _utc(to, n) == end else n
            end = _utc(to, to.prev_included_ordinal(n) + 1)
        if not downstream_to_upstream:
            start = _offset_within(to, start, start_offset, span)
            end = _offset_within(to, end, end_offset, span)
        if start < end:
            windows.append(TimeWindow(start, end))
    found = to.empty_subset()
    missing = to.empty_subset()
    for window in windows:
        if (
            first is not None
            and last is not None
            and window.start <= last.start
            and window.end >= first.end
        ):
            kept = TimeWindow(max(window.start, first.start), min(window.end, last.end))
            found = found.with_ordinal_runs(_in_window(to, kept).runs)
        if allow_nonexistent:
            continue
        invalid: TimeWindow | None = None
        if first is None or last is None or (window.start < first.start and window.end > last.end):
            invalid = window
        elif window.start < first.start:
            invalid = TimeWindow(window.start, min(window.end, first.start))
        elif window.end > last.end:
            invalid = TimeWindow(max(window.start, last.end), window.end)
        if invalid is not None:
            missing = missing.with_ordinal_runs(_in_window(to, invalid).runs)
    return found, missing
