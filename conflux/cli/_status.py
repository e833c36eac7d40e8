"""`conflux status`: exit 0 only when the system is ready; name what is not.

It reads `/status` as JSON, without the response models: pydantic alone costs more than
the rest of the command, which scripts and tests run in a loop while `dev` starts.
"""

from __future__ import annotations

import click

from conflux.cli._options import JSON, STATE_DIR


@click.command()
@JSON
@STATE_DIR
def status(as_json: bool, state_dir: str) -> int:
    """Exit 0 only when broker, coordinator, projector and every location are ready."""
    from conflux.cli._output import print_json
    from conflux.cli._system import find_system
    from conflux.events import ApiUnavailableError, BrokerUnavailableError, StateDirError
    from conflux.projections.api import ApiTransport

    try:
        info = find_system(state_dir)
        report = ApiTransport(info.api_url, timeout=3.0).get_json("/status")  # a StatusReport
    except (StateDirError, ApiUnavailableError, BrokerUnavailableError) as exc:
        if as_json:
            print_json({"ready": False, "not_ready": [str(exc)]})
            return 1
        raise
    if as_json:
        from conflux.cli._dev_metrics import read_metrics_file

        urls = read_metrics_file(state_dir)  # written by `dev`: each part's /metrics
        print_json({**report, "metrics": urls} if urls is not None else report)
    else:
        print("ready" if report["ready"] else "not ready: " + "; ".join(report["not_ready"]))
        for location in report["locations"]:
            if location["status"] == "failed":
                # A broken location does not hold the others up (status may still be
                # ready), but it is never silent.
                print(f"location {location['name']} failed to load: {location['error']}")
    return 0 if report["ready"] else 1
