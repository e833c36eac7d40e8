"""A schedule and a sensor, both stopped by default (for tests/e2e/test_cli_schedules.py)."""

from conflux import (
    Definitions,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    asset,
    sensor,
)


@asset
def orders() -> int:
    return 1


@asset(deps=[orders])
def report() -> int:
    return 2


every_minute = ScheduleDefinition(
    name="every_minute",
    cron_schedule="* * * * *",
    target=[orders],
    execution_timezone="Europe/Berlin",
)


@sensor(target=[report], minimum_interval_seconds=1)
def inbox(context: SensorEvaluationContext) -> RunRequest:
    context.update_cursor(str(int(context.cursor or "0") + 1))
    return RunRequest(run_key="the-one-file")


defs = Definitions(assets=[orders, report], schedules=[every_minute], sensors=[inbox])
