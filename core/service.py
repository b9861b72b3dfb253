"""The use cases: Apply a batch of events with one action, and Validate an action."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from core.coercion import match_key
from core.describe import ObjectDescribe
from core.execution import RoundRunner
from core.model import (
    Action,
    ApplyReport,
    Connection,
    Diagnostic,
    Event,
    EventResult,
    MatcherOperator,
    Operation,
    Outcome,
    ResultError,
    Severity,
    ValidationReport,
)
from core.outcomes import failure
from core.planning import Write, assign_rounds, build_lookup, fetched_pool, is_virtual
from core.ports import BackendError, RecordStore, StoreFactory
from core.preparation import Prepared, missing_required, prepare
from core.presets import effective_mappings
from core.validation import validate_against_describe, validate_static

_OBJECT_MISSING_CODES = ("NOT_FOUND", "INVALID_TYPE")
_DRY = {
    "create": (201, Outcome.WOULD_CREATE),
    "update": (200, Outcome.WOULD_UPDATE),
    "delete": (204, Outcome.WOULD_DELETE),
}


def _action_error(diagnostics: Sequence[Diagnostic]) -> ResultError:
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    message = "; ".join(f"{d.field_path}: {d.message}" for d in errors)
    return ResultError("INVALID_ACTION", f"the action is invalid: {message}", tuple(d.field_path for d in errors))


class _Describe:
    """Describe the action's object, turning 'no such object' into a diagnostic."""

    @staticmethod
    def load(store: RecordStore, action: Action) -> tuple[ObjectDescribe | None, list[Diagnostic]]:
        try:
            return store.describe(action.object_name), []
        except BackendError as exc:
            if exc.error.code in _OBJECT_MISSING_CODES:
                return None, [Diagnostic(Severity.ERROR, "OBJECT_NOT_FOUND",
                                         f"the org has no object {action.object_name} (or it is not accessible)",
                                         "action.object")]
            raise


class ApplyService:
    def __init__(self, stores: StoreFactory):
        self._stores = stores

    def apply(self, connection: Connection, action: Action, events: Sequence[Event], dry_run: bool = False,
              deadline: float | None = None) -> ApplyReport:
        static = validate_static(action)
        if any(d.severity is Severity.ERROR for d in static):
            error = _action_error(static)
            return ApplyReport(tuple(failure(e.id, error) for e in events), api_calls=0)
        store: RecordStore | None = None
        try:
            store = self._stores.open(connection, deadline)
            describe, problems = _Describe.load(store, action)
            problems += validate_against_describe(action, describe) if describe else []
            if any(d.severity is Severity.ERROR for d in problems):
                error = _action_error(problems)
                results = tuple(failure(e.id, error) for e in events)
            else:
                results = _Batch(store, action, describe, dry_run, deadline).run(events)
        except BackendError as exc:
            results = tuple(failure(e.id, exc.error) for e in events)
        calls = store.api_calls if store else 0
        return ApplyReport(results, api_calls=calls, api_usage=store.api_usage if store else None)


class _Batch:
    """One Apply: prepare events, route them (direct id, native upsert, lookup), write, report."""

    def __init__(self, store: RecordStore, action: Action, describe: ObjectDescribe, dry_run: bool,
                 deadline: float | None):
        self.store, self.action, self.describe = store, action, describe
        self.dry_run, self.deadline = dry_run, deadline
        self.results: dict[int, EventResult] = {}

    def run(self, events: Sequence[Event]) -> tuple[EventResult, ...]:
        mappings = effective_mappings(self.action.preset, self.action.field_mappings)
        prepared = []
        for i, event in enumerate(events):
            p = prepare(i, event, self.action, mappings, self.describe)
            if p.error:
                self.results[i] = p.error
            else:
                prepared.append(p)
        op = self.action.operation
        if op is Operation.CREATE:
            writes = [w for p in prepared if (w := self._create_write(p, f"new:{p.index}", dict(p.fields)))]
            self._execute(writes)
        elif self._native_upsert_field() and not self.dry_run:
            self._native_upsert(prepared)
        else:
            direct = [] if self.dry_run else [p for p in prepared if self._is_direct(p)]
            direct_indexes = {p.index for p in direct}
            looked_up = [p for p in prepared if p.index not in direct_indexes]
            writes = self._plan_lookups(looked_up) + [
                Write(op.value, p, p.direct_id, dict(p.fields)) for p in direct if not self._no_change(p, p.direct_id)
            ]
            writes.sort(key=lambda w: w.event.index)
            self._execute(writes)
        return tuple(self.results[i] for i in range(len(events)))

    # Routing ---------------------------------------------------------------------------------
    def _is_direct(self, p: Prepared) -> bool:
        return (self.action.operation in (Operation.UPDATE, Operation.DELETE)
                and self.action.operator is MatcherOperator.OR and p.direct_id is not None)

    def _native_upsert_field(self) -> str:
        """The external-id field when the action can use Salesforce's own upsert."""
        matchers = self.action.record_matchers
        if self.action.operation is not Operation.UPSERT or len(matchers) != 1:
            return ""
        f = self.describe.field(matchers[0].field)
        return f.name if f is not None and f.external_id and f.id_lookup else ""

    def _no_change(self, p: Prepared, record_id: str) -> bool:
        if self.action.operation is Operation.DELETE or p.fields:
            return False
        status = 204
        self.results[p.index] = EventResult(p.event_id, status, Outcome.NO_CHANGE, record_id=record_id)
        return True

    # Planning ----------------------------------------------------------------------------------
    def _create_record(self, p: Prepared) -> dict[str, Any]:
        """Fields for a record an upsert creates: its mappings plus its (createable) matcher values."""
        record = dict(p.fields)
        for name, value in p.matchers.items():
            f = self.describe.field(name)
            if name != "Id" and f is not None and f.createable and name not in record:
                record[name] = value
        return record

    def _create_write(self, p: Prepared, target: str, record: dict[str, Any]) -> Write | None:
        problem = missing_required(p, record, self.describe)
        if problem:
            self.results[p.index] = problem
            return None
        return Write("create", p, target, record)

    def _plan_lookups(self, events: list[Prepared]) -> list[Write]:
        lookup = build_lookup(self.action.object_name, events, self.action.operator, self.describe)
        if lookup is None:
            return []
        if self._expired():
            for p in events:
                self.results[p.index] = failure(p.event_id, ResultError(
                    "DEADLINE_EXCEEDED", "the call's deadline passed before this event was looked up"))
            return []
        try:
            records = self.store.find(lookup)
        except BackendError as exc:
            for p in events:
                self.results[p.index] = failure(p.event_id, exc.error)
            return []
        pool = fetched_pool(records, [n for n in lookup.select], self.describe)
        op, writes = self.action.operation, []
        for p in events:
            ids = pool.match(p.matchers, self.action.operator)
            if len(ids) > 1:
                self.results[p.index] = failure(p.event_id, ResultError(
                    "MULTIPLE_MATCHES", f"{len(ids)} {self.action.object_name} records match this event; nothing "
                    "was written (use matchers that identify one record)"), matched_ids=tuple(ids))
            elif len(ids) == 1:
                rid = ids[0]
                if op is Operation.DELETE:
                    writes.append(Write("delete", p, rid))
                    pool.remove(rid)
                elif not self._no_change(p, rid):
                    writes.append(Write("update", p, rid, dict(p.fields)))
                    pool.update(rid, p.fields)
            elif op is Operation.UPSERT:
                record = self._create_record(p)
                w = self._create_write(p, "", record)
                if w is not None:
                    w.target = pool.add_virtual(record)
                    writes.append(w)
            else:
                self.results[p.index] = failure(p.event_id, ResultError(
                    "NOT_FOUND", f"no {self.action.object_name} record matches this event"))
        return writes

    def _native_upsert(self, events: list[Prepared]) -> None:
        field = self._native_upsert_field()
        f = self.describe.field(field)
        writes = []
        for p in events:
            record = self._create_record(p)
            record[field] = p.matchers[field]
            key = match_key(p.matchers[field], f)
            writes.append(Write("upsert", p, f"ext:{key!r}", record))
        assign_rounds(writes)
        self._run(writes, field)

    # Execution ---------------------------------------------------------------------------------
    def _expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _execute(self, writes: list[Write]) -> None:
        assign_rounds(writes)
        if self.dry_run:
            for w in writes:
                status, outcome = _DRY[w.kind]
                rid = "" if w.kind == "create" or is_virtual(w.target) else w.target
                self.results[w.event.index] = EventResult(w.event.event_id, status, outcome, record_id=rid)
            self._resolve_virtual_ids({})
            return
        self._run(writes)

    def _run(self, writes: list[Write], external_id_field: str = "") -> None:
        runner = RoundRunner(self.store, self.action.object_name, self.deadline,
                             recreate=lambda w: self._create_record(w.event))
        runner.run(writes, external_id_field)
        self.results.update(runner.results)
        self._resolve_virtual_ids(runner.real_ids)

    def _resolve_virtual_ids(self, real_ids: dict[str, str]) -> None:
        for index, r in list(self.results.items()):
            if r.matched_ids and any(is_virtual(i) for i in r.matched_ids):
                ids = tuple(real_ids.get(i, i) for i in r.matched_ids if not is_virtual(i) or i in real_ids)
                self.results[index] = EventResult(r.event_id, r.status, r.outcome, r.record_id, ids,
                                                  r.retryable, r.error)
            if is_virtual(r.record_id):
                self.results[index] = EventResult(r.event_id, r.status, r.outcome, real_ids.get(r.record_id, ""),
                                                  r.matched_ids, r.retryable, r.error)


class ValidateService:
    def __init__(self, stores: StoreFactory):
        self._stores = stores

    def validate(self, action: Action, connection: Connection | None = None,
                 sample_events: Sequence[Event] = (), deadline: float | None = None) -> ValidationReport:
        diagnostics = list(validate_static(action))
        describe = None
        if connection is not None and action.object_name and not any(
                d.field_path == "action.object" for d in diagnostics):
            try:
                store = self._stores.open(connection, deadline)
                describe, problems = _Describe.load(store, action)
                diagnostics += problems
                if describe is not None:
                    diagnostics += validate_against_describe(action, describe)
            except BackendError as exc:
                diagnostics.append(Diagnostic(Severity.ERROR, exc.error.code, exc.error.message, "connection"))
        mappings = effective_mappings(action.preset, action.field_mappings)
        for i, event in enumerate(sample_events):
            p = prepare(i, event, action, mappings, describe)
            problem = p.error
            if problem is None and action.operation is Operation.CREATE:
                problem = missing_required(p, p.fields, describe)
            if problem is not None and problem.error is not None:
                diagnostics.append(Diagnostic(Severity.ERROR, problem.error.code, problem.error.message,
                                              f"sample_events[{i}]"))
        return ValidationReport(tuple(diagnostics))

