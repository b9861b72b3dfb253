"""One session's view of the API budget governor: every request reserves its call before it is sent and
commits it (or releases it) after; a write reserves all its chunks' calls at once, before the first."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from adapters.salesforce.thread_scope import scoped
from core import outcomes
from core.budget import ApiGovernor, BudgetCounters, BudgetState, Decision
from core.codes import Code
from core.coordination import CoordinationUnavailable
from core.model import ApiUsage, ResultError
from core.ports import BackendError
from core.telemetry import Telemetry

CODE = Code.API_BUDGET_EXHAUSTED


UNAVAILABLE = outcomes.error(Code.COORDINATION_UNAVAILABLE, "it keeps the org's API budget; nothing was sent to "
                             "Salesforce for these events")


class BudgetGate:
    """Reservations of one session against its org's budget (no governor: every call may go).

    With counters in a shared store that stops answering, a call that needs a reservation is not sent (503
    COORDINATION_UNAVAILABLE, retryable); a commit or release that cannot be stored is dropped: the next
    Sforce-Limit-Info report corrects the org's usage, and the reservation expires with its lease."""

    def __init__(self, governor: ApiGovernor | None, org: str, label: str, telemetry: Telemetry):
        self._governor, self._org, self._label, self._telemetry = governor, org, label, telemetry
        self._lock = threading.Lock()
        self._prepaid = 0
        self._finishing = threading.local()  # this thread sends calls that finish work already started
        self.learning = False  # a /limits request of this session is under way (or was made)
        self._known = False  # the org's allowance was known at this session's last look (no need to ask again)

    @property
    def active(self) -> bool:
        return self._governor is not None

    def needs_limits(self) -> bool:
        """True once per session when the governor knows nothing of the org yet (then ask /limits, or wait for
        the request another session or replica is making: adapters.salesforce.limits_flight)."""
        if self._governor is None or self.learning or self._known:
            return False
        try:
            if self._governor.knows(self._org):
                self._known = True
                return False
        except CoordinationUnavailable:
            return False  # the reservation of the next call answers for it
        self.learning = True
        return True

    def claim_learning(self, seconds: float) -> bool | None:
        """True: this replica may ask /limits now (then `end_learning`); False: another replica is asking;
        None: nothing to ask (the allowance is known by now, or the shared store does not answer)."""
        if self._governor is None:
            return None
        try:
            if self._governor.counters.claim_learning(self._org, seconds):
                return True
            if self._governor.knows(self._org):
                self._known = True
                return None
            return False
        except CoordinationUnavailable:
            return None

    def end_learning(self) -> None:
        if self._governor is not None:
            try:
                self._governor.counters.end_learning(self._org)
            except CoordinationUnavailable:
                pass  # the claim expires on its own

    def left(self) -> int | None:
        if self._governor is None:
            return None
        try:
            return self._governor.left(self._org)
        except CoordinationUnavailable:
            return None

    def error(self, decision: Decision, calls: int) -> ResultError:
        g = self._governor
        assert g is not None
        state = decision.state
        return outcomes.error(
            CODE, f"sfdest's API budget for this org is spent ({calls} call(s) needed, {g.left_in(state) or 0} left: "
            f"sfdest may use {g.share:.0%} of the daily allowance of {state.limit} and leaves the last "
            f"{g.reserve_fraction:.0%} untouched; the org has used {state.org_used}); nothing was sent, retry in "
            f"{math.ceil(decision.retry_after_seconds)} s", retry_after_seconds=decision.retry_after_seconds)

    def _reserve(self, calls: int) -> ResultError | None:
        """Reserve `calls`; the refusal (nothing reserved) or None."""
        assert self._governor is not None
        try:
            decision = self._governor.reserve(self._org, calls)
        except CoordinationUnavailable:
            return UNAVAILABLE
        self._report(decision.state)
        return None if decision.granted else self.error(decision, calls)

    def spend(self) -> None:
        """Reserve the call about to be sent (from this session's prepaid calls first); raise if refused."""
        if self._governor is None:
            return
        with self._lock:
            if self._prepaid > 0:
                self._prepaid -= 1
                return
        if getattr(self._finishing, "on", False):
            try:
                self._report(self._governor.reserve_in_flight(self._org, 1))
                return
            except CoordinationUnavailable:
                raise BackendError(UNAVAILABLE) from None
        refusal = self._reserve(1)
        if refusal is not None:
            raise BackendError(refusal)

    @contextmanager
    def finishing(self) -> Iterator[None]:
        """The calls this thread sends inside finish work Salesforce already started (a Bulk API job it
        created): past its prepaid calls they are reserved whatever the ceilings, never refused
        (ApiGovernor.reserve_in_flight)."""
        with scoped(self._finishing, "on", True):
            yield

    def sent(self, usage: ApiUsage | None) -> None:
        if self._governor is not None:
            seen = (usage.used, usage.limit) if usage is not None and usage.limit > 0 else None
            self._settle(lambda counters: counters.commit(self._org, 1, seen))

    def unsent(self) -> None:
        if self._governor is not None:
            self._settle(lambda counters: counters.release(self._org, 1))

    def observe(self, usage: ApiUsage) -> None:
        if self._governor is not None and usage.limit > 0:
            self._settle(lambda counters: counters.observe(self._org, usage.used, usage.limit))

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
            refusal = self._reserve(extra)
            if refusal is not None:
                yield refusal
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
                self._settle(lambda counters: counters.release(self._org, unused))

    def _settle(self, step: Callable[[BudgetCounters], BudgetState]) -> None:
        assert self._governor is not None
        try:
            self._report(step(self._governor.counters))
        except CoordinationUnavailable:
            pass  # see the class: the lease and the next report make up for it

    def _report(self, state: BudgetState) -> None:
        self._known = self._known or state.limit > 0
        self._telemetry.api_budget(self._label, state.own_used, state.reserved, state.refused)
