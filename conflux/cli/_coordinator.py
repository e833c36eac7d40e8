"""`conflux coordinator`: the coordinator alone, for real deployments (`dev` runs it too)."""

from __future__ import annotations

from pathlib import Path

import click

from conflux.cli._options import LOG_FORMAT, METRICS_HOST, METRICS_PORT, STATE_DIR, queue_options


@click.command()
@queue_options
@click.option(
    "--session-timeout",
    type=click.FloatRange(min=0.5),
    default=None,
    help="Seconds before a standby takes over from a leader that died (the leader "
    "group's session; default 6 on Kafka, whose brokers refuse less than their "
    "group.min.session.timeout.ms, 3 on Tansu).",
)
@METRICS_PORT
@METRICS_HOST
@LOG_FORMAT
@STATE_DIR
def coordinator(
    max_concurrent: int | None,
    pool_limits: tuple[str, ...],
    location_limits: tuple[str, ...],
    heartbeat_timeout: float | None,
    schedule_catchup: int | None,
    session_timeout: float | None,
    metrics_port: int | None,
    metrics_host: str,
    log_format: str,
    state_dir: str,
) -> int:
    """Run a coordinator (one part, for real deployments); run several: one leads."""
    # The leader, or a standby if another leads, until stopped.
    from conflux.cli._parts import configure_logging, find_broker, stop_on_signals
    from conflux.coordinator import (
        DEFAULT_HEARTBEAT_TIMEOUT_S,
        DEFAULT_MAX_CONCURRENT,
        Coordinator,
        QueueLimits,
        default_instance_id,
        parse_limits,
    )
    from conflux.events import wait_for_broker

    try:
        limits = QueueLimits(
            max_concurrent=max_concurrent or DEFAULT_MAX_CONCURRENT,
            pools=parse_limits(pool_limits, "pool"),
            locations=parse_limits(location_limits, "location"),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    instance_id = default_instance_id()
    configure_logging(log_format, "coordinator", instance_id)
    bootstrap, kind, topics = find_broker(state_dir)
    stop = stop_on_signals()
    wait_for_broker(bootstrap)
    Coordinator(
        bootstrap,
        topics,
        broker_kind=kind,
        checkpoint=Path(state_dir) / "coordinator" / "checkpoint",
        limits=limits,
        heartbeat_timeout_s=heartbeat_timeout or DEFAULT_HEARTBEAT_TIMEOUT_S,
        max_catchup_ticks=schedule_catchup,
        session_timeout_s=session_timeout,
        instance_id=instance_id,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
    ).run(stop)
    return 0
