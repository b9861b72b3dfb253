"""A Bulk API job still running at the call's deadline is left running, its events answered 202 PENDING with the
job id; a retry of the same events picks the job up (on this replica or, through the real Redis, another),
answers from its results and uploads nothing again; once delivered, a further retry answers from the recorded
results."""

from __future__ import annotations

import time
import uuid
from collections import Counter

from adapters.coordination.local import LocalBulkJobs, LocalKeyLeases
from adapters.coordination.redis_bulk import RedisBulkJobs
from adapters.coordination.redis_events import RedisEventLedger
from adapters.salesforce.bulk_csv import build_table, render
from adapters.salesforce.bulk_handover import BulkTracker, JobPlan
from core.idempotency import event_key
from core.model import Outcome
from core.service import ApplyService
from tests.adapters.salesforce.harness import harness
from tests.builders import SUB, subscription_upsert, track
from tools.emulator.latency import LatencyModel

EVENTS = 1000
# The job takes EVENTS / RATE = 8 s after its upload; the first call's deadline comes well before that (and leaves
# time to upload: the job is only used when more than BulkSettings.reserve_seconds remain).
RATE, FIRST_DEADLINE = 125, 5.0
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


def test_another_replica_picks_the_job_up_once_its_owner_lets_go_and_a_further_retry_costs_no_call(
        emulator, redis_server):
    slow_bulk(emulator)
    client = redis_server.client()

    def replica(h):  # what every replica shares: Redis (idempotency ledger, the register of Bulk jobs)
        return ApplyService(h.backend, leases=LocalKeyLeases(), ledger=RedisEventLedger(client),
                            bulk_jobs=RedisBulkJobs(client, STATE_KEY))

    with harness(emulator, bulk_threshold=500, bulk_jobs=RedisBulkJobs(client, STATE_KEY)) as a, \
            harness(emulator, bulk_threshold=500, bulk_jobs=RedisBulkJobs(client, STATE_KEY)) as b:
        a.warm(SUB)
        batch = events(uuid.uuid4().hex[:8])
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


def test_a_job_its_replica_never_closed_is_aborted_by_the_retry_and_its_events_written_by_the_next(emulator):
    import httpx

    jobs = LocalBulkJobs()
    batch = [track(f"c-{i}", sub_id=f"c-S-{i}", plan="gold") for i in range(3)]
    records = [{"External_Id__c": f"c-S-{i}", "Plan__c": "gold"} for i in range(3)]
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {emulator.issue_token()}"}) as api:
        job = api.post("/services/data/v62.0/jobs/ingest", json={
            "object": SUB, "operation": "upsert", "externalIdFieldName": "External_Id__c", "contentType": "CSV",
            "lineEnding": "LF"}).json()
        api.put(f"/services/data/v62.0/jobs/ingest/{job['id']}/batches", headers={"Content-Type": "text/csv"},
                content=render_csv(records))  # the replica died before closing it
    tags = tuple((event_key(emulator.base_url, subscription_upsert(), e.id),) for e in batch)
    # registered by the replica that died: its lease on the job runs out a second later
    BulkTracker(jobs, emulator.base_url, lease_seconds=1.0).register(JobPlan(job["id"], SUB, "upsert", "External_Id__c",
                                                          build_table(records, "External_Id__c"), tags))
    with harness(emulator, bulk_jobs=jobs) as h:
        service = ApplyService(h.backend, bulk_jobs=jobs)
        retry = service.apply(h.connection, subscription_upsert(), batch)
        state = emulator.bulk.jobs[job["id"]].state
        written = len(emulator.org.records(SUB))
        again = service.apply(h.connection, subscription_upsert(), batch)
    assert [(r.status, r.retryable) for r in retry.results] == [(500, True)] * 3
    assert "never closed" in retry.results[0].error.message
    assert (state, written) == ("Aborted", 0)  # nothing of it was processed
    assert [r.status for r in again.results] == [201] * 3 and len(emulator.org.records(SUB)) == 3


def render_csv(records: list[dict[str, str]]) -> bytes:
    table = build_table(records, "External_Id__c")
    return b"".join(render(table.header, table.rows, 10**6))
