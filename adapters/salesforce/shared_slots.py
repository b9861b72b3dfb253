"""Requests to one org across replicas, capped through core's SharedSlots port (Salesforce counts concurrent
long calls per org, whichever replica sends them)."""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.salesforce.retry import Timing
from core import outcomes
from core.codes import Code
from core.coordination import CoordinationUnavailable, Lease, SharedSlots
from core.ports import BackendError

_SLICE, _SLACK = 0.25, 5.0


def take_shared_slot(shared: tuple[SharedSlots, str, int], request_seconds: float, deadline: float | None,
                     timing: Timing, check_stop: Callable[[], None]) -> Lease:
    """A slot for one request (held at most the request's timeout + slack), or BackendError: nothing sent."""
    slots, key, cap = shared
    while True:
        check_stop()
        remaining = timing.remaining(deadline)
        if remaining is not None and remaining <= 0:
            raise BackendError(outcomes.error(Code.DEADLINE_EXCEEDED, "the call's deadline passed while the org's "
                                           "requests across replicas were at their cap; nothing was sent"))
        wait = _SLICE if remaining is None else min(_SLICE, remaining)
        try:
            lease = slots.acquire(key, cap, request_seconds + _SLACK, time.monotonic() + wait)
        except CoordinationUnavailable:
            raise BackendError(outcomes.error(Code.COORDINATION_UNAVAILABLE,
                                                             "nothing was sent to Salesforce")) from None
        if lease is not None:
            return lease


def release_shared_slot(shared: tuple[SharedSlots, str, int] | None, lease: Lease) -> None:
    if shared is None:
        return
    try:
        shared[0].release(lease)
    except CoordinationUnavailable:
        pass  # the slot expires on its own
