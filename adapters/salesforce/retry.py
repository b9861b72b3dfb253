"""Bounded, deadline-aware retries with full-jitter exponential backoff (clock and sleep injectable)."""

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
    # Row locks are held for up to ~10 s; back off longer before resending locked rows.
    lock_base_delay: float = 1.0
    lock_max_delay: float = 10.0
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
