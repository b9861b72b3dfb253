"""Independent calls of one Apply run at once, up to the per-org cap; a deadline too near for a job uses collections."""

from __future__ import annotations

import threading
import time

import pytest

from core.model import Operation
from tests.batch.helpers import SteppedClock, harness, lead, person, seed_leads
from tools.emulator import dispatch


@pytest.fixture
def in_flight(monkeypatch):
    """The peak number of data calls the emulator served at once, per call kind."""
    lock, current, peak = threading.Lock(), {}, {}
    original = dispatch._run

    def run(emu, call):
        with lock:
            current[call.kind] = current.get(call.kind, 0) + 1
            peak[call.kind] = max(peak.get(call.kind, 0), current[call.kind])
        try:
            time.sleep(0.05)  # hold the call, so calls sent together overlap
            return original(emu, call)
        finally:
            with lock:
                current[call.kind] -= 1
    monkeypatch.setattr(dispatch, "_run", run)
    return peak


def test_collection_chunks_run_concurrently_up_to_the_per_org_cap(emulator, in_flight):
    with harness(emulator, max_in_flight_per_org=3) as h:
        report = h.apply(lead(Operation.CREATE), [person(f"e{i}", f"e{i}@example.com") for i in range(1000)])
    assert {r.status for r in report.results} == {201}
    assert emulator.calls["collection_create"] == 5 and in_flight["collection_create"] == 3


def test_lookups_split_for_the_uri_limit_run_concurrently(emulator, in_flight):
    seed_leads(emulator, 1000, prefix="a.rather.long.local.part.for.this.test.")
    events = [person(f"e{i}", f"a.rather.long.local.part.for.this.test.{i}@example.com", title="x")
              for i in range(1000)]
    with harness(emulator) as h:
        report = h.apply(lead(Operation.UPDATE), events)
    assert {r.status for r in report.results} == {200}
    assert emulator.calls["query"] >= 3 and in_flight["query"] == emulator.calls["query"]


def test_a_deadline_too_near_to_wait_for_a_job_uses_collections(emulator):
    clock = SteppedClock()
    with harness(emulator, bulk_threshold=2, clock=clock, sleep=clock.sleep) as h:
        store = h.backend.open(h.connection, deadline=clock.now + 1.0)  # a job keeps 2 s back to abort and read
        outcomes = store.create("Lead", [{"LastName": "A", "Company": "X"}, {"LastName": "B", "Company": "X"}])
        assert [o.success for o in outcomes] == [True, True]
        assert emulator.bulk_calls == 0 and emulator.calls["collection_create"] == 1
        store = h.backend.open(h.connection, deadline=clock.now + 60)
        store.create("Lead", [{"LastName": "C", "Company": "X"}, {"LastName": "D", "Company": "X"}])
    assert emulator.calls["bulk_create"] == 1
