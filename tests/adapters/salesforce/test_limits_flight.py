"""GET /limits once per org while its allowance is unknown: the other sessions (and replicas) wait for that
answer; a failed ask lets the next one try; a waiter that is cancelled or out of time goes on without it."""

from __future__ import annotations

import threading
import time

import fakeredis
import pytest

from adapters.coordination.budget import InProcessBudgetCounters
from adapters.coordination.redis_budget import RedisBudgetCounters
from adapters.salesforce.budget_gate import BudgetGate
from adapters.salesforce.limits_flight import LimitsFlight, Waiter, learn_once, read_once
from adapters.salesforce.retry import Timing
from core.budget import ApiGovernor, BudgetCounters
from core.model import ApiUsage, ResultError
from core.ports import BackendError
from core.telemetry import NullTelemetry

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
    """The write routing's /limits read as a test sees it: counted; it tells the batches unless it fails."""

    def __init__(self, fails: bool = False):
        self.fails, self.asked, self.known, self.answer = fails, 0, False, threading.Event()

    def __call__(self) -> None:
        self.asked += 1
        self.answer.wait(BOUND)
        self.known = not self.fails


@pytest.mark.parametrize("fails", [False, True], ids=["answered", "failed"])
def test_reads_of_the_batches_wait_for_the_one_request_under_way_and_a_failed_one_is_not_repeated_by_them(fails):
    flight, read = CountedFlight(), BatchesRead(fails)
    threads = [threading.Thread(target=read_once, args=(flight, lambda: read.known, read, waiter()))
               for _ in range(20)]
    for t in threads:
        t.start()
    eventually(lambda: flight.joined == 20)
    read.answer.set()
    for t in threads:
        t.join(BOUND)
    assert read.asked == 1 and read.known is not fails


def test_a_read_of_the_batches_waits_for_the_governors_request_and_asks_after_one_another_replica_made():
    server = fakeredis.FakeServer()
    a, b = (gate_of(RedisBudgetCounters(fakeredis.FakeRedis(server=server), 30.0)) for _ in range(2))
    ask_a = Asker(a)
    leader = threading.Thread(target=learn_once, args=(LimitsFlight(), a, ask_a, waiter(), 30.0))
    leader.start()
    eventually(lambda: ask_a.asked == 1)
    flight_b, read_b = CountedFlight(), BatchesRead()
    read_b.answer.set()
    learner_b = threading.Thread(target=learn_once, args=(flight_b, b, Asker(b), waiter(), 30.0))
    learner_b.start()  # replica b's governor waits for replica a's answer (its flight: not b's own request)
    eventually(lambda: flight_b.joined == 1)
    reader_b = threading.Thread(target=read_once, args=(flight_b, lambda: read_b.known, read_b, waiter()))
    reader_b.start()
    eventually(lambda: flight_b.joined == 2)  # the read waits for b's governor flight
    assert read_b.asked == 0
    ask_a.answer.set()
    for t in (leader, learner_b, reader_b):
        t.join(BOUND)
    assert b.left() == 7_500 and read_b.asked == 1 and read_b.known  # b's batches: b's own one request
