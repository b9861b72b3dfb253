"""Org clocks for tests: stamps that never tie, without waiting for the wall clock."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def ticking_clock(step: timedelta, start: datetime = datetime(2024, 1, 1, tzinfo=UTC)) -> Callable[[], str]:
    """An Org clock (a Salesforce datetime string) that moves `step` on at every reading: each write's
    CreatedDate and LastModifiedDate come after the last one's."""
    ticks, lock = itertools.count(), threading.Lock()

    def now() -> str:
        with lock:
            tick = next(ticks)
        return (start + step * tick).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"

    return now
