"""`conflux status`: exit 0 only when the system is ready; name what is not.

It reads `/status` as JSON, without the response models: pydantic alone costs more than
the rest of the command, which scripts and tests run in a loop while `dev` starts.

Exit codes: 0 ready; 1 not ready (or no system found), each reason named. A code location
that failed to load is shown with why and holds no one up, so the system is ready with it
down ("ready, with N locations down"): exit 0, as DESIGN.md's contract says (scripts wait
on `status`); with `--strict`, exit 3 then, for a script that needs every location.
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
"""With `--strict`: ready, with N code locations down. Distinct from 0, so a script that
needs every location sees it, and from 1, so one that waits for the system can stop."""

_EPILOG = (
    "Exit codes: 0 ready (also with code locations down: they are listed with their "
    "errors, and the others run); 1 not ready (reasons named); with --strict, 3 when "
    "ready with N code locations down."
)


def read_parts(state_dir: str | Path, dev_pid: int | None) -> dict[str, Any]:
    """What the running `dev` (`dev_pid`) says of its processes (`parts.json`), or {}."""
    if dev_pid is None:
        return {}
    try:
        data = json.loads((Path(state_dir) / "parts.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("pid") == dev_pid else {}


def judge(
    report: dict[str, Any], parts: dict[str, Any]
) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """(what is not ready, the locations that failed to load, notes) of a `/status` report.

    `parts` is what `dev` says of its processes (`read_parts`). A part that is down is
    not ready. A broker node that is down is not either, unless the cluster goes on
    without it: a majority of its controllers and `min.insync.replicas` brokers remain
    (one of three); it is then a note. A location that loaded but has no live worker
    cannot run anything: not ready. A location that failed to load holds no one up
    (the report may be ready), but is returned, for the caller to show and to exit
    with `EXIT_LOCATIONS_DOWN`.
    """
    not_ready = list(report.get("not_ready") or [])
    down: dict[str, str] = parts.get("down") or {}
    not_ready += [f"{name}: {why}" for name, why in sorted(down.items())]
    notes = []
    lost: dict[str, str] = parts.get("brokers_down") or {}
    if lost:
        total = int(parts.get("brokers_total") or 1)
        min_isr = max(1, min(total, 3) - 1)
        shown = "; ".join(f"{name}: {why}" for name, why in sorted(lost.items()))
        if len(lost) <= (total - 1) // 2 and total - len(lost) >= min_isr:
            notes.append(
                f"broker {shown} (the cluster goes on with {total - len(lost)} of {total}; "
                "dev is starting it again)"
            )
        else:
            many = f"brokers ({len(lost)} of {total} down, no quorum) "
            not_ready.append(shown if total == 1 else many + shown)
    failed = []
    for location in report.get("locations") or []:
        if location["status"] == "failed":
            failed.append(location)
        elif location["status"] == "loaded" and not location.get("workers_alive"):
            not_ready.append(f"location {location['name']}: no live worker")
    return not_ready, failed, notes


@click.command(epilog=_EPILOG)
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 3 when ready but some code locations failed to load (default: exit 0).",
)
@JSON
@STATE_DIR
def status(strict: bool, as_json: bool, state_dir: str) -> int:
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
        parts = read_parts(state_dir, _dev_pid(state_dir))
        down = {**(parts.get("brokers_down") or {}), **(parts.get("down") or {})}
        if down:  # the API does not answer: say which part is down, and why
            reason += "; " + "; ".join(f"{k}: {v}" for k, v in sorted(down.items()))
        if as_json:
            print_json({"ready": False, "not_ready": [reason]})
            return EXIT_NOT_READY
        if not down:
            raise
        click.echo(reason, err=True)
        return EXIT_NOT_READY
    parts = read_parts(state_dir, info.pid) if info.state_dir else {}
    not_ready, failed, notes = judge(report, parts)
    ready = not not_ready
    code = EXIT_NOT_READY if not ready else EXIT_LOCATIONS_DOWN if failed and strict else 0
    if as_json:
        from conflux.cli._dev_metrics import read_metrics_file

        urls = read_metrics_file(state_dir)  # written by `dev`: each part's /metrics
        extra = {"metrics": urls} if urls is not None else {}
        print_json(
            {
                **report,
                **extra,
                "ready": ready,
                "not_ready": not_ready,
                "notes": notes,
                "supervisor": parts,
            }
        )
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
    for note in notes:
        print(note)
    for b in report.get("brokers") or []:
        if b.get("state") == "offline":
            print(f"broker {b['id']} is offline (its replicas wait for it)")
    return code


def _dev_pid(state_dir: str) -> int | None:
    try:
        pid = json.loads((Path(state_dir) / "dev.json").read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None
