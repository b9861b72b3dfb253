"""Process signals delivered to a thread as plain calls, so a signal always reaches its handler.

Two ways a Python signal handler that sets a threading.Event loses a signal, both seen under CPU load:
- the kernel may hand a process-wide signal to any thread that unblocks it first (a thread creating a
  thread does, as glibc restores its signal mask), and then nothing wakes the main thread blocked in
  Event.wait(): the Python handler never runs and the process never stops;
- a handler runs in the main thread between two bytecodes, possibly while that thread holds the Event's
  own (non-reentrant) lock inside wait(): Event.set() in the handler then deadlocks.

Here the C-level handler writes each signal's number to a pipe (signal.set_wakeup_fd), from whichever
thread took it, and a watcher thread reading the pipe calls the callback, outside any signal context.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager


def _noted_by_the_wakeup_fd(_signum: int, _frame: object) -> None:
    """The Python-level handler: nothing to do (the watcher thread acts on the byte the C handler wrote)."""


@contextmanager
def delivered_to(callback: Callable[[signal.Signals], None], signals: Iterable[signal.Signals]) -> Iterator[None]:
    """Within the block, each of `signals` calls `callback(signal)` in a watcher thread (main thread only)."""
    wanted = {int(s) for s in signals}
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # set_wakeup_fd requires it: a full pipe drops bytes, never blocks a handler
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    previous = {s: signal.signal(s, _noted_by_the_wakeup_fd) for s in wanted}

    def watch() -> None:
        while data := os.read(read_fd, 64):  # empty once the write end is closed
            for number in data:
                if number in wanted:
                    callback(signal.Signals(number))

    watcher = threading.Thread(target=watch, name="sfdest-signals", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(previous_fd)
        os.close(write_fd)
        watcher.join()
        os.close(read_fd)
