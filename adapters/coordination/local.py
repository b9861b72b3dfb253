"""LocalKeyLeases and LocalNewestEvents: the coordination port within one process (the default; one replica)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence

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


class LocalNewestEvents:
    """core.ordering.NewestEvents within one process: stamps in a dict, expired ones swept now and then."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._stamps: dict[str, tuple[str, float]] = {}  # key -> (stamp, expires_at)

    def newest(self, keys: Sequence[str]) -> list[str | None]:
        now = self._clock()
        with self._lock:
            found = [self._stamps.get(key) for key in keys]
        return [entry[0] if entry is not None and entry[1] > now else None for entry in found]

    def advance(self, stamps: Mapping[str, str], ttl_seconds: float) -> None:
        now = self._clock()
        with self._lock:
            if len(self._stamps) >= _SWEEP_AT:
                for stale in [k for k, (_, expires_at) in self._stamps.items() if expires_at <= now]:
                    del self._stamps[stale]
            for key, stamp in stamps.items():
                current = self._stamps.get(key)
                if current is None or current[1] <= now or current[0] <= stamp:
                    self._stamps[key] = (stamp, now + ttl_seconds)


class LocalBulkJobs:
    """core.coordination.BulkJobs within one process: a retry on this replica picks up a job a call left
    pending at its deadline (payloads stay in memory, never leave the process)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, tuple[str, float]] = {}  # job key -> (payload, expires_at)
        self._events: dict[str, str] = {}  # event key -> job key
        self._owners: dict[str, tuple[str, float]] = {}  # job key -> (holder, expires_at)

    def register(self, job_key: str, payload: str, event_keys: Sequence[str], ttl_seconds: float) -> None:
        with self._lock:
            now = self._clock()
            for stale in [k for k, (_, expires_at) in self._jobs.items() if expires_at <= now]:
                self._drop(stale)
            self._jobs[job_key] = (payload, now + ttl_seconds)
            self._events.update((key, job_key) for key in event_keys)

    def find(self, event_keys: Sequence[str]) -> dict[str, str]:
        with self._lock:
            found = {key: self._events[key] for key in event_keys if key in self._events}
            return {key: job for key, job in found.items() if job in self._jobs}

    def load(self, job_key: str) -> str | None:
        with self._lock:
            entry = self._jobs.get(job_key)
        return entry[0] if entry is not None and entry[1] > self._clock() else None

    def own(self, job_key: str, holder: str, ttl_seconds: float) -> bool:
        with self._lock:
            now = self._clock()
            current = self._owners.get(job_key)
            if current is not None and current[0] != holder and current[1] > now:
                return False
            self._owners[job_key] = (holder, now + ttl_seconds)
            return True

    def disown(self, job_key: str, holder: str) -> None:
        with self._lock:
            if self._owners.get(job_key, ("", 0.0))[0] == holder:
                del self._owners[job_key]

    def forget(self, job_keys: Sequence[str]) -> None:
        with self._lock:
            for key in job_keys:
                self._drop(key)

    def _drop(self, job_key: str) -> None:
        self._jobs.pop(job_key, None)
        self._owners.pop(job_key, None)
        for key in [k for k, job in self._events.items() if job == job_key]:
            del self._events[key]
