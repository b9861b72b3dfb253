"""kill -9 of the replica polling a Bulk API job; the host retries on another replica, which takes the job over
(once the dead replica's lease on it ran out), polls on and delivers every per-record result, once: no row is
uploaded again, no processed row is reported failed, and a further retry answers from the recorded results.

`make test` runs it with BULK_KILL_RECORDS=2,500 (a 2.5 s job at the emulator's 1,000 records a second: polled more
than once); `make soak` runs the issue's figure, 50,000 records.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter

from sfdest.v1 import destination_pb2 as pb

from tests.builders import grant_connection, subscription_upsert_message, track_message
from tests.e2e.replicas.cluster import CALL_LIMIT, start_cluster, stop_cluster
from tests.e2e.replicas.conftest import MAX_EVENTS, RACERS, STATE_KEY
from tools.emulator.latency import LatencyModel

RECORDS = int(os.environ.get("BULK_KILL_RECORDS", "2500"))
RATE = max(1000, RECORDS // 5)  # records a second: the job takes 2.5 s (5 s from 5,000 records on)
LEASE_SECONDS = "2"  # the victim's hold on its job: another replica takes it over this long after the kill
WAIT_LIMIT = 120.0  # never asserted


def wait_for(condition) -> None:
    limit = time.monotonic() + WAIT_LIMIT
    while not condition() and time.monotonic() < limit:
        threading.Event().wait(0.02)


def test_a_replica_killed_while_polling_a_bulk_job_hands_it_over(cluster, emulator_factory, redis_server):
    emu = emulator_factory(latency=LatencyModel(base_ms=2, write_record_ms=0, query_record_ms=0,
                                                bulk_records_per_second=RATE))
    conn = grant_connection(emu, "oauth_refresh_token")
    run = uuid.uuid4().hex[:10]
    request = pb.ApplyRequest(action=subscription_upsert_message(), connection=conn, events=[
        track_message(f"{run}-{n}", f"{run}-S-{n}") for n in range(RECORDS)])
    doomed = start_cluster(redis_server.url, RACERS, count=1, extra={
        "SFDEST_STATE_KEY": STATE_KEY, "SFDEST_BULK_LEASE_SECONDS": LEASE_SECONDS, "SFDEST_MAX_EVENTS": str(MAX_EVENTS),
        "SFDEST_WRITE_PATH": "bulk"})  # a Bulk job at any size (auto weighs Bulk from 10,000 records)
    try:
        victim = doomed.replicas[0]
        call = victim.stub.Apply.future(request, timeout=CALL_LIMIT, wait_for_ready=True)
        wait_for(lambda: call.done() or any(job.state == "InProgress" for job in list(emu.bulk.jobs.values())))
        assert not call.done(), call.exception() or call.result().results[0]
        victim.process.kill()  # SIGKILL while it polls its job
        victim.process.wait()
        assert call.exception() is not None
    finally:
        stop_cluster(doomed)
    [job_id] = emu.bulk.jobs
    taker, other = cluster.replicas[0], cluster.replicas[1]
    retry = taker.stub.Apply(request, timeout=CALL_LIMIT, wait_for_ready=True)
    calls = emu.api_calls
    again = other.stub.Apply(request, timeout=CALL_LIMIT, wait_for_ready=True)
    statuses = Counter((r.status, pb.Outcome.Name(r.outcome)) for r in retry.results)
    created = {r["External_Id__c"]: r["Id"] for r in emu.org.records("Subscription__c")
               if str(r.get("External_Id__c", "")).startswith(run)}
    print(f"\nkill -9 of the replica polling a {RECORDS:,}-record Bulk job: the retry on another replica answered "
          f"{dict(statuses)}; jobs {len(emu.bulk.jobs)}, rows uploaded {emu.bulk.rows_uploaded:,} "
          f"({emu.bulk.rows_uploaded_twice} twice); a further retry made {again.salesforce_api_calls} calls")
    assert statuses == {(201, "OUTCOME_CREATED"): RECORDS}  # every processed row delivered, none failed
    assert [r.record_id for r in retry.results] == [created[f"{run}-S-{n}"] for n in range(RECORDS)]
    assert len(emu.bulk.jobs) == 1 and emu.bulk.rows_of(job_id) == RECORDS
    assert emu.bulk.rows_uploaded_twice == 0
    assert [(r.status, r.record_id) for r in again.results] == [(r.status, r.record_id) for r in retry.results]
    assert again.salesforce_api_calls == 0 and emu.api_calls == calls  # delivered once: recorded, not re-read
