"""An Apply whose events arrive in chunks (the ApplyStream RPC), answered as results are known.

Two ways, one semantics (Apply's):
- Streamed upserts: an upsert on an external id (Salesforce's own upsert, the action otherwise plain: no
  newest_event_wins, no write options, no dry run, no idempotency ledger) once the stream has brought at
  least STREAM_MIN_EVENTS events, through a store that streams (Salesforce: Bulk API 2.0 jobs built and
  uploaded as the chunks arrive). Events are prepared chunk by chunk; per event only its position and id
  are kept (a compact ledger) until its outcome comes back. Events of one record go to successive jobs
  (each written after the last), never folded into one write as Apply folds them.
- Otherwise every chunk is one Apply, in order (the chunk's own calls: the host sizes its chunks).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING

from core.execution import halted, upsert_result
from core.model import ApiUsage, ApplyReport, Connection, Diagnostic, Event, EventResult, Operation
from core.outcomes import failure
from core.ports import BackendError, Record, RecordStore, StreamingStore, StreamRow, WriteOutcome
from core.preparation import Prepared
from core.salesforce_answers import read
from core.service import has_errors, reported, store_report
from core.steps import StepClock

if TYPE_CHECKING:
    from core.model import Action
    from core.service import ApplyService, _Batch

# Fewer events than this in the whole stream: Apply chunk by chunk (Salesforce's guidance: Bulk from 2,000).
STREAM_MIN_EVENTS = 2000
RESULTS_PER_PART = 1000

Positioned = tuple[int, EventResult]


@dataclass(frozen=True)
class StreamPart:
    """Results with their events' positions in the stream; the last part carries the report instead (its
    results empty: API calls, usage, diagnostics, rotated refresh token of the whole call)."""

    results: tuple[Positioned, ...] = ()
    report: ApplyReport | None = None


class _Ids:
    """Per streamed event, its position and id, compactly (two int64 arrays and the ids' UTF-8 bytes)."""

    def __init__(self) -> None:
        self._positions = array("q")
        self._ends = array("q")
        self._text = bytearray()

    def add(self, position: int, event_id: str) -> int:
        self._positions.append(position)
        self._text += event_id.encode()
        self._ends.append(len(self._text))
        return len(self._positions) - 1

    def get(self, tag: int) -> tuple[int, str]:
        start = self._ends[tag - 1] if tag else 0
        return self._positions[tag], self._text[start:self._ends[tag]].decode()


class _Totals:
    """The report of a call made of several Applies: their calls summed, the latest usage and token."""

    def __init__(self) -> None:
        self.calls = self.describes = 0
        self.usage: ApiUsage | None = None
        self.token = ""
        self.diagnostics: tuple[Diagnostic, ...] | None = None

    def add(self, report: ApplyReport) -> None:
        self.calls += report.api_calls
        self.describes += report.describe_calls
        self.usage = report.api_usage or self.usage
        self.token = report.refresh_token or self.token
        if self.diagnostics is None:  # the same action each time: the same diagnostics
            self.diagnostics = report.diagnostics

    def report(self) -> ApplyReport:
        return ApplyReport((), self.calls, self.usage, self.diagnostics or (), self.token, self.describes)


def _parts(results: Iterator[Positioned]) -> Iterator[StreamPart]:
    part: list[Positioned] = []
    for r in results:
        part.append(r)
        if len(part) >= RESULTS_PER_PART:
            yield StreamPart(tuple(part))
            part = []
    if part:
        yield StreamPart(tuple(part))


def apply_stream(service: ApplyService, connection: Connection, action: Action, chunks: Iterable[Sequence[Event]],
                 dry_run: bool, deadline: float | None, stop: Callable[[], bool] | None,
                 clock: StepClock) -> Iterator[StreamPart]:
    source = iter(chunks)
    head: list[Sequence[Event]] = []
    count = 0
    while count < STREAM_MIN_EVENTS and (chunk := next(source, None)) is not None:
        head.append(chunk)
        count += len(chunk)
    totals = _Totals()
    chunks = chain(head, source)
    if count >= STREAM_MIN_EVENTS and not dry_run:
        upserts = _StreamedUpserts.plan(service, connection, action, deadline, stop, clock, totals, chunks)
        if upserts is not None:
            yield from upserts
            return
    yield from _per_chunk(service, connection, action, chunks, dry_run, deadline, stop, clock, totals)


def _per_chunk(service: ApplyService, connection: Connection, action: Action, chunks: Iterator[Sequence[Event]],
               dry_run: bool, deadline: float | None, stop: Callable[[], bool] | None, clock: StepClock,
               totals: _Totals) -> Iterator[StreamPart]:
    offset = 0
    for chunk in chunks:
        if chunk:
            with clock.step("apply"):
                report = service.apply(connection, action, chunk, dry_run, deadline, stop)
            totals.add(report)
            yield from _parts(iter([(offset + i, r) for i, r in enumerate(report.results)]))
        offset += len(chunk)
    yield StreamPart(report=totals.report())


class _StreamedUpserts:
    """Upserts on an external id streamed to the store; per event in flight only its position and id."""

    def __init__(self, store: RecordStore, batch: _Batch, diagnostics: tuple[Diagnostic, ...],
                 deadline: float | None, stop: Callable[[], bool] | None, clock: StepClock):
        self._store, self._batch = store, batch
        self._diagnostics, self._deadline, self._stop, self._clock = diagnostics, deadline, stop, clock
        self._ids = _Ids()
        # Where each field's value comes from (the union over the events: mappings are the action's), so a
        # refused row names the mapping to change, as Apply's results do.
        self._fields = Prepared(0, "", describe=batch.describe)
        self._early: list[Positioned] = []  # events answered before any write (invalid, or out of time)

    @classmethod
    def plan(cls, service: ApplyService, connection: Connection, action: Action, deadline: float | None,
             stop: Callable[[], bool] | None, clock: StepClock, totals: _Totals,
             chunks: Iterator[Sequence[Event]]) -> Iterator[StreamPart] | None:
        """The parts of streamed upserts when the action and the store allow them (else None, `chunks`
        untouched: chunk by chunk). The checks are Apply's own; a store opened here counts in `totals`."""
        if (action.operation is not Operation.UPSERT or action.newest_event_wins or service.keeps_ledger
                or action.duplicate_rule is not None or action.assignment_rule):
            return None
        static = service.static_problems(action)
        if has_errors(static):
            return None
        store = None
        try:
            store = service.open_store(connection, deadline, stop)
            describe, record_type, problems = service.checked(store, action, static)
        except BackendError:
            describe = None
        if store is None:
            return None
        if describe is not None and not has_errors(problems) and isinstance(store, StreamingStore):
            batch = service.batch(store, connection, action, describe, False, deadline, record_type, stop)
            if batch.native_field:
                upserts = cls(store, batch, reported(problems), deadline, stop, clock)
                outcomes = store.upsert_stream(action.object_name, batch.native_field, upserts._rows(chunks), clock)
                if outcomes is not None:
                    return upserts._parts(outcomes)
        totals.add(store_report((), store, ()))
        return None

    def _parts(self, outcomes: Iterator[tuple[int, WriteOutcome, Record]]) -> Iterator[StreamPart]:
        yield from _parts(self._results(outcomes))
        yield StreamPart(report=store_report((), self._store, self._diagnostics))

    def _results(self, outcomes: Iterator[tuple[int, WriteOutcome, Record]]) -> Iterator[Positioned]:
        object_name, key = self._batch.describe.name, self._batch.native_field
        for tag, outcome, echo in outcomes:
            position, event_id = self._ids.get(tag)
            yield position, upsert_result(event_id, read(outcome, "upsert", object_name, key),
                                          partial(self._fields.explain, record=echo))
            if self._early:
                yield from self._take_early()
        yield from self._take_early()

    def _take_early(self) -> list[Positioned]:
        early, self._early = self._early, []
        return early

    def _rows(self, chunks: Iterator[Sequence[Event]]) -> Iterator[StreamRow | None]:
        offset = 0
        for chunk in chunks:
            reason = halted(self._deadline, self._stop)
            if reason is not None:
                self._early.extend((offset + i, failure(e.id, reason)) for i, e in enumerate(chunk))
            else:
                with self._clock.step("prepare"):
                    prepared = self._batch.prepare(chunk)
                    failed, self._batch.results = self._batch.results, {}
                    self._early.extend((offset + i, r) for i, r in failed.items())
                    rows = [StreamRow(self._ids.add(offset + p.index, p.event_id), self._batch.native_record(p))
                            for p in prepared]
                    for p in prepared:
                        self._fields.field_paths.update(p.field_paths)
                yield from rows
            offset += len(chunk)
