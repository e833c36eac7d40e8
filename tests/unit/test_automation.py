"""Declarative automation: conditions as data, evaluated by the coordinator on events.

The coordinator's fold and decisions are driven by hand: a tiny in-memory "worker"
materializes whatever is dispatched, so every test runs the real planner, run queue and
automation without a broker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conflux.coordinator import CoordinatorState, decide
from conflux.events import (
    AnyEvent,
    AssetMaterialized,
    AutomationEvaluated,
    DefinitionsPublished,
    MaterializationRequested,
    PartitionFailed,
    PartitionStarted,
    RunStarted,
    WorkItemDispatched,
)
from conflux.sdk import (
    AssetSelection,
    AssetSpec,
    AutomationCondition,
    AutomationContext,
    AutomationResult,
    DailyPartitionsDefinition,
    Definitions,
    StaticPartitionsDefinition,
    asset,
    build_location_snapshot,
)
from conflux.sdk._automation import InvalidAutomationConditionError, describe

T0 = datetime(2024, 3, 1, 12, 0, 30, tzinfo=UTC)
EAGER = AutomationCondition.eager()


class Harness:
    """A coordinator state, a clock, and a worker that succeeds unless told to fail."""

    def __init__(self, defs: Definitions, *, at: datetime = T0) -> None:
        self.state = CoordinatorState()
        self.now = at
        self.log: list[AnyEvent] = []
        self.failing: set[str] = set()
        self.publish(defs)

    def publish(self, defs: Definitions) -> None:
        snapshot = build_location_snapshot(defs, "loc")
        self.feed(
            DefinitionsPublished(
                time=self.tick(), location="loc", snapshot_id=str(len(self.log)), snapshot=snapshot
            )
        )

    def tick(self, seconds: float = 0.001) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def feed(self, *events: AnyEvent) -> None:
        for event in events:
            self.log.append(event)
            self.state.apply(event)

    def settle(self, *, work: bool = True) -> list[AnyEvent]:
        """Decide until quiet; the worker answers every dispatch (when `work`)."""
        emitted: list[AnyEvent] = []
        for _ in range(50):
            decisions = decide(self.state, self.tick())
            if not decisions:
                return emitted
            self.feed(*decisions)
            emitted.extend(decisions)
            for event in decisions:
                if work and isinstance(event, WorkItemDispatched):
                    self.feed(*self.execute(event))
        raise AssertionError("decisions did not settle")

    def execute(self, item: WorkItemDispatched) -> list[AnyEvent]:
        key = item.asset_keys[0]
        common = {
            "asset_key": key,
            "partition_key": item.partition_key,
            "run_id": item.run_id,
            "work_item_id": item.work_item_id,
            "attempt": item.attempt,
        }
        if key in self.failing:
            return [
                PartitionFailed(
                    time=self.tick(), worker_id="w", error_type="E", message="boom", **common
                )
            ]
        version = self.state.definitions.assets[key].code_version
        return [
            AssetMaterialized(
                time=self.tick(), worker_id="w", data_version="v", code_version=version, **common
            )
        ]

    def report(self, key: str, partition: str | None = None) -> None:
        self.feed(
            AssetMaterialized(
                time=self.tick(),
                asset_key=key,
                partition_key=partition,
                data_version="ext",
                source="reported",
            )
        )


def requested(events: list[AnyEvent]) -> list[tuple[str, tuple[str, ...] | None]]:
    """(asset, partitions) of every automatic request, in order (a run may hold several)."""
    return [
        (key, e.partition_keys)
        for e in events
        if isinstance(e, MaterializationRequested)
        for key in e.asset_keys
    ]


def evaluations(events: list[AnyEvent]) -> list[AutomationEvaluated]:
    return [e for e in events if isinstance(e, AutomationEvaluated)]


# -- the SDK --------------------------------------------------------------------------------


def test_conditions_compose_and_round_trip_as_data() -> None:
    c = AutomationCondition
    composed = (c.missing() | c.any_deps_updated()) & ~c.in_progress() & ~c.any_deps_missing()
    assert composed.kind == "and"
    assert [child.name for child in composed.children] == ["OR", "NOT", "NOT"]
    assert describe(composed.to_snapshot()) == (
        "((missing | any_deps_updated) & ~in_progress & ~any_deps_missing)"
    )
    assert str(EAGER) == "eager"
    on_cron = c.on_cron("0 9 * * 1", "Europe/Berlin")
    assert on_cron.get_label() == "on_cron(0 9 * * 1, Europe/Berlin)"
    since = on_cron.to_snapshot().children[1]
    assert since.kind == "since" and since.children[0].cron_timezone == "Europe/Berlin"
    assert composed == (
        (c.missing() | c.any_deps_updated()) & ~c.in_progress() & ~c.any_deps_missing()
    )


def test_bad_conditions_are_refused_with_the_fix() -> None:
    with pytest.raises(InvalidAutomationConditionError, match="not a cron expression"):
        AutomationCondition.on_cron("every hour")
    with pytest.raises(InvalidAutomationConditionError, match="not an IANA time zone"):
        AutomationCondition.on_cron("0 * * * *", "Mars/Olympus")
    with pytest.raises(InvalidAutomationConditionError, match=r"AutomationCondition\.eager\(\)"):
        # A string where a condition belongs, on purpose: the error names the fix.
        @asset(automation_condition="eager")  # type: ignore[call-overload, untyped-decorator]
        def broken() -> None: ...


def test_the_snapshot_carries_each_assets_condition() -> None:
    @asset
    def raw() -> int:
        return 1

    @asset(automation_condition=EAGER)
    def clean(raw: int) -> int:
        return raw

    snapshot = build_location_snapshot(Definitions(assets=[raw, clean]), "loc")
    by_key = {a.key: a for a in snapshot.assets}
    assert by_key["raw"].automation_condition is None
    assert by_key["clean"].automation_condition == EAGER.to_snapshot()


# -- eager -------------------------------------------------------------------------------


def _chain() -> Definitions:
    @asset
    def raw() -> int:
        return 1

    @asset(automation_condition=EAGER)
    def clean(raw: int) -> int:
        return raw

    @asset(automation_condition=EAGER)
    def report(clean: int) -> int:
        return clean

    return Definitions(assets=[raw, clean, report])


def test_eager_materializes_downstream_as_upstream_updates() -> None:
    h = Harness(_chain())
    first = h.settle()
    # clean and report are missing, but their upstream is missing too: nothing yet.
    assert requested(first) == []
    h.report("raw")
    raw_event = h.log[-1].event_id
    events = h.settle()
    assert requested(events) == [("clean", None), ("report", None)]
    starts = [e for e in events if isinstance(e, RunStarted)]
    assert {s.trigger for s in starts} == {"automation"}
    why = evaluations(events)[0]
    assert why.asset_key == "clean"
    assert why.result.condition == "eager" and why.result.value
    assert why.trigger_event_ids == (raw_event,)
    # Nothing more until raw updates again; then both follow once more.
    assert h.settle() == []
    h.report("raw")
    assert requested(h.settle()) == [("clean", None), ("report", None)]


def test_a_replay_of_the_log_decides_nothing_again() -> None:
    h = Harness(_chain())
    h.report("raw")
    h.settle()
    fresh = CoordinatorState()
    for event in reversed(h.log):  # any order of the same events folds to the same facts
        fresh.apply(event)
    assert fresh.automation.facts.requested == h.state.automation.facts.requested
    assert fresh.automation.facts.initial == h.state.automation.facts.initial
    ordered = CoordinatorState()
    for event in h.log:
        ordered.apply(event)
    assert decide(ordered, h.tick()) == []


def test_eager_waits_for_every_upstream_in_progress() -> None:
    @asset
    def a() -> int:
        return 1

    @asset
    def b() -> int:
        return 2

    @asset(automation_condition=EAGER)
    def both(a: int, b: int) -> int:
        return a + b

    h = Harness(Definitions(assets=[a, b, both]))
    h.report("a")
    h.report("b")
    h.settle()
    h.feed(
        PartitionStarted(time=h.tick(), asset_key="b", run_id="r", work_item_id="wi", worker_id="w")
    )
    h.report("a")
    assert requested(h.settle()) == []  # b is running: wait for it
    h.feed(
        AssetMaterialized(
            time=h.tick(), asset_key="b", data_version="2", run_id="r", work_item_id="wi"
        )
    )
    assert requested(h.settle()) == [("both", None)]


def test_a_failed_automatic_run_is_not_requested_again_and_again() -> None:
    h = Harness(_chain())
    h.failing.add("clean")
    h.report("raw")
    events = h.settle()
    # clean is due, so report (which will read it) joins its run, as in Dagster
    assert requested(events) == [("clean", None), ("report", None)]
    assert h.settle() == []  # the failure is handled: no retry loop
    h.failing.clear()
    h.report("raw")  # new upstream data: try again
    assert requested(h.settle()) == [("clean", None), ("report", None)]


def test_an_external_upstream_counts_as_missing_until_it_is_reported() -> None:
    @asset
    def a() -> None: ...

    @asset(deps=["vendor_feed", a], automation_condition=EAGER)
    def b() -> None: ...

    # Dagster 1.13: 0 requested after a updates, 1 once vendor_feed is reported.
    h = Harness(Definitions(assets=[AssetSpec("vendor_feed"), a, b]))
    h.settle()
    h.report("a")
    assert requested(h.settle()) == []
    h.report("vendor_feed")
    assert requested(h.settle()) == [("b", None)]
    assert h.settle() == []


def test_a_partition_missing_when_the_condition_is_applied_is_not_requested() -> None:
    @asset(automation_condition=AutomationCondition.on_missing())
    def imported() -> None: ...

    @asset(automation_condition=EAGER)
    def eager() -> None: ...

    h = Harness(Definitions(assets=[imported, eager]))  # Dagster: 0 requested, tick after tick
    assert requested(h.settle()) == []
    h.tick(3600)
    assert requested(h.settle()) == []


def test_eager_ignores_code_versions_and_code_version_changed_since_requested_does_not() -> None:
    c = AutomationCondition

    def defs(version: str) -> Definitions:
        @asset(code_version=version, automation_condition=EAGER)
        def model() -> int:
            return 1

        @asset(
            code_version=version,
            automation_condition=c.code_version_changed().since(c.newly_requested()),
        )
        def rebuilt() -> int:
            return 1

        return Definitions(assets=[model, rebuilt])

    h = Harness(defs("1"))
    assert requested(h.settle()) == []
    h.publish(defs("1"))
    assert requested(h.settle()) == []  # same code: nothing to do
    h.publish(defs("2"))
    events = h.settle()  # Dagster: eager requests nothing; the other requests once
    assert requested(events) == [("rebuilt", None)]
    since = evaluations(events)[0].result
    assert since.condition == "SINCE" and [c.condition for c in since.children] == [
        "code_version_changed",
        "newly_requested",
    ]
    assert h.settle() == []
    h.publish(defs("2"))
    assert requested(h.settle()) == []


# -- partitions -------------------------------------------------------------------------------

DAILY = DailyPartitionsDefinition(start_date="2024-02-01")


def test_eager_partitions_follow_their_upstream_in_the_latest_window_only() -> None:
    @asset(partitions_def=DAILY)
    def events() -> int:
        return 1

    @asset(partitions_def=DAILY, automation_condition=EAGER)
    def daily_totals(events: int) -> int:
        return events

    h = Harness(Definitions(assets=[events, daily_totals]))
    h.settle()
    h.report("events", "2024-02-29")  # the latest complete day at T0
    h.report("events", "2024-02-10")  # an old day: eager leaves history alone
    decided = h.settle()
    assert requested(decided) == [("daily_totals", ("2024-02-29",))]


def test_static_partitions_are_evaluated_one_by_one() -> None:
    colors = StaticPartitionsDefinition(["red", "green", "blue"])

    @asset(partitions_def=colors)
    def paint() -> int:
        return 1

    @asset(partitions_def=colors, automation_condition=EAGER)
    def wall(paint: int) -> int:
        return paint

    h = Harness(Definitions(assets=[paint, wall]))
    h.settle()
    h.report("paint", "green")
    h.report("paint", "red")
    assert requested(h.settle()) == [("wall", ("green", "red"))]


# -- cron -------------------------------------------------------------------------------------


def test_on_cron_requests_once_per_tick_after_upstream_updated() -> None:
    @asset
    def raw() -> int:
        return 1

    @asset(automation_condition=AutomationCondition.on_cron("0 * * * *"))
    def hourly_summary(raw: int) -> int:
        return raw

    h = Harness(Definitions(assets=[raw, hourly_summary]))
    assert requested(h.settle()) == []  # no tick has passed since it was defined
    h.report("raw")
    assert requested(h.settle()) == []  # still the same hour
    h.tick(60 * 60)  # 12:00:30 -> 13:00:30: the 13:00 tick passed, but raw is older than it
    assert requested(h.settle()) == []
    h.report("raw")  # raw updated after the tick: now it runs, once
    assert requested(h.settle()) == [("hourly_summary", None)]
    h.report("raw")
    assert requested(h.settle()) == []  # handled for this tick
    h.tick(60 * 60)
    h.report("raw")
    assert requested(h.settle()) == [("hourly_summary", None)]


def test_an_evaluation_whose_request_was_lost_is_requested_at_restart() -> None:
    h = Harness(_chain())
    h.report("raw")
    events = h.settle(work=False)
    lost = next(e for e in events if isinstance(e, MaterializationRequested))
    # The coordinator died between the two: the log has the evaluation, not the request.
    survivors = [e for e in h.log if e.event_id != lost.event_id and e not in events[1:]]
    fresh = CoordinatorState()
    for event in survivors:
        fresh.apply(event)
    again = decide(fresh, h.tick())
    assert [e.event_id for e in again if isinstance(e, MaterializationRequested)] == [lost.event_id]


def test_a_partition_planned_in_an_open_run_is_in_progress_for_automation() -> None:
    h = Harness(_chain())
    h.report("raw")
    h.settle()  # clean and report follow raw once
    # A person materializes raw and clean together: clean is part of that open run when
    # raw lands, so eager waits for the run instead of requesting clean a second time.
    h.feed(
        MaterializationRequested(
            time=h.tick(), run_id="manual", selection="raw,clean", asset_keys=("raw", "clean")
        )
    )
    events = h.settle()
    assert requested(events) == [("report", None)]  # report follows clean; clean once
    dispatched = [e.asset_keys for e in events if isinstance(e, WorkItemDispatched)]
    assert dispatched.count(("clean",)) == 1
    # Without clean in the run, automation follows raw as before.
    h.feed(
        MaterializationRequested(time=h.tick(), run_id="m2", selection="raw", asset_keys=("raw",))
    )
    assert requested(h.settle()) == [("clean", None), ("report", None)]


# -- Dagster's operators ------------------------------------------------------------------------


def test_replace_without_allow_and_ignore_edit_trees_as_in_dagster() -> None:
    c = AutomationCondition
    eager = c.eager()
    no_missing = eager.replace("any_deps_missing", c.any_deps_missing().ignore(c_sel("b")))
    assert no_missing != eager and str(no_missing) == "eager"
    assert eager.without(~c.in_progress()).children[-1] == ~c.any_deps_in_progress()
    with pytest.raises(InvalidAutomationConditionError, match="not an operand"):
        eager.without(c.missing())
    allowed = c.any_deps_match(c.missing()).allow(c_sel("a"))
    assert allowed.name.startswith("ANY_DEPS_MATCH(allow_selection=")
    since = c.newly_updated().since(c.newly_requested())
    assert [child.name for child in since.children] == ["newly_updated", "newly_requested"]
    assert c.cron_tick_passed("@daily").name == (
        "cron_tick_passed(cron_schedule=@daily, cron_timezone=UTC)"
    )


def c_sel(*keys: str) -> AssetSelection:
    return AssetSelection.keys(*keys)


def test_allow_and_ignore_resolve_against_the_location_into_the_snapshot() -> None:
    from conflux.sdk import AssetSelection

    @asset(group_name="raw")
    def a() -> int:
        return 1

    @asset
    def b() -> int:
        return 2

    @asset(
        automation_condition=AutomationCondition.any_deps_match(
            AutomationCondition.missing()
        ).ignore(AssetSelection.groups("raw") | AssetSelection.keys("elsewhere"))
    )
    def c(a: int, b: int) -> int:
        return a + b

    snapshot = build_location_snapshot(Definitions(assets=[a, b, c]), "loc")
    condition = {s.key: s for s in snapshot.assets}["c"].automation_condition
    assert condition is not None and condition.ignore == ("a", "elsewhere")


def test_a_custom_condition_is_evaluated_by_the_worker_and_read_by_the_coordinator() -> None:
    from conflux.events import CustomConditionResult, TickCompleted

    class Weekday(AutomationCondition):
        def evaluate(self, context: AutomationContext) -> AutomationResult:
            weekday = context.evaluation_time.weekday() < 5
            subset = context.candidate_subset if weekday else context.get_empty_subset()
            return AutomationResult(context, subset)

    @asset
    def raw() -> int:
        return 1

    @asset(automation_condition=AutomationCondition.eager() & Weekday())
    def clean(raw: int) -> int:
        return raw

    defs = Definitions(assets=[raw, clean])
    sensor = defs.instigators.sensors["default_automation_condition_sensor"]
    [monday] = sensor.condition_results(datetime(2024, 3, 4, tzinfo=UTC))  # type: ignore[attr-defined]
    assert (monday.root_key, monday.node_path, monday.true_partitions) == ("clean", "0.1", None)
    [sunday] = sensor.condition_results(datetime(2024, 3, 3, tzinfo=UTC))  # type: ignore[attr-defined]
    assert sunday.true_partitions == ()
    h = Harness(defs)
    h.settle()
    h.report("raw")
    assert requested(h.settle()) == []  # the worker has not reported the custom node yet

    def report(result: CustomConditionResult) -> TickCompleted:
        return TickCompleted(
            time=h.tick(),
            instigator_type="sensor",
            name="default_automation_condition_sensor",
            location="loc",
            tick_id=f"t{h.now.isoformat()}",
            tick_time=h.now,
            status="success",
            condition_results=(result,),
        )

    h.feed(report(sunday))
    assert requested(h.settle()) == []
    h.feed(report(monday))
    assert requested(h.settle()) == [("clean", None)]


def test_a_custom_condition_over_other_assets_is_refused_with_the_reason() -> None:
    class Always(AutomationCondition):
        def evaluate(self, context: AutomationContext) -> AutomationResult:
            raise AssertionError("never evaluated")

    with pytest.raises(InvalidAutomationConditionError, match="custom condition inside"):
        AutomationCondition.any_deps_match(Always()).to_snapshot()


def test_automation_condition_sensors_gate_their_assets_and_tag_their_runs() -> None:
    from conflux.events import InstigatorStatusChanged
    from conflux.sdk import AssetSelection, AutomationConditionSensorDefinition

    sensor = AutomationConditionSensorDefinition(
        "nightly", target=AssetSelection.keys("clean"), run_tags={"team": "data"}
    )
    chain = _chain()
    defs = Definitions(assets=list(chain.nodes), sensors=[sensor])
    h = Harness(defs)
    h.settle()
    h.report("raw")
    assert requested(h.settle()) == []  # the sensor is stopped (Dagster's default)
    h.feed(
        InstigatorStatusChanged(
            time=h.tick(), instigator_type="sensor", name="nightly", status="running"
        )
    )
    events = h.settle()
    runs = [e for e in events if isinstance(e, MaterializationRequested)]
    assert [r.asset_keys for r in runs] == [("clean",), ("report",)]
    assert runs[0].tags == {"team": "data", "trigger": "automation"}
    assert runs[1].tags == {"trigger": "automation"}  # the implicit default sensor's
