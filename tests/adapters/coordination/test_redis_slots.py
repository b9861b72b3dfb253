"""The shared per-org semaphore on a real redis-server: a cap across replicas, slots back on release or expiry."""

from __future__ import annotations

import time

from adapters.coordination.redis_slots import RedisSlots

WAIT_LIMIT = 30.0  # never asserted


def test_at_most_cap_holders_across_replicas_and_slots_come_back(redis_server):
    client = redis_server.client()
    client.flushall()
    replicas = [RedisSlots(redis_server.client()) for _ in range(3)]
    held = [replicas[n % 3].acquire("org", 5, 60, None) for n in range(5)]
    assert all(held)
    assert all(r.acquire("org", 5, 60, time.monotonic()) is None for r in replicas)  # full everywhere
    replicas[0].release(held[0])
    assert replicas[2].acquire("org", 5, 60, time.monotonic()) is not None
    short = replicas[1].acquire("other", 1, 0.05, None)  # a replica that dies holding its slot
    assert short is not None
    assert replicas[2].acquire("other", 1, 60, time.monotonic() + WAIT_LIMIT) is not None  # back once it expired
