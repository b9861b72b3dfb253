"""One thread that runs callbacks at given instants: cuts off answers that would outlast their call."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable


class Watchdog:
    """`arm(when, callback)` runs `callback` at `when` (a time.monotonic() instant) unless `disarm`ed first."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, when: float, callback: Callable[[], None]) -> int:
        with self._changed:
            handle = next(self._ids)
            self._callbacks[handle] = callback
            heapq.heappush(self._heap, (when, handle))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sfdest-watchdog", daemon=True)
                self._thread.start()
            self._changed.notify()
            return handle

    def disarm(self, handle: int) -> bool:
        """False if the callback already ran (or is running)."""
        with self._changed:
            armed = self._callbacks.pop(handle, None) is not None
            if len(self._heap) > 2 * len(self._callbacks) + 64:  # drop disarmed entries: the heap stays small
                self._heap = [entry for entry in self._heap if entry[1] in self._callbacks]
                heapq.heapify(self._heap)
            return armed

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    while self._heap and self._heap[0][1] not in self._callbacks:
                        heapq.heappop(self._heap)  # disarmed
                    self._changed.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                _, handle = heapq.heappop(self._heap)
                callback = self._callbacks.pop(handle, None)
            if callback is not None:
                with contextlib.suppress(Exception):  # a failed cut-off must not stop the watchdog
                    callback()
