"""kill -9 of a replica in the middle of a 1,000-event Apply; the host retries on another replica: no record is
written twice, and every event whose write may have happened is reported UNCERTAIN, none silently."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

from sfdest.v1 import destination_pb2 as pb

from tests.builders import UPSERT_LEAD_ON_EMAIL, grant_connection, identify_message
from tests.e2e.replicas.cluster import CALL_LIMIT, start_cluster, stop_cluster
from tests.e2e.replicas.conftest import RACERS, STATE_KEY

EVENTS = 1_000
WAIT_LIMIT = 60.0  # never asserted


def settled(emu) -> Counter:
    """Leads by Email once a write the killed replica had in flight has landed (the count holds still)."""
    seen, steady = -1, 0
    while steady < 3:
        threading.Event().wait(0.3)
        count = len(emu.org.records("Lead"))
        seen, steady = count, steady + 1 if count == seen else 0
    return Counter(str(r.get("Email", "")).lower() for r in emu.org.records("Lead"))


def test_a_replica_killed_mid_apply_leaves_no_silent_duplicate(cluster, emulator_factory, redis_server):
    emu = emulator_factory(latency_ms=100)
    conn = grant_connection(emu, "oauth_refresh_token")
    run = uuid.uuid4().hex[:10]
    request = pb.ApplyRequest(action=UPSERT_LEAD_ON_EMAIL, connection=conn, events=[
        identify_message(f"{run}-{n}", f"kill-{run}-{n}@example.com", "Killed") for n in range(EVENTS)])
    doomed = start_cluster(redis_server.url, RACERS, count=1, extra={"SFDEST_STATE_KEY": STATE_KEY})
    try:
        victim = doomed.replicas[0]
        call = victim.stub.Apply.future(request, timeout=CALL_LIMIT, wait_for_ready=True)
        limit = time.monotonic() + WAIT_LIMIT
        while not emu.org.records("Lead") and time.monotonic() < limit:
            threading.Event().wait(0.01)
        victim.process.kill()  # SIGKILL, once its first writes landed
        victim.process.wait()
        assert call.exception() is not None
    finally:
        stop_cluster(doomed)
    written = settled(emu)
    retry = cluster.next_replica().stub.Apply(request, timeout=CALL_LIMIT, wait_for_ready=True)
    after = Counter(str(r.get("Email", "")).lower() for r in emu.org.records("Lead"))
    statuses = Counter((r.status, r.outcome) for r in retry.results)
    may_exist = [r for r in retry.results if written[f"kill-{r.event_id.split('-', 1)[1]}@example.com"]]
    print(f"\nkill -9 mid-Apply: {sum(written.values())} of {EVENTS} Leads written before the kill; the retry on "
          f"another replica answered {dict(statuses)}; duplicates {sum(1 for n in after.values() if n > 1)}")
    assert 0 < sum(written.values())  # the kill came after writes began
    assert max(after.values()) == 1 and after == written  # nothing written twice, nor again
    assert all((r.status, r.outcome) == (502, pb.OUTCOME_UNCERTAIN) for r in may_exist)  # none silent
