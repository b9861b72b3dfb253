"""Refresh-token rotation across replicas: every replica uses the new refresh token at once, and the host
gets it in ApplyResponse.refresh_token."""

from __future__ import annotations

import uuid

from sfdest.v1 import destination_pb2 as pb

from tests.builders import UPSERT_LEAD_ON_EMAIL, grant_connection, identify_message
from tests.e2e.replicas.cluster import CALL_LIMIT


def upsert(replica, conn: pb.Connection) -> pb.ApplyResponse:
    request = pb.ApplyRequest(action=UPSERT_LEAD_ON_EMAIL, connection=conn, events=[
        identify_message(f"r-{uuid.uuid4().hex}", f"rotation-{uuid.uuid4().hex[:10]}@example.com", "Rotation")])
    return replica.stub.Apply(request, timeout=CALL_LIMIT, wait_for_ready=True)


def valid_refresh_tokens(emu) -> set[str]:
    return set(emu.oauth.refresh_tokens)


def test_the_host_gets_the_rotated_refresh_token_and_it_works_on_every_replica(cluster, cluster_emulator):
    emu = cluster_emulator
    emu.rotate_refresh_tokens = True
    try:
        conn = grant_connection(emu, "oauth_refresh_token")
        sent = conn.oauth_refresh_token.refresh_token
        first, *others = cluster.replicas
        answer = upsert(first, conn)
        rotated = answer.refresh_token
        assert answer.results[0].status == 201
        assert rotated and rotated != sent and rotated in valid_refresh_tokens(emu) and sent not in valid_refresh_tokens(emu)
        # The other replicas, still sent the old token, use the shared access token and hand back the new one.
        assert [(r.results[0].status, r.refresh_token) for r in (upsert(o, conn) for o in others)] == [(201, rotated)] * 2
        # The host stores the new token; the next Apply with it succeeds on every replica.
        conn.oauth_refresh_token.refresh_token = rotated
        answers = [upsert(replica, conn) for replica in cluster.replicas]
        newest = answers[-1].refresh_token
        print(f"\nrotation: host got a new refresh token; next Apply with it on {len(answers)} replicas: "
              f"{[a.results[0].status for a in answers]}")
        assert [a.results[0].status for a in answers] == [201] * len(cluster.replicas)
        assert newest in valid_refresh_tokens(emu)  # each refresh rotated it again; the host holds the live one
        logs = "\n".join(line for replica in cluster.replicas for line in replica.log + replica.out)
        assert sent not in logs and rotated not in logs and newest not in logs
    finally:
        emu.rotate_refresh_tokens = False
