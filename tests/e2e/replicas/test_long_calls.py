"""A slow org and a cap of 5 requests across 3 replicas: the org never sees more than 5 at once."""

from __future__ import annotations

import uuid

from sfdest.v1 import destination_pb2 as pb

from tests.builders import UPSERT_LEAD_ON_EMAIL, grant_connection, identify_message
from tests.e2e.replicas.conftest import SHARED_CALLS

APPLIES = 30


def test_three_replicas_keep_a_slow_org_under_the_shared_cap(cluster, emulator_factory):
    slow = emulator_factory(latency_ms=150)
    conn = grant_connection(slow, "oauth_refresh_token")
    run = uuid.uuid4().hex[:10]
    responses = cluster.apply_all([pb.ApplyRequest(action=UPSERT_LEAD_ON_EMAIL, connection=conn, events=[
        identify_message(f"{run}-{n}", f"slow-{run}-{n}@example.com", "Slow")]) for n in range(APPLIES)])
    statuses = [r.status for response in responses for r in response.results]
    print(f"\nslow org, cap {SHARED_CALLS} across {len(cluster.replicas)} replicas, {APPLIES} Applies at once: "
          f"at most {slow.peak_open_requests} requests open at the emulator; statuses {sorted(set(statuses))}")
    assert statuses == [201] * APPLIES
    assert 1 < slow.peak_open_requests <= SHARED_CALLS
