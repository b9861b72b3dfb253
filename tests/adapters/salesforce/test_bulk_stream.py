"""Streamed Bulk API 2.0 upserts (ApplyStream's path) against a fake org that never keeps the rows: the CSV
goes out in bounded pieces while rows are pulled, and the memory held per row is a compact ledger."""

from __future__ import annotations

import gc
import itertools
import random
import time
import tracemalloc
from collections.abc import Iterator

import httpx

from adapters.salesforce import SalesforceBackend
from core.ports import JOB_BREAK, StreamRow
from core.steps import StepClock
from tests.adapters.salesforce.fakes import DATA, FakeClock, FakeSalesforce, connection, respond

JOBS = f"{DATA}/jobs/ingest"
# Per row at most: the ledger (tag, key hash -> row), about 120 bytes; a held record would be 400 more.
BYTES_PER_ROW = 175
PIECE_LIMIT = 300_000  # the upload's pieces: about 256 KiB each, whatever the number of rows


class StreamingTransport(httpx.BaseTransport):
    """Hands requests to the fake org with their body unread (httpx.MockTransport would read it whole)."""

    def __init__(self, org: FakeSalesforce):
        self.org = org

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.org(request)


class BulkOrg(FakeSalesforce):
    """Jobs whose uploads are counted, never kept: row n of job j has key K-<first row of j + n>, every row
    succeeds (created when its number is odd), results in a shuffled order."""

    def __init__(self) -> None:
        super().__init__(usage_limit=10**9)
        self.jobs: list[tuple[int, int]] = []  # (first row, rows)
        self.pieces: list[int] = []
        self.headers: list[bytes] = []
        self.on("POST", JOBS, self._create)

    def _create(self, request: httpx.Request) -> httpx.Response:
        job = f"750Hs{len(self.jobs):013d}"
        first = sum(rows for _, rows in self.jobs)
        self.jobs.append((first, 0))
        n = len(self.jobs) - 1
        self.on("PUT", f"{JOBS}/{job}/batches", lambda r: self._upload(r, n))
        self.on("PATCH", f"{JOBS}/{job}", respond(200, {"id": job, "state": "UploadComplete"}))
        self.on("GET", f"{JOBS}/{job}", lambda r: respond(200, {"id": job, "state": "JobComplete",
                                                                 "numberRecordsProcessed": self.jobs[n][1],
                                                                 "numberRecordsFailed": 0}))
        self.on("GET", f"{JOBS}/{job}/successfulResults/", lambda r: self._results(n))
        return respond(200, {"id": job, "state": "Open"})

    def _upload(self, request: httpx.Request, n: int) -> httpx.Response:
        lines, head = 0, b""
        for piece in request.stream:  # type: ignore[union-attr]
            self.pieces.append(len(piece))
            if not head:
                head = piece.split(b"\n", 1)[0]
            lines += piece.count(b"\n")
        self.headers.append(head)
        self.jobs[n] = (self.jobs[n][0], lines - 1)
        return httpx.Response(201)

    def _results(self, n: int) -> httpx.Response:
        first, rows = self.jobs[n]

        def body() -> Iterator[bytes]:  # rows in a scrambled order (7919 is prime), produced as they are sent
            yield b'"sf__Id","sf__Created",Ext__c,LastName\n'
            for k in range(rows):
                i = first + k * 7919 % rows
                yield f'"00QHs{i:013d}","{str(i % 2 == 1).lower()}","K-{i}","Name"\n'.encode()

        return httpx.Response(200, content=body(), headers={"Content-Type": "text/csv"})


def store(org: BulkOrg, **settings: int):
    clock = FakeClock()
    backend = SalesforceBackend(transport=StreamingTransport(org), clock=clock, sleep=clock.sleep,
                                rng=random.Random(7), **settings)
    return backend.open(connection())


def rows(n: int, start: int = 0) -> Iterator[StreamRow]:
    return (StreamRow(i, {"Ext__c": f"K-{i}", "LastName": "Name"}) for i in range(start, start + n))


def streamed(n: int) -> tuple[int, int, int]:
    """(rows answered, rows answered created, traced peak bytes) for n rows upserted through one stream."""
    org = BulkOrg()
    s = store(org)
    s.describe("Lead")  # the describe (cached) is not the stream's memory
    gc.collect()
    tracemalloc.start()
    try:
        answered = created = 0
        outcomes = s.upsert_stream("Lead", "Ext__c", rows(n), StepClock())
        assert outcomes is not None
        for tag, outcome, _ in outcomes:
            assert outcome.success and outcome.id == f"00QHs{tag:013d}"
            answered += 1
            created += outcome.created
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert max(org.pieces) <= PIECE_LIMIT and len(org.jobs) == 1
    return answered, created, peak


def test_memory_per_streamed_row_is_a_compact_ledger_not_the_record():
    small, large = 10_000, 40_000
    answered, created, small_peak = streamed(small)
    assert (answered, created) == (small, small // 2)
    answered, created, large_peak = streamed(large)
    assert (answered, created) == (large, large // 2)
    assert large_peak - small_peak <= (large - small) * BYTES_PER_ROW


def test_a_job_ends_at_a_break_or_at_a_new_column_and_each_row_is_answered_once():
    org = BulkOrg()
    s = store(org)
    stream = itertools.chain(rows(5), [JOB_BREAK], rows(5, 5), [StreamRow(10, {"Ext__c": "K-10", "LastName": "N",
                                                                               "Email": "x@y.io"})])
    outcomes = s.upsert_stream("Lead", "Ext__c", stream, StepClock())
    assert outcomes is not None
    answered = sorted(tag for tag, outcome, _ in outcomes if outcome.success)
    assert answered == list(range(11))
    assert [rows_ for _, rows_ in org.jobs] == [5, 5, 1]
    assert org.headers == [b"Ext__c,LastName", b"Ext__c,LastName", b"Ext__c,LastName,Email"]


def test_a_job_ends_at_its_upload_limit_and_the_next_job_takes_the_rest():
    org = BulkOrg()
    outcomes = store(org, bulk_max_upload_bytes=2000).upsert_stream("Lead", "Ext__c", rows(1000), StepClock())
    assert outcomes is not None
    assert sorted(tag for tag, outcome, _ in outcomes if outcome.success) == list(range(1000))
    assert len(org.jobs) >= 7 and sum(n for _, n in org.jobs) == 1000  # about 15 bytes a row
    assert max(org.pieces) <= 2000  # one piece a job here: the header and the rows that fit


def test_streamed_jobs_are_counted_against_the_orgs_daily_bulk_batches():
    """As an Apply's job: one batch per 10,000 rows of each job (a job of 10,001 rows: 2)."""
    org, clock = BulkOrg(), FakeClock()
    backend = SalesforceBackend(transport=StreamingTransport(org), clock=clock, sleep=clock.sleep,
                                rng=random.Random(7))
    s = backend.open(connection())
    instance = connection().instance_url
    backend.bulk_batches.observe(instance, 100, time.time())
    outcomes = s.upsert_stream("Lead", "Ext__c", itertools.chain(rows(5), [JOB_BREAK], rows(10_001, 5)), StepClock())
    assert outcomes is not None
    assert sum(outcome.success for _, outcome, _ in outcomes) == 10_006
    assert [n for _, n in org.jobs] == [5, 10_001]
    assert backend.bulk_batches.left(instance) == 100 - 1 - 2
    assert s.write_path == "bulk"
