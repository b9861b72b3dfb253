"""Record keys across replicas: upserts of one new Email spread over three replicas create one record."""

from __future__ import annotations

import uuid
from collections import Counter

from sfdest.v1 import destination_pb2 as pb

from tests.builders import UPSERT_LEAD_ON_EMAIL, grant_connection, identify_message
from tests.e2e.salesforce.upsert_rounds import UPSERT_LEAD_CASCADE, leads_named, nameless

UPSERTS, PER_APPLY = 1_000, 25  # 40 Applies of 25 events, all at once, over 3 replicas


def test_a_thousand_upserts_of_one_new_email_over_three_replicas_create_one_record(cluster, cluster_emulator):
    emu = cluster_emulator
    conn = grant_connection(emu, "oauth_refresh_token")
    run = uuid.uuid4().hex[:12]
    email = f"many-{run}@example.com"
    requests = [pb.ApplyRequest(action=UPSERT_LEAD_ON_EMAIL, connection=conn, events=[
        identify_message(f"{run}-{n}", email, f"Racer{n}") for n in range(start, start + PER_APPLY)])
        for start in range(0, UPSERTS, PER_APPLY)]
    results = [r for response in cluster.apply_all(requests) for r in response.results]
    leads = [r for r in emu.org.records("Lead") if str(r.get("Email", "")).lower() == email]
    statuses = Counter(r.status for r in results)
    print(f"\n{UPSERTS} upserts of one new Email over {len(cluster.replicas)} replicas: {len(leads)} Lead created, "
          f"statuses {dict(sorted(statuses.items()))}")
    assert len(leads) == 1
    assert statuses == {201: 1, 200: UPSERTS - 1}
    assert {r.record_id for r in results} == {leads[0]["Id"]}


def test_cascade_upserts_of_one_new_person_without_email_over_three_replicas_create_one_record(cluster,
                                                                                               cluster_emulator):
    emu = cluster_emulator
    conn = grant_connection(emu, "oauth_refresh_token")
    run = uuid.uuid4().hex[:12]
    last_name = f"Cascade{run}"
    requests = [pb.ApplyRequest(action=UPSERT_LEAD_CASCADE, connection=conn, events=[
        nameless(f"{run}-{n}", last_name, f"T{n}")]) for n in range(30)]
    results = [r for response in cluster.apply_all(requests) for r in response.results]
    assert leads_named(emu, last_name) == 1
    assert Counter(r.status for r in results) == {201: 1, 200: 29}
    assert len({r.record_id for r in results}) == 1
