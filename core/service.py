"""The use cases: Apply a batch of events with one action, and Validate an action."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from core import outcomes
from core.codes import Code
from core.coercion import match_key
from core.coordination import BulkJobs, CoordinationUnavailable, EventLedger, KeyLeases, holding, record_key
from core.describe import FieldDescribe, ObjectDescribe
from core.execution import Write, halted, run_keyed_rounds
from core.handover import PickedUp, pick_up
from core.idempotency import EventClaims, event_key
from core.merges import (
    follow_merges,
    id_values,
    lookup_following_merges,
    lookup_with_masters,
    merged_delete_error,
    turn_to_survivors,
)
from core.model import (
    Action,
    ApplyReport,
    Connection,
    ConvertedLeadPolicy,
    Diagnostic,
    Event,
    EventResult,
    MatcherOperator,
    Operation,
    Severity,
    ValidationReport,
)
from core.ordering import STAMP_TTL_SECONDS, NewestEvents, newest_first
from core.outcomes import failure
from core.paths import ACTION, CONNECTION, Path
from core.person_accounts import exempt_from_required
from core.planning import build_lookup, fetched_pool
from core.policies import policy_attributes
from core.ports import BackendError, Lookup, Record, RecordStore, StoreFactory, WriteOptions
from core.preparation import Prepared, missing_required, picklist_problem, prepare
from core.presets import effective_mappings
from core.record_types import RecordTypeInfo
from core.sequencing import Groups, Sequencer
from core.steps import StepClock
from core.validation import (
    count_problems,
    native_upsert_key,
    record_type_problem,
    validate_against_describe,
    validate_parent_keys,
    validate_static,
)

if TYPE_CHECKING:
    from core.streaming import StreamPart

_OBJECT_MISSING_CODES = (Code.NOT_FOUND, Code.INVALID_TYPE)
# A Lead lookup reads these too: a converted Lead cannot be updated, and its Contact is where it went.
CONVERSION_FIELDS = ("IsConverted", "ConvertedContactId")
# An Apply lists at most this many action diagnostics (each result may point to all of them).
MAX_REPORTED_DIAGNOSTICS = 100


def reported(diagnostics: Sequence[Diagnostic]) -> tuple[Diagnostic, ...]:
    """The action's diagnostics as an Apply reports them, once per call: errors first, at most MAX_REPORTED."""
    ordered = sorted(diagnostics, key=lambda d: d.severity is not Severity.ERROR)
    if len(ordered) <= MAX_REPORTED_DIAGNOSTICS:
        return tuple(ordered)
    kept = ordered[:MAX_REPORTED_DIAGNOSTICS - 1]
    return (*kept, Diagnostic(Severity.INFO, "MORE_DIAGNOSTICS", f"{len(ordered) - len(kept)} more problems are "
                              "not listed here; Validate lists them all", ACTION))


def _action_failures(events: Sequence[Event], diagnostics: Sequence[Diagnostic]) -> tuple[
        tuple[EventResult, ...], tuple[Diagnostic, ...]]:
    """Every event fails with a short INVALID_ACTION pointing to the action's errors, reported once."""
    shown = reported(diagnostics)
    indexes = tuple(i for i, d in enumerate(shown) if d.severity is Severity.ERROR)
    count = sum(d.severity is Severity.ERROR for d in diagnostics)
    failed = replace(failure("", outcomes.error(Code.INVALID_ACTION, count=count)), diagnostic_indexes=indexes)
    return tuple(replace(failed, event_id=e.id) for e in events), shown


class _Describe:
    """Describe the action's object, turning 'no such object' into a diagnostic."""

    @staticmethod
    def record_type(store: RecordStore, action: Action, describe: ObjectDescribe | None
                    ) -> tuple[RecordTypeInfo | None, list[Diagnostic]]:
        """The action's record type, resolved once per org and object (the store caches it like describe)."""
        if describe is None:
            return None, []
        return record_type_problem(action, describe, lambda: store.record_types(action.object_name))

    @staticmethod
    def of(store: RecordStore, object_name: str) -> ObjectDescribe | None:
        try:
            return store.describe(object_name)
        except BackendError as exc:
            if exc.error.code in _OBJECT_MISSING_CODES:
                return None
            raise

    @staticmethod
    def load(store: RecordStore, action: Action) -> tuple[ObjectDescribe | None, list[Diagnostic]]:
        try:
            return store.describe(action.object_name), []
        except BackendError as exc:
            if exc.error.code in _OBJECT_MISSING_CODES:
                return None, [Diagnostic(Severity.ERROR, "OBJECT_NOT_FOUND",
                                         f"the org has no object {action.object_name} (or it is not accessible)",
                                         ACTION.field("object"))]
            raise


def _fill(worked: Sequence[EventResult], answered: Mapping[int, EventResult], count: int) -> tuple[EventResult, ...]:
    """Every event's result: its answer when it had one before any work, else the next of those worked on."""
    it = iter(worked)
    return tuple(answered[i] if i in answered else next(it) for i in range(count))


def _wall_clock(deadline: float | None) -> float:
    """A time.monotonic() deadline as a wall-clock instant (no deadline: a day from now)."""
    now = time.monotonic()
    return time.time() + (deadline - now if deadline is not None else 86_400.0)


class ApplyService:
    """`leases` serialise, across concurrent Applies, the events that may create the same record; without
    them only the events of one Apply are sequenced against each other."""

    def __init__(self, stores: StoreFactory, leases: KeyLeases | None = None, ledger: EventLedger | None = None,
                 idempotency_window_seconds: float = 86_400.0, newest: NewestEvents | None = None,
                 bulk_jobs: BulkJobs | None = None, ordering_retention_seconds: float = STAMP_TTL_SECONDS):
        self._stores = stores
        self._bulk_jobs = bulk_jobs  # running Bulk API jobs: a retry of their events picks them up (core.handover)
        self._newest = newest
        self._retention = ordering_retention_seconds
        self._leases = leases
        self._ledger = ledger if idempotency_window_seconds > 0 else None
        self._window = idempotency_window_seconds

    def apply(self, connection: Connection, action: Action, events: Sequence[Event], dry_run: bool = False,
              deadline: float | None = None, stop: Callable[[], bool] | None = None) -> ApplyReport:
        """`stop()` turns True once the caller is gone or the server is stopping: no request starts after.
        With a ledger, events already applied (same id, same action, within the window) answer their recorded
        result without any work (core.idempotency)."""
        if dry_run or not events or (self._ledger is None and self._bulk_jobs is None):
            return self._apply(connection, action, events, dry_run, deadline, stop)
        claims = None if self._ledger is None else EventClaims(self._ledger, connection.instance_url, action,
                                                               self._window)
        answered: dict[int, EventResult] = {}
        try:
            answered = claims.claim(events, _wall_clock(deadline)) if claims is not None else {}
        except CoordinationUnavailable:
            error = outcomes.error(Code.COORDINATION_UNAVAILABLE, "nothing was written for this event")
            return ApplyReport(tuple(failure(e.id, error) for e in events), api_calls=0)
        picked = PickedUp()
        if self._bulk_jobs is not None:  # events another attempt left in a running Bulk job: from its results
            candidates = sorted(claims.unsettled) if claims is not None else list(range(len(events)))
            picked = pick_up(self._bulk_jobs, self._stores, connection, action, events, candidates, deadline, stop)
            if claims is not None:
                claims.adopt([events[i] for i in picked.results])
            answered.update(picked.results)
        fresh = [e for i, e in enumerate(events) if i not in answered]
        guard = claims.allow if claims is not None else None
        report = self._apply(connection, action, fresh, dry_run, deadline, stop, guard) if fresh else \
            ApplyReport((), 0)
        results = _fill(report.results, answered, len(events))
        try:
            if claims is not None:
                claims.settle(results)
            if self._bulk_jobs is not None and (report.bulk_jobs or picked.jobs):
                self._bulk_jobs.forget([*report.bulk_jobs, *picked.jobs])
        except CoordinationUnavailable:
            pass  # unsettled claims stay: a retry takes over those never sent, picks up their job, or answers UNCERTAIN
        return replace(report, results=results, api_calls=report.api_calls + picked.api_calls)

    def apply_stream(self, connection: Connection, action: Action, chunks: Iterable[Sequence[Event]],
                     dry_run: bool = False, deadline: float | None = None, stop: Callable[[], bool] | None = None,
                     clock: StepClock | None = None) -> Iterator[StreamPart]:
        """Apply events arriving in chunks (core.streaming): parts of results as they are known, each with its
        event's position in the stream, then a last part with the call's report (no results)."""
        from core.streaming import apply_stream  # core.streaming builds on this module

        return apply_stream(self, connection, action, chunks, dry_run, deadline, stop, clock or StepClock())

    def static_problems(self, action: Action) -> list[Diagnostic]:
        """The action's problems found without an org (and what this service cannot do)."""
        static = validate_static(action)
        if action.newest_event_wins and self._newest is None:
            static.append(Diagnostic(Severity.ERROR, "ORDERING_UNAVAILABLE", "this server keeps no event order "
                                     "(newest_event_wins)", ACTION.field("newest_event_wins")))
        return static

    @staticmethod
    def checked(store: RecordStore, action: Action, static: list[Diagnostic]) -> tuple[
            ObjectDescribe | None, RecordTypeInfo | None, list[Diagnostic]]:
        """The action against the org: its object's describe (None: no such object), its record type, and
        every problem (`static` first); raises BackendError when the org cannot say."""
        describe, problems = _Describe.load(store, action)
        problems += validate_against_describe(action, describe) if describe else []
        record_type, found = _Describe.record_type(store, action, describe)
        return describe, record_type, static + problems + found

    def batch(self, store: RecordStore, connection: Connection, action: Action, describe: ObjectDescribe,
              dry_run: bool, deadline: float | None, record_type: RecordTypeInfo | None,
              stop: Callable[[], bool] | None, guarded: bool = False) -> _Batch:
        """`guarded`: the store guards writes by the events' keys (core.write_guard), so writes carry them."""
        return _Batch(store, action, describe, dry_run, deadline, record_type, stop,
                      _Leases(self._leases, connection.instance_url, self._newest,
                              guarded or self._bulk_jobs is not None, self._retention))

    def open_store(self, connection: Connection, deadline: float | None,
                   stop: Callable[[], bool] | None) -> RecordStore:
        return self._stores.open(connection, deadline, stop=stop)

    @property
    def keeps_ledger(self) -> bool:
        return self._ledger is not None

    def _apply(self, connection: Connection, action: Action, events: Sequence[Event], dry_run: bool,
               deadline: float | None, stop: Callable[[], bool] | None,
               guard: Callable[[Sequence[str]], set[str]] | None = None) -> ApplyReport:
        static = self.static_problems(action)
        if has_errors(static):
            results, shown = _action_failures(events, static)
            return ApplyReport(results, api_calls=0, diagnostics=shown)
        store: RecordStore | None = None
        shown = reported(static)
        try:
            store = self._stores.open(connection, deadline, stop=stop)
            if guard is not None:
                store.guard_writes(guard)
            describe, record_type, problems = self.checked(store, action, static)
            if describe is None or has_errors(problems):  # None: OBJECT_NOT_FOUND
                results, shown = _action_failures(events, problems)
            else:
                shown = reported(problems)
                results = self.batch(store, connection, action, describe, dry_run, deadline, record_type,
                                     stop, guard is not None).run(events)
        except BackendError as exc:
            results = tuple(failure(e.id, exc.error) for e in events)
        return store_report(results, store, shown)


def has_errors(diagnostics: Sequence[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


def store_report(results: tuple[EventResult, ...], store: RecordStore | None,
                 diagnostics: tuple[Diagnostic, ...]) -> ApplyReport:
    """An Apply's report: its results, and what the store it used counted."""
    return ApplyReport(results, api_calls=store.api_calls if store else 0,
                       api_usage=store.api_usage if store else None, diagnostics=diagnostics,
                       refresh_token=store.rotated_refresh_token if store else "",
                       describe_calls=store.describe_calls if store else 0,
                       write_path=store.write_path if store else "",
                       bulk_jobs=store.delivered_bulk_jobs if store else ())


@dataclass(frozen=True)
class _Leases:
    port: KeyLeases | None
    org: str  # the connection's instance URL: keys are per org
    newest: NewestEvents | None = None  # newest_event_wins: stamps of the newest event applied per record
    keyed: bool = False  # writes carry their events' keys (a long-running write is registered under them)
    retention_seconds: float = STAMP_TTL_SECONDS  # newest_event_wins: stamps kept this long after their last write


class _Batch:
    """One Apply: prepare events, route them (create, by Id, native upsert, matched), write, report."""

    def __init__(self, store: RecordStore, action: Action, describe: ObjectDescribe, dry_run: bool,
                 deadline: float | None, record_type: RecordTypeInfo | None = None,
                 stop: Callable[[], bool] | None = None, leases: _Leases | None = None):
        if action.operation is None:
            raise ValueError("an action without an operation (validate_static refuses it first)")
        self.store, self.action, self.describe, self.operation = store, action, describe, action.operation
        self.record_type = record_type
        self.dry_run, self.deadline, self.stop = dry_run, deadline, stop
        self.leases = leases
        self.results: dict[int, EventResult] = {}
        self._followed: dict[int, str] = {}  # event index -> the merged-away id its Id matcher gave
        self._merged_deletes: dict[int, tuple[str, str]] = {}  # a delete's event -> (merged-away id, merged into)
        self.native_field = self._native_upsert_field()

    def prepare(self, events: Sequence[Event]) -> list[Prepared]:
        """The events ready to route; those that cannot be are answered in self.results (by index)."""
        mappings = effective_mappings(self.action.preset, self.action.field_mappings)
        prepared = []
        for i, event in enumerate(events):
            p = prepare(i, event, self.action, mappings, self.describe,
                        self._created_picklists() if self.action.operation is Operation.CREATE else None)
            if p.error:
                self.results[i] = p.error
                continue
            if self.native_field:  # the upsert key comes from the matcher, never from a mapping
                p.fields.pop(self.native_field, None)
            if self.leases is not None and self.leases.keyed and not self.dry_run:
                p.key = event_key(self.leases.org, self.action, p.event_id)
            prepared.append(p)
        return prepared

    def native_record(self, p: Prepared) -> dict[str, Any]:
        """What a native upsert sends for the event: the record it would create, and its key."""
        return {**self._create_record(p), self.native_field: p.matchers[self.native_field]}

    def run(self, events: Sequence[Event]) -> tuple[EventResult, ...]:
        if self.action.duplicate_rule is not None or self.action.assignment_rule:
            self.store.set_write_options(WriteOptions(self.action.duplicate_rule, self.action.assignment_rule))
        prepared = self.prepare(events)
        leases = self.leases
        if self.action.newest_event_wins and leases is not None and leases.newest is not None:
            with newest_first(leases.newest, leases.port, events, prepared, self._ordering_keys, self.results,
                              self.dry_run, self.deadline, self.stop, leases.retention_seconds) as newest:
                self._route(newest)
        else:
            self._route(prepared)
        return tuple(self.results[i] for i in range(len(events)))

    def _route(self, prepared: list[Prepared]) -> None:
        op = self.operation
        if op is Operation.CREATE:
            self._creates(prepared)
        elif self.dry_run:
            self._sequence(prepared)
        elif self.native_field:
            self._keyed([Write("upsert", p, f"ext:{match_key(p.matchers[self.native_field], self._native())!r}",
                               self.native_record(p)) for p in prepared], self.native_field)
        elif self._by_id_only():
            writes = [Write(op.value, p, p.matchers["Id"], dict(p.fields), no_change=not p.fields
                            and op is Operation.UPDATE) for p in prepared]
            self._keyed(writes)
            if self.action.follow_merges:
                follow_merges(self.store, self.action.object_name, writes, self.results, self.deadline)
        else:
            self._sequence(prepared)

    # Routing ---------------------------------------------------------------------------------
    def _native_upsert_field(self) -> str:
        """The external-id field when the action can use Salesforce's own upsert."""
        matchers = self.action.record_matchers
        if (self.action.operation is not Operation.UPSERT or len(matchers) != 1 or self.record_type
                or self.action.fallback_matchers or self.action.match_policy is not None
                or self.action.converted_leads is not None):
            return ""
        f = self.describe.field(matchers[0].field)
        return f.name if f is not None and native_upsert_key(f) else ""

    def _native(self) -> FieldDescribe | None:
        return self.describe.field(self.native_field)

    def _by_id_only(self) -> bool:
        """Update or delete whose only matcher is Id: every event addresses its record directly."""
        matchers = self.action.record_matchers
        return (self.action.operation in (Operation.UPDATE, Operation.DELETE) and len(matchers) == 1
                and matchers[0].field.lower() == "id" and not self.action.fallback_matchers
                and self.action.converted_leads is None)

    def _is_direct(self, p: Prepared) -> bool:
        return (self.action.operation in (Operation.UPDATE, Operation.DELETE)
                and self.action.operator is MatcherOperator.OR and p.direct_id is not None)

    # Records -----------------------------------------------------------------------------------
    def _create_record(self, p: Prepared) -> dict[str, Any]:
        """Fields for a record an upsert creates: its mappings plus its (createable) matcher values."""
        record = self._typed(p.fields)
        for values in p.groups:
            for name, value in (values or {}).items():
                f = self.describe.field(name)
                if name != "Id" and f is not None and f.createable and name not in record:
                    record[name] = value
        return record

    def _typed(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A new record's fields, with the action's record type (an update leaves the record's type alone)."""
        return {**fields, "RecordTypeId": self.record_type.id} if self.record_type else dict(fields)

    def _created_picklists(self) -> Mapping[str, tuple[str, ...]] | None:
        return self.record_type.picklists if self.record_type else None

    def _check_create(self, p: Prepared, record: dict[str, Any]) -> EventResult | None:
        """A record about to be created: required values, and picklist values its record type allows (an
        update is checked against the field's values only: the record keeps its own type)."""
        return (missing_required(p, record, self.describe, exempt_from_required(self.action))
                or picklist_problem(p, record, self.describe, self._created_picklists()))

    # Paths -------------------------------------------------------------------------------------
    def _creates(self, prepared: list[Prepared]) -> None:
        writes = []
        for p in prepared:
            problem = self._check_create(p, p.fields)
            if problem is not None:
                self.results[p.index] = problem
            elif self.dry_run:
                self.results[p.index] = outcomes.result(Code.WOULD_CREATE, p.event_id)
            else:
                writes.append(Write("create", p, "", self._typed(p.fields), adopt=self.action.adopt_duplicate))
        self._keyed(writes)

    def _keyed(self, writes: list[Write], external_id_field: str = "") -> None:
        if writes:
            self.results.update(run_keyed_rounds(self.store, self.action.object_name, writes, self.deadline,
                                                 external_id_field, self.stop, self.describe))

    def _matchers_of(self, p: Prepared) -> dict[str, Any]:
        return {"Id": p.direct_id} if self._is_direct(p) else p.matchers

    def _match_pairs(self, p: Prepared) -> list[tuple[str, Any]]:
        return [(n, match_key(v, self.describe.field(n))) for n, v in self._matchers_of(p).items() if v is not None]

    def _ordering_keys(self, p: Prepared) -> tuple[str, set[str]]:
        """newest_event_wins: the event's record key (all its matcher values), and the leases its write needs."""
        org = self.leases.org if self.leases else ""
        creates = self.operation is Operation.UPSERT
        return (record_key(org, self.action.object_name, self._match_pairs(p)),
                self._creation_keys(p, org) if creates else set())
    def _groups_of(self, p: Prepared) -> Groups:
        groups = self.action.matcher_groups
        return [None if values is None else
                (self._matchers_of(p) if g == 0 else values, groups[g].effective_operator)
                for g, values in enumerate(p.groups)]

    def _converted_policy(self) -> ConvertedLeadPolicy | None:
        """Lead actions: the action's converted-lead policy, REPORT unless it says otherwise."""
        if self.describe.name != "Lead" or self.describe.field("IsConverted") is None:
            return None
        if self._by_id_only() and self.operation is Operation.DELETE:
            return None  # without the option a delete by Id goes straight to Salesforce, which deletes it
        return self.action.converted_leads or ConvertedLeadPolicy.REPORT

    def _interaction_fields(self) -> tuple[frozenset[str], tuple[tuple[str, ...], ...]]:
        """Fields matched alone, and the field sets of AND groups (see Sequencer)."""
        single, joined = {"Id"}, []
        for group in self.action.matcher_groups:
            names = tuple(f.name if (f := self.describe.field(m.field)) else m.field for m in group.matchers)
            if group.effective_operator is MatcherOperator.AND and len(names) > 1:
                joined.append(names)
            else:
                single |= set(names)
        return frozenset(single), tuple(joined)

    def _pool_fields(self) -> tuple[str, ...]:
        """What every lookup of a cascade or a policy reads: each group's fields (the pool indexes them all)."""
        names = [(f.name if (f := self.describe.field(m.field)) else m.field)
                 for group in self.action.matcher_groups for m in group.matchers]
        return tuple(dict.fromkeys(["Id", *names]))

    def _fetch_group(self, g: int, events: list[Prepared], also_select: tuple[str, ...]) -> list:
        lookup = build_lookup(self.action.object_name, (entry[0] for p in events if (entry := self._groups_of(p)[g])),
                              self.action.matcher_groups[g].effective_operator, self.describe, also_select)
        return self.store.find(lookup) if lookup is not None else []

    def _creation_keys(self, p: Prepared, org: str) -> set[str]:
        """The lease keys of the records an upsert event may create, for every matcher group it has values for
        (a cascade creates from whichever group it reached, with every group's values: a racing event may find
        that record by any of them): one per matcher value in a group where any one matcher matches (OR),
        else one for all of the group's values."""
        keys = set()
        for g, (group, values) in enumerate(zip(self.action.matcher_groups, p.groups, strict=False)):
            if values is None:
                continue
            pairs = self._match_pairs(p) if g == 0 else [
                (n, match_key(v, self.describe.field(n))) for n, v in values.items() if v is not None]
            if len(pairs) == 1 or group.effective_operator is MatcherOperator.OR:
                keys |= {record_key(org, self.action.object_name, [pair]) for pair in pairs}
            elif pairs:
                keys.add(record_key(org, self.action.object_name, pairs))
        return keys

    def _sequence(self, prepared: list[Prepared]) -> None:
        """Look up, then write in rounds; an upsert holds the lease of every record it may create meanwhile."""
        leases = self.leases
        if (leases is None or leases.port is None or self.dry_run or self.action.operation is not Operation.UPSERT
                or self.action.newest_event_wins):  # newest_first holds the leases already
            return self._looked_up(prepared)
        keys = {p.index: self._creation_keys(p, leases.org) for p in prepared}
        with holding(leases.port, (k for ks in keys.values() for k in ks), self.deadline, self.stop) as held:
            waited = [p for p in prepared if not keys[p.index] <= held]
            reason = halted(self.deadline, self.stop, "looked up") or (
                outcomes.error(Code.COORDINATION_UNAVAILABLE, "nothing was written for this event")
                if held.unavailable else outcomes.error(
                    Code.DEADLINE_EXCEEDED, "another call was writing the record this event may create until the "
                    "deadline; nothing was written for it"))
            for p in waited:
                self.results[p.index] = failure(p.event_id, reason)
            self._looked_up([p for p in prepared if keys[p.index] <= held])

    def _looked_up(self, prepared: list[Prepared]) -> None:
        options = bool(self.action.fallback_matchers or self.action.match_policy)
        converted = self._converted_policy()
        attributes = (*policy_attributes(self.action.match_policy), *(CONVERSION_FIELDS if converted else ()))
        also_select = (*(self._pool_fields() if options else ()), *attributes)
        lookup = build_lookup(self.action.object_name, (self._matchers_of(p) for p in prepared if p.groups[0]),
                              self.action.operator, self.describe, also_select)
        if lookup is None and not self.action.fallback_matchers:
            return
        reason = halted(self.deadline, self.stop, "looked up")
        if reason is not None:
            for p in prepared:
                self.results[p.index] = failure(p.event_id, reason)
            return
        # The lookup and the writes after it are reserved together: a budget that cannot pay for both
        # refuses the events before the lookup is sent.
        kinds = 2 if self.operation is Operation.UPSERT else 1
        with self.store.reserve(self.action.object_name, [lookup] if lookup is not None else [],
                                0 if self.dry_run else len(prepared), kinds) as refusal:
            if refusal is not None:
                for p in prepared:
                    self.results[p.index] = failure(p.event_id, refusal)
                return
            self._sequenced(prepared, lookup, also_select, attributes, options, converted)

    def _sequenced(self, prepared: list[Prepared], lookup: Lookup | None, also_select: tuple[str, ...],
                   attributes: tuple[str, ...], options: bool, converted: ConvertedLeadPolicy | None) -> None:
        try:
            merged = self._merged_ids(prepared)
            if merged:
                records, prepared = self._find_following_merges(lookup, prepared, *merged)
            else:
                records = self.store.find(lookup) if lookup is not None else []
        except BackendError as exc:
            for p in prepared:
                self.results[p.index] = failure(p.event_id, exc.error)
            return
        fields = (self._pool_fields() if options or lookup is None
                  else tuple(f for f in lookup.select if f not in attributes))
        single, joined = self._interaction_fields()
        sequencer = Sequencer(
            store=self.store, object_name=self.action.object_name, operation=self.operation,
            describe=self.describe,
            pool=fetched_pool(records, fields, self.describe, attributes,
                              [self._matchers_of(p) for p in prepared if p.groups[0]], self.action.operator),
            groups_of=self._groups_of, create_record=self._create_record, check_create=self._check_create,
            fetch_group=lambda g, events: self._fetch_group(g, events, also_select),
            fetched={(p.index, 0) for p in prepared}, policy=self.action.match_policy,
            single_fields=single, and_groups=joined, converted=converted,
            contact_describe=lambda: self.store.describe("Contact"),
            name_groups=bool(self.action.fallback_matchers), dry_run=self.dry_run,
            upsert_always_writes=bool(self.native_field), deadline=self.deadline,
            adopt_duplicates=self.action.adopt_duplicate, stop=self.stop)
        self.results.update(sequencer.run(prepared))
        for p in prepared:
            given, result = self._followed.get(p.index), self.results.get(p.index)
            if given and result is not None and result.error is None and not result.matched_ids:
                self.results[p.index] = replace(result, matched_ids=(given,))
            named = self._merged_deletes.get(p.index)
            if named and result is not None and result.error is not None and result.error.code == Code.NOT_FOUND:
                self.results[p.index] = replace(result, record_id=named[0], matched_ids=(named[1],),
                                                error=merged_delete_error(self.action.object_name, *named))

    def _merged_ids(self, prepared: list[Prepared]) -> tuple[set[str], set[str]] | None:
        """With follow_merges, for a batch that looks records up: the ids its Id matchers name, those the first
        lookup reads and those of later groups; None when there is nothing to follow."""
        if not (self.action.follow_merges and self.describe.field("MasterRecordId") is not None) or (
                self.operation is Operation.DELETE and not self._by_id_only()):  # as Validate says
            return None
        pairs = [pair for p in prepared for pair in id_values(p)]
        if not pairs:
            return None
        return {rid for g, rid in pairs if g == 0}, {rid for g, rid in pairs if g > 0}

    def _find_following_merges(self, lookup: Lookup | None, prepared: list[Prepared], read_ids: set[str],
                               other_ids: set[str]) -> tuple[list[Record], list[Prepared]]:
        if self.operation is Operation.DELETE:  # names the record merged into (as a delete by Id does), no more
            records, masters = lookup_with_masters(self.store, self.action.object_name, lookup, read_ids | other_ids)
            self._merged_deletes.update((p.index, (rid, masters[rid])) for p in prepared for _, rid in id_values(p)
                                        if rid in masters)
            return records, prepared
        records, survivors, too_far = lookup_following_merges(self.store, self.action.object_name, lookup,
                                                              read_ids, other_ids)
        failed = turn_to_survivors(self.action.object_name, prepared, survivors, too_far, self._followed)
        self.results.update(failed)
        return records, [p for p in prepared if p.index not in failed]


def _budget_left(store: RecordStore) -> list[Diagnostic]:
    left = store.api_budget_left
    if left is None:
        return []
    return [Diagnostic(Severity.INFO, "API_BUDGET_LEFT", f"sfdest's API budget for this org has {left} call(s) left "
                       "today (SFDEST_API_BUDGET_SHARE, SFDEST_API_BUDGET_RESERVE)", CONNECTION)]


class ValidateService:
    def __init__(self, stores: StoreFactory):
        self._stores = stores

    def validate(self, action: Action, connection: Connection | None = None,
                 sample_events: Sequence[Event] = (), deadline: float | None = None,
                 stop: Callable[[], bool] | None = None) -> ValidationReport:
        diagnostics = list(validate_static(action))
        if count_problems(action):  # an oversized action gets no further (linear) work
            return ValidationReport(tuple(diagnostics))
        describe, record_type = None, None
        parent_keys: dict[str, FieldDescribe] = {}
        if connection is not None and action.object_name and not any(
                d.field_path == ACTION.field("object") for d in diagnostics):
            try:
                store = self._stores.open(connection, deadline, stop=stop)
                describe, problems = _Describe.load(store, action)
                diagnostics += problems
                if describe is not None:
                    diagnostics += validate_against_describe(action, describe)
                    diagnostics += validate_parent_keys(action, describe, lambda name: _Describe.of(store, name),
                                                        parent_keys)
                    record_type, found = _Describe.record_type(store, action, describe)
                    diagnostics += found
                diagnostics += _budget_left(store)
            except BackendError as exc:
                diagnostics.append(Diagnostic(Severity.ERROR, exc.error.code, exc.error.message, CONNECTION))
        mappings = effective_mappings(action.preset, action.field_mappings)
        for i, event in enumerate(sample_events):
            p = prepare(i, event, action, mappings, describe, record_type.picklists
                        if record_type and action.operation is Operation.CREATE else None, parent_keys)
            problem = p.error
            if problem is None and action.operation is Operation.CREATE:
                problem = missing_required(p, p.fields, describe, exempt_from_required(action))
            if problem is not None and problem.error is not None:
                diagnostics.append(Diagnostic(Severity.ERROR, problem.error.code, problem.error.message,
                                              Path.root("sample_events").index(i)))
        return ValidationReport(tuple(diagnostics))

