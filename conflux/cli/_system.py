"""Finding the running system: the state folder written by `conflux dev`, or the environment.

`CONFLUX_BOOTSTRAP` / `CONFLUX_API` (and `CONFLUX_TOPIC_PREFIX`) describe a real
deployment; otherwise `<state-dir>/dev.json` describes the local one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from conflux.events import StateDirError

if TYPE_CHECKING:
    from conflux.events import Topics

DEV_FILE = "dev.json"


@dataclass(frozen=True)
class SystemInfo:
    """Where a running Conflux system is."""

    bootstrap: str
    api_url: str
    broker_kind: Literal["kafka", "tansu"] | None = None
    topic_prefix: str = "conflux"
    pid: int | None = None
    state_dir: str | None = None

    @property
    def topics(self) -> Topics:
        """The system's topic names (imported here: the topic catalog loads every event model)."""
        from conflux.events import Topics

        return Topics(self.topic_prefix)


def broker_kind_from(value: str | None) -> Literal["kafka", "tansu"] | None:
    """`kafka`, `tansu`, or None for anything else (client settings then assume Kafka)."""
    if value == "kafka":
        return "kafka"
    if value == "tansu":
        return "tansu"
    return None


def write_dev_file(state_dir: Path, info: SystemInfo) -> None:
    """Record where `dev` runs, atomically, for the other commands to find."""
    tmp = state_dir / (DEV_FILE + ".tmp")
    tmp.write_text(json.dumps(asdict(info), indent=2))
    tmp.replace(state_dir / DEV_FILE)


def find_system(state_dir: str | Path) -> SystemInfo:
    """The running system, from the environment or the state folder.

    Raises:
        StateDirError: neither names a running system; the message says how to start one.
    """
    bootstrap = os.environ.get("CONFLUX_BOOTSTRAP")
    api = os.environ.get("CONFLUX_API")
    if bootstrap and api:
        return SystemInfo(
            bootstrap=bootstrap,
            api_url=api.rstrip("/"),
            broker_kind=broker_kind_from(os.environ.get("CONFLUX_BROKER_KIND")),
            topic_prefix=os.environ.get("CONFLUX_TOPIC_PREFIX", "conflux"),
        )
    path = Path(state_dir) / DEV_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise StateDirError(
            f"no running Conflux found: {path} does not exist; start `conflux dev` in this "
            "folder, pass --state-dir, or set CONFLUX_BOOTSTRAP and CONFLUX_API"
        ) from None
    except ValueError as exc:
        raise StateDirError(f"{path} is not valid JSON ({exc}): restart `conflux dev`") from exc
    info = SystemInfo(**data)
    if info.pid is not None and not _alive(info.pid):
        raise StateDirError(
            f"`conflux dev` (pid {info.pid}) recorded in {path} is no longer running: "
            "start it again"
        )
    return info


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
