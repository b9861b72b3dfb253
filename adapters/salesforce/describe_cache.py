"""Describe results parsed from REST JSON and cached per connection identity and object, with a TTL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from core.describe import FieldDescribe, ObjectDescribe


def _field(d: Mapping[str, Any]) -> FieldDescribe:
    return FieldDescribe(
        name=str(d["name"]), type=str(d.get("type") or "string").lower(), label=str(d.get("label") or ""),
        length=int(d.get("length") or 0), nillable=bool(d.get("nillable", True)),
        createable=bool(d.get("createable", False)), updateable=bool(d.get("updateable", False)),
        filterable=bool(d.get("filterable", False)), defaulted_on_create=bool(d.get("defaultedOnCreate", False)),
        external_id=bool(d.get("externalId", False)), id_lookup=bool(d.get("idLookup", False)),
        unique=bool(d.get("unique", False)), case_sensitive=bool(d.get("caseSensitive", False)),
    )


def parse_describe(body: Mapping[str, Any]) -> ObjectDescribe:
    """An ObjectDescribe from a DescribeSObjectResult; absent flags read as the safe 'no'."""
    return ObjectDescribe(
        name=str(body["name"]), key_prefix=str(body.get("keyPrefix") or ""), label=str(body.get("label") or ""),
        fields=tuple(_field(f) for f in body.get("fields") or () if isinstance(f, Mapping) and f.get("name")),
        createable=bool(body.get("createable", False)), updateable=bool(body.get("updateable", False)),
        deletable=bool(body.get("deletable", False)), queryable=bool(body.get("queryable", False)),
    )


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
