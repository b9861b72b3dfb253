"""Each org's daily Bulk API batch allowance (DailyBulkApiBatches, shared by Bulk API and Bulk API 2.0 over a
rolling 24 hours) as sfdest sees it, behind core.budget.BulkBatchCounters: read from /limits once per org, then
counted down by the batches of sfdest's own jobs (Bulk API 2.0 makes one batch of every 10,000 records); read
again after `ttl_seconds`, so other integrations' jobs show.

`BulkBatches` keeps the counts in this process (one replica, the default); with Redis coordination every replica
shares one count per org (adapters.coordination.redis_batches). `OrgBatches` is one org's allowance as a write's
path choice reads it, whichever store keeps it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.budget import BulkBatchCounters
from core.coordination import CoordinationUnavailable

MAX_ORGS = 10_000
NAME = "DailyBulkApiBatches"
TTL_SECONDS = 3600.0


def remaining_of(limits: Any) -> int | None:
    """A /limits body's DailyBulkApiBatches Remaining, None when absent or malformed."""
    entry = limits.get(NAME) if isinstance(limits, dict) else None
    remaining = entry.get("Remaining") if isinstance(entry, dict) else None
    return remaining if isinstance(remaining, int) and not isinstance(remaining, bool) else None


@dataclass
class _Seen:
    remaining: int
    read_at: float


class BulkBatches:
    """core.budget.BulkBatchCounters in this process: thread-safe; the least recently used orgs are forgotten past
    `max_orgs`. `clock` is the wall clock the reads' `read_at` come from."""

    def __init__(self, clock: Callable[[], float] = time.time, ttl_seconds: float = TTL_SECONDS,
                 max_orgs: int = MAX_ORGS):
        self._clock, self._ttl, self._max = clock, ttl_seconds, max_orgs
        self._lock = threading.Lock()
        self._orgs: dict[str, _Seen] = {}

    def left(self, org: str) -> int | None:
        with self._lock:
            seen = self._orgs.get(org)
            if seen is None or self._clock() - seen.read_at > self._ttl:
                return None
            return max(0, seen.remaining)

    def observe(self, org: str, remaining: int, read_at: float) -> None:
        with self._lock:
            seen = self._orgs.pop(org, None)
            self._orgs[org] = seen if seen is not None and seen.read_at > read_at else _Seen(remaining, read_at)
            while len(self._orgs) > self._max:
                del self._orgs[next(iter(self._orgs))]

    def charge(self, org: str, batches: int) -> None:
        with self._lock:
            seen = self._orgs.get(org)
            if seen is not None:
                seen.remaining -= batches

    def claim_reading(self, org: str, seconds: float) -> bool:
        return self.left(org) is None  # one replica: its sessions of the org already ask one at a time

    def end_reading(self, org: str) -> None:
        pass


class OrgBatches:
    """One org's batch allowance through `counters`. A shared store that does not answer within its bounded wait
    (CoordinationUnavailable) leaves the allowance unknown for this look, as the governor's counters do: `left`
    answers None and `unreachable` turns True (the caller asks no /limits then: the figure could not be shared);
    a read or a charge that cannot be stored is dropped (the next read after the TTL corrects the count)."""

    def __init__(self, counters: BulkBatchCounters, org: str, wall_clock: Callable[[], float] = time.time):
        self._counters, self._org, self._clock = counters, org, wall_clock
        self.unreachable = False

    def left(self) -> int | None:
        try:
            left = self._counters.left(self._org)
        except CoordinationUnavailable:
            self.unreachable = True
            return None
        self.unreachable = False
        return left

    def settled(self) -> bool:
        """Nothing to ask /limits for: the allowance is known, or its store does not answer."""
        return self.left() is not None or self.unreachable

    def observe(self, limits: Any) -> None:
        """A /limits body (read just now)."""
        remaining = remaining_of(limits)
        if remaining is not None:
            self._quietly(lambda: self._counters.observe(self._org, remaining, self._clock()))

    def charge(self, batches: int) -> None:
        self._quietly(lambda: self._counters.charge(self._org, batches))

    def claim(self, seconds: float) -> bool | None:
        """True: this replica may ask /limits now (then `end`); False: another replica is asking; None: nothing to
        ask (known by now, or the store does not answer)."""
        try:
            if self._counters.claim_reading(self._org, seconds):
                return True
        except CoordinationUnavailable:
            self.unreachable = True
            return None
        return None if self.settled() else False

    def end(self) -> None:
        self._quietly(lambda: self._counters.end_reading(self._org))

    @staticmethod
    def _quietly(step: Callable[[], None]) -> None:
        try:
            step()
        except CoordinationUnavailable:
            pass  # see the class
