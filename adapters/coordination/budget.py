"""BudgetCounters in this process's memory (one replica); sfdest's own calls counted in hourly buckets over a
rolling 24 hours."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from core.budget import UNBOUNDED, WINDOW_SECONDS, BudgetState, Ceilings

BUCKET_SECONDS = 3600.0
MAX_ORGS = 10_000


@dataclass
class _Org:
    state: BudgetState = BudgetState()
    buckets: deque[tuple[float, int]] = field(default_factory=deque)  # (bucket start, own calls)
    aged_at: float = 0.0  # org_used has been aged up to this instant
    overlapped: bool = False  # calls were in flight together since the org was last quiet


class InProcessBudgetCounters:
    """Thread-safe counters per org; the least recently used org is forgotten past `max_orgs`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_orgs: int = MAX_ORGS):
        self._clock, self._max = clock, max_orgs
        self._lock = threading.Lock()
        self._orgs: dict[str, _Org] = {}

    def _org(self, org: str) -> _Org:
        entry = self._orgs.pop(org, None) or _Org()
        self._orgs[org] = entry
        while len(self._orgs) > self._max:
            del self._orgs[next(iter(self._orgs))]
        now = self._clock()
        while entry.buckets and entry.buckets[0][0] <= now - WINDOW_SECONDS:
            _, calls = entry.buckets.popleft()
            entry.state = replace(entry.state, own_used=max(0, entry.state.own_used - calls))
        s = entry.state
        if s.limit > 0:  # calls age out of the org's window at its average rate
            aged = int((now - entry.aged_at) * s.limit / WINDOW_SECONDS)
            if aged > 0:
                entry.state = replace(s, org_used=max(0, s.org_used - aged))
                entry.aged_at += aged * WINDOW_SECONDS / s.limit
        return entry

    def reserve(self, org: str, calls: int, ceilings: Ceilings) -> tuple[bool, BudgetState]:
        with self._lock:
            entry = self._org(org)
            s = entry.state
            own, whole = ceilings.of(s.limit) if s.limit > 0 else (UNBOUNDED, UNBOUNDED)
            if s.own_used + s.reserved + calls > own or s.org_used + s.reserved + calls > whole:
                entry.state = replace(s, refused=s.refused + calls)
                return False, entry.state
            entry.state = replace(s, reserved=s.reserved + calls)
            return True, entry.state

    def commit(self, org: str, calls: int, usage: tuple[int, int] | None = None) -> BudgetState:
        with self._lock:
            entry = self._org(org)
            s = entry.state
            entry.state = replace(s, reserved=max(0, s.reserved - calls), own_used=s.own_used + calls,
                                  org_used=s.org_used + calls)
            entry.overlapped = entry.overlapped or entry.state.reserved > 0
            start = self._clock() // BUCKET_SECONDS * BUCKET_SECONDS
            if entry.buckets and entry.buckets[-1][0] == start:
                entry.buckets[-1] = (start, entry.buckets[-1][1] + calls)
            else:
                entry.buckets.append((start, calls))
            if usage is not None and usage[1] > 0:
                self._observe(entry, *usage)
            return entry.state

    def release(self, org: str, calls: int) -> BudgetState:
        with self._lock:
            entry = self._org(org)
            entry.state = replace(entry.state, reserved=max(0, entry.state.reserved - calls))
            return entry.state

    def observe(self, org: str, used: int, limit: int) -> BudgetState:
        with self._lock:
            entry = self._org(org)
            self._observe(entry, used, limit)
            return entry.state

    def _observe(self, entry: _Org, used: int, limit: int) -> None:
        # With calls in flight together, answers may arrive out of order (the last one in may have been counted
        # first by Salesforce): keep the larger count until the org is quiet again. Otherwise (or when the
        # allowance changed) take what Salesforce says: calls age out of its window.
        s = entry.state
        keep = s.limit == limit and (s.reserved > 0 or entry.overlapped)
        entry.state = replace(s, limit=limit, org_used=max(s.org_used, used) if keep else used)
        entry.aged_at = self._clock()
        if s.reserved == 0:
            entry.overlapped = False

    def state(self, org: str) -> BudgetState:
        with self._lock:
            return self._org(org).state

    def claim_learning(self, org: str, seconds: float) -> bool:
        return self.state(org).limit <= 0  # one replica: its sessions of the org already ask one at a time

    def end_learning(self, org: str) -> None:
        pass
