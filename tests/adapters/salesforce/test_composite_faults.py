"""Faults aimed at one subrequest of a Composite call: its rows alone are affected, and resent when safe."""

from __future__ import annotations

import pytest

from core.model import Operation, Outcome
from tests.adapters.salesforce.harness import harness, seed_leads
from tests.builders import by_id, identify_only, lead, person


@pytest.mark.parametrize(("fault", "seeded", "collections"), [
    ("unavailable", 300, 2),  # the org could not serve the first of two update collections
    ("row_lock", 450, 3),  # the first of three update collections found its rows locked
])
def test_an_update_subrequest_that_failed_is_resent_alone(emulator, fault, seeded, collections):
    ids = seed_leads(emulator, seeded)
    emulator.fail_next(1, fault, call="collection_update")
    with harness(emulator, use_composite=True, sleep=lambda s: None) as h:
        h.warm("Lead")
        report = h.apply(by_id(Operation.UPDATE), [identify_only(f"e{i}", lead_id=rid, title="CEO")
                                                   for i, rid in enumerate(ids)])
    assert {r.status for r in report.results} == {200}
    assert {emulator.org.get("Lead", rid)["Title"] for rid in ids} == {"CEO"}
    # one call for every collection; one more for the failed collection's rows only
    assert emulator.api_calls == 2 and emulator.subrequests["collection_update"] == collections + 1


def test_a_create_subrequest_refused_whole_is_never_resent_and_fails_only_its_records(emulator):
    seed_leads(emulator, 5)
    emulator.fail_next(1, "unavailable", call="collection_create")
    events = [person(f"new{i}", f"new{i}@example.com") for i in range(3)] + [
        person(f"old{i}", f"lead{i}@example.com", title="VP") for i in range(5)]
    with harness(emulator, use_composite=True, sleep=lambda s: None) as h:
        h.warm("Lead")
        report = h.apply(lead(Operation.UPSERT), events)
    created, updated = report.results[:3], report.results[3:]
    assert {(r.status, r.outcome, r.retryable, r.error.code) for r in created} == {
        (503, Outcome.TRANSIENT_FAILURE, True, "SERVER_UNAVAILABLE")}
    assert {r.status for r in updated} == {200}  # the update collection in the same call was applied
    assert emulator.subrequests["collection_create"] == 1 and len(emulator.org.records("Lead")) == 5


def test_a_create_subrequest_that_failed_while_processing_is_uncertain(emulator):
    emulator.fail_next(1, "server_error", call="collection_create")
    with harness(emulator, use_composite=True, sleep=lambda s: None) as h:
        h.warm("Lead")
        report = h.apply(lead(Operation.CREATE), [person(f"e{i}", f"e{i}@example.com") for i in range(2)])
    assert {(r.status, r.outcome, r.error.code) for r in report.results} == {(502, Outcome.UNCERTAIN,
                                                                              "OUTCOME_UNKNOWN")}
    assert emulator.subrequests["collection_create"] == 1
