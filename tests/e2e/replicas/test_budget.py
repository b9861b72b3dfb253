"""The API budget governor across 3 replicas under load: with SFDEST_API_BUDGET_SHARE=0.5 of an emulated
allowance, the replicas sharing Redis spend at most the share plus the calls in flight; with local coordination
(the before figure) each replica spends its own share and together they overspend. Nothing is lost: every
refused event is 429 retryable, and the org holds exactly the records of the written events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sfdest.v1 import destination_pb2 as pb

from tests.replicas.cluster import CALL_LIMIT, Cluster, start_cluster, stop_cluster
from tests.salesforce_e2e.test_grpc_budget import UPSERT_SUBSCRIPTION
from tests.salesforce_e2e.test_grpc_end_to_end import connection

LIMIT, SHARE = 150, 0.5
CEILING = int(LIMIT * SHARE)
APPLIES = 200  # one call each: more than the whole allowance
IN_FLIGHT = 12  # Applies at once, over the 3 replicas
RACERS = IN_FLIGHT


@pytest.fixture
def budget_cluster(request, redis_server) -> Iterator[Cluster]:
    coordination = redis_server.url if request.param == "redis" else "local"
    started = start_cluster(redis_server.url, RACERS, extra={"SFDEST_COORDINATION": coordination,
                                                              "SFDEST_API_BUDGET_SHARE": str(SHARE)})
    yield started
    stop_cluster(started)


def spend(cluster: Cluster, emulator) -> tuple[int, list[pb.EventResult]]:
    """APPLIES one-event upserts, IN_FLIGHT at a time round robin; (the calls the org counted, every result)."""
    emulator.set_api_usage(used=0, limit=LIMIT)
    conn = connection(emulator, "oauth_refresh_token")

    def apply(n: int) -> pb.ApplyResponse:
        event = pb.Event(id=f"e{n}")
        event.payload.update({"type": "track", "properties": {"sub_id": f"S-{n}", "plan": "gold"}})
        request = pb.ApplyRequest(action=UPSERT_SUBSCRIPTION, connection=conn, events=[event])
        return cluster.next_replica().stub.Apply(request, timeout=CALL_LIMIT, wait_for_ready=True)

    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        results = [r for response in pool.map(apply, range(APPLIES)) for r in response.results]
    return emulator.api_usage[0], results


@pytest.mark.parametrize("budget_cluster", ["redis"], indirect=True)
def test_replicas_sharing_redis_spend_at_most_the_share_and_lose_nothing(budget_cluster, emulator_factory):
    emulator = emulator_factory(latency_ms=2)
    used, results = spend(budget_cluster, emulator)
    written = [r for r in results if r.status in (200, 201)]
    refused = [r for r in results if r.status not in (200, 201)]
    print(f"\nshared (Redis): allowance {LIMIT}, share {SHARE}: 3 replicas spent {used} calls (ceiling {CEILING}, "
          f"{IN_FLIGHT} Applies in flight); {len(written)} events written, {len(refused)} refused "
          f"{dict(Counter((r.status, r.error.code) for r in refused))}")
    assert len(results) == APPLIES
    assert used <= CEILING + IN_FLIGHT  # the share, plus the calls sent while the allowance was still unknown
    assert used >= CEILING - IN_FLIGHT  # and the share went to work, not to refusals
    assert {(r.status, r.outcome, r.retryable, r.error.code) for r in refused} == {
        (429, pb.OUTCOME_RATE_LIMITED, True, "API_BUDGET_EXHAUSTED")}
    assert all(r.retry_after.ToSeconds() >= 60 for r in refused)
    keys = Counter(row["External_Id__c"] for row in emulator.org.records("Subscription__c"))
    assert set(keys.values()) == {1} and set(keys) == {f"S-{r.event_id.removeprefix('e')}" for r in written}


@pytest.mark.parametrize("budget_cluster", ["local"], indirect=True)
def test_replicas_counting_alone_overspend_the_share(budget_cluster, emulator_factory):
    emulator = emulator_factory(latency_ms=2)
    used, results = spend(budget_cluster, emulator)
    print(f"\nbefore (local coordination): allowance {LIMIT}, share {SHARE}: 3 replicas spent {used} calls "
          f"(ceiling {CEILING}); {sum(r.status in (200, 201) for r in results)} events written, "
          f"{dict(Counter((r.status, r.error.code) for r in results if r.status not in (200, 201)))} refused")
    assert used > CEILING + IN_FLIGHT  # each replica spends a share of its own
