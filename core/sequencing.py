"""Matched writes in rounds decided against confirmed state: a batch gives what one event at a time gives.

Each round takes, in event order, every event that does not interact with an earlier event still
waiting; interacting events (same candidate record, or a value one writes that another matches on,
or merely resembles: the org's own rules may call them equal) wait for the next round. A round's
writes go out together; only confirmed writes change the candidate pool, so a refused write never
misleads a later event, and an event that depends on a write whose outcome is unknown is not
attempted rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from core.coercion import match_key
from core.describe import ObjectDescribe
from core.execution import Write, halted, merged_results, send_round, success
from core.merging import fold, splits
from core.model import EventResult, MatcherOperator, Operation, Outcome, ResultError
from core.outcomes import failure
from core.planning import CandidatePool, build_lookup
from core.ports import BackendError, RecordStore, WriteOutcome
from core.preparation import Prepared

# Errors after which a write may or may not have happened.
UNCERTAIN = frozenset({"OUTCOME_UNKNOWN", "TIMEOUT", "CONNECTION_ERROR", "UNKNOWN_EXCEPTION"})
PLACEHOLDER = "pending:"  # dry run: a record an earlier event of the batch would create
_WAIT = -1  # owner of a key a waiting event touches
_DRY = {"create": (201, Outcome.WOULD_CREATE), "update": (200, Outcome.WOULD_UPDATE),
        "delete": (204, Outcome.WOULD_DELETE)}


@dataclass
class Sequencer:
    """Plans and runs the events of one update, upsert or delete batch against a candidate pool."""

    store: RecordStore
    object_name: str
    operation: Operation
    operator: MatcherOperator
    describe: ObjectDescribe
    pool: CandidatePool
    matchers_of: Callable[[Prepared], dict[str, Any]]  # the matchers that decide an event's candidates
    create_record: Callable[[Prepared], dict[str, Any]]
    check_create: Callable[[Prepared, dict[str, Any]], EventResult | None]
    dry_run: bool = False
    upsert_always_writes: bool = False  # native upserts send even an empty update: so must the plan
    deadline: float | None = None
    adopt_duplicates: bool = False
    stop: Callable[[], bool] | None = None  # True once the call is cancelled or the server is stopping
    results: dict[int, EventResult] = field(default_factory=dict)
    _tainted: set = field(default_factory=set)
    _cap: dict = field(default_factory=dict)  # the most events a merged write starting with an event may hold

    def _key(self, name: str, value: Any) -> tuple:
        return ("val", name.lower(), match_key(value, self.describe.field(name)))

    def _value_keys(self, name: str, value: Any) -> set:
        # Values that merely resemble may be equal under the org's own rules: they interact too.
        return {self._key(name, value), ("like", name.lower(), self.pool.loose_key(name, value))}

    def _keys(self, matchers: dict[str, Any], candidates: list[str]) -> set:
        return {("rec", c) for c in candidates} | {k for n, v in matchers.items() for k in self._value_keys(n, v)}

    def _written_keys(self, record: dict[str, Any]) -> set:
        return {k for n, v in record.items() if v is not None and self.pool.has_field(n)
                for k in self._value_keys(n, v)}

    def run(self, events: list[Prepared]) -> dict[int, EventResult]:
        pending = events
        while pending:
            reason = halted(self.deadline, self.stop)
            if reason is not None:
                for p in pending:
                    self.results[p.index] = failure(p.event_id, reason)
                break
            writes, pending = self._plan_round(pending)
            pending = sorted(pending + self._execute(writes), key=lambda p: p.index)
        return self.results

    def _plan_round(self, pending: list[Prepared]) -> tuple[list[tuple[Write, set]], list[Prepared]]:
        writes: list[tuple[Write, set]] = []
        waiting: list[Prepared] = []
        owner: dict[Any, int] = {}  # a key some planned write (its index) or a waiting event (WAIT) touches
        for p in pending:
            matchers = self.matchers_of(p)
            operator = MatcherOperator.OR if len(matchers) == 1 else self.operator
            candidates = self.pool.match(matchers, operator)
            keys = self._keys(matchers, candidates)
            if keys & self._tainted:
                self.results[p.index] = failure(p.event_id, ResultError(
                    "DEPENDS_ON_UNCERTAIN_WRITE", "an earlier event of this batch wrote a record this event "
                    "matches, and whether Salesforce applied it is unknown; nothing was written for this event"))
                continue
            touched = keys | self._written_keys(p.fields)  # what it reads, and what it may write
            hit = {owner[k] for k in touched if k in owner}
            if hit:
                g = hit.pop() if len(hit) == 1 else _WAIT
                if g != _WAIT and self._fold(writes[g][0], p, matchers, operator, candidates):
                    writes[g][1].update(touched)
                    owner.update(dict.fromkeys(touched, g))
                else:
                    waiting.append(p)
                    owner.update(dict.fromkeys(touched, _WAIT))
                continue
            write = self._decide(p, candidates)
            if write is not None:
                written = keys | self._written_keys(write.record)
                owner.update(dict.fromkeys(written, len(writes)))
                writes.append((write, written))
        return writes, waiting

    def _fold(self, w: Write, p: Prepared, matchers: dict[str, Any], operator: MatcherOperator,
              candidates: list[str]) -> bool:
        """Fold p into the planned write w when p would, after w, update exactly w's record (core.merging)."""
        if w.kind not in ("create", "update") or w.adopt or self.operation is Operation.DELETE:
            return False  # a create that may adopt a duplicate may end up writing another record
        if len(w.merged) + 1 >= self._cap.get(w.event.index, len(w.merged) + 2):
            return False
        rid = w.target if w.kind == "update" else f"{PLACEHOLDER}{w.event.event_id}"
        if any(c != rid for c in candidates) or not self.pool.would_match(rid, w.record, matchers, operator):
            return False
        if not fold(w.record, p.fields, self.describe):
            return False
        w.merged.append((p, not p.fields and not self.upsert_always_writes))
        return True

    def _decide(self, p: Prepared, candidates: list[str]) -> Write | None:
        if len(candidates) > 1:
            self.results[p.index] = failure(p.event_id, ResultError(
                "MULTIPLE_MATCHES", f"{len(candidates)} {self.object_name} records match this event; nothing was "
                "written (use matchers that identify one record)"), matched_ids=tuple(candidates))
            return None
        if candidates and self.pool.ambiguous(candidates[0]):
            self.results[p.index] = failure(p.event_id, ResultError(
                "MULTIPLE_MATCHES", f"Salesforce's lookup returned {self.object_name} record {candidates[0]} for "
                "this batch, but whether it matches this event or another one of the batch is unclear (Salesforce "
                "compares text by the org user's locale); nothing was written"), matched_ids=tuple(candidates))
            return None
        if candidates:
            rid = candidates[0]
            if self.operation is Operation.DELETE:
                return Write("delete", p, rid)
            if not p.fields and not self.upsert_always_writes:
                self.results[p.index] = EventResult(p.event_id, 204, Outcome.NO_CHANGE, record_id=rid)
                return None
            return Write("update", p, rid, dict(p.fields))
        if self.operation is not Operation.UPSERT:
            self.results[p.index] = failure(p.event_id, ResultError(
                "NOT_FOUND", f"no {self.object_name} record matches this event"))
            return None
        matchers = self.matchers_of(p)
        operator = MatcherOperator.OR if len(matchers) == 1 else self.operator
        if not self.dry_run and self.pool.created_resembling(matchers, operator):
            found = self._look_again(p, matchers)
            if found is None or found:
                return None if found is None else self._decide(p, found)
        record = self.create_record(p)
        problem = self.check_create(p, record)
        if problem is not None:
            self.results[p.index] = problem
            return None
        return Write("create", p, "", record, adopt=self.adopt_duplicates)

    def _look_again(self, p: Prepared, matchers: dict[str, Any]) -> list[str] | None:
        """Ask Salesforce which records match this event now (its own lookup returns only its matches)."""
        lookup = build_lookup(self.object_name, [matchers], self.operator, self.describe)
        try:
            records = self.store.find(lookup) if lookup is not None else []
        except BackendError as exc:
            self.results[p.index] = failure(p.event_id, exc.error)
            return None
        return sorted({self.pool.add(r) for r in records})

    def _execute(self, planned: list[tuple[Write, set]]) -> list[Prepared]:
        """Send a round; the events of merged writes refused for a value, to plan again (split)."""
        if not planned:
            return []
        writes = [w for w, _ in planned]
        outcomes = ([WriteOutcome(True, id=f"{PLACEHOLDER}{w.event.event_id}") if w.kind == "create" else
                     WriteOutcome(True, id=w.target) for w in writes] if self.dry_run
                    else send_round(self.store, self.object_name, writes))
        again: list[Prepared] = []
        for (w, keys), outcome in zip(planned, outcomes, strict=True):
            target = w.target if w.kind != "create" else ""
            if outcome.success:
                self._confirm(w, outcome)
                self.results[w.event.index] = self._dry(w) if self.dry_run else success(w, outcome)
                merged = merged_results(w, outcome, record_id=outcome.id or w.target)
            else:
                error = outcome.error or ResultError("UNKNOWN_EXCEPTION", "Salesforce gave no details")
                if w.merged and splits(error):
                    self._cap[w.event.index] = (len(w.merged) + 1) // 2
                    again += w.events
                    continue
                if error.code in UNCERTAIN:
                    self._tainted |= keys
                self.results[w.event.index] = failure(w.event.event_id, error, outcome.matched_ids, target)
                merged = merged_results(w, outcome, error, target)
            for (p, _), result in zip(w.merged, merged, strict=True):
                self.results[p.index] = _dry_merged(result) if self.dry_run and outcome.success else result
        return again

    def _confirm(self, w: Write, outcome: WriteOutcome) -> None:
        if w.kind == "delete":
            self.pool.remove(w.target)
        elif w.kind == "update":
            self.pool.update(w.target, w.record)
        else:
            self.pool.add({**w.record, "Id": outcome.id}, created=True)

    def _dry(self, w: Write) -> EventResult:
        """A dry run's result; a record an earlier event would create is named `pending:<its event id>`."""
        status, outcome = _DRY[w.kind]
        return EventResult(w.event.event_id, status, outcome, record_id=w.target)


def _dry_merged(result: EventResult) -> EventResult:
    return replace(result, outcome=Outcome.WOULD_UPDATE) if result.outcome is Outcome.UPDATED else result
