"""Inside one batch over the REST adapter: candidates as one-event queries find them (in one query), refused and
locked rows alone. The behaviours every backend shares are in tests/contract/test_batch_semantics.py."""

from __future__ import annotations

import json

import pytest

from adapters.memory.ids import IdFactory
from adapters.memory.org import Org
from core.model import MatcherOperator, Operation, ResultError
from tests.adapters.salesforce.harness import harness, seed_leads
from tests.builders import LEAD_FIELDS_WITH_PHONE_TITLE, lead, matcher, person
from tools.emulator.faults import LOCK_MESSAGE

LOCK = ResultError("UNABLE_TO_LOCK_ROW", LOCK_MESSAGE)


def _seed_people(emu) -> None:
    org = emu.org
    for email, phone, last in [("ann@example.com", "1", "Ng"), ("ANN@example.com", "2", "Ng"),
                               ("bob@example.com", "3", "Li"), ("cy@example.com", "3", "Cy"),
                               ("dee@example.com", None, "O'Neil"), ("eve@example.com", "4", "Ng")]:
        org.seed("Lead", {"LastName": last, "Company": "Acme", "Email": email, "Phone": phone})


CANDIDATE_EVENTS = [
    person("ann", "Ann@Example.com", title="x"),  # two records: 300
    person("bob", "BOB@example.com", title="x", phone="3"),  # Email or Phone: bob and cy
    person("bob-only", "bob@example.com", title="x"),
    person("dee", "dee@example.com", last_name="O'Neil", title="x"),
    person("nobody", "nobody@example.com", title="x"),
    person("phone", "zed@example.com", phone="4", title="x"),
    person("eve-and", "eve@example.com", last_name="NG", title="x"),
    person("eve-wrong", "eve@example.com", last_name="Li", title="x"),
]


@pytest.mark.parametrize("operator,matchers", [
    (MatcherOperator.OR, (matcher("Email", "traits.email"),)),
    (MatcherOperator.OR, (matcher("Email", "traits.email"), matcher("Phone", "traits.phone"))),
    (MatcherOperator.AND, (matcher("Email", "traits.email"), matcher("LastName", "traits.last_name"))),
])
def test_batch_candidates_equal_the_one_event_query(emulator_factory, operator, matchers):
    """Title is the only field written, so no event changes what a later one matches."""
    one, many = (emulator_factory(org=Org(ids=IdFactory(start=0))) for _ in range(2))
    _seed_people(one)
    _seed_people(many)
    action = lead(Operation.UPDATE, *matchers, operator=operator, mappings=LEAD_FIELDS_WITH_PHONE_TITLE[5:])
    with harness(one) as h:
        singles = h.apply_one_by_one(action, CANDIDATE_EVENTS)
    with harness(many) as h:
        h.warm("Lead")
        batch = h.apply(action, CANDIDATE_EVENTS).results
        assert many.calls["query"] == 1
    shown = [(r.status, r.outcome, r.record_id, sorted(r.matched_ids), r.error and r.error.code) for r in batch]
    assert shown == [(r.status, r.outcome, r.record_id, sorted(r.matched_ids), r.error and r.error.code)
                     for r in singles]
    assert {r.status for r in batch} == {200, 300, 404}


def test_one_refused_record_never_fails_its_neighbours(emulator):
    events = [person(f"e{i}", f"p{i}@example.com") for i in range(300)]
    events[7] = person("bad-email", "not-an-email")
    events[250] = person("too-long", "long@example.com", last_name="x" * 81)
    with harness(emulator) as h:
        h.warm("Lead")
        report = h.apply(lead(Operation.CREATE), events)
    codes = {r.event_id: (r.status, r.error and r.error.code) for r in report.results if r.status != 201}
    assert codes == {"bad-email": (422, "INVALID_EMAIL_ADDRESS"), "too-long": (422, "STRING_TOO_LONG")}
    assert len(emulator.org.records("Lead")) == 298 and emulator.calls["collection_create"] == 2
    bodies = [json.loads(r.body) for r in emulator.requests if r.path.endswith("/composite/sobjects")]
    assert all(b["allOrNone"] is False for b in bodies)


def _updated_ids(emu) -> list[list[str]]:
    """The record ids of each collections update request, in the order sent."""
    return [[r["id"] for r in json.loads(q.body)["records"]] for q in emu.requests
            if q.method == "PATCH" and q.path.endswith("/composite/sobjects")]


@pytest.mark.parametrize("bulk_threshold", [10**9, 1])
def test_only_locked_rows_are_resent_after_a_backoff(emulator, bulk_threshold):
    ids = seed_leads(emulator, 5)
    for rid in ids[1:3]:
        emulator.org.faults.add(LOCK, record_id=rid, times=1)
    slept: list[float] = []
    with harness(emulator, bulk_threshold, sleep=slept.append) as h:
        report = h.apply(lead(Operation.UPDATE), [person(f"e{i}", f"lead{i}@example.com", title="CFO")
                                                   for i in range(5)])
    assert [r.status for r in report.results] == [200] * 5
    assert {emulator.org.get("Lead", rid)["Title"] for rid in ids} == {"CFO"}
    resent = _updated_ids(emulator)[-1]
    assert sorted(resent) == sorted(ids[1:3])  # rows already written were not sent again
    assert len(slept) >= 1


def test_rows_still_locked_after_the_retries_fail_alone_and_retryable(emulator):
    ids = seed_leads(emulator, 3)
    emulator.org.faults.add(LOCK, record_id=ids[1], times=None)
    with harness(emulator, sleep=lambda s: None) as h:
        report = h.apply(lead(Operation.UPDATE), [person(f"e{i}", f"lead{i}@example.com", title="CFO")
                                                   for i in range(3)])
    assert [(r.status, r.retryable) for r in report.results] == [(200, False), (423, True), (200, False)]
    assert [len(batch) for batch in _updated_ids(emulator)] == [3, 1, 1]  # 3 attempts, the locked row only
