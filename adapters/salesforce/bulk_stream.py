"""Bulk API 2.0 upserts of a stream of records never held whole (ApplyStream).

Each job's CSV is built row by row while it is uploaded (one chunked PUT, at most `max_upload_bytes`), and
its result CSVs are read row by row (spooled to a temporary file as they download). Per row only a compact
ledger is kept: the caller's tag (an array of int64) and the hash of the row's key, which finds the row
again in the results (the key column is uploaded first; result rows echo it as stored, compared by field
type as bulk_match does).

A job ends where the stream says so (JOB_BREAK), at its size limit, before a row whose key the job already
holds (Salesforce does not order two rows of one record within a job), or before a row with a column the
job's header lacks (the header is the first row's columns); the next row opens the next job, which is
uploaded only once the previous one ended, so a record's rows are written in stream order. Rows holding
the literal text #N/A (a CSV cannot say it) go through collections after the job.
"""

from __future__ import annotations

import io
import tempfile
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from adapters.salesforce.bulk import BulkJob, BulkSettings, Item, bulk_row, holds_hash_na, unknown
from adapters.salesforce.bulk_csv import ResultRow, cell, header_line, iter_results, row_line
from adapters.salesforce.bulk_match import column_kind, key_meaning
from adapters.salesforce.transport import Session, StreamedBody
from core import outcomes
from core.codes import Code
from core.describe import ObjectDescribe
from core.model import ResultError
from core.ports import JOB_BREAK, BackendError, Record, StreamRow, WriteOutcome
from core.steps import StepClock
from core.write_paths import BULK_JOB_CALLS

_END = object()
_NOTHING: Record = {}
Answered = tuple[int, WriteOutcome, Record]  # a row's tag, its outcome, and its echo when refused
_PIECE_BYTES = 1 << 18  # the upload is handed to the connection in pieces of about this size
_ASIDE_MAX = 2000  # #N/A rows written through collections once this many wait
SPOOL_BYTES = 1 << 23  # a result CSV is kept in memory up to this size, on disk beyond


class _Rows:
    """The caller's rows, with room to put one back (the row that opens the next job)."""

    def __init__(self, rows: Iterator[StreamRow | None]):
        self._rows = rows
        self._back: list[Any] = []

    def next(self) -> Any:
        return self._back.pop() if self._back else next(self._rows, _END)

    def put_back(self, row: Any) -> None:
        self._back.append(row)


class _Ledger:
    """The rows of one job: each row's tag in upload order, and its key's hash -> the row."""

    def __init__(self, header: list[str], key_kind: str):
        self.header = header
        self._positions = {h.lower(): i for i, h in enumerate(header)}
        self._key_kind = key_kind
        self.tags = array("q")
        self._rows: dict[int, int] = {}
        self.size = len(header_line(header))

    def key(self, text: str) -> int:
        return hash(key_meaning(self._key_kind, text))

    def cells(self, record: Mapping[str, Any]) -> list[str] | None:
        """The record's cells in the job's columns; None when it has a column the job lacks."""
        cells = [""] * len(self.header)
        for name, value in record.items():
            i = self._positions.get(name.lower())
            if i is None:
                return None
            cells[i] = cell(value)
        return cells

    def holds(self, key: int) -> bool:
        return key in self._rows

    def add(self, tag: int, key: int, line: bytes) -> None:
        self._rows[key] = len(self.tags)
        self.tags.append(tag)
        self.size += len(line)

    def find(self, key_text: str) -> int | None:
        return self._rows.get(self.key(key_text))


class _StreamedJob(BulkJob):
    """One job of the stream: BulkJob's life (create, close, poll, abort), a streamed upload, results
    tied back through the ledger as they are read."""

    def upload(self, body: StreamedBody) -> None:
        self._on_job("PUT", "/batches", body, idempotent=False, content_type="text/csv")

    def results(self, info: dict[str, Any], ledger: _Ledger) -> Iterator[tuple[int, Item, Record]]:
        count = len(ledger.tags)
        state, kinds = self.result_kinds(info, count)
        if kinds is None:
            why = f"Bulk API job {self.job_id} was still {state} when sfdest stopped waiting"
            yield from ((tag, unknown(why), _NOTHING) for tag in ledger.tags)
            return
        answered = bytearray(count)
        for pass_ in (True, False):  # skipped downloads are fetched if some row is still unaccounted for
            for kind in [k for k, wanted in kinds.items() if wanted is pass_]:
                if not pass_ and 0 not in answered:
                    break
                for row in self._rows_of(kind, ledger.header):
                    n = ledger.find(row.cells[0])
                    if n is not None and not answered[n]:
                        answered[n] = 1
                        echo = dict(zip(ledger.header, row.cells, strict=True)) if kind == "failedResults" else {}
                        yield ledger.tags[n], self._item(row, state, info), echo
        why = f"Bulk API job {self.job_id} ended {state} but its results do not mention this record"
        yield from ((tag, unknown(why), _NOTHING) for n, tag in enumerate(ledger.tags) if not answered[n])

    def _rows_of(self, kind: str, header: Sequence[str]) -> Iterator[ResultRow]:
        """One result CSV's rows, read from a spool (on disk past SPOOL_BYTES) as they are tied back."""
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            try:
                self._on_job("GET", f"/{kind}/", accept="text/csv", sink=spool)
            except BackendError:
                return
            spool.seek(0)
            lines = io.TextIOWrapper(spool, encoding="utf-8", errors="replace", newline="")
            try:
                yield from iter_results(lines, header, kind)
            finally:
                lines.detach()


class BulkStream:
    """Upserts of one stream of rows, job after job; `run` yields (tag, outcome) for every row."""

    def __init__(self, session: Session, settings: BulkSettings, object_name: str, external_id_field: str,
                 describe: ObjectDescribe | None, clock: StepClock, outcome_of: Callable[[Item], WriteOutcome],
                 write_aside: Callable[[list[Mapping[str, Any]]], list[WriteOutcome]],
                 closing: Callable[[int], None] = lambda records: None):
        """`closing(records)`: a job of `records` rows is about to be closed (processed, so charged to the org's
        DailyBulkApiBatches)."""
        self._session, self._settings, self._describe, self._clock = session, settings, describe, clock
        self._closing = closing
        self._object, self._external = object_name, external_id_field
        self._outcome_of, self._write_aside = outcome_of, write_aside
        self._ready: list[Answered] = []  # rows answered without a job
        self._aside: list[StreamRow] = []

    def run(self, rows: Iterator[StreamRow | None]) -> Iterator[Answered]:
        source = _Rows(rows)
        while True:
            row = self._pull(source)
            if isinstance(row, StreamRow):
                yield from self._job(source, row)
            yield from self._drain()
            if row is _END:
                return

    def _pull(self, source: _Rows) -> Any:
        """The next row a CSV can carry, JOB_BREAK or _END; rows holding #N/A are set aside."""
        while True:
            row = source.next()
            if not isinstance(row, StreamRow) or not holds_hash_na(row.record):
                return row
            self._aside.append(row)
            if len(self._aside) >= _ASIDE_MAX:
                return JOB_BREAK  # ends the job being uploaded: the aside rows go next

    def _drain(self) -> Iterator[Answered]:
        """Rows answered without a job, and the rows set aside (written now, through collections)."""
        ready, self._ready = self._ready, []
        yield from ready
        if self._aside:
            aside, self._aside = self._aside, []
            with self._clock.step("upload"):
                outcomes = self._write_aside([r.record for r in aside])
            yield from ((r.tag, o, r.record) for r, o in zip(aside, outcomes, strict=True))

    def _job(self, source: _Rows, first: StreamRow) -> Iterator[Answered]:
        record = bulk_row(first.record)
        key = next((k for k in record if k.lower() == self._external.lower()), self._external)
        ledger = _Ledger([key, *(k for k in record if k != key)], column_kind(self._describe, self._external))
        job = _StreamedJob(self._session, self._settings, self._object, "upsert", self._external, self._describe)
        with self._session.budget.prepaid(BULK_JOB_CALLS) as refusal:
            error = refusal or self._created(job)
            if error is not None:
                yield from self._refused(source, first, error)
                return
            failure = self._uploaded(job, source, first, ledger)
            if failure is not None:
                yield from ((tag, WriteOutcome(False, error=failure), _NOTHING) for tag in ledger.tags)
                return
            self._closing(len(ledger.tags))
            with self._clock.step("poll"):
                info = job.wait_closed(len(ledger.tags))
            outcomes = self._clock.timed("results", job.results(info, ledger))
            yield from ((tag, self._outcome_of(item), echo) for tag, item, echo in outcomes)

    def _created(self, job: _StreamedJob) -> ResultError | None:
        try:
            with self._clock.step("upload"):
                job.create()
        except BackendError as exc:
            return exc.error
        return None

    def _uploaded(self, job: _StreamedJob, source: _Rows, first: StreamRow, ledger: _Ledger) -> ResultError | None:
        """Upload the job's rows as they are pulled; the error that failed every row, or None."""
        try:
            with self._clock.step("upload"):
                job.upload(StreamedBody(self._csv(source, first, ledger)))
        except BackendError as exc:
            job.abort()  # never closed, so never processed: nothing was written
            return job.upload_failure(exc.error)
        except BaseException:
            job.abort()  # the stream failed (a malformed message, the caller gone): nothing is written
            raise
        return None

    def _refused(self, source: _Rows, first: StreamRow, error: ResultError) -> Iterator[Answered]:
        """No job could be created: this row and every later one fail with `error` (no more calls)."""
        failed = WriteOutcome(False, error=error)
        yield first.tag, failed, _NOTHING
        while (row := source.next()) is not _END:
            if isinstance(row, StreamRow):
                yield row.tag, failed, _NOTHING

    def _csv(self, source: _Rows, first: StreamRow, ledger: _Ledger) -> Iterator[bytes]:
        piece, size = [header_line(ledger.header)], 0
        row: Any = first
        while True:
            with self._clock.step("csv"):
                line = self._line(row, ledger)
            if line is None:
                source.put_back(row)
                break
            piece.append(line)
            size += len(line)
            if size >= _PIECE_BYTES:
                yield b"".join(piece)
                piece, size = [], 0
            row = self._pull(source)
            if not isinstance(row, StreamRow):  # JOB_BREAK ends the job; _END is left for run() to see
                if row is _END:
                    source.put_back(row)
                break
        if piece:
            yield b"".join(piece)

    def _line(self, row: StreamRow, ledger: _Ledger) -> bytes | None:
        """The row's CSV line, added to the ledger; b"" when the row failed at once; None when it belongs to
        the next job."""
        try:
            cells = ledger.cells(bulk_row(row.record))
        except ValueError as exc:  # a value no CSV cell can say (not a finite number)
            refused = WriteOutcome(False, error=outcomes.error(Code.INVALID_FIELD, str(exc)))
            self._ready.append((row.tag, refused, _NOTHING))
            return b""
        if cells is None:
            return None
        key = ledger.key(cells[0])
        line = row_line(cells)
        if ledger.holds(key) or ledger.tags and ledger.size + len(line) > self._settings.max_upload_bytes:
            return None
        ledger.add(row.tag, key, line)
        return line
