"""`conflux materialize` and `conflux report`: the CLI as a producer of events."""

from __future__ import annotations

import getpass
import sys
import time
from typing import TYPE_CHECKING

from conflux.cli._output import print_json
from conflux.cli._system import SystemInfo, find_system
from conflux.events import (
    AssetMaterialized,
    ConfluxError,
    Event,
    MaterializationRequested,
    PartitionRange,
    new_id,
)

if TYPE_CHECKING:
    from pydantic import JsonValue

    from conflux.projections.api import ApiClient, RunSummary

ACCEPT_TIMEOUT_S = 30.0


class RunFailedError(ConfluxError):
    """The requested run was rejected or ended with failures."""


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _emit(info: SystemInfo, *events: Event, flush_timeout_s: float = 10.0) -> None:
    """Send the CLI's events to the running system, and wait until the broker has them."""
    from conflux.events import EventProducer

    with EventProducer(
        info.bootstrap,
        info.topics,
        client_id="conflux-cli",
        broker_kind=info.broker_kind,
        linger_ms=0,
    ) as producer:
        for event in events:
            producer.emit(event)
        producer.flush(timeout=flush_timeout_s)


def partition_arguments(
    partitions: tuple[str, ...], from_key: str | None, to_key: str | None
) -> PartitionRange | None:
    """Check `--partition` against `--from`/`--to` and return the range, if one was given.

    Raises:
        ConfluxError: only one end of a range, or keys and a range together.
    """
    if (from_key is None) != (to_key is None):
        raise ConfluxError("--from and --to go together: pass both, or neither")
    if partitions and from_key is not None:
        raise ConfluxError("pass either --partition or --from/--to, not both")
    if from_key is None or to_key is None:
        return None
    return PartitionRange(start=from_key, end=to_key)


def materialize(
    selection: str,
    *,
    partitions: tuple[str, ...],
    from_key: str | None,
    to_key: str | None,
    wait: bool,
    as_json: bool,
    state_dir: str,
    config_json: str | None = None,
) -> int:
    """Emit a request and wait until the coordinator accepts it.

    With `wait`, also wait until the run ends. Returns 1 if the request was rejected or
    (with `wait`) anything failed. `config_json` is the run config (`--config-json`).
    """
    from conflux.projections.api import ApiClient

    partition_range = partition_arguments(partitions, from_key, to_key)
    run_config = parse_run_config(config_json)
    info = find_system(state_dir)
    client = ApiClient(info.api_url)
    keys = client.resolve_selection(selection)
    run_id = new_id()
    request = MaterializationRequested(
        run_id=run_id,
        selection=selection,
        asset_keys=tuple(keys),
        partition_keys=tuple(partitions) or None,
        partition_range=partition_range,
        requested_by=_user(),
        producer="cli",
        correlation_id=run_id,
        run_config=run_config,
    )
    _emit(info, request)
    run = _await_run(client, run_id, until=("started", "success", "failed"), progress=False)
    if run.status != "failed" and wait:
        run = _await_run(client, run_id, until=("success", "failed"), progress=sys.stderr.isatty())
    if as_json:
        print_json(run)
    else:
        _print_run(run, waited=wait)
    if run.status == "failed" and (wait or run.reason):
        return 1
    return 0


def parse_run_config(text: str | None) -> dict[str, JsonValue] | None:
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


def _await_run(
    client: ApiClient, run_id: str, *, until: tuple[str, ...], progress: bool
) -> RunSummary:
    from conflux.events import ApiUnavailableError

    deadline = time.monotonic() + ACCEPT_TIMEOUT_S if "started" in until else None
    shown = ""
    told = ""
    while True:
        try:
            run = client.run(run_id)
        except ApiUnavailableError:
            raise
        except ConfluxError:
            run = None
        if run is not None and run.held and run.held != told and "success" in until:
            # Said once per outage, tty or not: a wait that would otherwise look stuck.
            sys.stderr.write(("\n" if shown else "") + f"run {run_id[:8]} held: {run.held}\n")
            told, shown = run.held, ""
        if run is not None and run.status in until:
            if progress and shown:
                sys.stderr.write("\n")
            return run
        if progress and run is not None:
            line = (
                f"\rrun {run_id[:8]}: {run.materialized}/{run.partition_count} materialized, "
                f"{run.failed} failed, {run.in_progress} in progress"
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
        time.sleep(0.02)


def _print_run(run: RunSummary, *, waited: bool) -> None:
    keys = ", ".join(run.asset_keys)
    if run.status == "failed" and run.reason:
        raise RunFailedError(f"run {run.run_id} rejected: {run.reason}")
    if not waited:
        print(f"run {run.run_id} {run.status}: {run.partition_count} partition(s) of {keys}")
        if run.held:
            print(f"held: {run.held}")
        return
    print(
        f"run {run.run_id} {run.status}: {run.materialized} materialized, {run.failed} failed, "
        f"{run.skipped} skipped ({keys})"
    )


def _parse_metadata(items: tuple[str, ...]) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfluxError(f"--metadata {item!r} is not K=V: write e.g. --metadata rows=120")
        out[key] = value
    return out


def report(
    asset_key: str,
    *,
    partition: str | None,
    data_version: str | None,
    metadata: tuple[str, ...],
    as_json: bool,
    state_dir: str,
) -> int:
    """Emit an `AssetMaterialized` with source `reported`, after checking the asset and key."""
    from conflux.projections.api import ApiClient

    info = find_system(state_dir)
    client = ApiClient(info.api_url)
    client.validate_partition(asset_key, partition)
    event = AssetMaterialized(
        asset_key=asset_key,
        partition_key=partition,
        data_version=data_version or new_id()[:16],
        source="reported",
        metadata=_parse_metadata(metadata),
        producer=f"cli:{_user()}",
    )
    _emit(info, event)
    if as_json:
        print_json(
            {
                "event_id": event.event_id,
                "asset_key": asset_key,
                "partition_key": partition,
                "data_version": event.data_version,
                "time": event.time.isoformat(),
            }
        )
    else:
        where = f" partition {partition}" if partition is not None else ""
        print(
            f"reported {asset_key}{where}: data version {event.data_version} "
            f"(event {event.event_id})"
        )
    return 0
