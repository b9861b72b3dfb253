"""Admission of Apply calls: each org's own cap first, then the server's total, so one busy org is refused
at once and cannot take the slots (or the threads) that other orgs need."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# RPC threads never given to running Applies: they stay free to refuse calls (and serve health checks)
# at once, instead of leaving refusals queued behind long Applies.
SPARE_WORKERS = 2


@dataclass(frozen=True)
class Refusal:
    reason: str  # a server.errors reason: ORG_BUSY or SERVER_BUSY
    message: str


_ORG_BUSY = Refusal("ORG_BUSY", "too many Apply calls are in flight for this org; retry after one finishes")
_SERVER_BUSY = Refusal("SERVER_BUSY", "the server is running as many Apply calls as it can; retry shortly")


class OrgLimiter:
    """Counts Applies in flight per org (its instance host) and in total; thread-safe.

    Admission order: the org's cap (`limit`, 0 = none) first, so an org's excess is refused before it
    counts against anything shared; then the total (0 = none). With a total, one org may hold at most
    `total - reserve` slots (reserve: a quarter of the total, at least one), which stay for the others.
    """

    def __init__(self, limit: int, total: int = 0):
        self._total = max(0, total)
        reserve = max(1, self._total // 4)
        self._limit = min(limit or self._total, max(1, self._total - reserve)) if self._total else limit
        self._in_flight: dict[str, int] = {}
        self._running = 0
        self._lock = threading.Lock()

    @classmethod
    def for_workers(cls, limit: int, workers: int) -> OrgLimiter:
        """A limiter whose total leaves SPARE_WORKERS of the server's `workers` RPC threads free."""
        return cls(limit, max(1, workers - SPARE_WORKERS))

    @property
    def org_limit(self) -> int:
        return self._limit

    def _admit(self, org: str) -> Refusal | None:
        with self._lock:
            taken = self._in_flight.get(org, 0)
            if self._limit and taken >= self._limit:
                return _ORG_BUSY
            if self._total and self._running >= self._total:
                return _SERVER_BUSY
            self._in_flight[org] = taken + 1
            self._running += 1
            return None

    @contextmanager
    def slot(self, org: str) -> Iterator[Refusal | None]:
        """Yields None if the call may run now, else why not; a refused call takes no slot."""
        refusal = self._admit(org)
        try:
            yield refusal
        finally:
            if refusal is None:
                with self._lock:
                    self._running -= 1
                    left = self._in_flight[org] - 1
                    if left:
                        self._in_flight[org] = left
                    else:
                        del self._in_flight[org]
