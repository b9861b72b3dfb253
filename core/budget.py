"""The API budget governor: how much of an org's daily API allowance sfdest may spend, and the port of the
counters it keeps (shared by every replica: in-process for one, a shared store for many).

Per org, sfdest may use `share` of the daily allowance, and the org as a whole (every integration's
calls, as Salesforce reports them in Sforce-Limit-Info) must never reach into the last `reserve`
of it. Calls are reserved before they are sent, committed when sent and released when not, so
concurrent Applies (and replicas) never promise the same call twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

WINDOW_SECONDS = 24 * 3600.0  # Salesforce counts API requests over a rolling 24 hours
MIN_RETRY_AFTER = 60.0
UNBOUNDED = 1 << 62  # the ceilings while an org's allowance is not known yet


IN_FLIGHT_FRACTION = float(1 << 30)  # a ceiling no count reaches: for calls that finish work already started


@dataclass(frozen=True)
class BudgetState:
    """One org's counters: `org_used`/`limit` as Salesforce last reported them (limit 0: unknown);
    `own_used` calls sfdest made in the window, `reserved` calls promised and not yet sent,
    `refused` calls refused so far (a running total). `org_used` is the usage now as far as sfdest can
    tell: the last report plus sfdest's calls since, less the calls that aged out of the rolling window
    since, at its average rate of `limit` a day (the next report corrects it)."""

    limit: int = 0
    org_used: int = 0
    own_used: int = 0
    reserved: int = 0
    refused: int = 0


@dataclass(frozen=True)
class Ceilings:
    """What the governor allows, as fractions of the org's daily allowance: `own` (the share sfdest may spend)
    and `whole` (the part every integration together may use: 1 - reserve). A shared store applies them in the
    same atomic step as the reservation, as `of` does."""

    own: float = 1.0
    whole: float = 1.0

    def of(self, limit: int) -> tuple[int, int]:
        """(sfdest's own ceiling, the org-wide ceiling) in calls for an allowance of `limit`."""
        return math.floor(limit * self.own), math.floor(limit * self.whole)


IN_FLIGHT = Ceilings(IN_FLIGHT_FRACTION, IN_FLIGHT_FRACTION)


class BudgetCounters(Protocol):
    """The counters of every org's budget. Each method is atomic for one org and answers the org's counters
    after it. A shared store may raise core.coordination.CoordinationUnavailable from any of them."""

    def reserve(self, org: str, calls: int, ceilings: Ceilings) -> tuple[bool, BudgetState]:
        """Reserve `calls` if, with `own, whole = ceilings.of(limit)`, own_used + reserved + calls <= own and
        org_used + reserved + calls <= whole (always while the limit is unknown); else count them refused.
        (granted, the counters after)."""
        ...

    def commit(self, org: str, calls: int, usage: tuple[int, int] | None = None) -> BudgetState:
        """`calls` reserved calls were sent: they leave `reserved` and count in own_used and org_used; `usage`
        is (used, limit) as the answer's Sforce-Limit-Info reported it, merged as `observe` does."""
        ...

    def release(self, org: str, calls: int) -> BudgetState:
        """`calls` reserved calls were not sent."""
        ...

    def observe(self, org: str, used: int, limit: int) -> BudgetState:
        """Salesforce reported the org's usage (Sforce-Limit-Info or /limits); a new `limit` replaces the counts.
        Answers of concurrent calls arrive out of order: while calls are in flight (in-process), or always (a
        store shared by replicas, whose answers interleave), a report below the usage counted is ignored and
        that usage ages out of the window at its average rate instead."""
        ...

    def state(self, org: str) -> BudgetState: ...

    def claim_learning(self, org: str, seconds: float) -> bool:
        """Claim, for `seconds` at most, the right to ask Salesforce for the org's allowance (GET /limits) while
        nobody knows it: False while another replica holds the claim, or once the allowance is known (checked in
        the same atomic step: a replica that learned it and gave up its claim is never followed by another ask)."""
        ...

    def end_learning(self, org: str) -> None:
        """Give up this replica's claim (asked, or failed to: then another may ask)."""
        ...


class BulkBatchCounters(Protocol):
    """Each org's daily Bulk API batch allowance (DailyBulkApiBatches: Bulk API and Bulk API 2.0 together, over a
    rolling 24 hours), which Salesforce reports only through GET /limits, as sfdest sees it: the batches left at the
    last read, less the batches of sfdest's own jobs since; unknown again some time after the read (then read
    again, so that other integrations' jobs show). The same port family as BudgetCounters: in process for one
    replica, a shared store for many, whose methods may raise core.coordination.CoordinationUnavailable; and the
    same learning lease: a replica that asks /limits tells both the governor's allowance and this one."""

    def observe(self, org: str, remaining: int, read_at: float) -> None:
        """GET /limits said `remaining` batches at `read_at` (seconds, wall clock): replaces what was counted,
        unless a later read is stored already (answers of replicas arrive out of order)."""
        ...

    def charge(self, org: str, batches: int) -> None:
        """A job of sfdest's was charged `batches` (atomic; nothing while the allowance is unknown)."""
        ...

    def left(self, org: str) -> int | None:
        """Batches the org has left (never below 0), None when unknown (never read, or read too long ago)."""
        ...

    def claim_reading(self, org: str, seconds: float) -> bool:
        """Claim, for `seconds` at most, the right to ask GET /limits for it: False once it is known (checked in
        the same atomic step) or while another replica holds the claim (the governor's learning claim included:
        one request tells both)."""
        ...

    def end_reading(self, org: str) -> None:
        """Give up this replica's claim."""
        ...


@dataclass(frozen=True)
class Decision:
    granted: bool
    retry_after_seconds: float = 0.0
    state: BudgetState = BudgetState()  # the org's counters after the decision


class ApiGovernor:
    """The policy over the counters: ceilings from the share and the reserve, and when to try again."""

    def __init__(self, counters: BudgetCounters, share: float = 1.0, reserve: float = 0.0):
        if not (0 < share <= 1 and 0 <= reserve < 1):
            raise ValueError("share must be in (0, 1] and reserve in [0, 1)")
        self.counters, self.share, self.reserve_fraction = counters, share, reserve
        self.fractions = Ceilings(share, 1 - reserve)

    def knows(self, org: str) -> bool:
        return self.counters.state(org).limit > 0

    def ceilings(self, state: BudgetState) -> tuple[int, int]:
        """(sfdest's own ceiling, the org-wide ceiling) in calls."""
        return self.fractions.of(state.limit)

    def reserve(self, org: str, calls: int) -> Decision:
        """One atomic step of the counters: granted, or refused with when to try again."""
        granted, state = self.counters.reserve(org, calls, self.fractions)
        if granted:
            return Decision(True, state=state)
        return Decision(False, self.retry_after(state, calls), state)

    def reserve_in_flight(self, org: str, calls: int) -> BudgetState:
        """Reserve `calls` whatever the ceilings: calls that finish work Salesforce already started (a Bulk API
        job's polls and results), the "calls already in flight" the ceilings allow past them. Refusing them
        would not save the allowance: it would leave records written with nobody told."""
        return self.counters.reserve(org, calls, IN_FLIGHT)[1]

    def retry_after(self, state: BudgetState, calls: int) -> float:
        """Seconds until `calls` more can fit, as calls age out of the rolling window at its average rate."""
        own, whole = self.ceilings(state)
        excess = max(state.own_used + state.reserved + calls - own, state.org_used + state.reserved + calls - whole, 1)
        return max(MIN_RETRY_AFTER, math.ceil(excess * WINDOW_SECONDS / max(state.limit, 1)))

    def left(self, org: str) -> int | None:
        """Calls sfdest may still make to the org now, None when its allowance is not known yet."""
        return self.left_in(self.counters.state(org))

    def left_in(self, state: BudgetState) -> int | None:
        if state.limit <= 0:
            return None
        own, whole = self.ceilings(state)
        return max(0, min(own - state.own_used, whole - state.org_used) - state.reserved)
