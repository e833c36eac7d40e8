"""A run whose location is down is held, says so once per outage, and runs once it is back."""

from __future__ import annotations

from test_automation import Harness

from conflux.events import (
    LocationLoadFailed,
    MaterializationRequested,
    RunCompleted,
    RunHeld,
    WorkItemDispatched,
)
from conflux.projections.projector import ReadModel
from conflux.sdk import Definitions, asset


@asset
def orders() -> int:
    return 1


@asset
def revenue(orders: int) -> int:
    return orders


DEFS = Definitions(assets=[orders, revenue])


def _down(h: Harness, message: str) -> LocationLoadFailed:
    event = LocationLoadFailed(
        time=h.tick(), location="loc", error_type="ImportError", message=message
    )
    h.feed(event)
    return event


def test_a_run_waits_for_its_location_says_why_once_and_runs_when_it_is_back() -> None:
    h = Harness(DEFS)
    failure = _down(h, "No module named 'pandas'\nmore detail")
    h.feed(
        MaterializationRequested(
            time=h.tick(), run_id="r1", selection="*", asset_keys=("orders", "revenue")
        )
    )
    events = h.settle()
    (held,) = [e for e in events if isinstance(e, RunHeld)]
    assert not [e for e in events if isinstance(e, WorkItemDispatched)]
    assert held.location == "loc" and held.causation_id == failure.event_id
    assert "location loc is down" in held.reason
    assert "ImportError: No module named 'pandas'" in held.reason
    assert "more detail" not in held.reason
    assert h.settle() == []  # said once, not at every step

    model = ReadModel()
    model.apply_all(h.log)
    summary = model.run_summary("r1")
    assert summary is not None and summary.status == "started"
    assert summary.held == held.reason

    h.publish(DEFS)  # the location loads again: its work goes out, and the run ends
    events = h.settle()
    assert [e.asset_keys for e in events if isinstance(e, WorkItemDispatched)] == [
        ("orders",),
        ("revenue",),
    ]
    (done,) = [e for e in events if isinstance(e, RunCompleted)]
    assert done.status == "success"
    model = ReadModel()
    model.apply_all(h.log)
    summary = model.run_summary("r1")
    assert summary is not None and summary.held is None and summary.status == "success"


def test_each_outage_is_announced_and_a_replay_announces_nothing_again() -> None:
    h = Harness(DEFS)
    h.feed(
        MaterializationRequested(time=h.tick(), run_id="r1", selection="*", asset_keys=("orders",))
    )
    h.settle(work=False)  # dispatched; the worker has not answered yet
    _down(h, "SyntaxError in defs.py")
    h.feed(
        MaterializationRequested(time=h.tick(), run_id="r2", selection="*", asset_keys=("orders",))
    )
    first = [e for e in h.settle() if isinstance(e, RunHeld)]
    assert [e.run_id for e in first] == ["r2"]
    h.publish(DEFS)
    h.settle()
    _down(h, "SyntaxError again")
    h.feed(
        MaterializationRequested(time=h.tick(), run_id="r3", selection="*", asset_keys=("orders",))
    )
    second = [e for e in h.settle() if isinstance(e, RunHeld)]
    assert [e.run_id for e in second] == ["r3"]
    assert second[0].causation_id != first[0].causation_id

    from conflux.coordinator import CoordinatorState, decide

    replayed = CoordinatorState()
    for event in h.log:
        replayed.apply(event)
    assert [e for e in decide(replayed, h.tick()) if isinstance(e, RunHeld)] == []
