#!/usr/bin/env python3
"""Container health for compose: whether *this* container's part is alive, by `conflux status`.

`conflux status` exits 0 only when the whole system is ready, which is the wrong question
for one container: a projector waiting for a worker is healthy, and a worker cannot be
ready before the projector is. So each container asks `conflux status --json` and looks
at its own part:

    conflux-healthcheck projector     the query API answers and has read the log to its end
    conflux-healthcheck coordinator   a live heartbeat from `coordinator@<this host>:...`
    conflux-healthcheck worker        a live heartbeat from `<location>@<this host>:...`

Heartbeats carry the host name (the container's), so replicas of one service are told
apart. Coordinator and worker health is read through the projector: while it is down they
read unhealthy too. Exit 0 healthy, 1 not (the reason on stderr, which `docker inspect`
shows).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from typing import Any

STATUS = ["conflux", "status", "--json"]
"""The command asked (a unit test parses it with the real CLI)."""


def verdict(report: dict[str, Any], part: str, host: str) -> str | None:
    """None when `part` on `host` is healthy in `report`, else why not (one line)."""
    if "caught_up" not in report:  # the query API did not answer: the CLI's own reason
        return "; ".join(report.get("not_ready") or ["no status report"])
    if part == "projector":
        return None if report["caught_up"] else "projector: still reading the log"
    ours = [
        c
        for c in report.get("components", [])
        if c["component"] == part and c["instance_id"].split(":")[0].endswith(f"@{host}")
    ]
    if any(c["alive"] for c in ours):
        return None
    return f"{part}@{host}: " + ("heartbeat too old" if ours else "no heartbeat yet")


def main(argv: list[str]) -> int:
    """Run `conflux status --json` and judge this container's part (argv[0])."""
    if len(argv) != 1 or argv[0] not in ("projector", "coordinator", "worker"):
        print("usage: conflux-healthcheck projector|coordinator|worker", file=sys.stderr)
        return 2
    done = subprocess.run(STATUS, capture_output=True, text=True, timeout=20, check=False)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        print(f"conflux status said: {done.stderr.strip() or done.stdout.strip()}", file=sys.stderr)
        return 1
    why = verdict(report, argv[0], socket.gethostname())
    if why is not None:
        print(why, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
