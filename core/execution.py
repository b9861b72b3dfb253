"""Sending writes to a RecordStore: one round at a time, each kind of write in one batched call."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from core import outcomes
from core.codes import Code
from core.describe import ObjectDescribe
from core.merging import fold, splits
from core.model import EventResult, ResultError
from core.outcomes import failure
from core.parents import explain
from core.ports import BackendError, RecordStore, WriteBatch, WriteOutcome
from core.preparation import Prepared
from core.salesforce_answers import read, unexplained

_SUCCESS = {"create": Code.CREATED, "update": Code.UPDATED, "delete": Code.DELETED}


def halted(deadline: float | None, stop: Callable[[], bool] | None, step: str = "written") -> ResultError | None:
    """Why no more work may start: the call was cancelled (or the server is stopping), or its deadline passed."""
    if stop is not None and stop():
        return outcomes.error(
            Code.CANCELLED, f"the call was cancelled, or the server is stopping, before this event was "
            f"{step}; nothing was written for it")
    if deadline is not None and time.monotonic() >= deadline:
        return outcomes.error(
            Code.DEADLINE_EXCEEDED, f"the call's deadline passed before this event was {step}; nothing "
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
    object_name: str = ""  # another object than the batch's (a converted Lead's Contact)
    # Later events of the same record folded into this write (core.merging), each with its no_change.
    merged: list[tuple[Prepared, bool]] = field(default_factory=list)
    originals: dict[int, dict[str, Any]] = field(default_factory=dict)  # each event's own record, to split

    @property
    def events(self) -> list[Prepared]:
        return [self.event, *(p for p, _ in self.merged)]


def merged_results(w: Write, outcome: WriteOutcome | None, error: ResultError | None = None,
                   record_id: str = "") -> list[EventResult]:
    """The results of the events folded into `w`: an update of the written record each, or w's failure."""
    if error is not None:
        return [failure(p.event_id, error, outcome.matched_ids if outcome else (), record_id) for p, _ in w.merged]
    rid = record_id or (outcome.id if outcome else "") or w.target
    return [outcomes.result(Code.NO_CHANGE if no_change else Code.UPDATED, p.event_id, record_id=rid)
            for p, no_change in w.merged]


def outcome_error(outcome: WriteOutcome) -> ResultError | None:
    """Why a write failed (None: it succeeded)."""
    if outcome.success:
        return None
    return outcome.error or unexplained()


def upsert_result(event_id: str, outcome: WriteOutcome,
                  explain: Callable[[ResultError], ResultError] | None = None) -> EventResult:
    """The result of one event's own upsert (no later event folded into it); `explain` adds to a refusal."""
    error = outcome_error(outcome)
    if error is not None:
        return failure(event_id, explain(error) if explain else error, outcome.matched_ids)
    return success(Write("upsert", Prepared(0, event_id), ""), outcome)


def success(w: Write, outcome: WriteOutcome) -> EventResult:
    if w.kind == "upsert":
        code = Code.CREATED if outcome.created else Code.UPDATED
    elif w.no_change:
        code = Code.NO_CHANGE
    else:
        code = _SUCCESS[w.kind]
    record_id = outcome.id or (w.target if w.kind in ("update", "delete") else "")
    return outcomes.result(code, w.event.event_id, record_id=record_id)


def send_round(store: RecordStore, object_name: str, writes: list[Write], external_id_field: str = ""
               ) -> list[WriteOutcome]:
    """A round in one store call: a batch per object and kind (the kinds touch different records); a round
    with writes to another object (a converted Lead's Contact) hands that object's batches over with them.
    How the batches run (together, at once, in turn) is the store's business (RecordStore.write_batches)."""
    items = {
        "create": lambda w: w.record, "update": lambda w: (w.target, w.record), "delete": lambda w: w.target,
        "upsert": lambda w: w.record,
    }
    by_batch: dict[tuple[str, str], list[int]] = {}
    for n, w in enumerate(writes):
        by_batch.setdefault((w.object_name or object_name, w.kind), []).append(n)
    batches = [WriteBatch(kind, [items[kind](writes[n]) for n in positions],
                          external_id_field if kind == "upsert" else "", _tags(writes, positions), obj)
               for (obj, kind), positions in by_batch.items()]
    try:
        answers = store.write_batches(batches)
    except BackendError as exc:  # a store should report it per record; a whole-call failure fails the round
        answers = [[WriteOutcome(False, error=exc.error)] * len(b.items) for b in batches]
    if len(answers) != len(batches):
        raise RuntimeError(f"store returned {len(answers)} result lists for {len(batches)} batches")
    ordered: list[WriteOutcome] = [WriteOutcome(False)] * len(writes)
    for positions, got in zip(by_batch.values(), answers, strict=True):
        if len(got) != len(positions):
            raise RuntimeError(f"store returned {len(got)} results for {len(positions)} records")
        for n, outcome in zip(positions, got, strict=True):
            w = writes[n]
            ordered[n] = _about_parents(w, read(outcome, w.kind, w.object_name or object_name,
                                                external_id_field if w.kind == "upsert" else ""))
    _adopt_duplicates(store, object_name, writes, ordered)
    return ordered


def _tags(writes: list[Write], positions: list[int]) -> tuple[tuple[str, ...], ...]:
    """The keys of the events each write holds, when every one has a key (else none)."""
    tags = tuple(tuple(p.key for p in writes[n].events) for n in positions)
    return tags if all(all(tag) for tag in tags) else ()


def _adopt_duplicates(store: RecordStore, object_name: str, writes: list[Write], ordered: list[WriteOutcome]
                      ) -> None:
    """Creates refused with DUPLICATES_DETECTED that may adopt: one duplicate named -> update it instead (the
    write becomes that update); several -> MULTIPLE_DUPLICATES (300) with their ids."""
    adopted = []
    for n, (w, outcome) in enumerate(zip(writes, ordered, strict=True)):
        if not (w.adopt and w.kind == "create" and outcome.error and outcome.error.code == Code.DUPLICATES_DETECTED):
            continue
        if len(outcome.matched_ids) == 1:
            adopted.append(n)
        elif outcome.matched_ids:
            ordered[n] = WriteOutcome(False, error=outcomes.error(
                Code.MULTIPLE_DUPLICATES, "", outcome.error.fields, count=len(outcome.matched_ids)),
                matched_ids=outcome.matched_ids)
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
        ordered[n] = _about_parents(writes[n], read(outcome, "update", object_name))


def _about_parents(w: Write, outcome: WriteOutcome) -> WriteOutcome:
    """A refusal about a parent given by key, as sfdest's PARENT_NOT_FOUND or PARENT_AMBIGUOUS."""
    if outcome.success or outcome.error is None:
        return outcome
    explained = explain(outcome.error, w.record, w.event.sources)
    if explained is None:
        return replace(outcome, error=w.event.explain(outcome.error, w.record))
    error, candidates = explained
    return WriteOutcome(False, id=outcome.id, error=error, matched_ids=candidates)


def run_keyed_rounds(store: RecordStore, object_name: str, writes: list[Write], deadline: float | None,
                     external_id_field: str = "", stop: Callable[[], bool] | None = None,
                     describe: ObjectDescribe | None = None) -> dict[int, EventResult]:
    """Writes addressed by key (record id, external id), in event order per key: consecutive updates or
    upserts of one key fold into one write (core.merging); a merged write refused for a value is split."""
    queues: dict[str, deque[Write]] = {}
    for n, w in enumerate(writes):
        queues.setdefault(w.target or f"#{n}", deque()).append(w)
    cap: dict[int, int] = {}  # the most events a write starting with this event may hold, after a split
    results: dict[int, EventResult] = {}
    while any(queues.values()):
        batch = sorted((_take(q, cap, describe) for q in queues.values() if q), key=lambda w: w.event.index)
        reason = halted(deadline, stop)
        if reason is not None:
            for w in (w for q in queues.values() for w in q):
                results[w.event.index] = failure(w.event.event_id, reason)
            for w in batch:
                for p in w.events:
                    results[p.index] = failure(p.event_id, reason)
            break
        for w, outcome in zip(batch, send_round(store, object_name, batch, external_id_field), strict=True):
            record_id = w.target if w.kind in ("update", "delete") else ""
            error = outcome_error(outcome)
            if error is not None and w.merged and splits(error):
                cap[w.event.index] = (len(w.merged) + 1) // 2
                queue = queues[w.target]
                for p, no_change in reversed([(w.event, w.no_change), *w.merged]):
                    queue.appendleft(Write(w.kind, p, w.target, dict(w.originals[p.index]), no_change=no_change))
                continue
            if error is None:
                results[w.event.index] = success(w, outcome)
            else:
                results[w.event.index] = failure(w.event.event_id, error, outcome.matched_ids, record_id)
            for p, result in zip((p for p, _ in w.merged), merged_results(w, outcome, error, record_id),
                                 strict=True):
                results[p.index] = result
    return results


def _take(queue: deque[Write], cap: dict[int, int], describe: ObjectDescribe | None) -> Write:
    """The next write of one key's queue, with the writes after it folded in while that is safe."""
    first = queue.popleft()
    if describe is None or first.kind not in ("update", "upsert"):
        return first
    group = Write(first.kind, first.event, first.target, dict(first.record), no_change=first.no_change)
    group.originals = {first.event.index: first.record}
    limit = cap.get(first.event.index, len(queue) + 1)
    while queue and len(group.merged) + 1 < limit and queue[0].kind == first.kind and fold(
            group.record, queue[0].record, describe):
        w = queue.popleft()
        group.merged.append((w.event, w.no_change))
        group.originals[w.event.index] = w.record
    return group
