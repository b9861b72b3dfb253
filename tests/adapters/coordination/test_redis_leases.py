"""The Redis adapter of the coordination port, on a real redis-server: what it stores, fencing across
replicas, and what an Apply answers when Redis does not."""

from __future__ import annotations

import time

from adapters.coordination.local import LocalKeyLeases
from adapters.coordination.redis_leases import FENCE_KEY, RedisKeyLeases, connect
from adapters.memory.store import MemoryBackend
from core.coercion import match_key
from core.coordination import CoordinationUnavailable, holding, record_key
from core.describe import FieldDescribe
from core.model import Operation, Outcome
from core.service import ApplyService
from tests.builders import CONN, identify, lead_action
from tests.redis_fixture import _free_port

EMAIL = FieldDescribe("Email", "email", "Email", 80)


def test_redis_holds_only_hashed_keys_and_opaque_holders(redis_server):
    client = redis_server.client()
    client.flushall()
    key = record_key("https://acme.my.salesforce.com", "Lead", [("Email", match_key("ann@example.com", EMAIL))])
    lease = RedisKeyLeases(client).acquire(key, 60, None)
    stored = {k.decode(): (client.get(k) or b"").decode() for k in client.keys("*")}
    assert set(stored) == {key, FENCE_KEY}
    assert stored[key] == lease.holder and stored[FENCE_KEY] == str(lease.fence)
    assert not any("ann" in text or "example" in text or "acme" in text for text in [*stored, *stored.values()])
    assert 0 < client.pttl(key) <= 60_000  # it expires on its own


def test_two_replicas_share_one_key_and_one_growing_fence(redis_server):
    redis_server.client().flushall()
    first, second = RedisKeyLeases(connect(redis_server.url)), RedisKeyLeases(connect(redis_server.url))
    held = first.acquire("k", 60, None)
    assert second.acquire("k", 60, time.monotonic()) is None
    second.release(type(held)(held.key, "someone-else", held.fence, held.expires_at))  # not the holder: no-op
    assert second.acquire("k", 60, time.monotonic()) is None
    first.release(held)
    taken = second.acquire("k", 60, time.monotonic())
    assert taken is not None and taken.fence > held.fence


def test_an_unreachable_redis_is_named_and_no_key_is_held():
    leases = RedisKeyLeases(connect(f"redis://127.0.0.1:{_free_port()}/0", timeout_seconds=0.5))
    try:
        leases.acquire("k", 60, None)
        raise AssertionError("acquire answered without Redis")
    except CoordinationUnavailable as exc:
        assert "Redis did not answer" in str(exc)
    with holding(leases, ["a", "b"], deadline=time.monotonic() + 5) as held:
        assert held == set() and held.unavailable


def test_upserts_answer_503_retryable_and_write_nothing_when_redis_is_down():
    backend = MemoryBackend()
    leases = RedisKeyLeases(connect(f"redis://127.0.0.1:{_free_port()}/0", timeout_seconds=0.5))
    events = [identify("e1", email="ann@example.com")]
    [result] = ApplyService(backend, leases=leases).apply(CONN, lead_action(Operation.UPSERT), events,
                                                          deadline=time.monotonic() + 30).results
    assert (result.status, result.outcome, result.retryable, result.error.code) == (
        503, Outcome.NOT_ATTEMPTED, True, "COORDINATION_UNAVAILABLE")
    [retried] = ApplyService(backend, leases=LocalKeyLeases()).apply(CONN, lead_action(Operation.UPSERT), events).results
    assert retried.status == 201  # the first attempt wrote nothing


def test_a_command_that_reaches_redis_after_its_caller_gave_up_takes_nothing(redis_server):
    client = redis_server.client()
    client.flushall()
    late = RedisKeyLeases(client, command_seconds=-60)  # as if sent a minute before Redis ran it
    try:
        late.acquire("k", 60, None)
        raise AssertionError("a late acquire was granted")
    except CoordinationUnavailable as exc:
        assert "after its caller gave up" in str(exc)
    assert client.get("k") is None and RedisKeyLeases(client).acquire("k", 60, time.monotonic()) is not None
