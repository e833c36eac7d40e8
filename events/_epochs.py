"""Leadership epochs: which coordinator decisions count, decided per partition.

Several coordinators may run; one is active (see `coordinator/_leadership.py`). Each
decision carries the epoch of the coordinator that made it, and a new leader writes an
`EpochMarked` to every partition it writes before it decides. A fold keeps, per
(topic, partition), the highest epoch marked so far and ignores a decision of a lower
epoch that comes after that mark. Kafka keeps each partition's order, so every fold (the
coordinator's, the read model, the archive, a worker's) and every replay from zero draw
the same line, whatever the timing: a coordinator that wakes from a pause after losing
leadership has none of its later decisions counted. Nothing here trusts a clock.

What counts as a decision: every event type only the coordinator emits (`DECISION_TYPES`),
and the two a person or a worker may emit too (`MaterializationRequested`, `TickCompleted`)
when the coordinator produced them. An epoch-less decision (written before leadership
existed) is of epoch 0.
"""

from __future__ import annotations

import functools
from itertools import count
from typing import TYPE_CHECKING

from conflux.events._base import derived_id

if TYPE_CHECKING:
    from conflux.events._base import Event

DECIDER = "coordinator"
"""The `producer` of the events a coordinator decides."""

DECISION_TYPES: frozenset[str] = frozenset(
    {
        "RunStarted",
        "WorkItemDispatched",
        "WorkItemSkipped",
        "RunHeld",
        "RunCompleted",
        "WorkItemAbandoned",
        "BackfillCompleted",
        "TickRequested",
        "AutomationEvaluated",
    }
)
"""Event types only a coordinator emits: each one is a decision."""

SHARED_TYPES: frozenset[str] = frozenset({"MaterializationRequested", "TickCompleted"})
"""Event types a coordinator emits and others do too: a decision when `producer` is the
coordinator (people request runs; workers complete sensor ticks)."""

FENCED_TYPES: frozenset[str] = DECISION_TYPES | SHARED_TYPES | {"EpochMarked"}
"""The event types `EpochFence.admit` looks at; it admits every other type as it is (hot
loops test this set first and skip the call)."""
_WATCHED = FENCED_TYPES


def decision_epoch(event: Event) -> int | None:
    """The epoch of a coordinator's decision, or None when `event` is not a decision."""
    kind: str = getattr(event, "type", "")
    if kind in DECISION_TYPES:
        return int(getattr(event, "epoch", 0))
    if kind in SHARED_TYPES and event.producer == DECIDER:
        return getattr(event, "epoch", None) or 0
    return None


class EpochFence:
    """Per (topic, partition), the highest epoch marked so far; admits what counts.

    Feed it every record of a partition in order (`admit`), before folding the record:
    marks raise the line, and a decision below its partition's line is refused. Records
    read without a position (`partition < 0`) are admitted.

    Attributes:
        marks: (topic, partition) -> the highest epoch marked there.
        highest: the highest epoch marked anywhere (0: none yet).
        fenced: how many decisions were refused.
    """

    __slots__ = ("fenced", "highest", "marks")

    def __init__(self) -> None:
        self.marks: dict[tuple[str, int], int] = {}
        self.highest = 0
        self.fenced = 0

    def admit(self, event: Event, topic: str, partition: int) -> bool:
        """Whether `event`, read at (topic, partition), counts (marks always do)."""
        kind: str = event.type  # type: ignore[attr-defined]
        if kind not in _WATCHED:
            return True  # the common case: one set lookup
        if kind == "EpochMarked":
            where = (topic, partition)
            epoch: int = event.epoch  # type: ignore[attr-defined]
            if epoch > self.marks.get(where, 0):
                self.marks[where] = epoch
            if epoch > self.highest:
                self.highest = epoch
            return True
        line = self.marks.get((topic, partition), 0)  # 0 also when read without a position
        if line == 0:
            return True
        # `decision_epoch`, inlined: this runs for every decision every fold reads.
        if kind in DECISION_TYPES:
            decided: int = event.epoch  # type: ignore[attr-defined]
        elif event.producer == DECIDER:
            decided = event.epoch or 0  # type: ignore[attr-defined]
        else:
            return True  # a person's request, a worker's tick: not a decision
        if decided >= line:
            return True
        self.fenced += 1
        return False

    def line(self, topic: str, partition: int) -> int:
        """The epoch below which decisions read from (topic, partition) are refused now."""
        return self.marks.get((topic, partition), 0)


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (the Java client's `Utils.murmur2`), as an unsigned 32-bit int."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    end = length - length % 4
    for i in range(0, end, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    extra = length % 4
    if extra == 3:
        h ^= data[end + 2] << 16
    if extra >= 2:
        h ^= data[end + 1] << 8
    if extra >= 1:
        h ^= data[end]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition_for(key: str, partitions: int) -> int:
    """The partition a key lands in with the murmur2 partitioner (Java's, and ours)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


@functools.cache
def mark_key(partition: int, partitions: int) -> str:
    """A record key that lands in `partition` of a topic of `partitions` partitions."""
    if not 0 <= partition < partitions:
        raise ValueError(f"partition {partition} is not one of {partitions}")
    for n in count():
        key = f"epoch-mark-{n}"
        if partition_for(key, partitions) == partition:
            return key
    raise AssertionError("unreachable")  # pragma: no cover


def mark_id(epoch: int, topic: str, partition: int) -> str:
    """The event id of the mark of `epoch` in one partition (marking again repeats it)."""
    return derived_id("epoch-mark", str(epoch), topic, str(partition))
