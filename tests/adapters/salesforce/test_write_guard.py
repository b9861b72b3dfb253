"""The write guard (core.write_guard) in the REST adapter: asked right before each write call goes out, with the
keys of the events it carries; a call holding an event another attempt took over is not sent, nor one whose
claims could not be marked; a Bulk job uploads only the records the guard lets go."""

from __future__ import annotations

from core.coordination import CoordinationUnavailable
from core.ports import WriteBatch
from tests.adapters.salesforce.harness import harness

LEADS = [{"LastName": f"L{i}", "Company": "Acme"} for i in range(3)]
TAGS = [(f"event-{i}",) for i in range(3)]


def write(h, guard, records=LEADS, tags=TAGS):
    store = h.backend.open(h.connection)
    store.guard_writes(guard)
    [outcomes] = store.write("Lead", [WriteBatch("create", records, "", tags)])
    return outcomes


def test_a_call_goes_out_once_the_guard_lets_every_event_it_carries_go(emulator):
    asked: list[list[str]] = []
    with harness(emulator) as h:
        h.warm("Lead")
        outcomes = write(h, lambda keys: asked.append(list(keys)) or set(keys))
    assert [o.success for o in outcomes] == [True] * 3 and len(emulator.org.records("Lead")) == 3
    assert asked == [["event-0", "event-1", "event-2"]]


def test_a_call_carrying_an_event_taken_over_is_not_sent(emulator):
    with harness(emulator) as h:
        h.warm("Lead")
        outcomes = write(h, lambda keys: set(keys) - {"event-1"})
    assert {o.error.code for o in outcomes} == {"EVENT_TAKEN_OVER"}
    assert emulator.org.records("Lead") == [] and emulator.calls["collection_create"] == 0


def test_a_guard_that_cannot_mark_its_claims_sends_nothing(emulator):
    def unavailable(keys):
        raise CoordinationUnavailable("Redis did not answer")

    with harness(emulator) as h:
        h.warm("Lead")
        outcomes = write(h, unavailable)
    assert {o.error.code for o in outcomes} == {"COORDINATION_UNAVAILABLE"}
    assert emulator.org.records("Lead") == []


def test_a_bulk_job_uploads_only_the_records_the_guard_lets_go(emulator):
    with harness(emulator, bulk_threshold=2) as h:
        h.warm("Lead")
        outcomes = write(h, lambda keys: set(keys) - {"event-1"})
    assert [o.error.code if o.error else "written" for o in outcomes] == ["written", "EVENT_TAKEN_OVER", "written"]
    assert emulator.calls["bulk_create"] == 1 and emulator.bulk.rows_uploaded == 2
    assert sorted(r["LastName"] for r in emulator.org.records("Lead")) == ["L0", "L2"]
