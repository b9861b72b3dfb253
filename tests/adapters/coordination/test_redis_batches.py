"""Each org's Bulk API batch allowance shared through Redis (fakeredis for the scripts, and a real redis-server):
both adapters count alike; replicas count one allowance, atomically; it expires with its read; the asking lease
is the governor's; Redis holds only hashed keys and numbers."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import fakeredis
import pytest

from adapters.coordination.redis_batches import RedisBulkBatches
from adapters.coordination.redis_budget import RedisBudgetCounters
from adapters.coordination.redis_leases import connect
from adapters.salesforce.bulk_batches import BulkBatches
from core.coordination import CoordinationUnavailable
from tests.redis_fixture import _free_port

ORG = "https://acme.my.salesforce.com"
WAIT_LIMIT = 30.0  # a safety net, never asserted


def replicas(redis_server, count: int, ttl: float = 3600.0) -> list[RedisBulkBatches]:
    redis_server.client().flushall()
    return [RedisBulkBatches(connect(redis_server.url), ttl) for _ in range(count)]


@pytest.fixture(params=["in-process", "fakeredis", "redis"])
def batches(request):
    if request.param == "in-process":
        return BulkBatches()
    if request.param == "fakeredis":
        return RedisBulkBatches(fakeredis.FakeRedis())
    return replicas(request.getfixturevalue("redis_server"), 1)[0]


def test_every_adapter_reads_charges_and_orders_reads_alike(batches):
    now = time.time()
    assert batches.left(ORG) is None and batches.claim_reading(ORG, 5)
    batches.end_reading(ORG)
    batches.charge(ORG, 3)  # unknown: nothing to count down
    batches.observe(ORG, 10, now)
    assert not batches.claim_reading(ORG, 5)  # known: nothing to ask
    batches.charge(ORG, 3)
    assert batches.left(ORG) == 7
    batches.observe(ORG, 500, now - 10)  # the answer to an earlier request, arriving late
    assert batches.left(ORG) == 7
    batches.charge(ORG, 9)
    assert batches.left(ORG) == 0  # never below nothing
    batches.observe(ORG, 20, now + 1)
    assert batches.left(ORG) == 20 and batches.left("https://other.my.salesforce.com") is None


def test_jobs_of_one_replica_count_in_what_the_others_see_and_charges_never_collide(redis_server):
    a, b, c = replicas(redis_server, 3)
    a.observe(ORG, 1_000, time.time())
    with ThreadPoolExecutor(6) as pool:  # 300 jobs of one batch, over three replicas at once
        list(pool.map(lambda n: (a, b, c)[n % 3].charge(ORG, 1), range(300)))
    assert a.left(ORG) == b.left(ORG) == c.left(ORG) == 700


def test_the_allowance_expires_with_its_read_so_it_is_read_again(redis_server):
    [fresh] = replicas(redis_server, 1, ttl=0.5)
    fresh.observe(ORG, 1_000, time.time() - 10)  # a read older than the TTL: already stale, not stored
    assert fresh.left(ORG) is None
    fresh.observe(ORG, 1_000, time.time())
    assert fresh.left(ORG) == 1_000
    limit = time.monotonic() + WAIT_LIMIT
    while fresh.left(ORG) is not None and time.monotonic() < limit:
        time.sleep(0.05)
    assert fresh.left(ORG) is None and fresh.claim_reading(ORG, 5)


def test_one_lease_for_asking_limits_whether_the_governor_or_the_batches_want_it(redis_server):
    a, b = replicas(redis_server, 2)
    governor = RedisBudgetCounters(connect(redis_server.url), 60.0)
    assert governor.claim_learning(ORG, 30)  # a governor asks /limits: nobody reads the batches meanwhile
    assert not a.claim_reading(ORG, 30) and not b.claim_reading(ORG, 30)
    governor.end_learning(ORG)
    assert a.claim_reading(ORG, 30)  # and the other way round
    assert not b.claim_reading(ORG, 30) and not governor.claim_learning(ORG, 30)
    b.end_reading(ORG)  # not b's claim: a's stays
    assert not governor.claim_learning(ORG, 30)
    a.end_reading(ORG)
    assert b.claim_reading(ORG, 30)


def test_redis_holds_the_org_only_hashed_and_numbers(redis_server):
    [shared] = replicas(redis_server, 1)
    shared.observe(ORG, 1_234, time.time())
    shared.charge(ORG, 2)
    client = redis_server.client()
    keys = [k.decode() for k in client.keys("*")]
    assert keys and all(k.startswith("sfdest:batches:{") for k in keys)
    assert not any("acme" in k or "salesforce" in k for k in keys)
    values = client.hgetall(keys[0])
    assert values[b"remaining"] == b"1232" and set(values) == {b"remaining", b"read_at"}
    assert 0 < client.pttl(keys[0]) <= 3600 * 1000


def test_a_redis_that_does_not_answer_raises_coordination_unavailable():
    dead = RedisBulkBatches(connect(f"redis://127.0.0.1:{_free_port()}/0", timeout_seconds=0.5))
    for step in (lambda: dead.left(ORG), lambda: dead.charge(ORG, 1), lambda: dead.observe(ORG, 1, time.time()),
                 lambda: dead.claim_reading(ORG, 5)):
        with pytest.raises(CoordinationUnavailable):
            step()
