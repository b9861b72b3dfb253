"""The API budget governor's counters shared through a real redis-server: one budget for every replica, taken
atomically, merged from out-of-order reports, hashed, and freed of what a dead replica reserved."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import fakeredis
import pytest

from adapters.coordination.budget import InProcessBudgetCounters
from adapters.coordination.redis_budget import RedisBudgetCounters
from adapters.coordination.redis_leases import connect
from adapters.salesforce.budget_gate import BudgetGate
from core.budget import ApiGovernor
from core.coordination import CoordinationUnavailable
from core.model import ApiUsage, Outcome
from core.outcomes import failure
from core.ports import BackendError
from core.telemetry import NullTelemetry
from tests.redis_fixture import _free_port

ORG = "https://acme.my.salesforce.com"
LEASE = 600.0
WAIT_LIMIT = 30.0  # a safety net, never asserted


def replicas(redis_server, count: int, lease: float = LEASE) -> list[RedisBudgetCounters]:
    redis_server.client().flushall()
    return [RedisBudgetCounters(connect(redis_server.url), lease) for _ in range(count)]


@pytest.fixture(params=["in-process", "fakeredis", "redis"])
def counters(request):
    if request.param == "in-process":
        return InProcessBudgetCounters()
    if request.param == "fakeredis":  # the fast double other unit tests may use runs the same scripts
        return RedisBudgetCounters(fakeredis.FakeRedis(), LEASE)
    return replicas(request.getfixturevalue("redis_server"), 1)[0]


def test_both_adapters_reserve_refuse_commit_and_release_alike(counters):
    g = ApiGovernor(counters, share=1.0, reserve=0.2)
    assert g.reserve(ORG, 5).granted and g.left(ORG) is None  # nothing known yet: not held back
    counters.release(ORG, 5)
    counters.observe(ORG, 11_990, 15_000)
    assert g.reserve(ORG, 6).granted
    refused = g.reserve(ORG, 5)  # 11,990 + 6 reserved + 5 > 12,000
    assert not refused.granted and refused.retry_after_seconds >= 60 and refused.state.refused == 5
    state = counters.commit(ORG, 4)
    assert (state.org_used, state.own_used, state.reserved) == (11_994, 4, 2)
    state = counters.release(ORG, 2)
    assert (state.reserved, state.refused) == (0, 5) and g.left(ORG) == 6


def test_calls_finishing_started_work_are_reserved_past_the_ceilings_and_counted(counters):
    g = ApiGovernor(counters, share=1.0, reserve=0.2)
    counters.observe(ORG, 12_000, 15_000)  # at the line
    assert not g.reserve(ORG, 1).granted
    state = g.reserve_in_flight(ORG, 2)  # a Bulk job's polls: never refused
    assert state.reserved == 2 and state.refused == 1
    state = counters.commit(ORG, 2)
    assert (state.org_used, state.own_used, state.reserved) == (12_002, 2, 0) and g.left(ORG) == 0


def test_replicas_share_one_budget_and_never_promise_the_same_call(redis_server):
    three = replicas(redis_server, 3)
    governors = [ApiGovernor(c, share=0.5) for c in three]
    three[0].observe(ORG, 0, 200)  # sfdest may spend 100
    with ThreadPoolExecutor(12) as pool:
        granted = list(pool.map(lambda n: governors[n % 3].reserve(ORG, 1).granted, range(300)))
    assert granted.count(True) == 100
    state = three[2].state(ORG)
    assert (state.reserved, state.refused) == (100, 200)
    for n, ok in enumerate(granted):  # each replica sends what it reserved
        if ok:
            three[n % 3].commit(ORG, 1)
    state = three[1].state(ORG)
    assert (state.own_used, state.org_used, state.reserved) == (100, 100, 0)
    assert not governors[1].reserve(ORG, 1).granted  # the share is spent for every replica


def test_reports_are_merged_by_the_larger_count_and_a_new_limit_replaces_them(redis_server):
    a, b = replicas(redis_server, 2)
    a.observe(ORG, 500, 15_000)
    assert a.reserve(ORG, 1, ApiGovernor(a).fractions)[0]
    assert b.observe(ORG, 480, 15_000).org_used == 500  # an older answer, arriving later: ignored
    state = a.commit(ORG, 1, (520, 15_000))
    assert state.org_used == 520  # the call's own answer counts every integration's calls meanwhile
    assert b.observe(ORG, 100, 20_000).org_used == 100  # the org's allowance changed: start again from it


def test_redis_holds_the_org_only_hashed(redis_server):
    [counters] = replicas(redis_server, 1)
    counters.observe(ORG, 10, 1000)
    counters.commit(ORG, 1, (11, 1000))
    client = redis_server.client()
    keys = [k.decode() for k in client.keys("*")]
    assert keys and all(k.startswith("sfdest:budget:{") for k in keys)
    assert not any("acme" in k or "salesforce" in k for k in keys)
    assert all(0 < client.pttl(k) <= 25 * 3600 * 1000 for k in keys)  # an idle org is forgotten after a day


def test_what_a_dead_replica_reserved_comes_back_when_its_lease_runs_out(redis_server):
    client = redis_server.client()
    client.flushall()
    dead, live = RedisBudgetCounters(connect(redis_server.url), 0.2), RedisBudgetCounters(connect(redis_server.url), LEASE)
    dead.observe(ORG, 0, 40)
    g = ApiGovernor(live, share=0.5)  # 20 calls
    assert ApiGovernor(dead, share=0.5).reserve(ORG, 20).granted  # and the replica dies before sending them
    refused = g.reserve(ORG, 1)
    assert not refused.granted and refused.state.reserved == 20
    limit = time.monotonic() + WAIT_LIMIT
    while not g.reserve(ORG, 15).granted and time.monotonic() < limit:
        time.sleep(0.05)
    state = live.state(ORG)
    assert (state.reserved, state.own_used) == (15, 0)


def test_a_gate_whose_redis_does_not_answer_sends_nothing_and_answers_503_retryable():
    dead = RedisBudgetCounters(connect(f"redis://127.0.0.1:{_free_port()}/0", timeout_seconds=0.5), LEASE)
    gate = BudgetGate(ApiGovernor(dead, share=0.5), ORG, "acme", NullTelemetry())
    with pytest.raises(BackendError) as refused:
        gate.spend()
    result = failure("e1", refused.value.error)
    assert (result.status, result.outcome, result.retryable, result.error.code) == (
        503, Outcome.NOT_ATTEMPTED, True, "COORDINATION_UNAVAILABLE")
    with gate.prepaid(5) as refusal:
        assert refusal is not None and refusal.code == "COORDINATION_UNAVAILABLE"
    gate.sent(ApiUsage(10, 100))  # a commit that cannot be stored is dropped, not raised
    gate.unsent()
    assert gate.left() is None and not gate.needs_limits()


class Counting:
    """BudgetCounters that count the steps (each one Redis round trip) they pass on."""

    def __init__(self, inner: RedisBudgetCounters):
        self.inner, self.steps = inner, 0

    def __getattr__(self, name: str):
        def step(*args, **kwargs):
            self.steps += 1
            return getattr(self.inner, name)(*args, **kwargs)
        return step


def test_a_call_costs_two_redis_round_trips_once_the_allowance_is_known(redis_server):
    [redis] = replicas(redis_server, 1)
    counting = Counting(redis)
    gate = BudgetGate(ApiGovernor(counting, share=0.5), ORG, "acme", NullTelemetry())
    assert gate.needs_limits()  # nothing known: the session asks /limits once
    gate.spend()
    gate.sent(ApiUsage(100, 15_000))
    counting.steps = 0
    for n in range(10):
        assert not gate.needs_limits()
        gate.spend()  # reserve
        gate.sent(ApiUsage(101 + n, 15_000))  # commit, the answer's usage merged in
    assert counting.steps == 20
    with gate.prepaid(5) as refusal:  # a write: all its calls reserved in one step
        assert refusal is None
        for _ in range(3):
            gate.spend()
            gate.sent(None)
    assert counting.steps == 20 + 1 + 3 + 1  # reserve 5, commit 3, release the 2 unused
    assert redis.state(ORG).reserved == 0


def test_a_reservation_that_reaches_redis_after_its_caller_gave_up_takes_nothing(redis_server):
    [redis] = replicas(redis_server, 1)
    redis.observe(ORG, 0, 100)
    late = RedisBudgetCounters(connect(redis_server.url), LEASE, command_seconds=-60)  # sent a minute ago
    with pytest.raises(CoordinationUnavailable):
        late.reserve(ORG, 10, ApiGovernor(late).fractions)
    assert redis.state(ORG).reserved == 0


def test_one_replica_at_a_time_may_ask_the_allowance_while_it_is_unknown_and_a_failed_ask_lets_the_next_try(redis_server):
    a, b = replicas(redis_server, 2)
    assert a.claim_learning(ORG, 30) and not b.claim_learning(ORG, 30)  # a asks /limits, b waits
    a.end_learning(ORG)  # a's request failed: nothing learned, the claim is given up
    assert b.claim_learning(ORG, 30) and not a.claim_learning(ORG, 30)
    b.end_learning(ORG)
    dead = RedisBudgetCounters(connect(redis_server.url), LEASE)
    assert dead.claim_learning(ORG, 0.2)  # and dies while asking: its claim runs out on its own
    deadline = time.monotonic() + 30
    while not a.claim_learning(ORG, 30):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    a.observe(ORG, 10, 15_000)  # a learned the allowance
    a.end_learning(ORG)
    assert not b.claim_learning(ORG, 30)  # nobody asks again once it is known
