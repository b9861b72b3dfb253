"""Bounded, deadline-aware retries: full-jitter exponential backoff, a floored backoff for row locks, and the
attempt budget one logical write shares across every layer that may resend it (clock and sleep injectable)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    # Row locks are held for up to ~10 s; resends of locked rows are at least lock_base_delay apart
    # (the floor doubles per attempt, capped at lock_max_delay), plus up to lock_jitter of it at random.
    lock_base_delay: float = 1.0
    lock_max_delay: float = 10.0
    lock_jitter: float = 0.5
    # Replays after a 401 with a token refreshed each time ("Session expired or invalid" can come back
    # when a session ends between the refresh and the replay).
    auth_replays: int = 2
    # Concurrent token refreshes ("token request is already being processed").
    token_busy_attempts: int = 5


@dataclass
class Timing:
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall_clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)

    def remaining(self, deadline: float | None) -> float | None:
        return None if deadline is None else deadline - self.clock()

    def expired(self, deadline: float | None) -> bool:
        return deadline is not None and self.clock() >= deadline

    def backoff(self, attempt: int, deadline: float | None, base: float, cap: float) -> bool:
        """Sleep a full-jitter delay before retry number `attempt` (1-based); False if the deadline forbids it."""
        delay = self.rng.uniform(0, min(cap, base * (2 ** (attempt - 1))))
        if deadline is not None and self.clock() + delay >= deadline:
            return False
        if delay > 0:
            self.sleep(delay)
        return True

    def lock_backoff(self, attempt: int, deadline: float | None, policy: RetryPolicy) -> bool:
        """Sleep before resending rows locked at attempt `attempt` (1-based): never less than
        `lock_base_delay`, jittered upwards; False (no sleep) if the deadline forbids it."""
        floor = min(policy.lock_max_delay, policy.lock_base_delay * (2 ** (attempt - 1)))
        delay = floor * (1 + self.rng.uniform(0, policy.lock_jitter))
        if deadline is not None and self.clock() + delay >= deadline:
            return False
        self.sleep(delay)
        return True


class Attempts:
    """The attempts one logical write may use, counted across every layer that sends it (the transport's
    retries and the row-lock resends): at most `limit` requests ever carry the same record.

    `maybe_delivered` is set once an attempt was sent and its answer lost (a reset or timeout after the
    request went out): Salesforce may have applied it, which a later attempt's answer must allow for.
    """

    def __init__(self, limit: int, used: int = 0):
        self.limit = max(1, limit)
        self.used = used
        self.maybe_delivered = False

    @property
    def left(self) -> int:
        return self.limit - self.used

    def spend(self) -> None:
        self.used += 1

    def refund(self) -> None:
        """An attempt that certainly did nothing (a 401: Salesforce refused it before any work)."""
        self.used = max(0, self.used - 1)
