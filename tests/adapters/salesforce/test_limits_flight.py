"""GET /limits once per org while its allowance is unknown: the other sessions (and replicas) wait for that
answer; a failed ask lets the next one try; a waiter that is cancelled or out of time goes on without it."""

from __future__ import annotations

import threading
import time

import fakeredis
import pytest

from adapters.coordination.budget import InProcessBudgetCounters
from adapters.coordination.redis_batches import RedisBulkBatches
from adapters.coordination.redis_budget import RedisBudgetCounters
from adapters.coordination.redis_leases import connect
from adapters.salesforce.budget_gate import BudgetGate
from adapters.salesforce.bulk_batches import OrgBatches
from adapters.salesforce.limits_flight import LimitsFlight, Waiter, learn_once, read_once
from adapters.salesforce.retry import Timing
from core.budget import ApiGovernor, BudgetCounters
from core.model import ApiUsage, ResultError
from core.ports import BackendError
from core.telemetry import NullTelemetry
from tests.redis_fixture import _free_port

ORG = "https://acme.my.salesforce.com"
BOUND = 60.0  # a waiter's longest wait: never reached in these tests, they release every wait themselves


class CountedFlight(LimitsFlight):
    def __init__(self) -> None:
        super().__init__()
        self.joined = 0

    def join(self) -> threading.Event | None:
        self.joined += 1
        return super().join()


class Asker:
    """GET /limits as a test sees it: counted; answers the allowance (or fails) once `answer` is set."""

    def __init__(self, gate: BudgetGate, fails: bool = False):
        self.gate, self.fails, self.asked, self.answer = gate, fails, 0, threading.Event()

    def __call__(self) -> None:
        self.asked += 1
        self.answer.wait(BOUND)
        if not self.fails:
            self.gate.observe(ApiUsage(10, 15_000))


def gate_of(counters: BudgetCounters) -> BudgetGate:
    return BudgetGate(ApiGovernor(counters, share=0.5), ORG, "acme", NullTelemetry())


def waiter(stop=lambda: None, deadline: float | None = None) -> Waiter:
    return Waiter(Timing(), deadline, BOUND, stop)


def eventually(condition) -> None:
    ends = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < ends
        time.sleep(0.01)


def test_sessions_of_one_process_wait_for_the_one_request_under_way():
    flight, gate = CountedFlight(), gate_of(InProcessBudgetCounters())
    ask = Asker(gate)
    threads = [threading.Thread(target=learn_once, args=(flight, gate, ask, waiter(), 30.0)) for _ in range(20)]
    for t in threads:
        t.start()
    eventually(lambda: flight.joined == 20)
    ask.answer.set()
    for t in threads:
        t.join(BOUND)
    assert ask.asked == 1 and gate.left() == 7_500


def test_a_failed_request_lets_the_next_session_ask_again():
    flight, gate = LimitsFlight(), gate_of(InProcessBudgetCounters())
    failing = Asker(gate, fails=True)
    failing.answer.set()
    learn_once(flight, gate, failing, waiter(), 30.0)
    assert failing.asked == 1 and gate.left() is None
    again = Asker(gate)
    again.answer.set()
    learn_once(flight, gate, again, waiter(), 30.0)
    assert again.asked == 1 and gate.left() == 7_500


def test_a_waiter_cancelled_or_out_of_time_goes_on_without_the_answer():
    flight, gate = LimitsFlight(), gate_of(InProcessBudgetCounters())
    ask = Asker(gate)
    leader = threading.Thread(target=learn_once, args=(flight, gate, ask, waiter(), 30.0))
    leader.start()
    eventually(lambda: ask.asked == 1)

    def cancelled() -> None:
        raise BackendError(ResultError("CANCELLED", "cancelled"))

    learn_once(flight, gate, ask, waiter(stop=cancelled), 30.0)
    learn_once(flight, gate, ask, waiter(deadline=time.monotonic() - 1), 30.0)
    assert ask.asked == 1 and gate.left() is None  # they returned while the request was still under way
    ask.answer.set()
    leader.join(BOUND)
    assert gate.left() == 7_500


def test_across_replicas_one_asks_and_the_other_waits_for_what_it_learns():
    server = fakeredis.FakeServer()
    a, b = (gate_of(RedisBudgetCounters(fakeredis.FakeRedis(server=server), 30.0)) for _ in range(2))
    ask_a, ask_b = Asker(a), Asker(b)
    leader = threading.Thread(target=learn_once, args=(LimitsFlight(), a, ask_a, waiter(), 30.0))
    leader.start()
    eventually(lambda: ask_a.asked == 1)
    other = threading.Thread(target=learn_once, args=(LimitsFlight(), b, ask_b, waiter(), 30.0))
    other.start()
    ask_a.answer.set()
    leader.join(BOUND)
    other.join(BOUND)
    assert not other.is_alive() and ask_b.asked == 0 and b.left() == 7_500


def test_across_replicas_a_failed_ask_lets_the_other_replica_ask():
    server = fakeredis.FakeServer()
    a, b = (gate_of(RedisBudgetCounters(fakeredis.FakeRedis(server=server), 30.0)) for _ in range(2))
    failing = Asker(a, fails=True)
    failing.answer.set()
    learn_once(LimitsFlight(), a, failing, waiter(), 30.0)
    ask_b = Asker(b)
    ask_b.answer.set()
    learn_once(LimitsFlight(), b, ask_b, waiter(), 30.0)
    assert (failing.asked, ask_b.asked) == (1, 1) and a.left() == 7_500


class BatchesRead:
    """The write routing's /limits read in one process as a test sees it (a limits_flight.Reading and its ask):
    counted; it tells the batches unless it fails."""

    def __init__(self, fails: bool = False):
        self.fails, self.asked, self.known, self.answer = fails, 0, False, threading.Event()

    def __call__(self) -> None:
        self.asked += 1
        self.answer.wait(BOUND)
        self.known = not self.fails

    def settled(self) -> bool:
        return self.known

    def claim(self, seconds: float) -> bool | None:
        return None if self.known else True

    def end(self) -> None:
        pass


@pytest.mark.parametrize("fails", [False, True], ids=["answered", "failed"])
def test_reads_of_the_batches_wait_for_the_one_request_under_way_and_a_failed_one_is_not_repeated_by_them(fails):
    flight, read = CountedFlight(), BatchesRead(fails)
    threads = [threading.Thread(target=read_once, args=(flight, read, read, waiter(), 30.0)) for _ in range(20)]
    for t in threads:
        t.start()
    eventually(lambda: flight.joined == 20)
    read.answer.set()
    for t in threads:
        t.join(BOUND)
    assert read.asked == 1 and read.known is not fails


class Replica:
    """One replica's view of an org over a shared (fake) Redis: its governor gate, its batch allowance, its flight,
    and its GET /limits (counted; answered once `answer` is set), which tells both as Session._ask_limits does."""

    def __init__(self, server: fakeredis.FakeServer):
        client = fakeredis.FakeRedis(server=server)
        self.gate = gate_of(RedisBudgetCounters(client, 30.0))
        self.batches = OrgBatches(RedisBulkBatches(client), ORG)
        self.flight, self.asked, self.answer = CountedFlight(), 0, threading.Event()

    def ask(self) -> None:
        self.asked += 1
        self.answer.wait(BOUND)
        self.gate.observe(ApiUsage(10, 15_000))
        self.batches.observe({"DailyBulkApiBatches": {"Max": 15_000, "Remaining": 40}})

    def learn(self) -> threading.Thread:
        return self._start(learn_once, self.flight, self.gate, self.ask, waiter(), 30.0)

    def read(self) -> threading.Thread:
        return self._start(read_once, self.flight, self.batches, self.ask, waiter(), 30.0)

    @staticmethod
    def _start(target, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args)
        thread.start()
        return thread


@pytest.mark.parametrize("first", ["governor", "batches"])
def test_across_replicas_one_request_tells_the_batches_and_the_others_read_them_from_the_shared_store(first):
    """Whichever asks first (a governor learning its allowance, or a write weighing Bulk), the other replicas'
    reads of the batches wait for its answer and then find the batches in Redis: 1 GET /limits in all."""
    server = fakeredis.FakeServer()
    a, b, c = Replica(server), Replica(server), Replica(server)
    leader = a.learn() if first == "governor" else a.read()
    eventually(lambda: a.asked == 1)
    b_learner = b.learn()  # b's governor waits for a's answer: its flight lands without asking
    eventually(lambda: b.flight.joined == 1)
    b_reader, c_reader = b.read(), c.read()  # b's read waits for b's flight; c's for a's lease
    eventually(lambda: b.flight.joined == 2 and c.flight.joined == 1)
    a.answer.set()
    for t in (leader, b_learner, b_reader, c_reader):
        t.join(BOUND)
    assert (a.asked, b.asked, c.asked) == (1, 0, 0)
    assert b.batches.left() == c.batches.left() == 40 and b.gate.left() == 7_500


def test_a_replica_whose_redis_does_not_answer_reads_the_batches_as_unknown_and_asks_nothing():
    dead = OrgBatches(RedisBulkBatches(connect(f"redis://127.0.0.1:{_free_port()}/0", timeout_seconds=0.5)), ORG)
    read = BatchesRead()
    read_once(LimitsFlight(), dead, read, waiter(), 30.0)
    assert read.asked == 0 and dead.left() is None and dead.unreachable
    dead.observe({"DailyBulkApiBatches": {"Max": 15_000, "Remaining": 40}})  # dropped, not raised
    dead.charge(1)
