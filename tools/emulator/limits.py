"""Daily API usage (the Sforce-Limit-Info header), call counters and the per-call latency."""

from __future__ import annotations

import threading
from collections import Counter


class Usage:
    """Counts data calls: a daily allocation like Salesforce's, plus resettable counters for tests.

    `used`/`limit` drive `Sforce-Limit-Info: api-usage=used/limit` and the 403 past the limit.
    `api_calls` and `calls` (per kind) count every authenticated data request the emulator
    received, including those answered by an injected fault; `reset()` zeroes them (not `used`).
    """

    def __init__(self, limit: int = 100_000):
        self._lock = threading.Lock()
        self.limit = limit
        self.used = 0
        self.api_calls = 0
        self.calls: Counter[str] = Counter()
        # Subrequests of Composite calls by kind: run by the org, never counted as API calls.
        self.subrequests: Counter[str] = Counter()

    def count(self, kind: str) -> bool:
        """Count one call of `kind`; False when the daily allocation is already spent."""
        with self._lock:
            self.api_calls += 1
            self.calls[kind] += 1
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def count_subrequest(self, kind: str) -> None:
        with self._lock:
            self.subrequests[kind] += 1

    def header(self) -> str:
        with self._lock:
            return f"api-usage={self.used}/{self.limit}"

    def set(self, used: int | None = None, limit: int | None = None) -> None:
        with self._lock:
            if used is not None:
                self.used = used
            if limit is not None:
                self.limit = limit

    def reset(self) -> None:
        with self._lock:
            self.api_calls = 0
            self.calls.clear()
            self.subrequests.clear()
