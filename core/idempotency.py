"""Idempotent events: an event id already applied with the same action, within a window, is answered from its
recorded result, without writing again, whichever replica answered it first.

Each event is claimed before any work (a PENDING mark, on an EventLedger that every replica shares), and its
claim turns SENT just before a write of it goes out; after the batch its result is recorded, or the claim is
dropped when the result invites a retry (nothing was written). When the event comes again: a SENT claim means
an earlier attempt may have written it (it is running, or died while writing), so it is answered 502 UNCERTAIN
rather than written a second time (or from the Bulk job that holds it, core.handover); a PENDING claim of an
attempt still running answers 409 EVENT_IN_PROGRESS (retryable, nothing written); one whose attempt stopped
before sending it (its replica died, or its deadline passed) is taken over and written. Keys are hashes of (org,
action, event id); a recorded result keeps its status, outcome, record ids and error code, never a message
or any value of the event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from core import outcomes
from core.codes import Code
from core.coordination import PENDING, SENT, EventLedger
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
    return failure(event_id, outcomes.error(
        Code.OUTCOME_UNKNOWN, "an earlier attempt of this event (same id, same action) stopped while writing it, or "
        "is still writing it: it may have written the record, so it was not written again; check before retrying"))


def in_progress(event_id: str) -> EventResult:
    return failure(event_id, outcomes.error(
        Code.EVENT_IN_PROGRESS, "an earlier attempt of this event (same id, same action) is still running and has not "
        "written it yet; this one wrote nothing: retry later"))


class EventClaims:
    """The claims of one Apply's events on `ledger`; events with one id share one claim."""

    def __init__(self, ledger: EventLedger, instance_url: str, action: Action, window_seconds: float):
        self._ledger, self._url, self._action, self._window = ledger, instance_url, action, window_seconds
        self._claimed: dict[str, str] = {}  # event id -> key, for the events this Apply now works on
        self._adopted: set[str] = set()  # event ids answered from a write another attempt left (core.handover)
        self.unsettled: set[int] = set()  # indexes of events another attempt may have written (SENT claims)

    def claim(self, events: Sequence[Event], until: float) -> dict[int, EventResult]:
        """Claim every event until `until` (wall clock: this attempt's deadline); the answers of those already
        applied or in progress, by index in `events`. An event whose earlier attempt stopped before sending any
        write of it is claimed afresh. Raises CoordinationUnavailable when the ledger does not answer."""
        keys = {e.id: event_key(self._url, self._action, e.id) for e in events}
        ids = list(keys)
        held = dict(zip(ids, self._ledger.claim([keys[i] for i in ids], self._window, until), strict=True))
        self._claimed = {i: keys[i] for i in ids if held[i] is None}
        answered = {}
        for index, event in enumerate(events):
            found = held[event.id]
            if found is None:
                continue
            if found.startswith(PENDING + "|"):
                answered[index] = in_progress(event.id)
            elif found.startswith(PENDING) or found.startswith(SENT):
                answered[index] = uncertain(event.id)
                self.unsettled.add(index)
            else:
                answered[index] = decode(event.id, found)
        return answered

    def allow(self, keys: Sequence[str]) -> set[str]:
        """Of these event keys, those whose write may go out now (each claim turns SENT): a key whose claim another
        attempt took over is left out. Raises CoordinationUnavailable."""
        wanted = list(dict.fromkeys(keys))
        return {key for key, ok in zip(wanted, self._ledger.sent(wanted), strict=True) if ok}

    def adopt(self, events: Sequence[Event]) -> None:
        """Settle these events' claims too: this Apply answered them from the write their earlier attempt left
        running (core.handover)."""
        self._claimed.update((e.id, event_key(self._url, self._action, e.id)) for e in events)
        self._adopted.update(e.id for e in events)

    def settle(self, results: Sequence[EventResult]) -> None:
        """Record each claimed event's final result; drop the claim of one that invites a retry. An event still
        PENDING in a running write keeps its claim: its retry picks that write up (core.handover)."""
        final = {r.event_id: r for r in results if r.event_id in self._claimed}
        running = {i for i, r in final.items() if r.outcome is Outcome.PENDING}
        final = {i: r for i, r in final.items() if i not in running}
        record = {self._claimed[i]: encode(r) for i, r in final.items() if not r.retryable}
        retry = [i for i, r in final.items() if r.retryable]
        retry += [i for i in self._claimed if i not in final and i not in running]
        if record:
            self._ledger.record(record, self._window)
        mine = [self._claimed[i] for i in retry if i not in self._adopted]
        adopted = [self._claimed[i] for i in retry if i in self._adopted]
        if mine:
            self._ledger.release(mine)
        if adopted:
            self._ledger.release(adopted, force=True)
