"""`conflux status`: exit 0 only when the system is ready; name what is not.

It reads `/status` as JSON, without the response models: pydantic alone costs more than
the rest of the command, which scripts and tests run in a loop while `dev` starts.

Exit codes: 0 ready; 1 not ready (or no system found), each reason named; 3 ready, with
N code locations down (they failed to load: shown, with why, and the others go on).
Beyond the query API's report, a location with no live worker is not ready, and under
`conflux dev` so is a part that its supervisor sees down (`<state-dir>/parts.json`),
named with the last line of its log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from conflux.cli._options import JSON, STATE_DIR

EXIT_NOT_READY = 1
EXIT_LOCATIONS_DOWN = 3
"""Ready, with N code locations down: distinct from 0, so a script that needs every
location sees it, and from 1, so one that waits for the system can stop waiting."""

_EPILOG = (
    "Exit codes: 0 ready; 1 not ready (reasons named); 3 ready, with N code locations "
    "down (failed to load; the others run). A script that waits for the system and "
    "accepts a broken location waits for 0 or 3."
)


def parts_down(state_dir: str | Path, dev_pid: int | None) -> dict[str, str]:
    """Part -> why it is down, from the `parts.json` the running `dev` (`dev_pid`) writes."""
    if dev_pid is None:
        return {}
    try:
        data = json.loads((Path(state_dir) / "parts.json").read_text())
    except (OSError, ValueError):
        return {}
    if data.get("pid") != dev_pid:
        return {}
    return {str(k): str(v) for k, v in (data.get("down") or {}).items()}


def judge(report: dict[str, Any], down: dict[str, str]) -> tuple[list[str], list[dict[str, Any]]]:
    """(what is not ready, the locations that failed to load) of a `/status` report.

    A location that loaded but has no live worker cannot run anything: not ready. A
    location that failed to load holds no one up (the report may be ready), but is
    returned, for the caller to show and to exit with `EXIT_LOCATIONS_DOWN`.
    """
    not_ready = list(report.get("not_ready") or [])
    not_ready += [f"{name}: {why}" for name, why in sorted(down.items())]
    failed = []
    for location in report.get("locations") or []:
        if location["status"] == "failed":
            failed.append(location)
        elif location["status"] == "loaded" and not location.get("workers_alive"):
            not_ready.append(f"location {location['name']}: no live worker")
    return not_ready, failed


@click.command(epilog=_EPILOG)
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
        reason = str(exc)
        down = parts_down(state_dir, _dev_pid(state_dir))
        if down:  # the API does not answer: say which part is down, and why
            reason += "; " + "; ".join(f"{k}: {v}" for k, v in sorted(down.items()))
        if as_json:
            print_json({"ready": False, "not_ready": [reason]})
            return EXIT_NOT_READY
        if not down:
            raise
        click.echo(reason, err=True)
        return EXIT_NOT_READY
    down = parts_down(state_dir, info.pid) if info.state_dir else {}
    not_ready, failed = judge(report, down)
    ready = not not_ready
    code = EXIT_NOT_READY if not ready else EXIT_LOCATIONS_DOWN if failed else 0
    if as_json:
        print_json({**report, "ready": ready, "not_ready": not_ready, "down": len(failed)})
        return code
    if not ready:
        print("not ready: " + "; ".join(not_ready))
    elif failed:
        print(f"ready, with {len(failed)} location{'s' if len(failed) > 1 else ''} down")
    else:
        print("ready")
    for location in failed:
        # A broken location does not hold the others up, but it is never silent.
        print(f"location {location['name']} failed to load: {location['error']}")
    for b in report.get("brokers") or []:
        if b.get("state") == "offline":
            print(f"broker {b['id']} ({b['host']}:{b['port']}) is offline")
    return code


def _dev_pid(state_dir: str) -> int | None:
    try:
        pid = json.loads((Path(state_dir) / "dev.json").read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None
