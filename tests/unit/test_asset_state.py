"""The asset-state projection's columnar storage (issue 5c): same answers, less memory.

The fold must stay order-independent and idempotent (rules 4 and 5), keep every value
exactly as the events carried it (ids and versions that do not pack go to a side table),
and survive a pickle round trip (coordinator checkpoints) and keep folding after it.
"""

from __future__ import annotations

import itertools
import pickle
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

from conflux.events import (
    AnyEvent,
    AssetMaterialized,
    PartitionFailed,
    PartitionStarted,
    derived_id,
    new_id,
)
from conflux.projections.folds import (
    AssetStateProjection,
    MaterializationRef,
    PartitionState,
    latest_materialization,
    status_counts,
)
from conflux.projections.folds._key_index import KeyIndex
from conflux.projections.folds._partition_table import AssetPartitions, from_micros, micros

if TYPE_CHECKING:
    from collections.abc import Iterable

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def mat(
    key: str | None,
    t: float,
    *,
    version: str = "v1",
    event_id: str | None = None,
    run_id: str | None = "r1",
    work_item_id: str | None = "w1",
    asset_key: str = "a",
    source: Literal["executed", "reported"] = "executed",
) -> AssetMaterialized:
    return AssetMaterialized(
        event_id=event_id or new_id(),
        time=at(t),
        asset_key=asset_key,
        partition_key=key,
        data_version=version,
        run_id=run_id,
        work_item_id=work_item_id,
        source=source,
    )


def started(key: str | None, t: float, *, work_item_id: str = "w2") -> PartitionStarted:
    return PartitionStarted(
        time=at(t),
        asset_key="a",
        partition_key=key,
        run_id="r2",
        work_item_id=work_item_id,
        worker_id="worker-1",
    )


def failed(key: str | None, t: float, *, work_item_id: str = "w2") -> PartitionFailed:
    return PartitionFailed(
        time=at(t),
        asset_key="a",
        partition_key=key,
        run_id="r2",
        work_item_id=work_item_id,
        worker_id="worker-1",
        error_type="ValueError",
        message="boom",
    )


def fold(events: Iterable[AnyEvent]) -> AssetStateProjection:
    state = AssetStateProjection()
    for event in events:
        state.apply(event)
    return state


def known(state: AssetStateProjection, partition_key: str | None) -> PartitionState:
    """What the fold knows of asset `a`'s partition, which the test expects it to know."""
    found = state.get("a", partition_key)
    assert found is not None, f"the fold knows nothing of a/{partition_key}"
    return found


def latest(state: AssetStateProjection, partition_key: str | None) -> MaterializationRef:
    """The latest materialization of asset `a`'s partition, which the test expects."""
    ref = known(state, partition_key).materialized
    assert ref is not None, f"a/{partition_key} has no materialization"
    return ref


def story() -> list[AnyEvent]:
    """Materializations, re-materializations, starts and failures over a few partitions."""
    return [
        mat("p1", 1, version="a" * 16),
        mat("p1", 5, version="b" * 64),
        started("p1", 6),
        mat("p2", 2, event_id=derived_id("x", "1"), run_id=None, source="reported"),
        failed("p2", 3),
        started("p3", 1),
        mat("p3", 2, work_item_id="w2"),  # ends the attempt of its own work item
        mat(None, 1, version="unpartitioned"),
        started("p4", 4, work_item_id="w9"),
        failed("p4", 5, work_item_id="w9"),
    ]


def test_the_fold_is_order_independent() -> None:
    events = story()
    expected = fold(events)
    rng = random.Random(5)
    for _ in range(200):
        shuffled = list(events)
        rng.shuffle(shuffled)
        assert fold(shuffled) == expected
    assert known(expected, "p1").status == "in_progress"
    assert known(expected, "p2").status == "failed"
    assert known(expected, "p3").status == "materialized"
    assert known(expected, "p4").status == "failed"
    assert latest(expected, None).data_version == "unpartitioned"


def test_equal_times_are_decided_by_event_id_in_any_order() -> None:
    low, high = "0" * 31 + "1", "f" * 32
    pair = [mat("k", 1, event_id=low, version="old"), mat("k", 1, event_id=high, version="new")]
    for first, second in itertools.permutations(pair):
        state = fold([first, second])
        ref = latest(state, "k")
        assert (ref.event_id, ref.data_version) == (high, "new")
    # Ids that are not uuid hex compare as text all the same.
    pair = [mat("k", 1, event_id="B", version="old"), mat("k", 1, event_id="a", version="new")]
    for first, second in itertools.permutations(pair):
        assert latest(fold([first, second]), "k").data_version == "new"


def test_the_fold_is_idempotent() -> None:
    events = story()
    once = fold(events)
    assert fold(events + events) == once
    assert fold([e for e in events for _ in range(3)]) == once


def test_failed_and_in_progress_after_materialized() -> None:
    state = fold([mat("k", 1, version="v1")])
    assert known(state, "k").status == "materialized"
    state.apply(started("k", 2))
    now = state.get("a", "k")
    assert now is not None and now.status == "in_progress"
    assert now.materialized is not None and now.materialized.data_version == "v1"
    state.apply(failed("k", 3))
    now = state.get("a", "k")
    assert now is not None and now.status == "failed" and now.attempt is not None
    assert (now.attempt.error_type, now.attempt.message) == ("ValueError", "boom")
    state.apply(mat("k", 4, version="v2", work_item_id="w3"))
    now = state.get("a", "k")
    assert now is not None and now.status == "materialized" and now.attempt is None
    assert now.materialized is not None and now.materialized.data_version == "v2"


def test_a_late_older_event_does_not_move_a_partition_back() -> None:
    state = fold([mat("k", 10, version="new")])
    state.apply(mat("k", 5, version="old"))
    state.apply(started("k", 6))
    state.apply(failed("k", 7))
    now = state.get("a", "k")
    assert now is not None and now.status == "materialized" and now.attempt is None
    assert now.materialized is not None and now.materialized.data_version == "new"
    # A later failure stays, and an older one does not replace it.
    state.apply(failed("k", 12))
    state.apply(started("k", 11))
    attempt = known(state, "k").attempt
    assert attempt is not None and attempt.status == "failed"


def test_values_come_back_exactly_as_the_events_carried_them() -> None:
    versions = ["", "v1", "0123456789abcdef", "a" * 32, "ab" * 32, "AB" * 20, "x" * 33,
                "c" * 65, "é" * 16, "é" * 17, "with\x00nul", "\ud800lone"]  # fmt: skip
    ids = [new_id(), derived_id("dispatch", "w", "1"), new_id().upper(), "e", "1" * 31 + " "]
    runs: list[str | None] = [None, new_id(), "run-7", new_id().upper()]
    offset = timezone(timedelta(hours=5, minutes=30))
    events = []
    for i, version in enumerate(versions):
        event_id = ids[i % len(ids)] + str(i // len(ids) or "")
        source: Literal["executed", "reported"] = "reported" if i % 2 else "executed"
        event = mat(
            f"k{i}", i, version=version, event_id=event_id, run_id=runs[i % 4], source=source
        )
        events.append(event.model_copy(update={"time": event.time.astimezone(offset)}))
    state = fold(events)
    for event in events:
        ref = known(state, event.partition_key).materialized
        assert ref == MaterializationRef(
            event.event_id, event.data_version, event.time, event.run_id, event.source
        )
        assert ref is not None and ref.time.utcoffset() == timedelta(0)  # comes back in UTC


def test_rewriting_a_partition_replaces_values_that_did_not_pack() -> None:
    state = fold([mat("k", 1, version="z" * 80, event_id="odd", run_id="odd-run")])
    state.apply(mat("k", 2, version="v2", run_id=None))
    ref = known(state, "k").materialized
    assert ref is not None and (ref.data_version, ref.run_id) == ("v2", None)
    table = state.partitions["a"]
    assert table._odd == {}  # the side table keeps nothing stale


def test_pickle_round_trip_then_keep_folding() -> None:
    events = story() + [mat(f"2024-01-01-{h:02d}:00", h, asset_key="hourly") for h in range(24)]
    state = fold(events)
    loaded: AssetStateProjection = pickle.loads(
        pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    )
    assert loaded == state
    assert dict(loaded.partitions["a"]) == dict(state.partitions["a"])
    more: list[AnyEvent] = [
        mat(f"2024-01-02-{h:02d}:00", 100 + h, asset_key="hourly") for h in range(24)
    ]
    more += [mat("p1", 50, version="after"), failed("p3", 60)]
    for event in more:
        loaded.apply(event)
        state.apply(event)
    assert loaded == state == fold(events + more)
    assert latest(loaded, "p1").data_version == "after"


def test_mapping_view_and_reader_helpers_agree() -> None:
    state = fold(story())
    table = state.partitions["a"]
    assert isinstance(table, AssetPartitions)
    assert list(table) == ["p1", "p2", "p3", None, "p4"]  # first-seen order
    assert len(table) == 5 and "p1" in table and None in table and "zz" not in table
    assert table.get("zz") is None and state.get("a", "zz") is None and state.get("b", "p1") is None
    plain = dict(table)  # a plain dict of PartitionState goes the generic way
    assert status_counts(table) == status_counts(plain) == {
        "in_progress": 1, "failed": 2, "materialized": 2}  # fmt: skip
    assert latest_materialization(table) == latest_materialization(plain)
    assert table.statuses() == {k: s.status for k, s in plain.items()}
    assert all(table.status(k) == s.status for k, s in plain.items())
    assert AssetPartitions().latest() is None


def test_key_index_grows_and_keeps_rows() -> None:
    index = KeyIndex()
    keys = [f"{d}|{region}" for d in range(3000) for region in ("us", "eu", "ünïcode")]
    assert [index.add(k) for k in keys] == list(range(len(keys)))
    assert index.add(None) == len(keys) and index.add("") == len(keys) + 1
    assert index.find(None) == len(keys) and index.find("") == len(keys) + 1
    assert [index.find(k) for k in keys] == list(range(len(keys)))
    assert index.find("missing") == -1 and index.add(keys[5]) == 5
    assert list(index)[: len(keys)] == keys and index.key(len(keys)) is None
    copy = pickle.loads(pickle.dumps(index))
    assert [copy.find(k) for k in keys[::97]] == list(range(0, len(keys), 97))


def test_time_is_stored_exactly() -> None:
    for t in (
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        T0 + timedelta(microseconds=7),
    ):
        assert from_micros(micros(t)) == t


def test_a_partition_costs_well_under_200_bytes() -> None:
    table = AssetPartitions()
    n, run = 20_000, new_id()
    for i in range(n):
        table.materialize(mat(f"2020-01-{i:06d}", i, version=new_id()[:16], run_id=run))
    assert table.nbytes() / n < 150  # buffers only; bench/bench_asset_state.py measures it all


def _reference(events: list[AnyEvent]) -> dict[tuple[str, str | None], tuple[object, object]]:
    """The fold's rules as the object-per-partition projection applied them (before 5c)."""
    found: dict[
        tuple[str, str | None],
        tuple[AssetMaterialized | None, PartitionStarted | PartitionFailed | None],
    ] = {}
    for e in events:
        if not isinstance(e, AssetMaterialized | PartitionStarted | PartitionFailed):
            continue
        key = (e.asset_key, e.partition_key)
        m, a = found.setdefault(key, (None, None))
        if isinstance(e, AssetMaterialized):
            if m is None or (e.time, e.event_id) > (m.time, m.event_id):
                found[key] = (e, found[key][1])
            if a is not None and (
                a.work_item_id == e.work_item_id or not (a.time, a.event_id) > (e.time, e.event_id)
            ):
                found[key] = (found[key][0], None)
        else:
            if m is not None and (m.time, m.event_id) > (e.time, e.event_id):
                continue
            if a is not None and not (e.time, e.event_id) > (a.time, a.event_id):
                continue
            found[key] = (m, e)
    return {
        key: (
            None if m is None else (m.event_id, m.data_version, m.time, m.run_id, m.source),
            None if a is None else (a.type, a.event_id, a.time, a.work_item_id),
        )
        for key, (m, a) in found.items()
    }


def test_random_streams_fold_as_the_object_projection_did() -> None:
    rng = random.Random(11)
    for _ in range(30):
        events: list[AnyEvent] = []
        for _ in range(300):
            key = rng.choice(["p1", "p2", "p3", None])
            t = rng.randrange(20)  # many equal times: the event id decides
            item = rng.choice(["w1", "w2", "w3"])
            kind = rng.random()
            if kind < 0.5:
                event_id = rng.choice([new_id(), f"id-{rng.randrange(50)}"])
                events.append(mat(key, t, version=new_id()[: rng.choice([16, 32])],
                                  event_id=event_id, work_item_id=item))  # fmt: skip
            elif kind < 0.75:
                events.append(started(key, t, work_item_id=item))
            else:
                events.append(failed(key, t, work_item_id=item))
        events += rng.sample(events, 50)  # duplicates (at least once delivery)
        state = fold(events)
        got = {
            ("a", key): (
                None if s.materialized is None else (
                    s.materialized.event_id, s.materialized.data_version, s.materialized.time,
                    s.materialized.run_id, s.materialized.source),
                None if s.attempt is None else (
                    "PartitionStarted" if s.attempt.status == "in_progress" else "PartitionFailed",
                    s.attempt.event_id, s.attempt.time, s.attempt.work_item_id),
            )
            for key, s in state.partitions["a"].items()
        }  # fmt: skip
        assert got == _reference(events)
