"""Admission of Apply calls: each org's own cap first, then the server's total, handed out fairly, so one
busy org is refused at once and cannot take the slots that other orgs need."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    reason: str  # a server.errors reason: ORG_BUSY or SERVER_BUSY
    message: str


_ORG_BUSY = Refusal("ORG_BUSY", "too many Apply calls are in flight for this org; retry after one finishes")
_SERVER_BUSY = Refusal("SERVER_BUSY", "the server stayed busy with other orgs' Apply calls; retry shortly")
_GONE = Refusal("CANCELLED", "the call ended while it waited for its turn; nothing was sent")
_POLL_SECONDS = 0.1  # how often a waiting call checks that its caller still waits for it


class _Waiter:
    def __init__(self, org: str, seq: int):
        self.org, self.seq = org, seq
        self.admitted = threading.Event()


def org_cap(limit: int, total: int) -> int:
    """Applies one org may run at once: its own cap (0 = none), within the total less a reserve of a quarter of it
    (at least one) kept for the other orgs."""
    if total <= 0:
        return limit
    return min(limit or total, max(1, total - max(1, total // 4)))


class OrgLimiter:
    """Counts Applies per org (its instance host) and in total; thread-safe.

    Admission order: the org's cap (`limit`, 0 = none; its running and waiting calls count) is checked
    first and refuses at once, so an org's excess never counts against anything shared. Then the total
    (0 = none): a call finding it full waits (up to the time it is given), and each slot that frees goes
    to the waiting call whose org has the fewest Applies running, so quiet orgs pass a busy one. With a
    total, one org may hold at most `total - reserve` slots (a quarter of the total, at least one): the
    other orgs always find room at once.
    """

    def __init__(self, limit: int, total: int = 0):
        self._total = max(0, total)
        self._limit = org_cap(limit, self._total)
        self._running: dict[str, int] = {}
        self._waiting: dict[str, int] = {}
        self._queue: list[_Waiter] = []
        self._seq = itertools.count()
        self._count = 0
        self._lock = threading.Lock()

    @property
    def org_limit(self) -> int:
        return self._limit

    @property
    def waiting(self) -> int:
        """Calls waiting for their turn."""
        with self._lock:
            return len(self._queue)

    def _take(self, org: str) -> None:
        self._running[org] = self._running.get(org, 0) + 1
        self._count += 1

    def _admit(self, org: str) -> Refusal | _Waiter | None:
        with self._lock:
            taken = self._running.get(org, 0) + self._waiting.get(org, 0)
            if self._limit and taken >= self._limit:
                return _ORG_BUSY
            if not self._total or (self._count < self._total and not self._queue):
                self._take(org)
                return None
            waiter = _Waiter(org, next(self._seq))
            self._queue.append(waiter)
            self._waiting[org] = self._waiting.get(org, 0) + 1
            return waiter

    def _leave_queue(self, waiter: _Waiter) -> None:
        """With the lock held."""
        self._queue.remove(waiter)
        left = self._waiting[waiter.org] - 1
        if left:
            self._waiting[waiter.org] = left
        else:
            del self._waiting[waiter.org]

    def _wait(self, waiter: _Waiter, seconds: float, wanted: Callable[[], bool]) -> Refusal | None:
        until = time.monotonic() + seconds
        while wanted() and not waiter.admitted.wait(min(_POLL_SECONDS, max(until - time.monotonic(), 0.0))):
            if time.monotonic() >= until:
                break
        with self._lock:
            if waiter.admitted.is_set():
                return None
            self._leave_queue(waiter)
            return _SERVER_BUSY if wanted() else _GONE

    def _release(self, org: str) -> None:
        with self._lock:
            self._count -= 1
            left = self._running[org] - 1
            if left:
                self._running[org] = left
            else:
                del self._running[org]
            if self._queue and self._count < self._total:
                chosen = min(self._queue, key=lambda w: (self._running.get(w.org, 0), w.seq))
                self._leave_queue(chosen)
                self._take(chosen.org)
                chosen.admitted.set()

    @contextmanager
    def slot(self, org: str, wait_seconds: float = 0.0, wanted: Callable[[], bool] = lambda: True
             ) -> Iterator[Refusal | None]:
        """Yields None once the call may run, else why not; a refused call holds no slot. A call the
        total holds back waits up to `wait_seconds` for its turn, and gives it up once `wanted()` is
        false (its caller cancelled or its deadline passed)."""
        admitted = self._admit(org)
        refusal = self._wait(admitted, wait_seconds, wanted) if isinstance(admitted, _Waiter) else admitted
        if isinstance(admitted, _Waiter) and refusal is None and not wanted():
            self._release(org)  # handed a slot just as its caller left: pass it on
            refusal = _GONE
        try:
            yield refusal
        finally:
            if refusal is None:
                self._release(org)
