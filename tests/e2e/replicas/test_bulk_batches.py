"""The Bulk API batch allowance (DailyBulkApiBatches) across 3 `sfdest serve` replicas sharing a real Redis: their
first Applies weighing Bulk make one GET /limits in all, and the jobs replica A runs count in what replica B weighs.

Sizes: Bulk is weighed from 500 records with collections of 1 (SFDEST_BULK_FROM, SFDEST_SALESFORCE_BATCH_SIZE), so a
write of 500 records takes 100 Composite calls against a job's 7 and 1 batch: with the API allowance almost whole
(100,000), a write goes Bulk while more than about 1,000 batches are left, and Composite below."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sfdest.v1 import destination_pb2 as pb

from tests.builders import grant_connection
from tests.e2e.replicas.cluster import CALL_LIMIT, Cluster, start_cluster, stop_cluster
from tests.e2e.salesforce.test_grpc_budget import UPSERT_SUBSCRIPTION

RECORDS = 500
LEFT = 1_003  # batches left at the first read: 4 jobs go Bulk, the 5th is weighed against 999


@pytest.fixture(scope="module")
def batches_cluster(redis_server) -> Iterator[Cluster]:
    started = start_cluster(redis_server.url, 4, extra={"SFDEST_BULK_FROM": str(RECORDS),
                                                         "SFDEST_SALESFORCE_BATCH_SIZE": "1",
                                                         "SFDEST_IDEMPOTENCY_WINDOW_SECONDS": "0"})
    yield started
    stop_cluster(started)


def request(conn: pb.Connection, start: int) -> pb.ApplyRequest:
    events = []
    for n in range(start, start + RECORDS):
        event = pb.Event(id=f"e{n}")
        event.payload.update({"type": "track", "properties": {"sub_id": f"S-{n}", "plan": "gold"}})
        events.append(event)
    return pb.ApplyRequest(action=UPSERT_SUBSCRIPTION, connection=conn, events=events)


def test_replicas_read_the_batches_once_and_count_each_others_jobs(batches_cluster, emulator_factory):
    emulator = emulator_factory(latency_ms=2)
    emulator.set_api_usage(used=0, limit=100_000)
    emulator.set_bulk_batches(used=15_000 - LEFT, limit=15_000)
    conn = grant_connection(emulator, "oauth_refresh_token")
    a, b = batches_cluster.replicas[0], batches_cluster.replicas[1]
    first = batches_cluster.apply_all([request(conn, k * RECORDS) for k in range(3)])  # one per replica, at once
    limits_after_first = emulator.calls["limits"]
    by_a = a.stub.Apply(request(conn, 3 * RECORDS), timeout=CALL_LIMIT, wait_for_ready=True)
    by_b = b.stub.Apply(request(conn, 4 * RECORDS), timeout=CALL_LIMIT, wait_for_ready=True)
    print(f"\n3 replicas sharing Redis: first Applies (one per replica, at once) made {limits_after_first} GET /limits "
          f"in all; after 4 jobs ({LEFT} batches left at the read, the 4th by replica A) replica B's write went "
          f"{by_b.write_path} (weighing the {LEFT - 4} left; counting its own job only, {LEFT - 1}: bulk); "
          f"{emulator.calls['limits']} GET /limits in all")
    assert {r.status for response in (*first, by_a, by_b) for r in response.results} == {201}
    assert [response.write_path for response in (*first, by_a)] == ["bulk"] * 4
    assert limits_after_first == 1 and emulator.calls["limits"] == 1
    assert by_b.write_path == "composite"  # B weighed the 999 left after A's jobs, not its own 1,002
    assert emulator.bulk_batches[0] == 15_000 - LEFT + 4
