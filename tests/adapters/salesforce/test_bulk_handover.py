"""A Bulk API job still running at the call's deadline is left running, its events answered 202 PENDING with the
job id; a retry of the same events picks the job up (on this replica or, through Redis, another), answers from
its results and uploads nothing again; once delivered, a further retry answers from the recorded results."""

from __future__ import annotations

import time
from collections import Counter

import fakeredis

from adapters.coordination.local import LocalBulkJobs, LocalKeyLeases
from adapters.coordination.redis_bulk import RedisBulkJobs
from adapters.coordination.redis_events import RedisEventLedger
from core.idempotency import event_key
from core.model import Outcome
from core.service import ApplyService
from tests.adapters.salesforce.harness import harness
from tests.builders import SUB, subscription_upsert, track
from tools.emulator.latency import LatencyModel

EVENTS = 1000
# The job takes EVENTS / RATE = 4 s after its upload; the first call's deadline comes well before that.
RATE, FIRST_DEADLINE = 250, 3.5
STATE_KEY = "handover-test-state-key-0123456789abcdef"


def events(run: str) -> list:
    return [track(f"{run}-{i}", sub_id=f"{run}-S-{i}", plan="gold") for i in range(EVENTS)]


def slow_bulk(emulator) -> None:
    emulator.latency = LatencyModel(base_ms=0, write_record_ms=0, query_record_ms=0, bulk_records_per_second=RATE)


def test_a_deadline_leaves_the_job_running_and_the_retry_picks_up_its_results(emulator):
    slow_bulk(emulator)
    jobs = LocalBulkJobs()
    with harness(emulator, bulk_threshold=500, bulk_jobs=jobs, bulk_lease_seconds=2.0) as h:
        h.warm(SUB)
        service = ApplyService(h.backend, bulk_jobs=jobs)
        batch = events("a")
        first = service.apply(h.connection, subscription_upsert(), batch, deadline=time.monotonic() + FIRST_DEADLINE)
        [job_id] = emulator.bulk.jobs
        still = emulator.bulk.jobs[job_id].state
        retry = service.apply(h.connection, subscription_upsert(), batch)
    assert {(r.status, r.outcome, r.retryable, r.bulk_job_id) for r in first.results} == {
        (202, Outcome.PENDING, True, job_id)}
    assert still in ("UploadComplete", "InProgress")  # never aborted
    assert Counter((r.status, r.outcome) for r in retry.results) == {(201, Outcome.CREATED): EVENTS}
    assert len({r.record_id for r in retry.results}) == EVENTS
    assert emulator.calls["bulk_create"] == 1 and emulator.bulk.rows_uploaded == EVENTS
    assert emulator.bulk.rows_uploaded_twice == 0
    keys = [event_key(emulator.base_url, subscription_upsert(), e.id) for e in batch]
    assert jobs.find(keys) == {}  # delivered: forgotten


def test_another_replica_picks_the_job_up_once_its_owner_lets_go_and_a_further_retry_costs_no_call(emulator):
    slow_bulk(emulator)
    client = fakeredis.FakeRedis()

    def replica(h):  # what every replica shares: Redis (idempotency ledger, the register of Bulk jobs)
        return ApplyService(h.backend, leases=LocalKeyLeases(), ledger=RedisEventLedger(client),
                            bulk_jobs=RedisBulkJobs(client, STATE_KEY))

    with harness(emulator, bulk_threshold=500, bulk_jobs=RedisBulkJobs(client, STATE_KEY)) as a, \
            harness(emulator, bulk_threshold=500, bulk_jobs=RedisBulkJobs(client, STATE_KEY)) as b:
        a.warm(SUB)
        batch = events("b")
        first = replica(a).apply(a.connection, subscription_upsert(), batch,
                                 deadline=time.monotonic() + FIRST_DEADLINE)
        [job_id] = emulator.bulk.jobs
        job_key = a.backend.open(a.connection)._tracker.key(job_id)
        registered = RedisBulkJobs(client, STATE_KEY)
        assert registered.own(job_key, "a-live-owner", 60)  # a replica still polling it
        blocked = replica(b).apply(b.connection, subscription_upsert(), batch,
                                   deadline=time.monotonic() + FIRST_DEADLINE)
        registered.disown(job_key, "a-live-owner")  # it died, or its lease ran out
        retry = replica(b).apply(b.connection, subscription_upsert(), batch)
        calls = emulator.api_calls
        again = replica(a).apply(a.connection, subscription_upsert(), batch)
    assert {r.outcome for r in first.results} == {r.outcome for r in blocked.results} == {Outcome.PENDING}
    assert Counter(r.status for r in retry.results) == {201: EVENTS}
    assert [(r.status, r.record_id) for r in again.results] == [(r.status, r.record_id) for r in retry.results]
    assert again.api_calls == 0 and emulator.api_calls == calls
    assert emulator.calls["bulk_create"] == 1 and emulator.bulk.rows_uploaded_twice == 0
