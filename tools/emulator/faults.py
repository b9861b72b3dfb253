"""Injected faults: error statuses, row locks, limit refusals, delays, trickled bodies and dropped connections."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tools.emulator.wire import Reply, error_body

KINDS = ("unavailable", "server_error", "row_lock", "concurrent_limit", "api_disabled", "delay", "trickle", "drop")
LOCK_MESSAGE = "unable to obtain exclusive access to this record"
CONCURRENT_MESSAGE = "ConcurrentRequests (Concurrent API Requests) Limit exceeded."


@dataclass
class Fault:
    kind: str
    remaining: int
    seconds: float = 0.0
    when: str = "before"  # drop only: before the write is applied, or after it is committed
    path: str | None = None  # "/services/..." prefix of the raw path, or a prefix after /services/data/vXX.X
    method: str | None = None
    call: str | None = None  # a call kind as counted in Emulator.calls, e.g. "collection_create"

    def matches(self, method: str, path: str, local_path: str, call: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        if self.call and self.call != call:
            return False
        if self.path is None:
            return path.startswith("/services/data/v")
        if self.path.startswith("/services/"):
            return path.startswith(self.path)
        return local_path.startswith(self.path)


class FaultPlan:
    """A queue of faults; the first one matching a request fires and uses up one of its `remaining`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; expected one of {KINDS}")
        if fault.kind == "drop" and fault.when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str, path: str, local_path: str, call: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(method, path, local_path, call):
                    fault.remaining -= 1
                    return fault
            self._faults = [f for f in self._faults if f.remaining > 0]
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


def fault_reply(kind: str) -> Reply:
    """The whole-call answer of a status fault (row locks inside collections are per record instead)."""
    if kind == "unavailable":
        return Reply.json(503, error_body("SERVER_UNAVAILABLE", "Server unavailable: the service is down for "
                                          "maintenance or is overloaded"))
    if kind == "server_error":
        return Reply.json(500, error_body("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include "
                                          "this ErrorId if you contact support: 424242-4242 (-4242)"))
    if kind == "row_lock":
        return Reply.json(400, error_body("UNABLE_TO_LOCK_ROW", LOCK_MESSAGE, []))
    if kind == "concurrent_limit":
        return Reply.json(403, error_body("REQUEST_LIMIT_EXCEEDED", CONCURRENT_MESSAGE))
    if kind == "api_disabled":
        return Reply.json(403, error_body("API_DISABLED_FOR_ORG", "The REST API is not enabled for this Organization."))
    raise ValueError(kind)
