"""Retry delays: the policy's delay, backoff and jitter, deterministic per attempt."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conflux.events import RetryPolicySnapshot


def retry_delay_s(policy: RetryPolicySnapshot, retry: int, seed: str) -> float:
    """Seconds to wait before retry number `retry` (1 for the first retry).

    Jitter comes from a hash of `seed` (the work item and attempt), not from a random
    generator: deciding again over the same log schedules the same retry at the same time.
    """
    delay = policy.delay_s
    if policy.backoff == "linear":
        delay *= retry
    elif policy.backoff == "exponential":
        delay *= 2 ** (retry - 1)
    if policy.jitter is not None and delay > 0:
        digest = hashlib.sha256(seed.encode()).digest()
        fraction = int.from_bytes(digest[:8], "big") / 2**64
        if policy.jitter == "full":
            delay *= fraction
        else:
            delay = max(0.0, delay + delay * (2 * fraction - 1))
    return delay
