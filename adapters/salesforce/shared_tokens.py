"""One token request per grant across replicas: the token cache's way through core's SharedTokens port.

A replica that finds no usable token takes the grant's refresh lease (one holder across replicas), looks
again (another replica may have just stored one), and only then asks Salesforce, storing the answer under the
lease's fence. Waiters look at the store between waits, so they pick up the holder's token as soon as it lands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from adapters.salesforce.retry import Timing
from core import outcomes
from core.codes import Code
from core.coordination import CoordinationUnavailable, SharedTokens
from core.ports import BackendError

T = TypeVar("T")
# A token requested under a lease is kept this long when Salesforce says nothing of its lifetime.
STORED_SECONDS = 8 * 3600.0
# The refresh lease outlives a token request by far; a holder that dies frees it after this.
LEASE_SECONDS = 60.0
_LOOK_EVERY = 0.25


def _unavailable() -> BackendError:
    return BackendError(outcomes.error(Code.COORDINATION_UNAVAILABLE, "nothing was sent to Salesforce for "
                                                         "these events"))


def shared_fetch(shared: SharedTokens, identity: Sequence[str], timing: Timing, deadline: float | None,
                 fetch: Callable[[], T], found: Callable[[str], T], stored_as: Callable[[T], tuple[str, float | None]],
                 refused: Callable[[str], bool]) -> T:
    """The token another replica stored, else `fetch()` under the grant's refresh lease (stored for all);
    `found` makes a token of a stored value, `stored_as` gives a fetched token's value and lifetime; a stored
    token this replica saw Salesforce refuse (`refused`) is no token."""

    def usable() -> str | None:
        stored = shared.read(identity)
        return stored if stored and not refused(stored) else None

    try:
        stored = usable()
        if stored:
            return found(stored)
        while True:
            remaining = timing.remaining(deadline)
            if remaining is not None and remaining <= 0:
                raise BackendError(outcomes.error(Code.DEADLINE_EXCEEDED, "the call's deadline passed while another "
                                               "replica was requesting the Salesforce access token"))
            wait = _LOOK_EVERY if remaining is None else min(_LOOK_EVERY, remaining)
            lease = shared.lease(identity, LEASE_SECONDS, time.monotonic() + wait)
            if lease is not None:
                break
            stored = usable()
            if stored:
                return found(stored)
        try:
            stored = usable()
            if stored:
                return found(stored)
            token = fetch()
            value, seconds = stored_as(token)
            shared.write(identity, value, lease, STORED_SECONDS if seconds is None else seconds)
            return token
        finally:
            try:
                shared.release(lease)
            except CoordinationUnavailable:
                pass  # the lease expires on its own
    except CoordinationUnavailable:
        raise _unavailable() from None


def forget_shared(shared: SharedTokens, identity: Sequence[str], token: str) -> None:
    """Drop a refused token from the shared store (left to expire if Redis does not answer)."""
    try:
        shared.forget(identity, token)
    except CoordinationUnavailable:
        pass



