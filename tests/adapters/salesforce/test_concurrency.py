"""Independent calls of one Apply run at once, up to the per-org cap; a deadline too near for a job uses collections."""

from __future__ import annotations

import threading

import pytest

from core.model import Operation
from core.ports import WriteBatch
from tests.adapters.salesforce.harness import SteppedClock, harness, seed_leads
from tests.builders import lead, person
from tools.emulator import dispatch

# How long a held call waits for the others to join it; a bound, so a sequential engine fails instead of hanging.
HOLD_LIMIT = 30.0


class Overlap:
    """The peak number of data calls the emulator served at once, per call kind.

    With hold(kind, n), each call of that kind waits inside the emulator until n of them are in at once (or
    HOLD_LIMIT passes, which opens the gate for good): calls sent together overlap however slow the machine is,
    and calls sent one after another never reach n.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.current: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self._hold: dict[str, int] = {}

    def hold(self, kind: str, calls: int) -> None:
        with self._cond:
            self._hold[kind] = calls
            self.peak.pop(kind, None)

    def enter(self, kind: str) -> None:
        with self._cond:
            self.current[kind] = self.current.get(kind, 0) + 1
            self.peak[kind] = max(self.peak.get(kind, 0), self.current[kind])
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self.peak[kind] >= self._hold.get(kind, 0), HOLD_LIMIT):
                self._hold[kind] = 0  # the others never came: let every call through; the peak tells

    def leave(self, kind: str) -> None:
        with self._cond:
            self.current[kind] -= 1


@pytest.fixture
def overlap(monkeypatch) -> Overlap:
    seen = Overlap()
    original = dispatch.run_call

    def run(emu, call):
        seen.enter(call.kind)
        try:
            return original(emu, call)
        finally:
            seen.leave(call.kind)
    monkeypatch.setattr(dispatch, "run_call", run)
    return seen


def test_collection_chunks_run_concurrently_up_to_the_per_org_cap(emulator, overlap):
    overlap.hold("collection_create", 3)
    with harness(emulator, max_in_flight_per_org=3) as h:
        report = h.apply(lead(Operation.CREATE), [person(f"e{i}", f"e{i}@example.com") for i in range(1000)])
    assert {r.status for r in report.results} == {201}
    assert emulator.calls["collection_create"] == 5 and overlap.peak["collection_create"] == 3


def test_lookups_split_for_the_uri_limit_run_concurrently(emulator, overlap):
    seed_leads(emulator, 1000, prefix="a.rather.long.local.part.for.this.test.")
    events = [person(f"e{i}", f"a.rather.long.local.part.for.this.test.{i}@example.com", title="x")
              for i in range(1000)]
    with harness(emulator) as h:
        h.apply(lead(Operation.UPDATE), events)  # learns how many lookups the batch takes
        lookups = emulator.calls["query"]
        emulator.reset_counters()
        overlap.hold("query", lookups)
        report = h.apply(lead(Operation.UPDATE), events)
    assert {r.status for r in report.results} == {200}
    assert lookups >= 3 and emulator.calls["query"] == lookups and overlap.peak["query"] == lookups


def test_a_rounds_writes_to_several_objects_run_at_once_in_the_adapter(emulator, overlap):
    # core hands the round over whole (write_batches); the Salesforce adapter runs its objects' writes at once
    overlap.hold("collection_create", 2)
    with harness(emulator) as h:
        answers = h.backend.open(h.connection).write_batches([
            WriteBatch("create", [{"LastName": "A", "Company": "X"}], object_name="Lead"),
            WriteBatch("create", [{"LastName": "B"}], object_name="Contact")])
    assert [[o.success for o in a] for a in answers] == [[True], [True]]
    assert emulator.calls["collection_create"] == 2 and overlap.peak["collection_create"] == 2


def test_an_erases_hard_delete_jobs_run_at_once_in_the_adapter(emulator, overlap):
    # core hands the jobs over together (hard_delete_many); the Salesforce adapter runs them at once
    emulator.org.hard_delete_allowed = True
    ids = {"Lead": seed_leads(emulator, 2), "Contact": [emulator.org.seed("Contact", {"LastName": "C"})],
           "Account": [emulator.org.seed("Account", {"Name": "A"})]}
    overlap.hold("bulk_create", 3)
    with harness(emulator) as h:
        answers = h.backend.open(h.connection).hard_delete_many(list(ids.items()))
    assert [[(o.success, o.id) for o in a] for a in answers] == [[(True, i) for i in v] for v in ids.values()]
    assert emulator.calls["bulk_create"] == 3 and overlap.peak["bulk_create"] == 3


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
