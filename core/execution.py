"""Sending writes to a RecordStore: one round at a time, each kind of write in one batched call."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from core.model import EventResult, Outcome, ResultError
from core.outcomes import failure
from core.parents import explain
from core.ports import BackendError, RecordStore, WriteOutcome
from core.preparation import Prepared

_SUCCESS = {"create": (201, Outcome.CREATED), "update": (200, Outcome.UPDATED), "delete": (204, Outcome.DELETED)}


def halted(deadline: float | None, stop: Callable[[], bool] | None, step: str = "written") -> ResultError | None:
    """Why no more work may start: the call was cancelled (or the server is stopping), or its deadline passed."""
    if stop is not None and stop():
        return ResultError("CANCELLED", f"the call was cancelled, or the server is stopping, before this event was "
                           f"{step}; nothing was written for it")
    if deadline is not None and time.monotonic() >= deadline:
        return ResultError("DEADLINE_EXCEEDED", f"the call's deadline passed before this event was {step}; nothing "
                           "was written for it")
    return None


@dataclass
class Write:
    kind: str  # create | update | delete | upsert
    event: Prepared
    target: str  # the record id (update, delete) or the normalized key (upsert); empty for create
    record: dict[str, Any] = field(default_factory=dict)
    round: int = 0
    no_change: bool = False  # an update sent only to learn whether the record exists
    adopt: bool = False  # a create that, on DUPLICATES_DETECTED naming one duplicate, updates it instead


def success(w: Write, outcome: WriteOutcome) -> EventResult:
    if w.kind == "upsert":
        status, kind = (201, Outcome.CREATED) if outcome.created else (200, Outcome.UPDATED)
    elif w.no_change:
        status, kind = 204, Outcome.NO_CHANGE
    else:
        status, kind = _SUCCESS[w.kind]
    record_id = outcome.id or (w.target if w.kind in ("update", "delete") else "")
    return EventResult(w.event.event_id, status, kind, record_id=record_id)


def send_round(store: RecordStore, object_name: str, writes: list[Write], external_id_field: str = ""
               ) -> list[WriteOutcome]:
    """One batched call per kind; the kinds touch different records, so they go out at the same time."""
    calls = {
        "create": lambda ws: store.create(object_name, [w.record for w in ws]),
        "update": lambda ws: store.update(object_name, [(w.target, w.record) for w in ws]),
        "delete": lambda ws: store.delete(object_name, [w.target for w in ws]),
        "upsert": lambda ws: store.upsert(object_name, external_id_field, [w.record for w in ws]),
    }
    by_kind: dict[str, list[int]] = {}
    for n, w in enumerate(writes):
        by_kind.setdefault(w.kind, []).append(n)

    def run(kind: str, positions: list[int]) -> list[WriteOutcome]:
        try:
            outcomes = calls[kind]([writes[n] for n in positions])
        except BackendError as exc:
            return [WriteOutcome(False, error=exc.error)] * len(positions)
        if len(outcomes) != len(positions):
            raise RuntimeError(f"store returned {len(outcomes)} results for {len(positions)} records")
        return outcomes

    if len(by_kind) > 1:
        with ThreadPoolExecutor(max_workers=len(by_kind)) as pool:
            futures = {kind: pool.submit(run, kind, positions) for kind, positions in by_kind.items()}
            answers = {kind: f.result() for kind, f in futures.items()}
    else:
        answers = {kind: run(kind, positions) for kind, positions in by_kind.items()}
    ordered: list[WriteOutcome] = [WriteOutcome(False)] * len(writes)
    for kind, positions in by_kind.items():
        for n, outcome in zip(positions, answers[kind], strict=True):
            ordered[n] = _about_parents(writes[n], outcome)
    _adopt_duplicates(store, object_name, writes, ordered)
    return ordered


def _adopt_duplicates(store: RecordStore, object_name: str, writes: list[Write], ordered: list[WriteOutcome]
                      ) -> None:
    """Creates refused with DUPLICATES_DETECTED that may adopt: one duplicate named -> update it instead (the
    write becomes that update); several -> MULTIPLE_DUPLICATES (300) with their ids."""
    adopted = []
    for n, (w, outcome) in enumerate(zip(writes, ordered, strict=True)):
        if not (w.adopt and w.kind == "create" and outcome.error and outcome.error.code == "DUPLICATES_DETECTED"):
            continue
        if len(outcome.matched_ids) == 1:
            adopted.append(n)
        elif outcome.matched_ids:
            ordered[n] = WriteOutcome(False, error=ResultError(
                "MULTIPLE_DUPLICATES", f"Salesforce's duplicate rules name {len(outcome.matched_ids)} existing "
                "records; nothing was written", outcome.error.fields), matched_ids=outcome.matched_ids)
    if not adopted:
        return
    for n in adopted:  # an update leaves the record's type alone
        w = writes[n]
        w.kind, w.target = "update", ordered[n].matched_ids[0]
        w.record = {k: v for k, v in w.record.items() if k != "RecordTypeId"}
    try:
        updates = store.update(object_name, [(writes[n].target, writes[n].record) for n in adopted])
    except BackendError as exc:
        updates = [WriteOutcome(False, error=exc.error)] * len(adopted)
    for n, outcome in zip(adopted, updates, strict=True):
        ordered[n] = _about_parents(writes[n], outcome)


def _about_parents(w: Write, outcome: WriteOutcome) -> WriteOutcome:
    """A refusal about a parent given by key, as sfdest's PARENT_NOT_FOUND or PARENT_AMBIGUOUS."""
    if outcome.success or outcome.error is None:
        return outcome
    explained = explain(outcome.error, w.record, w.event.sources)
    if explained is None:
        return outcome
    error, candidates = explained
    return WriteOutcome(False, id=outcome.id, error=error, matched_ids=candidates)


def run_keyed_rounds(store: RecordStore, object_name: str, writes: list[Write], deadline: float | None,
                     external_id_field: str = "", stop: Callable[[], bool] | None = None) -> dict[int, EventResult]:
    """Writes addressed by key (record id, external id): one round per repeat of a key, in event order."""
    last: dict[str, int] = {}
    for w in writes:
        w.round = last.get(w.target, -1) + 1 if w.target else 0
        if w.target:
            last[w.target] = w.round
    results: dict[int, EventResult] = {}
    for r in sorted({w.round for w in writes}):
        batch = [w for w in writes if w.round == r]
        reason = halted(deadline, stop)
        if reason is not None:
            for w in (w for w in writes if w.round >= r):
                results[w.event.index] = failure(w.event.event_id, reason)
            break
        for w, outcome in zip(batch, send_round(store, object_name, batch, external_id_field), strict=True):
            if outcome.success:
                results[w.event.index] = success(w, outcome)
            else:
                error = outcome.error or ResultError("UNKNOWN_EXCEPTION", "Salesforce gave no details")
                record_id = w.target if w.kind in ("update", "delete") else ""
                results[w.event.index] = failure(w.event.event_id, error, outcome.matched_ids, record_id)
    return results
