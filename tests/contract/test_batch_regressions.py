"""Regressions: a batch gives what one event at a time gives, even when writes fail (review findings)."""

import pytest

from adapters.memory.store import MemoryBackend
from core.model import Action, Connection, Operation
from core.service import ApplyService
from tests.builders import identify_only, mapping, matcher

URL = "https://probe.my.salesforce.com"
CONN = Connection(URL)


def summary(report):
    return [(r.status, r.outcome.name, r.error.code if r.error else "") for r in report.results]


def fresh():
    b = MemoryBackend()
    return ApplyService(b), b.org(URL)


def dry_name(o):
    return {"WOULD_CREATE": "CREATED", "WOULD_UPDATE": "UPDATED", "WOULD_DELETE": "DELETED"}.get(o, o)


def one_by_one(svc, act, events):
    return [summary(svc.apply(CONN, act, [e]))[0] for e in events]


# 1 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dead", ["deleted", "never existed"])
def test_update_by_id_with_nothing_to_write_on_missing_record_is_404(dead):
    svc, org = fresh()
    rid = org.seed("Lead", {"LastName": "A", "Company": "C"})
    if dead == "deleted":
        org.delete("Lead", rid)
    else:
        rid = "00QHs00000zzzzz"
    act = Action("Lead", Operation.UPDATE, (matcher("Id", "traits.id"),), None, (mapping("Title", "traits.title"),))
    real = svc.apply(CONN, act, [identify_only(1, id=rid)]).results[0]   # title absent: nothing to write
    dry = svc.apply(CONN, act, [identify_only(1, id=rid)], dry_run=True).results[0]
    assert (dry.status, dry.outcome.name) == (404, "NOT_FOUND")
    assert (real.status, real.outcome.name) == (404, "NOT_FOUND"), "real run says 204 NO_CHANGE for a missing record"


# 2 -------------------------------------------------------------------------------------------
def _or_id_email_case(batch):
    svc, org = fresh()
    x = org.seed("Lead", {"LastName": "X", "Company": "C", "Email": "old@x.com"})
    act = Action("Lead", Operation.UPDATE, (matcher("Id", "traits.id"), matcher("Email", "traits.email")), None,
                 (mapping("Title", "traits.title"), mapping("Email", "traits.new_email")))
    events = [identify_only(1, id=x, new_email="new@x.com"), identify_only(2, email="new@x.com", title="T2"),
              identify_only(3, email="old@x.com", title="T3")]
    res = summary(svc.apply(CONN, act, events)) if batch else one_by_one(svc, act, events)
    return res, org.records("Lead")[0]["Title"]


def test_id_direct_write_is_seen_by_later_matcher_lookups_in_the_batch():
    assert _or_id_email_case(True) == _or_id_email_case(False)


# 3 -------------------------------------------------------------------------------------------
def _failed_matcher_change(op, batch):
    svc, org = fresh()
    org.seed("Lead", {"LastName": "R", "Company": "C", "Email": "a@x.com"})
    act = Action("Lead", op, (matcher("Email", "traits.email"),), None,
                 (mapping("Email", "traits.new_email"), mapping("Title", "traits.title"), mapping("LastName", "traits.ln"),
                  mapping("Company", "traits.co")))
    # event 1 tries to move the record's Email a -> b but Salesforce refuses it (Title too long)
    e1 = identify_only(1, email="a@x.com", new_email="b@x.com", title="x" * 200)
    e2 = identify_only(2, email="b@x.com" if op is Operation.UPDATE else "a@x.com", title="T2", ln="N", co="C")
    res = summary(svc.apply(CONN, act, [e1, e2])) if batch else one_by_one(svc, act, [e1, e2])
    return res, sorted((r["Email"], r["Title"] or "") for r in org.records("Lead"))


@pytest.mark.parametrize("op", [Operation.UPDATE, Operation.UPSERT])
def test_a_refused_write_does_not_leave_later_events_matched_against_its_planned_values(op):
    # UPDATE: batch updates a record whose Email never became b (one-by-one: 404).
    # UPSERT: batch creates a duplicate a@x.com Lead (one-by-one: updates the existing one).
    assert _failed_matcher_change(op, True) == _failed_matcher_change(op, False)


# 4 -------------------------------------------------------------------------------------------
def _failed_create_then_ambiguous(batch):
    svc, org = fresh()
    org.seed("Lead", {"LastName": "R", "Company": "C", "Phone": "9"})
    act = Action("Lead", Operation.UPSERT, (matcher("Email", "traits.email"), matcher("Phone", "traits.phone")), None,
                 (mapping("LastName", "traits.ln"), mapping("Company", "traits.co"), mapping("Title", "traits.title")))
    events = [identify_only(1, email="new@x.com", phone="5", ln="L" * 81, co="C"),  # create refused: STRING_TOO_LONG
              identify_only(2, email="new@x.com", phone="9", ln="B", co="C", title="T")]
    return summary(svc.apply(CONN, act, events)) if batch else one_by_one(svc, act, events)


def test_a_300_caused_by_a_record_whose_create_failed_is_not_reported():
    batch = _failed_create_then_ambiguous(True)
    assert batch == _failed_create_then_ambiguous(False), "batch: 300 with one candidate; one-by-one: 200"


def test_dry_run_300_lists_every_candidate():
    svc, org = fresh()
    org.seed("Lead", {"LastName": "R", "Company": "C", "Phone": "9"})
    act = Action("Lead", Operation.UPSERT, (matcher("Email", "traits.email"), matcher("Phone", "traits.phone")), None,
                 (mapping("LastName", "traits.ln"), mapping("Company", "traits.co")))
    events = [identify_only(1, email="new@x.com", phone="5", ln="A", co="C"), identify_only(2, email="new@x.com", phone="9")]
    dry = svc.apply(CONN, act, events, dry_run=True).results[1]
    assert dry.status == 300
    assert len(dry.matched_ids) == 2 and "pending:1" in dry.matched_ids, dry.matched_ids


# 5 -------------------------------------------------------------------------------------------
def test_native_upsert_dry_run_status_equals_real_run_when_nothing_is_mapped():
    svc, org = fresh()
    org.seed("Subscription__c", {"External_Id__c": "S1", "Plan__c": "old"})
    act = Action("Subscription__c", Operation.UPSERT, (matcher("External_Id__c", "traits.sid"),), None,
                 (mapping("Plan__c", "traits.plan"),))
    dry = svc.apply(CONN, act, [identify_only(1, sid="S1")], dry_run=True).results[0]
    real = svc.apply(CONN, act, [identify_only(1, sid="S1")]).results[0]
    assert (dry.status, dry_name(dry.outcome.name)) == (real.status, real.outcome.name)


def test_native_upsert_honours_a_mapping_of_the_external_id_field_like_dry_run_does():
    svc, org = fresh()
    org.seed("Subscription__c", {"External_Id__c": "S1", "Plan__c": "old"})
    act = Action("Subscription__c", Operation.UPSERT, (matcher("External_Id__c", "traits.sid"),), None,
                 (mapping("Plan__c", "traits.plan"), mapping("External_Id__c", "traits.new_sid")))
    events = [identify_only(1, sid="S1", new_sid="S2"), identify_only(2, sid="S2", plan="p2")]
    dry = summary(svc.apply(CONN, act, events, dry_run=True))
    real = summary(svc.apply(CONN, act, events))
    assert [(s, dry_name(o)) for s, o, _ in dry] == [(s, o) for s, o, _ in real]


