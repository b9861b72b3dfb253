"""What every adapter of the coordination port (core.coordination.KeyLeases) must do: in-process, Redis on a
real redis-server, and Redis on fakeredis (fast, in-process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from adapters.coordination.local import LocalKeyLeases
from adapters.coordination.redis_leases import RedisKeyLeases
from core.coercion import match_key
from core.coordination import KeyLeases, holding, record_key
from core.describe import FieldDescribe

WAIT_LIMIT = 30.0  # the longest a waiter waits in these tests; never asserted


def _fakeredis() -> KeyLeases:
    import fakeredis

    return RedisKeyLeases(fakeredis.FakeRedis())


def _redis(request) -> KeyLeases:
    server = request.getfixturevalue("redis_server")
    client = server.client()
    client.flushall()
    return RedisKeyLeases(client)


ADAPTERS: dict[str, Callable[..., KeyLeases]] = {
    "local": lambda request: LocalKeyLeases(), "fakeredis": lambda request: _fakeredis(), "redis": _redis}


@pytest.fixture(params=sorted(ADAPTERS))
def leases(request) -> KeyLeases:
    return ADAPTERS[request.param](request)


def now_only() -> float:
    return time.monotonic()  # a wait_until of "now": try once, do not wait


def test_a_key_has_one_holder_until_released(leases):
    first = leases.acquire("k", 60, None)
    assert first is not None
    assert leases.acquire("k", 60, now_only()) is None
    assert leases.acquire("other", 60, now_only()) is not None  # other keys are free
    leases.release(first)
    second = leases.acquire("k", 60, now_only())
    assert second is not None and second.fence > first.fence and second.holder != first.holder


def test_a_waiter_gets_the_key_once_the_holder_releases_it(leases):
    first = leases.acquire("k", 60, None)
    got = []
    waiter = threading.Thread(target=lambda: got.append(leases.acquire("k", 60, time.monotonic() + WAIT_LIMIT)))
    waiter.start()
    leases.release(first)
    waiter.join(WAIT_LIMIT)
    assert got and got[0] is not None and got[0].fence > first.fence


def test_an_expired_lease_goes_to_the_next_caller_and_its_late_release_frees_nothing(leases):
    stale = leases.acquire("k", 0.05, None)
    fresh = leases.acquire("k", 60, time.monotonic() + WAIT_LIMIT)  # granted once the first lease expires
    assert fresh is not None and fresh.fence > stale.fence
    leases.release(stale)  # the first holder comes back late
    assert leases.acquire("k", 60, now_only()) is None


def test_holding_takes_every_free_key_and_gives_them_back(leases):
    blocker = leases.acquire("b", 60, None)
    with holding(leases, ["c", "a", "b", "a"], deadline=time.monotonic() + 0.2) as held:
        assert held == {"a"}  # "b" is taken until the deadline: no key after it in order is taken either
        assert leases.acquire("a", 60, now_only()) is None
    leases.release(blocker)
    assert all(leases.acquire(k, 60, now_only()) is not None for k in "abc")


def test_a_cancelled_call_stops_waiting_for_a_key(leases):
    leases.acquire("k", 60, None)
    with holding(leases, ["k"], deadline=None, stop=lambda: True) as held:
        assert held == set()


def test_record_keys_hold_no_customer_value_and_follow_salesforce_matching():
    email = FieldDescribe("Email", "email", "Email", 80)
    key = record_key("https://Acme.my.salesforce.com/", "Lead", [("Email", match_key("Ann@Example.com", email))])
    assert "ann" not in key.lower() and "example" not in key.lower()
    assert key == record_key("https://acme.my.salesforce.com", "lead", [("email", match_key("ann@example.com", email))])
    assert key != record_key("https://other.my.salesforce.com", "Lead", [("Email", match_key("ann@example.com",
                                                                                                  email))])
