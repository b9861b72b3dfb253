"""Idempotent events: an event id already applied with the same action, within a window, is answered from its
recorded result, without writing again, whichever replica answered it first.

Each event is claimed before any work (a PENDING mark, on an EventLedger that every replica shares); after
the batch its result is recorded, or the claim is dropped when the result invites a retry (nothing was
written). A claim still PENDING when the event comes again means an earlier attempt is running or died while
writing: the event is answered 502 UNCERTAIN rather than written a second time. Keys are hashes of (org,
action, event id); a recorded result keeps its status, outcome, record ids and error code, never a message
or any value of the event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from core.coordination import PENDING, EventLedger
from core.model import Action, Event, EventResult, Outcome, ResultError
from core.outcomes import failure

_REPLAYED = "recorded result of an earlier attempt of this event (same id, same action): nothing was written again"


def event_key(instance_url: str, action: Action, event_id: str) -> str:
    org = (instance_url or "").strip().rstrip("/").lower()
    return "sfdest:event:" + hashlib.sha256(repr((org, action, event_id)).encode()).hexdigest()


def encode(result: EventResult) -> str:
    error = result.error
    return json.dumps({"s": result.status, "o": result.outcome.value, "r": result.record_id,
                       "m": list(result.matched_ids), "t": result.retryable,
                       "e": [error.code, list(error.fields)] if error else None, "w": result.winning_event_id})


def decode(event_id: str, text: str) -> EventResult:
    data = json.loads(text)
    error = ResultError(data["e"][0], _REPLAYED, tuple(data["e"][1])) if data["e"] else None
    return EventResult(event_id, int(data["s"]), Outcome(data["o"]), data["r"], tuple(data["m"]), bool(data["t"]),
                       error, winning_event_id=data.get("w", ""))


def uncertain(event_id: str) -> EventResult:
    return failure(event_id, ResultError(
        "OUTCOME_UNKNOWN", "an earlier attempt of this event (same id, same action) is still running or stopped "
        "while writing: it may have written the record, so it was not written again; check before retrying"))


class EventClaims:
    """The claims of one Apply's events on `ledger`; events with one id share one claim."""

    def __init__(self, ledger: EventLedger, instance_url: str, action: Action, window_seconds: float):
        self._ledger, self._url, self._action, self._window = ledger, instance_url, action, window_seconds
        self._claimed: dict[str, str] = {}  # event id -> key, for the events this Apply now works on
        self.pending: set[int] = set()  # indexes of events found PENDING (another attempt's claim)

    def claim(self, events: Sequence[Event]) -> dict[int, EventResult]:
        """Claim every event; the answers of those already applied or in progress, by index in `events`.
        Raises CoordinationUnavailable when the ledger does not answer."""
        keys = {e.id: event_key(self._url, self._action, e.id) for e in events}
        ids = list(keys)
        held = dict(zip(ids, self._ledger.claim([keys[i] for i in ids], self._window), strict=True))
        self._claimed = {i: keys[i] for i in ids if held[i] is None}
        answered = {}
        for index, event in enumerate(events):
            found = held[event.id]
            if found is not None:
                answered[index] = uncertain(event.id) if found == PENDING else decode(event.id, found)
                if found == PENDING:
                    self.pending.add(index)
        return answered

    def adopt(self, events: Sequence[Event]) -> None:
        """Settle these events' PENDING claims too: this Apply answered them from the write their earlier
        attempt left running (core.handover)."""
        self._claimed.update((e.id, event_key(self._url, self._action, e.id)) for e in events)

    def settle(self, results: Sequence[EventResult]) -> None:
        """Record each claimed event's final result; drop the claim of one that invites a retry. An event still
        PENDING in a running write keeps its claim: its retry picks that write up (core.handover)."""
        final = {r.event_id: r for r in results if r.event_id in self._claimed}
        running = {i for i, r in final.items() if r.outcome is Outcome.PENDING}
        final = {i: r for i, r in final.items() if i not in running}
        record = {self._claimed[i]: encode(r) for i, r in final.items() if not r.retryable}
        retry = [self._claimed[i] for i, r in final.items() if r.retryable]
        retry += [key for i, key in self._claimed.items() if i not in final and i not in running]
        if record:
            self._ledger.record(record, self._window)
        if retry:
            self._ledger.release(retry)
