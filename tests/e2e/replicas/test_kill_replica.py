"""kill -9 of a replica in the middle of an Apply, at several points; the host retries on another replica (and
again, for events answered retryable). Whatever the point: no record is written twice, every event whose write
may have landed is reported UNCERTAIN (never silently), and every event not written by then is written by the
retry. An event's claim turns SENT just before its write goes out (core.idempotency): claims never sent are taken
over once the dead replica's heartbeat lapses; a Bulk job is picked up where it runs (core.handover).

Points: before the first write (its lookups answered), between Composite calls (the victim may have one call in
flight to the org: the second waits for the first), during a Composite call (its writes landed, its answer lost),
during a Bulk poll.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import pytest
from sfdest.v1 import destination_pb2 as pb

from tests.builders import UPSERT_LEAD_ON_EMAIL, grant_connection, identify_message
from tests.e2e.replicas.cluster import CALL_LIMIT, Cluster, start_cluster, stop_cluster
from tests.e2e.replicas.conftest import RACERS, STATE_KEY
from tools.emulator.latency import LatencyModel
from tools.emulator.server import Emulator

WAIT_LIMIT = 60.0  # never asserted
# The victim's call deadline. Its leases on the records its events may create last until that deadline (a dead
# holder blocks nobody for longer), so the host's first retry may wait that long: long enough for the victim to
# reach its point on a loaded machine (it is then held there), no longer.
VICTIM_LIMIT = 15.0
RETRIES = 30  # a host's retries of the events answered retryable, a second apart (never asserted)
# Every call's answer comes 400 ms after the emulator applied it: a kill seen from the org's side lands before
# the victim reads the answer.
SLOW_ANSWERS = LatencyModel(base_ms=400, write_record_ms=0, query_record_ms=0, bulk_records_per_second=1000)


@dataclass(frozen=True)
class Point:
    name: str
    events: int  # one new Email each
    calls_in_flight: int = 0  # the victim's cap on Salesforce requests in flight to the org (0: none)
    # The call whose answer never reaches the victim (it runs, then its answer trickles a byte every 50 ms until
    # the client is gone): the victim is held at its point however late the kill comes on a loaded machine.
    held_call: str = ""
    held_method: str | None = None
    write_path: str = "auto"  # the victim's SFDEST_WRITE_PATH


POINTS = {p.name: p for p in (
    Point("before the first write", 1000, held_call="query"),  # the lookup ran; its answer never came
    # creates: 8 collections, 5 to one call and 3 to the other; the answer of the first to go never came: the
    # other waits for it
    Point("between Composite calls", 1500, calls_in_flight=1, held_call="collection_create"),
    Point("during a Composite call", 1000, held_call="collection_create"),  # its writes landed, no answer
    # the first poll never answered; Bulk forced (auto weighs Bulk from 10,000 records)
    Point("during a Bulk poll", 2500, held_call="bulk_info", held_method="GET", write_path="bulk"),
)}


def reached(point: Point, emu: Emulator) -> bool:
    """Whether the victim is where it should die (seen from the org's side)."""
    if point.name == "before the first write":
        return bool(emu.last_queries)  # a lookup was answered
    if point.name == "during a Bulk poll":
        return any(job.state == "InProgress" for job in list(emu.bulk.jobs.values()))
    # A Composite call's creates began to land (settled() waits for the rest of that call): whichever of the two
    # calls goes first holds the victim's one slot while its answer trickles, so the other waits.
    return bool(emu.org.records("Lead"))


def settled(emu: Emulator) -> set[str]:
    """The Emails of the Leads, once a write the killed replica had in flight landed (the count holds still)."""
    seen, steady = -1, 0
    while steady < 3:
        threading.Event().wait(0.3)
        count = len(emu.org.records("Lead"))
        seen, steady = count, steady + 1 if count == seen else 0
    return {str(r.get("Email", "")).lower() for r in emu.org.records("Lead")}


def host_retries(cluster: Cluster, request: pb.ApplyRequest) -> dict[str, pb.EventResult]:
    """The host's retry on another replica, then again for the events answered retryable."""
    final: dict[str, pb.EventResult] = {}
    events = list(request.events)
    for _ in range(RETRIES):
        again = pb.ApplyRequest(action=request.action, connection=request.connection, events=events)
        answer = cluster.next_replica().stub.Apply(again, timeout=CALL_LIMIT, wait_for_ready=True)
        final.update((r.event_id, r) for r in answer.results)
        retry = {r.event_id for r in answer.results if r.retryable}
        events = [e for e in events if e.id in retry]
        if not events:
            break
        threading.Event().wait(1.0)
    return final


@pytest.mark.parametrize("where", list(POINTS))
def test_a_replica_killed_mid_apply_leaves_no_silent_duplicate_and_the_retry_writes_the_rest(
        where, cluster, emulator_factory, redis_server):
    point = POINTS[where]
    emu = emulator_factory(latency=SLOW_ANSWERS)
    emu.fail_next(1, "trickle", seconds=0.05, call=point.held_call, method=point.held_method)
    conn = grant_connection(emu, "oauth_refresh_token")
    run = uuid.uuid4().hex[:10]
    request = pb.ApplyRequest(action=UPSERT_LEAD_ON_EMAIL, connection=conn, events=[
        identify_message(f"{run}-{n}", f"kill-{run}-{n}@example.com", "Killed") for n in range(point.events)])
    doomed = start_cluster(redis_server.url, RACERS, count=1, extra={
        "SFDEST_STATE_KEY": STATE_KEY, "SFDEST_BULK_LEASE_SECONDS": "2",
        "SFDEST_SHARED_CALLS_PER_ORG": str(point.calls_in_flight), "SFDEST_WRITE_PATH": point.write_path})
    try:
        victim = doomed.replicas[0]
        call = victim.stub.Apply.future(request, timeout=VICTIM_LIMIT, wait_for_ready=True)
        limit = time.monotonic() + WAIT_LIMIT
        while not reached(point, emu) and not call.done() and time.monotonic() < limit:
            threading.Event().wait(0.005)
        victim.process.kill()  # SIGKILL
        victim.process.wait()
        assert call.exception() is not None
    finally:
        stop_cluster(doomed)
    before = settled(emu)
    email = {e.id: e.payload["traits"]["email"] for e in request.events}
    landed = {i for i in email if email[i] in before}  # its write is in the org
    final = host_retries(cluster, request)
    leads = Counter(str(r.get("Email", "")).lower() for r in emu.org.records("Lead"))
    answers = Counter((r.status, pb.Outcome.Name(r.outcome)) for r in final.values())
    unwritten = [i for i in email if i not in landed]
    print(f"\nkill -9 {where}: {len(landed)} of {len(email)} events' writes landed before the kill; the host's "
          f"retries answered {dict(answers)}; Leads written twice {sum(1 for n in leads.values() if n > 1)}; "
          f"Bulk rows uploaded twice {emu.bulk.rows_uploaded_twice}")
    assert max(leads.values()) == 1 and emu.bulk.rows_uploaded_twice == 0  # nothing written twice
    assert all(final[i].status == 502 and final[i].outcome == pb.OUTCOME_UNCERTAIN for i in landed)  # none silent
    assert all(final[i].status == 201 and leads[email[i]] == 1 for i in unwritten)  # the rest is written by the retry
    if where == "between Composite calls":
        assert landed and unwritten  # the kill came between the two calls
