"""The one GET /limits of an org while nobody knows its daily allowances.

In one process the org's sessions ask it one at a time (LimitsFlight, kept with the org's other shared state):
the first asks, the others wait for its answer (bounded, and no longer than their call's deadline or until it is
cancelled) and then go on, whatever it learned. Across replicas the asker also claims a short lease through the
shared counters: while another replica holds it, this one waits briefly for what it learns. A failed /limits
request leaves nothing behind: the next Apply may ask again (and Sforce-Limit-Info of every answer tells the API
allowance anyway). The governor's learning (learn_once: its API allowance) and the write routing's read of the
Bulk API batch allowance (read_once) take the same flight and the same lease (one Redis key per org): one request
of the org's at a time, across replicas, which tells the governor's allowance and the batches alike."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from adapters.salesforce.budget_gate import BudgetGate
from adapters.salesforce.retry import Timing
from core.ports import BackendError

_SLICE = 0.05  # a waiter looks again this often (for its cancellation, or for another replica's answer)
_LEASE_SLACK = 5.0


class Reading(Protocol):
    """What read_once reads (adapters.salesforce.bulk_batches.OrgBatches): `settled()` once nothing is left to
    ask; `claim`/`end` the lease across replicas (True: ask; False: another replica asks; None: nothing to ask)."""

    def settled(self) -> bool: ...

    def claim(self, seconds: float) -> bool | None: ...

    def end(self) -> None: ...


class Landing(threading.Event):
    """Set once the /limits request under way is done; `asked`: this process sent it (else the asker only waited
    for what another replica learned)."""

    asked = False


class LimitsFlight:
    """The /limits request of one org under way in this process, if any: the governor's (learn_once) or the
    write routing's (read_once), one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._under_way: Landing | None = None

    def join(self) -> Landing | None:
        """None: the caller asks (and calls `land` after); else the event set once the asker is done."""
        with self._lock:
            if self._under_way is None:
                self._under_way = Landing()
                return None
            return self._under_way

    def land(self, asked: bool = True) -> None:
        with self._lock:
            done, self._under_way = self._under_way, None
        if done is not None:
            done.asked = asked
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
        _wait(under_way, waiter)
        return
    asked = False
    try:
        asked = _ask_across_replicas(gate.claim_learning, gate.end_learning, ask, waiter,
                                     request_seconds + _LEASE_SLACK)
    finally:
        flight.land(asked)


def read_once(flight: LimitsFlight, reading: Reading, ask: Callable[[], None], waiter: Waiter,
              request_seconds: float) -> None:
    """Ask /limits (`ask`) until `reading` is settled: one request of the org's in this process at a time, and one
    across replicas (`reading`'s claim); the others wait for its answer and go on with whatever it told (a failed
    ask is not repeated by its waiters: the next write asks again). A waiter whose asker only waited for another
    replica looks again: what that replica learned is in the shared store by then, else this process may ask."""
    while not reading.settled():
        under_way = flight.join()
        if under_way is None:
            asked = False
            try:
                asked = _ask_across_replicas(reading.claim, reading.end, ask, waiter, request_seconds + _LEASE_SLACK)
            finally:
                flight.land(asked)
            return
        if not _wait(under_way, waiter) or under_way.asked:
            return


def _wait(under_way: Landing, waiter: Waiter) -> bool:
    """Wait for the request under way; False when the waiter gave up first (cancelled or out of time)."""
    while not under_way.is_set():
        wait = waiter.slice()
        if wait <= 0:
            return False
        under_way.wait(wait)
    return True


def _ask_across_replicas(claim: Callable[[float], bool | None], end: Callable[[], None], ask: Callable[[], None],
                         waiter: Waiter, lease_seconds: float) -> bool:
    """True when this replica asked."""
    while True:
        claimed = claim(lease_seconds)
        if claimed is None:
            return False  # known by now, or the store is unreachable (the next step answers for it)
        if claimed:
            try:
                ask()
            finally:
                end()
            return True
        wait = waiter.slice()  # another replica asks: wait for what it learns (or for its claim to end)
        if wait <= 0:
            return False
        time.sleep(wait)
