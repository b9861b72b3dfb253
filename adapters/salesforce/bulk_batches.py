"""Each org's daily Bulk API batch allowance (DailyBulkApiBatches, shared by Bulk API and Bulk API 2.0 over a
rolling 24 hours) as sfdest sees it: read from /limits once per org, then counted down by the batches of
sfdest's own jobs (Bulk API 2.0 makes one batch of every 10,000 records); read again after `ttl_seconds`,
so other integrations' jobs show."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_ORGS = 10_000
NAME = "DailyBulkApiBatches"


@dataclass
class _Seen:
    remaining: int
    read_at: float


class BulkBatches:
    """Thread-safe; the least recently used orgs are forgotten past `max_orgs`."""

    def __init__(self, clock: Callable[[], float], ttl_seconds: float = 3600.0, max_orgs: int = MAX_ORGS):
        self._clock, self._ttl, self._max = clock, ttl_seconds, max_orgs
        self._lock = threading.Lock()
        self._orgs: dict[str, _Seen] = {}

    def left(self, org: str) -> int | None:
        """Batches the org has left today, None when unknown (never read, or read too long ago)."""
        with self._lock:
            seen = self._orgs.get(org)
            if seen is None or self._clock() - seen.read_at > self._ttl:
                return None
            return max(0, seen.remaining)

    def observe(self, org: str, limits: Any) -> None:
        """A /limits body: its DailyBulkApiBatches {Max, Remaining}, when present."""
        entry = limits.get(NAME) if isinstance(limits, dict) else None
        remaining = entry.get("Remaining") if isinstance(entry, dict) else None
        if not isinstance(remaining, int) or isinstance(remaining, bool):
            return
        with self._lock:
            self._orgs.pop(org, None)
            self._orgs[org] = _Seen(remaining, self._clock())
            while len(self._orgs) > self._max:
                del self._orgs[next(iter(self._orgs))]

    def charge(self, org: str, batches: int) -> None:
        """A job of sfdest's was charged `batches`."""
        with self._lock:
            seen = self._orgs.get(org)
            if seen is not None:
                seen.remaining -= batches
