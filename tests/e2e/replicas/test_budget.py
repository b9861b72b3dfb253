"""The API budget governor across 3 replicas under load: with SFDEST_API_BUDGET_SHARE=0.5 of an emulated
allowance, the replicas sharing Redis spend at most the share (one of them asking /limits, once); with local
coordination (the before figure) each replica spends its own share and together they overspend. Nothing is lost: every
refused event is 429 retryable, and the org holds exactly the records of the written events."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sfdest.v1 import destination_pb2 as pb

from tests.builders import grant_connection
from tests.e2e.replicas.cluster import CALL_LIMIT, Cluster, start_cluster, stop_cluster
from tests.e2e.salesforce.test_grpc_budget import UPSERT_SUBSCRIPTION

LIMIT, SHARE = 150, 0.5
CEILING = int(LIMIT * SHARE)
APPLIES = 200  # one call each: more than the whole allowance
IN_FLIGHT = 12  # Applies at once, over the 3 replicas
RACERS = IN_FLIGHT
PAUSE_SECONDS = 4.0


@pytest.fixture(scope="module")
def budget_cluster(request, redis_server) -> Iterator[Cluster]:
    """3 replicas with the budget share, coordinated through Redis or each alone; no idempotency ledger, so an
    upsert on an external id needs Redis for its budget only."""
    coordination = redis_server.url if request.param == "redis" else "local"
    started = start_cluster(redis_server.url, RACERS, extra={"SFDEST_COORDINATION": coordination,
                                                              "SFDEST_API_BUDGET_SHARE": str(SHARE),
                                                              "SFDEST_IDEMPOTENCY_WINDOW_SECONDS": "0"})
    yield started
    stop_cluster(started)


def apply(cluster: Cluster, conn: pb.Connection, n: int) -> pb.ApplyResponse:
    """One upsert of subscription S-<n> (one call), on the next replica."""
    event = pb.Event(id=f"e{n}")
    event.payload.update({"type": "track", "properties": {"sub_id": f"S-{n}", "plan": "gold"}})
    request = pb.ApplyRequest(action=UPSERT_SUBSCRIPTION, connection=conn, events=[event])
    return cluster.next_replica().stub.Apply(request, timeout=CALL_LIMIT, wait_for_ready=True)


def spend(cluster: Cluster, emulator) -> tuple[int, list[pb.EventResult]]:
    """APPLIES one-event upserts, IN_FLIGHT at a time round robin; (the calls the org counted, every result)."""
    emulator.set_api_usage(used=0, limit=LIMIT)
    conn = grant_connection(emulator, "oauth_refresh_token")
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        responses = pool.map(lambda n: apply(cluster, conn, n), range(APPLIES))
        results = [r for response in responses for r in response.results]
    return emulator.api_usage[0], results


def limits_calls(emulator) -> int:
    return sum(r.method == "GET" and r.path.endswith("/limits") for r in emulator.requests)


def records(emulator) -> Counter[str]:
    return Counter(row["External_Id__c"] for row in emulator.org.records("Subscription__c"))


@pytest.mark.parametrize("budget_cluster", ["redis"], indirect=True)
def test_replicas_sharing_redis_spend_at_most_the_share_and_lose_nothing(budget_cluster, emulator_factory):
    emulator = emulator_factory(latency_ms=2)
    used, results = spend(budget_cluster, emulator)
    written = [r for r in results if r.status in (200, 201)]
    refused = [r for r in results if r.status not in (200, 201)]
    print(f"\nshared (Redis): allowance {LIMIT}, share {SHARE}: 3 replicas spent {used} calls (ceiling {CEILING}, "
          f"{IN_FLIGHT} Applies in flight), {limits_calls(emulator)} of them GET /limits; {len(written)} events "
          f"written, {len(refused)} refused {dict(Counter((r.status, r.error.code) for r in refused))}")
    assert len(results) == APPLIES
    assert limits_calls(emulator) == 1  # one replica asked the allowance, the others waited for what it learned
    assert used <= CEILING + 1  # the share, plus at most the /limits call sent while the allowance was unknown
    assert used >= CEILING - IN_FLIGHT  # and the share went to work, not to refusals
    assert {(r.status, r.outcome, r.retryable, r.error.code) for r in refused} == {
        (429, pb.OUTCOME_RATE_LIMITED, True, "API_BUDGET_EXHAUSTED")}
    assert all(r.retry_after.ToSeconds() >= 60 for r in refused)
    keys = records(emulator)
    assert set(keys.values()) == {1} and set(keys) == {f"S-{r.event_id.removeprefix('e')}" for r in written}


@pytest.mark.parametrize("budget_cluster", ["redis"], indirect=True)
def test_while_redis_is_paused_budgeted_calls_are_not_sent_and_answer_503_retryable(budget_cluster, emulator_factory,
                                                                                     redis_server):
    emulator = emulator_factory(latency_ms=2)
    emulator.set_api_usage(used=0, limit=100_000)
    conn = grant_connection(emulator, "oauth_refresh_token")
    replicas = len(budget_cluster.replicas)
    warm = [r.status for n in range(replicas) for r in apply(budget_cluster, conn, n).results]
    assert warm == [201] * replicas
    during: list[pb.EventResult] = []
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        resume_at, n = time.monotonic() + PAUSE_SECONDS, replicas
        while time.monotonic() < resume_at:
            with ThreadPoolExecutor(replicas) as pool:
                during += [r for response in pool.map(lambda k: apply(budget_cluster, conn, k), range(n, n + replicas))
                           for r in response.results]
            n += replicas
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    after = [r.status for k in range(n, n + replicas) for r in apply(budget_cluster, conn, k).results]
    failed = [r for r in during if r.status != 201]
    print(f"\nRedis paused {PAUSE_SECONDS:.0f} s under a shared budget: {len(during)} events meanwhile answered "
          f"{dict(Counter((r.status, r.error.code) for r in during))}; after resume {after}")
    assert failed and all((r.status, r.retryable, r.error.code) == (503, True, "COORDINATION_UNAVAILABLE")
                          and "API budget" in r.error.message for r in failed)
    assert after == [201] * replicas
    keys = records(emulator)
    assert set(keys.values()) == {1}
    assert not any(f"S-{r.event_id.removeprefix('e')}" in keys for r in failed)  # nothing was sent for them


@pytest.mark.parametrize("budget_cluster", ["local"], indirect=True)
def test_replicas_counting_alone_overspend_the_share(budget_cluster, emulator_factory):
    emulator = emulator_factory(latency_ms=2)
    used, results = spend(budget_cluster, emulator)
    print(f"\nbefore (local coordination): allowance {LIMIT}, share {SHARE}: 3 replicas spent {used} calls "
          f"(ceiling {CEILING}); {sum(r.status in (200, 201) for r in results)} events written, "
          f"{dict(Counter((r.status, r.error.code) for r in results if r.status not in (200, 201)))} refused")
    assert used > CEILING + IN_FLIGHT  # each replica spends a share of its own
