"""One session's view of the API budget governor: every request reserves its call before it is sent and
commits it (or releases it) after; a write reserves all its chunks' calls at once, before the first."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from core.budget import ApiGovernor, Decision
from core.model import ApiUsage, ResultError
from core.ports import BackendError
from core.telemetry import Telemetry

CODE = "API_BUDGET_EXHAUSTED"


class BudgetGate:
    """Reservations of one session against its org's budget (no governor: every call may go)."""

    def __init__(self, governor: ApiGovernor | None, org: str, label: str, telemetry: Telemetry):
        self._governor, self._org, self._label, self._telemetry = governor, org, label, telemetry
        self._lock = threading.Lock()
        self._prepaid = 0
        self.learning = False  # a /limits request of this session is under way (or was made)

    @property
    def active(self) -> bool:
        return self._governor is not None

    def needs_limits(self) -> bool:
        """True once per session when the governor knows nothing of the org yet (then ask /limits)."""
        if self._governor is None or self.learning or self._governor.knows(self._org):
            return False
        self.learning = True
        return True

    def left(self) -> int | None:
        return None if self._governor is None else self._governor.left(self._org)

    def error(self, decision: Decision, calls: int) -> ResultError:
        g = self._governor
        assert g is not None
        state = g.counters.state(self._org)
        return ResultError(CODE, f"sfdest's API budget for this org is spent ({calls} call(s) needed, "
                           f"{g.left(self._org) or 0} left: sfdest may use {g.share:.0%} of the daily allowance of "
                           f"{state.limit} and leaves the last {g.reserve_fraction:.0%} untouched; the org has used "
                           f"{state.org_used}); nothing was sent, retry in {math.ceil(decision.retry_after_seconds)} s",
                           retry_after_seconds=decision.retry_after_seconds)

    def spend(self) -> None:
        """Reserve the call about to be sent (from this session's prepaid calls first); raise if refused."""
        if self._governor is None:
            return
        with self._lock:
            if self._prepaid > 0:
                self._prepaid -= 1
                return
        decision = self._governor.reserve(self._org, 1)
        self._report()
        if not decision.granted:
            raise BackendError(self.error(decision, 1))

    def sent(self, usage: ApiUsage | None) -> None:
        if self._governor is not None:
            self._governor.counters.commit(self._org, 1)
            if usage is not None and usage.limit > 0:
                self._governor.counters.observe(self._org, usage.used, usage.limit)
            self._report()

    def unsent(self) -> None:
        if self._governor is not None:
            self._governor.counters.release(self._org, 1)
            self._report()

    def observe(self, usage: ApiUsage) -> None:
        if self._governor is not None and usage.limit > 0:
            self._governor.counters.observe(self._org, usage.used, usage.limit)

    @contextmanager
    def prepaid(self, calls: int) -> Iterator[ResultError | None]:
        """Make sure `calls` are reserved for the requests that follow: calls already prepaid (by an enclosing
        `prepaid`) count, only the rest is reserved. Yields the refusal (nothing reserved) or None. What this
        reserved and the requests did not use is released at the end."""
        if self._governor is None or calls <= 0:
            yield None
            return
        with self._lock:
            extra = max(0, calls - self._prepaid)
        if extra:
            decision = self._governor.reserve(self._org, extra)
            self._report()
            if not decision.granted:
                yield self.error(decision, extra)
                return
            with self._lock:
                self._prepaid += extra
        try:
            yield None
        finally:
            with self._lock:
                unused = min(self._prepaid, extra)
                self._prepaid -= unused
            if unused:
                self._governor.counters.release(self._org, unused)
                self._report()

    def _report(self) -> None:
        assert self._governor is not None
        state = self._governor.counters.state(self._org)
        self._telemetry.api_budget(self._label, state.own_used, state.reserved, state.refused)
