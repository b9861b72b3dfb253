"""CPU time per step of one call (time.thread_time of the thread that runs it), for sizing figures such as
`make bench-million`'s. A step entered inside another counts apart: each second is charged to exactly one
step, the innermost running."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

_T = TypeVar("_T")


class StepClock:
    """Used by one thread at a time (an ApplyStream call runs in its handler thread)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._stack: list[str] = []
        self._since = 0.0

    def _charge(self, now: float) -> None:
        if self._stack:
            name = self._stack[-1]
            self.seconds[name] = self.seconds.get(name, 0.0) + now - self._since
        self._since = now

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self._charge(time.thread_time())
        self._stack.append(name)
        try:
            yield
        finally:
            self._charge(time.thread_time())
            self._stack.pop()

    def timed(self, name: str, items: Iterator[_T]) -> Iterator[_T]:
        """`items`, each one's production charged to `name`."""
        while True:
            with self.step(name):
                item = next(items, _END)
            if item is _END:
                return
            yield item  # type: ignore[misc]


_END = object()
