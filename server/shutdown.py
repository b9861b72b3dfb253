"""When a stopping server must have answered its calls: set once shutdown begins, read by every call."""

from __future__ import annotations

import threading
import time


class ShutdownClock:
    """Unset while serving; `begin(grace)` fixes the end of the grace (a time.monotonic() instant)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ends: float | None = None
        self._grace = 0.0

    def begin(self, grace: float) -> None:
        with self._lock:
            if self._ends is None:
                self._ends, self._grace = time.monotonic() + max(grace, 0.0), max(grace, 0.0)

    def passed(self, margin: float, fraction: float) -> bool:
        """Whether the grace is over but for `margin` + `fraction` of it (the time left to answer in)."""
        ends = self._ends
        return ends is not None and time.monotonic() >= ends - min(self._grace, margin + fraction * self._grace)
