"""Chunks that survive Apex triggers: a chunk that fails as a whole on a governor limit is split and only
its failed records are resent, down to single records; the size that passes is remembered per org and
object and grown again slowly.

A trigger's governor limits (100 SOQL queries, 10 s of CPU, ...) hold per transaction, and one
collection call is one transaction, so a trigger doing work per record fails chunks above some size K.
The failure rolls the whole transaction back: records reported failed were not written, so resending
them cannot duplicate them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from core.model import ResultError
from core.ports import RecordRefusal, WriteOutcome

_LIMIT_TEXTS = ("system.limitexception", "too many soql queries", "apex cpu time limit exceeded",
                "too many dml statements", "too many dml rows", "too many future calls", "too many query rows",
                "apex heap size too large", "maximum trigger depth exceeded")
MAX_TUNERS = 10_000
SendMany = Callable[[list[list[Any]]], list[list[WriteOutcome]]]


def is_governor_limit(error: RecordRefusal | ResultError | None) -> bool:
    """A record refused because an Apex trigger or flow hit a governor limit (bare or wrapped in
    CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY): the chunk was too large, not the record wrong."""
    if error is None:
        return False
    text = error.message.lower()
    return any(t in text for t in _LIMIT_TEXTS)


class ChunkSize:
    """The collection chunk size that passes one org's triggers on one object; thread-safe.

    Until a chunk fails, full chunks go in parallel. Then `good` is the largest size that passed, `bad`
    the smallest that failed on a governor limit; between them it bisects (one chunk at a time, so a
    wrong guess costs one call); once they touch, it uses `good` in parallel, and after `grow_after`
    passing chunks it tries a size 1/8 larger, alone.
    """

    def __init__(self, cap: int, grow_after: int = 100):
        self.cap, self._grow_after = cap, grow_after
        self._lock = threading.Lock()
        self._good, self._bad, self._streak = 0, 0, 0  # 0: not known

    def next(self) -> tuple[int, bool]:
        """The size of the next chunk, and whether it is proven (may go several at once)."""
        with self._lock:
            if not self._bad:  # no trigger trouble seen: most orgs, full chunks in parallel
                return self.cap, True
            if self._bad - self._good > 1:
                return max(1, (self._good + self._bad) // 2), False
            if self._streak >= self._grow_after and self._good < self.cap:
                return min(self.cap, self._good + max(1, self._good // 8)), False
            return max(1, self._good), True

    @property
    def good(self) -> int:
        with self._lock:
            return self._good

    def passed(self, size: int) -> None:
        with self._lock:
            if size > self._good:
                self._good, self._streak = size, 0
                if self._bad and self._bad <= size:  # a larger size passed: look above it again later
                    self._bad = 0 if size >= self.cap else size + 1
            elif size == self._good:
                self._streak += 1

    def failed(self, size: int) -> None:
        with self._lock:
            self._bad = min(self._bad, size) if self._bad else size
            if self._good >= self._bad:  # what passed before fails now: search below it afresh
                self._good = 0
            self._streak = 0


class ChunkSizes:
    """The ChunkSize of each (org, object), least recently used forgotten past `max_tuners`."""

    def __init__(self, cap: int, grow_after: int = 100, max_tuners: int = MAX_TUNERS):
        self._cap, self._grow_after, self._max = cap, grow_after, max_tuners
        self._lock = threading.Lock()
        self._tuners: dict[tuple[str, str], ChunkSize] = {}

    def of(self, org: str, object_name: str) -> ChunkSize:
        key = (org, object_name.lower())
        with self._lock:
            tuner = self._tuners.pop(key, None) or ChunkSize(self._cap, self._grow_after)
            self._tuners[key] = tuner
            while len(self._tuners) > self._max:
                del self._tuners[next(iter(self._tuners))]
            return tuner


def send_sized(items: list[Any], send_many: SendMany, tuner: ChunkSize, width: int,
               group: Callable[[Any], Any] = lambda _: 0) -> list[WriteOutcome]:
    """Send `items` in chunks sized by `tuner` (a chunk never mixes two groups, e.g. two kinds of write):
    unproven sizes one chunk at a time, proven ones `width` chunks at once (`send_many` sends them together,
    returning each chunk's outcomes).

    Records of a chunk refused on a governor limit go back to the front of the queue and leave in
    smaller chunks; every such failure lowers this call's own cap below the failed chunk's size, so a
    record is sent at most once per size it failed at, and fails for good only alone.
    """
    results: list[WriteOutcome | None] = [None] * len(items)
    queue = deque(range(len(items)))
    cap = tuner.cap
    while queue:
        size, proven = tuner.next()
        if size > cap:  # a probe above what already failed in this call: the largest size not known to fail
            size, proven = cap, cap <= tuner.good
        size = max(1, size)
        chunks: list[list[int]] = []
        for _ in range(width if proven else 1):
            if not queue:
                break
            first = group(items[queue[0]])
            chunk = [queue.popleft()]
            while queue and len(chunk) < size and group(items[queue[0]]) == first:
                chunk.append(queue.popleft())
            chunks.append(chunk)
        retry: list[int] = []
        answers = send_many([[items[n] for n in chunk] for chunk in chunks])
        for chunk, outcomes in zip(chunks, answers, strict=True):
            limited = {n for n, o in zip(chunk, outcomes, strict=True)
                       if not o.success and is_governor_limit(o.said)} if len(chunk) > 1 else set()
            if limited:
                tuner.failed(len(chunk))
                cap = min(cap, len(chunk) - 1)
                retry.extend(limited)
            elif len(chunk) == size:
                tuner.passed(size)
            for n, outcome in zip(chunk, outcomes, strict=True):
                if n not in limited:
                    results[n] = outcome
        queue.extendleft(reversed(sorted(retry)))
    return [r if r is not None else WriteOutcome(False) for r in results]
