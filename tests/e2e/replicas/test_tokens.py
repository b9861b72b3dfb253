"""Tokens across replicas: one token request per org per expiry, whichever replicas need it at once."""

from __future__ import annotations

import uuid

from sfdest.v1 import destination_pb2 as pb

from tests.builders import UPSERT_LEAD_ON_EMAIL, grant_connection, identify_message

PER_REPLICA = 50


def upserts(conn: pb.Connection, count: int) -> list[pb.ApplyRequest]:
    run = uuid.uuid4().hex[:8]
    return [pb.ApplyRequest(action=UPSERT_LEAD_ON_EMAIL, connection=conn,
                            events=[identify_message(f"t{run}-{n}", f"token-{run}-{n}@example.com", "Expiry")]) for n in range(count)]


def test_three_replicas_renew_an_expired_token_with_one_token_request(cluster, cluster_emulator):
    emu = cluster_emulator
    conn = grant_connection(emu, "oauth_refresh_token")
    before = emu.token_requests
    warm = cluster.apply_all(upserts(conn, len(cluster.replicas)))  # one Apply per replica
    assert {r.status for w in warm for r in w.results} == {201}
    first = emu.token_requests - before
    emu.expire_all_tokens()
    before = emu.token_requests
    responses = cluster.apply_all(upserts(conn, PER_REPLICA * len(cluster.replicas)))
    renewed = emu.token_requests - before
    statuses = {r.status for response in responses for r in response.results}
    print(f"\n{len(cluster.replicas)} replicas: first token {first} request(s); {len(responses)} concurrent Applies "
          f"after the token expired: {renewed} token request(s), statuses {sorted(statuses)}")
    assert first == 1  # the other replicas read the token the first one stored
    assert renewed == 1
    assert statuses == {201}, [r.error.message for resp in responses for r in resp.results if r.status != 201][:3]
