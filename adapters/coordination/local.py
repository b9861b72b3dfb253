"""LocalKeyLeases: the coordination port within one process (the default; one replica)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

from core.coordination import Lease

# Expired leases nobody released are swept once this many keys are held.
_SWEEP_AT = 10_000


class LocalKeyLeases:
    """Leases in a dict under a condition variable; only keys currently leased are kept."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._changed = threading.Condition()
        self._held: dict[str, Lease] = {}
        self._fence = 0

    def acquire(self, key: str, ttl_seconds: float, wait_until: float | None) -> Lease | None:
        with self._changed:
            while True:
                now = self._clock()
                current = self._held.get(key)
                if current is None or current.expires_at <= now:
                    return self._grant(key, now + ttl_seconds)
                wait = current.expires_at - now
                if wait_until is not None:
                    if now >= wait_until:
                        return None
                    wait = min(wait, wait_until - now)
                self._changed.wait(wait)

    def release(self, lease: Lease) -> None:
        with self._changed:
            if self._held.get(lease.key) == lease:
                del self._held[lease.key]
                self._changed.notify_all()

    def held(self) -> int:
        """How many keys are leased now (expired ones not yet swept included)."""
        with self._changed:
            return len(self._held)

    def _grant(self, key: str, expires_at: float) -> Lease:
        if len(self._held) >= _SWEEP_AT:
            now = self._clock()
            for stale in [k for k, lease in self._held.items() if lease.expires_at <= now]:
                del self._held[stale]
        self._fence += 1
        lease = Lease(key, secrets.token_hex(8), self._fence, expires_at)
        self._held[key] = lease
        return lease
