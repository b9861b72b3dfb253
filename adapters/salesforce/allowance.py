"""Each org's daily API allowance as sfdest sees it: after Salesforce refuses a call for the daily limit
(403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded."), no call to that org until its rolling
24-hour window can have room again; then one probe call decides whether calls flow again.

`Allowance` is the interface a session consults before every call and informs after every answer; an API
budget governor (spending limits below Salesforce's own) can implement it and be handed out by
`Allowances` in place of `CoolOff`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from core.model import ApiUsage

WINDOW_SECONDS = 24 * 3600.0  # Salesforce counts API requests over a rolling 24 hours
MAX_ORGS = 10_000


class Allowance(Protocol):
    def admit(self) -> float:
        """0 if a call may go now (it is counted as sent); else the seconds until one may."""
        ...

    def observe(self, usage: ApiUsage | None) -> None:
        """An answer that was not a limit refusal, with the org's usage if Salesforce reported it."""
        ...

    def refused(self, usage: ApiUsage | None) -> float:
        """Salesforce refused a call for the daily limit; returns the seconds until a call may go again."""
        ...

    @property
    def last_usage(self) -> ApiUsage | None:
        """The org's usage as the last answer (of any session) reported it, if any did."""
        ...


class CoolOff:
    """One org's cool-off after daily-limit refusals; thread-safe.

    The wait after the n-th refusal in a row is `base * 2**(n-1)` seconds (at most `cap`), or longer
    if the usage header says the window is overdrawn: (used - limit + 1) calls must age out of it, at
    the window's average rate of `limit` per 24 hours. When it ends, a single probe call is admitted
    (the others keep waiting as if it had been refused again) until an answer shows room.
    """

    def __init__(self, clock: Callable[[], float], base_seconds: float = 60.0, cap_seconds: float = 900.0):
        self._clock, self._base, self._cap = clock, base_seconds, cap_seconds
        self._lock = threading.Lock()
        self._refusals = 0  # refusals in a row: concurrent ones count once, a refused probe once more
        self._until = 0.0
        self._probing = False
        self._last: ApiUsage | None = None

    @property
    def last_usage(self) -> ApiUsage | None:
        return self._last

    def _wait_after(self, refusals: int, usage: ApiUsage | None) -> float:
        wait = min(self._cap, self._base * 2 ** max(refusals - 1, 0))
        if usage is not None and usage.limit > 0 and usage.used >= usage.limit:
            wait = max(wait, (usage.used - usage.limit + 1) * WINDOW_SECONDS / usage.limit)
        return wait

    def admit(self) -> float:
        with self._lock:
            if not self._refusals:
                return 0.0
            now = self._clock()
            if now < self._until:
                return self._until - now
            self._until = now + self._wait_after(self._refusals + 1, None)  # the probe's; an answer resets it
            self._probing = True
            return 0.0

    def observe(self, usage: ApiUsage | None) -> None:
        if usage is not None:
            self._last = usage
        if usage is None or usage.used < usage.limit:
            with self._lock:
                self._refusals, self._until, self._probing = 0, 0.0, False

    def refused(self, usage: ApiUsage | None) -> float:
        with self._lock:
            now = self._clock()
            if self._probing or now >= self._until:
                self._refusals += 1  # not one of several requests refused at the same time
                self._probing = False
            self._until = max(self._until, now + self._wait_after(self._refusals, usage))
            return self._until - now


class Allowances:
    """The allowance of each org (by instance URL), shared by every credential and store of the backend;
    the least recently used are forgotten past `max_orgs`."""

    def __init__(self, make: Callable[[], Allowance], max_orgs: int = MAX_ORGS):
        self._make, self._max = make, max_orgs
        self._lock = threading.Lock()
        self._orgs: dict[str, Allowance] = {}

    def of(self, org: str) -> Allowance:
        with self._lock:
            allowance = self._orgs.pop(org, None) or self._make()
            self._orgs[org] = allowance
            while len(self._orgs) > self._max:
                del self._orgs[next(iter(self._orgs))]
            return allowance
