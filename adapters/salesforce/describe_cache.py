"""Describe results (parsed by core.describe_rest) cached per connection identity and object, with a TTL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from core.describe import ObjectDescribe


class DescribeCache:
    """Thread-safe (identity, object) -> describe, each entry kept for `ttl_seconds`."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float], max_entries: int = 10_000):
        self._ttl, self._clock, self._max = ttl_seconds, clock, max_entries
        self._lock = threading.Lock()
        self._entries: dict[tuple[Any, str], tuple[float, ObjectDescribe]] = {}

    def get(self, identity: Any, object_name: str) -> ObjectDescribe | None:
        key = (identity, object_name.lower())
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() >= entry[0]:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, identity: Any, object_name: str, describe: ObjectDescribe) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max:
                now = self._clock()
                for k in [k for k, (until, _) in self._entries.items() if until <= now]:
                    del self._entries[k]
                while len(self._entries) >= self._max:
                    del self._entries[next(iter(self._entries))]
            self._entries[(identity, object_name.lower())] = (self._clock() + self._ttl, describe)

    def drop(self, identity: Any, object_name: str) -> None:
        with self._lock:
            self._entries.pop((identity, object_name.lower()), None)
