"""Per-asset execution policies: `RetryPolicy` and `BackfillPolicy` (Dagster's names).

They are data: the location's snapshot carries them to the coordinator, which applies
them (rule 7: the coordinator never imports user code). A retry is a new attempt of the
same work item, dispatched after the policy's delay; a backfill policy decides how many
partitions one work item of a backfill covers.
"""

from __future__ import annotations

from enum import Enum

from conflux.events import BackfillPolicySnapshot, DefinitionError, RetryPolicySnapshot


class Backoff(Enum):
    """How the delay grows with each retry."""

    LINEAR = "linear"
    """delay x n before retry n."""
    EXPONENTIAL = "exponential"
    """delay x 2**(n-1) before retry n."""


class Jitter(Enum):
    """Randomness added to the delay, so that many retries do not fire in one instant."""

    FULL = "full"
    """A fraction in [0, 1) of the delay."""
    PLUS_MINUS = "plus_minus"
    """The delay plus or minus up to its own value."""


class RetryPolicy:
    """Retry a failed asset partition up to `max_retries` times.

    Args:
        max_retries: attempts after the first (Dagster's default: 1).
        delay: seconds before a retry (before backoff and jitter); None: at once.
        backoff: how the delay grows per retry.
        jitter: randomness added to the delay; deterministic per work item and attempt,
            so a replayed coordinator schedules the same retry at the same time.

    Example:
        >>> @asset(retry_policy=RetryPolicy(max_retries=3, delay=2, backoff=Backoff.EXPONENTIAL))
        ... def flaky_api() -> dict[str, int]: ...
    """

    def __init__(
        self,
        max_retries: int = 1,
        delay: float | None = None,
        backoff: Backoff | None = None,
        jitter: Jitter | None = None,
    ) -> None:
        if max_retries < 0:
            raise DefinitionError(f"RetryPolicy(max_retries={max_retries}): use 0 or more")
        if delay is not None and delay < 0:
            raise DefinitionError(f"RetryPolicy(delay={delay}): use a delay of 0 s or more")
        self.max_retries = max_retries
        self.delay = delay
        self.backoff = backoff
        self.jitter = jitter

    def to_snapshot(self) -> RetryPolicySnapshot:
        """The policy as data for the location's snapshot."""
        return RetryPolicySnapshot(
            max_retries=self.max_retries,
            delay_s=float(self.delay or 0.0),
            backoff=self.backoff.value if self.backoff is not None else None,
            jitter=self.jitter.value if self.jitter is not None else None,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RetryPolicy) and self.to_snapshot() == other.to_snapshot()

    def __hash__(self) -> int:
        return hash(self.to_snapshot())

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(max_retries={self.max_retries}, delay={self.delay}, "
            f"backoff={self.backoff}, jitter={self.jitter})"
        )


class BackfillPolicy:
    """How a run over several partitions groups an asset's partitions into work items.

    `BackfillPolicy.single_run()` asks for every partition a run covers in one call (a
    backfill's chunk: up to 5,000 partitions); `BackfillPolicy.multi_run(
    max_partitions_per_run=N)` for calls of at most N consecutive partitions. Without a
    policy each partition is its own call. The asset reads `context.partition_key_range`
    and `context.partition_keys`, and returns a dict keyed by those keys (each value is
    stored as its partition's), or `MaterializeResult()` / None (see docs/partitions.md).

    Example:
        >>> @asset(partitions_def=daily, backfill_policy=BackfillPolicy.multi_run(30))
        ... def events(context: AssetExecutionContext) -> MaterializeResult:
        ...     load_window(context.partition_time_window)  # up to 30 days at once
        ...     return MaterializeResult()
    """

    def __init__(self, max_partitions_per_run: int | None) -> None:
        if max_partitions_per_run is not None and max_partitions_per_run < 1:
            raise DefinitionError(
                f"BackfillPolicy.multi_run(max_partitions_per_run={max_partitions_per_run}): "
                "use 1 or more"
            )
        self.max_partitions_per_run = max_partitions_per_run

    @classmethod
    def single_run(cls) -> BackfillPolicy:
        """Every partition of a backfill in one work item."""
        return cls(None)

    @classmethod
    def multi_run(cls, max_partitions_per_run: int = 1) -> BackfillPolicy:
        """Work items of at most `max_partitions_per_run` consecutive partitions."""
        return cls(max_partitions_per_run)

    @property
    def policy_type(self) -> str:
        """`single_run` or `multi_run` (as Dagster names them)."""
        return "single_run" if self.max_partitions_per_run is None else "multi_run"

    def to_snapshot(self) -> BackfillPolicySnapshot:
        """The policy as data for the location's snapshot."""
        if self.max_partitions_per_run is None:
            return BackfillPolicySnapshot(kind="single_run", max_partitions_per_run=None)
        return BackfillPolicySnapshot(
            kind="multi_run", max_partitions_per_run=self.max_partitions_per_run
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BackfillPolicy)
            and self.max_partitions_per_run == other.max_partitions_per_run
        )

    def __hash__(self) -> int:
        return hash(self.max_partitions_per_run)

    def __repr__(self) -> str:
        if self.max_partitions_per_run is None:
            return "BackfillPolicy.single_run()"
        return f"BackfillPolicy.multi_run(max_partitions_per_run={self.max_partitions_per_run})"
