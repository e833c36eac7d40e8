"""`conflux materialize`: request a run, wait until the coordinator takes it (or it ends).

The request's keys are checked through the query API before anything is written, then one
`MaterializationRequested` goes to the log, and the run is polled as JSON (no models: a
short command stays short).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from conflux.cli._options import JSON, STATE_DIR
from conflux.events import ConfluxError

if TYPE_CHECKING:
    from conflux.projections.api import ApiTransport

ACCEPT_TIMEOUT_S = 30.0
"""How long the coordinator may take to pick a request up before the CLI gives up."""
POLL_FIRST_S = 0.01
POLL_MAX_S = 0.1
"""The run is polled after 10 ms, then after each pause half again as long, up to 100 ms
(10, 25, 47, 81, 132, ... ms): a short run is seen done a few ms after its end, and a
long one costs the projector ten requests a second, not a hundred (on a busy machine,
polls take CPU from the very processes doing the work)."""


class RunFailedError(ConfluxError):
    """The requested run was rejected or ended with failures."""


@click.command()
@click.argument("selection")
@click.option("--partition", "partitions", multiple=True, help="A partition key (repeatable).")
@click.option("--from", "from_key", help="First partition key of a range (with --to).")
@click.option("--to", "to_key", help="Last partition key of a range (with --from).")
@click.option("--wait", is_flag=True, help="Block until the run ends; exit 1 if anything failed.")
@click.option(
    "--config-json",
    help='The run config as JSON, Dagster\'s shape: \'{"ops": {"ASSET": {"config": {...}}}}\'.',
)
@JSON
@STATE_DIR
def materialize(
    selection: str,
    partitions: tuple[str, ...],
    from_key: str | None,
    to_key: str | None,
    wait: bool,
    config_json: str | None,
    as_json: bool,
    state_dir: str,
) -> int:
    """Request a materialization of SELECTION (keys, *upstream, downstream*, group:NAME)."""
    from conflux.cli._output import print_json
    from conflux.cli._requests import (
        check_partitions,
        open_producer,
        partition_arguments,
        user_name,
    )
    from conflux.cli._system import find_system
    from conflux.events import MaterializationRequested, new_id
    from conflux.projections.api import ApiTransport

    partition_range = partition_arguments(partitions, from_key, to_key)
    run_config = parse_run_config(config_json)
    info = find_system(state_dir)
    api = ApiTransport(info.api_url)
    with open_producer(info) as producer:  # connects while the request is checked
        keys = api.resolve_selection(selection)
        check_partitions(api, keys, partitions, partition_range)
        run_id = new_id()
        request = MaterializationRequested(
            run_id=run_id,
            selection=selection,
            asset_keys=tuple(keys),
            partition_keys=tuple(partitions) or None,
            partition_range=partition_range,
            requested_by=user_name(),
            producer="cli",
            correlation_id=run_id,
            run_config=run_config,
        )
        producer.emit(request)
        producer.flush()
    run = await_run(api, run_id, until=("started", "success", "failed"), progress=False)
    if run["status"] != "failed" and wait:
        run = await_run(api, run_id, until=("success", "failed"), progress=sys.stderr.isatty())
    if as_json:
        print_json(run)
    else:
        _print_run(run, waited=wait)
    if run["status"] == "failed" and (wait or run.get("reason")):
        return 1
    return 0


def parse_run_config(text: str | None) -> dict[str, Any] | None:
    """`--config-json`: a JSON object in Dagster's run-config shape (None when not given).

    Raises:
        ConfluxError: not JSON, or not an object.
    """
    if text is None:
        return None
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfluxError(f"--config-json is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfluxError(
            '--config-json must be a JSON object, e.g. \'{"ops": {"ASSET": {"config": {}}}}\''
        )
    return value or None


def await_run(
    api: ApiTransport, run_id: str, *, until: tuple[str, ...], progress: bool
) -> dict[str, Any]:
    """Poll run `run_id` until its status is one of `until`; its JSON (a `RunSummary`).

    Raises:
        RunFailedError: waiting for the start, and the run was not picked up in time.
        ApiUnavailableError: the query API stopped answering.
    """
    from conflux.events import ApiUnavailableError

    deadline = time.monotonic() + ACCEPT_TIMEOUT_S if "started" in until else None
    shown = ""
    told = ""
    pause = POLL_FIRST_S
    while True:
        run: dict[str, Any] | None
        try:
            run = api.run_json(run_id)
        except ApiUnavailableError:
            raise
        except ConfluxError:  # not seen by the projector yet
            run = None
        held = run.get("held") if run is not None else None
        if run is not None and held and held != told and "success" in until:
            # Said once per outage, tty or not: a wait that would otherwise look stuck.
            sys.stderr.write(("\n" if shown else "") + f"run {run_id[:8]} held: {held}\n")
            told, shown = held, ""
        if run is not None and run["status"] in until:
            if progress and shown:
                sys.stderr.write("\n")
            return run
        if progress and run is not None:
            line = (
                f"\rrun {run_id[:8]}: {run['materialized']}/{run['partition_count']} "
                f"materialized, {run['failed']} failed, {run['in_progress']} in progress"
            )
            if line != shown:
                sys.stderr.write(line)
                sys.stderr.flush()
                shown = line
        if deadline is not None and time.monotonic() > deadline:
            raise RunFailedError(
                f"run {run_id} was not picked up within {ACCEPT_TIMEOUT_S:.0f} s: is the "
                "coordinator running? (`conflux status`)"
            )
        time.sleep(pause)
        pause = min(pause * 1.5, POLL_MAX_S)


def _print_run(run: dict[str, Any], *, waited: bool) -> None:
    keys = ", ".join(run["asset_keys"])
    if run["status"] == "failed" and run.get("reason"):
        raise RunFailedError(f"run {run['run_id']} rejected: {run['reason']}")
    if not waited:
        print(
            f"run {run['run_id']} {run['status']}: {run['partition_count']} partition(s) of {keys}"
        )
        if run.get("held"):
            print(f"held: {run['held']}")
        return
    print(
        f"run {run['run_id']} {run['status']}: {run['materialized']} materialized, "
        f"{run['failed']} failed, {run['skipped']} skipped ({keys})"
    )
