"""Leadership: one coordinator decides, the others fold the log and wait; Kafka picks.

Election is Kafka's: every coordinator that has caught up with the log joins one consumer
group on the leader topic, which has a single partition, so the group's coordinator (the
broker) gives it to exactly one member per generation, and to another when that member
leaves or its session expires (a crash: `session.timeout.ms`). Nothing here is a protocol
of our own, and nothing outside Kafka is involved.

A generation is no fence, though: a member that was paused (SIGSTOP, a long GC) still
believes it owns the partition when it wakes. So the owner *claims* an epoch
(`LeadershipClaimed` on the leader topic, whose order numbers the claims: see
`ClaimsFold`), then marks the epoch in every partition it writes (`EpochMarked`), reads
the log up to its own marks, and only then decides, stamping every decision with its
epoch. Every fold refuses an older epoch's decision that follows a newer mark in the same
partition (`conflux.events.EpochFence`), so a woken zombie gets nothing counted, and a
replay from zero refuses exactly what the live folds refused.

A coordinator steps down when the group takes the partition away, or when it folds a
newer claim or mark. If a decision it had already folded into its own state comes back
refused (the zombie case), its state no longer equals the log's fold: it rebuilds it from
its last checkpoint, which only ever holds decisions the log had confirmed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conflux.coordinator._run_state import Outcome
    from conflux.coordinator._state import CoordinatorState
    from conflux.events import (
        EventConsumer,
        LeadershipClaimed,
        TickRequested,
        Topics,
        WorkItemDispatched,
    )
    from conflux.events.brokers import BrokerKind

log = logging.getLogger("conflux.coordinator.leadership")

DEFAULT_SESSION_TIMEOUT_S = {"kafka": 6.0, "tansu": 3.0}
"""The leader group's session: how long a crashed leader holds the partition. Kafka
refuses sessions under its `group.min.session.timeout.ms` (6 s by default; `conflux dev`'s
broker allows 1 s); a Tansu join waits half the session."""


@dataclass
class ClaimsFold:
    """The leader topic's claims, in order: each claim's epoch, and the latest.

    A claim's epoch is `max(proposed_epoch, previous epoch + 1)`: two claims never share
    one, a later claim always has a higher one, and a leader topic that was emptied (a
    Tansu restart) cannot make epochs go back, since claimants propose above every mark
    they have folded.

    Attributes:
        epoch: the epoch of the latest claim (0: none).
        holder: the instance id of the latest claimant.
        epochs: claim event id -> its epoch (one entry per election).
    """

    epoch: int = 0
    holder: str | None = None
    epochs: dict[str, int] = field(default_factory=dict)

    def apply(self, claim: LeadershipClaimed) -> None:
        """Fold one claim (a duplicate changes nothing)."""
        if claim.event_id in self.epochs:
            return
        epoch = max(claim.proposed_epoch, self.epoch + 1)
        self.epochs[claim.event_id] = epoch
        self.epoch = epoch
        self.holder = claim.instance_id


class LeaderGroup:
    """This coordinator's membership in the leader group: whether it may claim now.

    Join once caught up (a member that owns the partition must be able to claim at
    once); the cooperative-sticky assignor leaves the partition with its owner when
    standbys join. `owns` serves the group's callbacks: call it every loop.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        *,
        instance_id: str,
        broker_kind: BrokerKind | None,
        session_timeout_s: float,
    ) -> None:
        from conflux.events import EventConsumer

        session_ms = int(session_timeout_s * 1000)
        self.topic = topics.leader
        self._consumer: EventConsumer = EventConsumer(
            bootstrap,
            topics,
            [topics.leader],
            group_id=f"{topics.prefix}.coordinators",
            client_id=f"{instance_id}:leader",
            broker_kind=broker_kind,
            config={
                "session.timeout.ms": session_ms,
                # A member learns of a rebalance (the leader left or died) with its next
                # heartbeat: beat often, so that a standby hears of it soon.
                "heartbeat.interval.ms": max(session_ms // 10, 100),
                # Nothing is read from the group's partition (claims are folded by the
                # main consumer): start at its end, never commit.
                "auto.offset.reset": "latest",
            },
        )

    def owns(self) -> bool:
        """Whether this member holds the leader partition now (serves the callbacks)."""
        self._consumer.poll(timeout=0, max_records=100)
        return (self.topic, 0) in self._consumer.assignment

    def close(self) -> None:
        """Leave the group: its partition goes to a standby at once."""
        self._consumer.close()


def redeliveries(state: CoordinatorState, epoch: int) -> list[WorkItemDispatched | TickRequested]:
    """What a new leader delivers again, under its epoch: work nobody has taken yet.

    A dispatched item whose attempt no worker reported starting may sit in its work topic
    (workers will take it, and skip the copy: same event id), or may never get there: its
    delivery was written after this leader's mark (the old leader was a zombie), or the
    old leader died between writing the decision and its delivery. Started attempts are
    left to their workers, whose heartbeats say whether they live (`_liveness.py`).
    Likewise a tick request not completed is delivered again.
    """
    out: list[WorkItemDispatched | TickRequested] = []
    for run_id in sorted(state.runs):
        run = state.runs[run_id]
        if run.completed is not None:
            continue
        for item_id in sorted(run.dispatched):
            dispatch = run.dispatched[item_id]
            outcome = run.outcomes.get(item_id)
            if item_id in run.skipped or (
                outcome is not None and _answered(outcome, dispatch.attempt)
            ):
                continue
            out.append(dispatch.model_copy(update={"epoch": epoch}))
    for name in sorted(state.instigators.facts.records):
        record = state.instigators.facts.records[name]
        for tick_id in sorted(record.outstanding):
            out.append(record.outstanding[tick_id].model_copy(update={"epoch": epoch}))
    return out


def _answered(outcome: Outcome, attempt: int) -> bool:
    """Whether a worker reported anything of `attempt` (or the attempt was given up)."""
    return (
        attempt in outcome.started_by
        or attempt in outcome.failed
        or attempt in outcome.abandoned
        or any(a == attempt for _, a in outcome.materialized)
    )


def consumed_partitions(consumer: EventConsumer, names: set[str]) -> list[tuple[str, int]]:
    """The (topic, partition) pairs of `names` that `consumer` reads."""
    return sorted(tp for tp in consumer.assignment if tp[0] in names)
