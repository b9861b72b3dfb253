"""Running planned writes against a RecordStore, round by round, and turning outcomes into results."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.model import EventResult, Outcome, ResultError
from core.outcomes import failure
from core.planning import Write, is_virtual
from core.ports import BackendError, RecordStore, WriteOutcome

_SUCCESS = {
    "create": (201, Outcome.CREATED),
    "update": (200, Outcome.UPDATED),
    "delete": (204, Outcome.DELETED),
}
_NOT_ATTEMPTED = ResultError("DEADLINE_EXCEEDED", "the call's deadline passed before this event was written; "
                             "nothing was written for it")


def _success(w: Write, outcome: WriteOutcome) -> EventResult:
    if w.kind == "upsert":
        status, kind = (201, Outcome.CREATED) if outcome.created else (200, Outcome.UPDATED)
    else:
        status, kind = _SUCCESS[w.kind]
    record_id = outcome.id or (w.target if w.kind in ("update", "delete") else "")
    return EventResult(w.event.event_id, status, kind, record_id=record_id)


class RoundRunner:
    """Executes writes in rounds; records created in a round get real ids before later rounds."""

    def __init__(self, store: RecordStore, object_name: str, deadline: float | None,
                 recreate: Callable[[Write], dict[str, Any]]):
        self.store = store
        self.object_name = object_name
        self.deadline = deadline
        self.real_ids: dict[str, str] = {}
        self._failed_virtual: set[str] = set()
        self._recreate = recreate
        self.results: dict[int, EventResult] = {}

    def run(self, writes: list[Write], external_id_field: str = "") -> None:
        rounds = sorted({w.round for w in writes})
        for r in rounds:
            batch = [w for w in writes if w.round == r]
            if self.deadline is not None and time.monotonic() >= self.deadline:
                for w in (w for w in writes if w.round >= r):
                    self.results[w.event.index] = failure(w.event.event_id, _NOT_ATTEMPTED)
                return
            self._run_round([self._resolve(w) for w in batch], external_id_field)

    def _resolve(self, w: Write) -> Write:
        """Point a write at the real id of a record created earlier in the batch."""
        if w.kind == "create" or not is_virtual(w.target):
            return w
        if w.target in self.real_ids:
            return Write(w.kind, w.event, self.real_ids[w.target], w.record, w.round)
        if w.target in self._failed_virtual and w.kind == "update":
            # The event that was to create this record failed: this one creates it instead.
            self._failed_virtual.discard(w.target)
            return Write("create", w.event, w.target, self._recreate(w), w.round)
        return Write("missing", w.event, w.target, w.record, w.round)

    def _run_round(self, batch: list[Write], external_id_field: str) -> None:
        by_kind: dict[str, list[Write]] = {}
        for w in batch:
            by_kind.setdefault(w.kind, []).append(w)
        for w in by_kind.pop("missing", []):
            self.results[w.event.index] = failure(
                w.event.event_id, ResultError("NOT_FOUND", "no record matches: the record this event matched "
                                              "was to be created earlier in the batch, and that failed"))
        calls = {
            "create": lambda ws: self.store.create(self.object_name, [w.record for w in ws]),
            "update": lambda ws: self.store.update(self.object_name, [(w.target, w.record) for w in ws]),
            "delete": lambda ws: self.store.delete(self.object_name, [w.target for w in ws]),
            "upsert": lambda ws: self.store.upsert(self.object_name, external_id_field, [w.record for w in ws]),
        }
        def run(kind: str, ws: list[Write]) -> list[WriteOutcome]:
            try:
                return calls[kind](ws)
            except BackendError as exc:
                return [WriteOutcome(False, error=exc.error)] * len(ws)

        # The kinds of one round touch different records, so they are independent: send them at once.
        if len(by_kind) > 1:
            with ThreadPoolExecutor(max_workers=len(by_kind)) as pool:
                futures = {kind: pool.submit(run, kind, ws) for kind, ws in by_kind.items()}
                answers = {kind: f.result() for kind, f in futures.items()}
        else:
            answers = {kind: run(kind, ws) for kind, ws in by_kind.items()}
        for kind, ws in by_kind.items():
            outcomes = answers[kind]
            if len(outcomes) != len(ws):
                raise RuntimeError(f"store returned {len(outcomes)} results for {len(ws)} records")
            for w, outcome in zip(ws, outcomes, strict=True):
                self._record(w, outcome)

    def _record(self, w: Write, outcome: WriteOutcome) -> None:
        if w.kind == "create" and is_virtual(w.target):
            if outcome.success:
                self.real_ids[w.target] = outcome.id
            else:
                self._failed_virtual.add(w.target)
        if outcome.success:
            self.results[w.event.index] = _success(w, outcome)
        else:
            error = outcome.error or ResultError("UNKNOWN_EXCEPTION", "Salesforce reported a failure without details")
            record_id = w.target if w.kind in ("update", "delete") and not is_virtual(w.target) else ""
            self.results[w.event.index] = failure(w.event.event_id, error, outcome.matched_ids, record_id)
