"""One `sfdest serve` (coordination in process): a Bulk API job still running at the call's deadline answers its
events 202 OUTCOME_PENDING with bulk_job_id over gRPC; the host's retry of those events picks the job up on the
same replica and answers every event from its results, with nothing uploaded again."""

from __future__ import annotations

import uuid
from collections import Counter

from sfdest.v1 import destination_pb2 as pb

from tests.builders import grant_connection, subscription_upsert_message, track_message
from tests.server.serving import serving_salesforce
from tools.emulator.latency import LatencyModel

EVENTS = 2500  # a Bulk job: the server forces the Bulk path (SFDEST_WRITE_PATH=bulk); auto weighs Bulk from 10,000
# The job takes 10 s after its upload; the first call's deadline (8 s, less sfdest's margin) comes before it ends.
RATE, FIRST_TIMEOUT, RETRY_TIMEOUT = 250, 8.0, 120.0


def test_a_job_running_at_the_deadline_answers_pending_and_the_retry_answers_from_it(emulator_factory):
    emu = emulator_factory(latency=LatencyModel(base_ms=2, write_record_ms=0, query_record_ms=0,
                                                bulk_records_per_second=RATE))
    run = uuid.uuid4().hex[:8]
    request = pb.ApplyRequest(action=subscription_upsert_message(), connection=grant_connection(
        emu, "oauth_refresh_token"), events=[track_message(f"{run}-{n}", f"{run}-S-{n}") for n in range(EVENTS)])
    with serving_salesforce(SFDEST_WRITE_PATH="bulk") as served:
        first = served.stub.Apply(request, timeout=FIRST_TIMEOUT, wait_for_ready=True)
        retry = served.stub.Apply(request, timeout=RETRY_TIMEOUT, wait_for_ready=True)
    [job_id] = emu.bulk.jobs
    assert {(r.status, r.outcome, r.retryable, r.bulk_job_id, r.error.code) for r in first.results} == {
        (202, pb.OUTCOME_PENDING, True, job_id, "BULK_JOB_PENDING")}
    assert Counter((r.status, r.outcome) for r in retry.results) == {(201, pb.OUTCOME_CREATED): EVENTS}
    assert emu.bulk.rows_uploaded == EVENTS and emu.bulk.rows_uploaded_twice == 0
