"""Idempotent events across replicas: a host retry of a whole batch, on other replicas, costs 0 calls."""

from __future__ import annotations

import uuid

from sfdest.v1 import destination_pb2 as pb

from tests.builders import UPSERT_LEAD_ON_EMAIL, grant_connection, identify_message
from tests.e2e.replicas.cluster import CALL_LIMIT

EVENTS = 30


def test_the_same_batch_sent_twice_answers_from_the_recorded_results_with_no_call(cluster, cluster_emulator):
    emu = cluster_emulator
    conn = grant_connection(emu, "oauth_refresh_token")
    run = uuid.uuid4().hex[:10]
    request = pb.ApplyRequest(action=UPSERT_LEAD_ON_EMAIL, connection=conn, events=[
        identify_message(f"{run}-{n}", f"idem-{run}-{n}@example.com", "Retry") for n in range(EVENTS)])
    first = cluster.replicas[0].stub.Apply(request, timeout=CALL_LIMIT, wait_for_ready=True)
    calls_before = emu.api_calls + emu.token_requests
    retries = [replica.stub.Apply(request, timeout=CALL_LIMIT, wait_for_ready=True) for replica in cluster.replicas[1:]]
    calls = emu.api_calls + emu.token_requests - calls_before
    print(f"\nthe same {EVENTS}-event batch sent again to {len(retries)} other replicas: "
          f"{[r.salesforce_api_calls for r in retries]} calls reported, {calls} seen by the emulator")
    assert [r.status for r in first.results] == [201] * EVENTS
    for retry in retries:
        assert [(r.event_id, r.status, r.record_id) for r in retry.results] == [
            (r.event_id, r.status, r.record_id) for r in first.results]
        assert retry.salesforce_api_calls == 0
    assert calls == 0
    assert sum(1 for r in emu.org.records("Lead") if str(r.get("Email", "")).startswith(f"idem-{run}")) == EVENTS
