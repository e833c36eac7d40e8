#!/usr/bin/env python3
"""The compose stack's one-shot `topics` job: the core topics, with three replicas.

The coordinator creates them too, but with the brokers' default replication factor and
perhaps after the projector, which needs them, has started. Here they are created first,
with an explicit factor (CONFLUX_REPLICATION_FACTOR, default 3; min.insync.replicas comes
from the brokers' default, 2). A broker that answers is not yet one the controller counts:
creation is retried until all the replicas can be placed. Idempotent: existing topics are
left as they are.
"""

from __future__ import annotations

import os
import sys
import time

from conflux.events import InfrastructureError, Topics, ensure_topics


def main() -> int:
    """Create the core topics; exit 1 when they still cannot be created after two minutes."""
    bootstrap = os.environ["CONFLUX_BOOTSTRAP"]
    topics = Topics(os.environ.get("CONFLUX_TOPIC_PREFIX", "conflux"))
    replicas = int(os.environ.get("CONFLUX_REPLICATION_FACTOR", "3"))
    deadline = time.monotonic() + 120
    while True:
        try:
            ensure_topics(bootstrap, topics.core(), 30.0, replication_factor=replicas)
        except InfrastructureError as exc:
            if time.monotonic() > deadline:
                print(f"conflux-create-topics: giving up: {exc}", file=sys.stderr)
                return 1
            print(f"conflux-create-topics: retrying: {exc}", file=sys.stderr)
            time.sleep(2)
            continue
        print(f"conflux-create-topics: {len(topics.core())} topics, {replicas} replicas each")
        return 0


if __name__ == "__main__":
    sys.exit(main())
