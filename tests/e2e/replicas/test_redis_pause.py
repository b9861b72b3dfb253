"""Redis paused (SIGSTOP) under load, then resumed (SIGCONT): the replicas answer only retryable 503s for
the events that needed it, write nothing twice, and serve fully again by themselves."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter

from sfdest.v1 import destination_pb2 as pb

from tests.builders import UPSERT_LEAD_ON_EMAIL, grant_connection, identify_message

PAUSE_SECONDS = 5.0


def test_a_paused_redis_gives_retryable_503s_no_duplicates_and_full_service_after(cluster, cluster_emulator,
                                                                                   redis_server):
    emu = cluster_emulator
    conn = grant_connection(emu, "oauth_refresh_token")
    run = uuid.uuid4().hex[:10]
    sent: list[str] = []

    def round_of_applies(label: str) -> list[pb.EventResult]:
        emails = [f"pause-{run}-{label}-{n}@example.com" for n in range(len(cluster.replicas))]
        sent.extend(emails)
        requests = [pb.ApplyRequest(action=UPSERT_LEAD_ON_EMAIL, connection=conn, events=[
            identify_message(f"{run}-{label}-{n}", email, "Pause")]) for n, email in enumerate(emails)]
        return [r for response in cluster.apply_all(requests) for r in response.results]

    warm = round_of_applies("warm")
    assert [r.status for r in warm] == [201] * len(cluster.replicas)
    during: list[pb.EventResult] = []
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        resume_at = time.monotonic() + PAUSE_SECONDS
        rounds = 0
        while time.monotonic() < resume_at:
            during += round_of_applies(f"p{rounds}")
            rounds += 1
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    after = round_of_applies("after")
    failed = [r for r in during if r.status != 201]
    print(f"\nRedis paused {PAUSE_SECONDS:.0f} s: {len(during)} events sent meanwhile answered "
          f"{dict(Counter((r.status, r.error.code) for r in during))}; after resume {[r.status for r in after]}")
    assert failed, "no Apply needed Redis while it was paused"
    assert all((r.status, r.retryable, r.error.code) == (503, True, "COORDINATION_UNAVAILABLE") for r in failed)
    assert [r.status for r in after] == [201] * len(cluster.replicas)
    leads = Counter(str(r.get("Email", "")).lower() for r in emu.org.records("Lead"))
    assert max(leads[email] for email in sent) == 1  # nothing written twice
    assert all(leads[f"pause-{run}-{r.event_id.split('-', 1)[1]}@example.com"] == 0 for r in failed)  # nor at all
