"""The one GET /limits of an org while nobody knows its daily allowance.

In one process the org's sessions ask it one at a time (LimitsFlight, kept with the org's other shared state):
the first asks, the others wait for its answer (bounded, and no longer than their call's deadline or until it is
cancelled) and then go on, whatever it learned. Across replicas the asker also claims a short lease through the
budget's counters: while another replica holds it, this one waits briefly for the allowance it learns. A failed
/limits request leaves nothing behind: the next Apply may ask again (and Sforce-Limit-Info of every answer tells
the allowance anyway)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from adapters.salesforce.budget_gate import BudgetGate
from adapters.salesforce.retry import Timing
from core.ports import BackendError

_SLICE = 0.05  # a waiter looks again this often (for its cancellation, or for another replica's answer)
_LEASE_SLACK = 5.0


class LimitsFlight:
    """The /limits request of one org under way in this process, if any."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._under_way: threading.Event | None = None

    def join(self) -> threading.Event | None:
        """None: the caller asks (and calls `land` after); else the event set once the asker is done."""
        with self._lock:
            if self._under_way is None:
                self._under_way = threading.Event()
                return None
            return self._under_way

    def land(self) -> None:
        with self._lock:
            done, self._under_way = self._under_way, None
        if done is not None:
            done.set()


class Waiter:
    """How long one call may wait for someone else's /limits request: `bound_seconds` at most, never past its
    deadline (on `timing`'s clock), and not once it is cancelled (`check_stop` raises BackendError)."""

    def __init__(self, timing: Timing, deadline: float | None, bound_seconds: float, check_stop: Callable[[], None]):
        self._timing, self._deadline, self._check_stop = timing, deadline, check_stop
        self._ends = time.monotonic() + bound_seconds

    def slice(self) -> float:
        """Seconds to wait next (0: stop waiting, go on)."""
        try:
            self._check_stop()
        except BackendError:
            return 0.0  # the call's next request refuses, cancelled
        left = self._ends - time.monotonic()
        remaining = self._timing.remaining(self._deadline)
        if remaining is not None:
            left = min(left, remaining)
        return max(0.0, min(_SLICE, left))


def learn_once(flight: LimitsFlight, gate: BudgetGate, ask: Callable[[], None], waiter: Waiter,
               request_seconds: float) -> None:
    """Ask /limits (`ask`) unless this process or another replica is asking already; then wait for that answer."""
    under_way = flight.join()
    if under_way is not None:
        while not under_way.is_set():
            wait = waiter.slice()
            if wait <= 0:
                return
            under_way.wait(wait)
        return
    try:
        _ask_across_replicas(gate, ask, waiter, request_seconds + _LEASE_SLACK)
    finally:
        flight.land()


def _ask_across_replicas(gate: BudgetGate, ask: Callable[[], None], waiter: Waiter, lease_seconds: float) -> None:
    while True:
        claimed = gate.claim_learning(lease_seconds)
        if claimed is None:
            return  # known by now, or the store is unreachable (the next reservation answers for it)
        if claimed:
            try:
                ask()
            finally:
                gate.end_learning()
            return
        wait = waiter.slice()  # another replica asks: wait for what it learns (or for its claim to end)
        if wait <= 0:
            return
        time.sleep(wait)
