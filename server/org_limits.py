"""At most N Applies in flight per org, so one tenant cannot take every worker of a shared server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class OrgLimiter:
    """Counts Applies in flight per org (its instance host); `limit` 0 means no limit."""

    def __init__(self, limit: int):
        self._limit = limit
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, org: str) -> Iterator[bool]:
        """Yields whether the call may run now; a refused call takes no slot."""
        with self._lock:
            taken = self._in_flight.get(org, 0)
            allowed = not self._limit or taken < self._limit
            if allowed:
                self._in_flight[org] = taken + 1
        try:
            yield allowed
        finally:
            if allowed:
                with self._lock:
                    left = self._in_flight[org] - 1
                    if left:
                        self._in_flight[org] = left
                    else:
                        del self._in_flight[org]
