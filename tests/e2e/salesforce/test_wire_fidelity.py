"""Salesforce's wire shapes through ApplyService over httpx.MockTransport: what each answer becomes per event.

Complements tests/adapters/salesforce (adapter-level parsing): the statuses hosts see (201, 200, 204, 300, 403, 409, 422,
502, 503), merged per-record errors, permission errors, non-JSON error pages and result bodies that are missing.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.model import Action, Event, FieldMapping, Operation, Outcome, RecordMatcher, ValueSource
from core.service import ApplyService
from tests.adapters.salesforce import fakes
from tests.adapters.salesforce.fakes import DATA, LEAD_IDS, FakeClock, FakeSalesforce, body_of, respond

COLLECTIONS = f"{DATA}/composite/sobjects"
UPSERT_URL = f"{DATA}/composite/sobjects/Lead/Ext__c"
QUERY = f"{DATA}/query"
FIELDS = (FieldMapping("LastName", ValueSource.of_path("last")), FieldMapping("Company", ValueSource.of_literal("X")))
BY_ID = (RecordMatcher("Id", ValueSource.of_path("id")),)
ACTIONS = {
    "create": Action("Lead", Operation.CREATE, field_mappings=FIELDS),
    "update": Action("Lead", Operation.UPDATE, record_matchers=BY_ID, field_mappings=FIELDS),
    "delete": Action("Lead", Operation.DELETE, record_matchers=BY_ID),
    "upsert": Action("Lead", Operation.UPSERT, record_matchers=(RecordMatcher("Ext__c", ValueSource.of_path("ext")),),
                     field_mappings=FIELDS),
    "update_by_email": Action("Lead", Operation.UPDATE, field_mappings=FIELDS,
                              record_matchers=(RecordMatcher("Email", ValueSource.of_path("email")),)),
}
ROUTES = {"create": ("POST", COLLECTIONS), "update": ("PATCH", COLLECTIONS), "delete": ("DELETE", COLLECTIONS),
          "upsert": ("PATCH", UPSERT_URL)}


def ok(rid: str, **extra: Any) -> dict[str, Any]:
    return {"id": rid, "success": True, "errors": [], **extra}


def refused(*errors: tuple[str, str, list[str]], rid: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"success": False,
                            "errors": [{"statusCode": c, "message": m, "fields": f} for c, m, f in errors]}
    if rid:
        item["id"] = rid
    return item


def events(n: int) -> list[Event]:
    return [Event(f"e{i}", {"id": LEAD_IDS[i], "last": f"L{i}", "ext": f"X-{i}", "email": f"u{i}@x.com"})
            for i in range(n)]


def apply(org: FakeSalesforce, action: str, n: int, clock: FakeClock | None = None):
    backend = fakes.backend(org, clock)
    return ApplyService(backend).apply(fakes.connection(), ACTIONS[action], events(n))


def results(report) -> list[tuple[Any, ...]]:
    return [(r.status, r.outcome, r.record_id, r.retryable, r.error.code if r.error else "") for r in report.results]


# Success and per-record refusals, one status per event -----------------------------------------
def test_each_collection_answer_becomes_the_hosts_status_per_event():
    org = FakeSalesforce()
    org.on("POST", COLLECTIONS, respond(200, [ok(LEAD_IDS[0]), refused(
        ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Company must be approved", ["Company"]))]))
    org.on("PATCH", COLLECTIONS, respond(200, [ok(LEAD_IDS[0]), refused(
        ("DUPLICATE_VALUE", "duplicate value found: Ext__c duplicates value on record with id: "
         f"{LEAD_IDS[3]}", ["Ext__c"]), rid=LEAD_IDS[1])]))
    org.on("DELETE", COLLECTIONS, respond(200, [ok(LEAD_IDS[0]), refused(
        ("ENTITY_IS_DELETED", "entity is deleted", []), rid=LEAD_IDS[1])]))
    org.on("PATCH", UPSERT_URL, respond(200, [
        ok(LEAD_IDS[0], created=True), ok(LEAD_IDS[1], created=False),
        refused(("DUPLICATE_EXTERNAL_ID", f"Lead Ext: more than one record found for external id field: "
                 f"[{LEAD_IDS[2]}, {LEAD_IDS[3]}]", ["Ext__c"]))]))
    assert results(apply(org, "create", 2)) == [
        (201, Outcome.CREATED, LEAD_IDS[0], False, ""),
        (422, Outcome.REJECTED, "", False, "FIELD_CUSTOM_VALIDATION_EXCEPTION")]
    assert results(apply(org, "update", 2)) == [
        (200, Outcome.UPDATED, LEAD_IDS[0], False, ""), (409, Outcome.DUPLICATE, LEAD_IDS[1], False, "DUPLICATE_VALUE")]
    assert results(apply(org, "delete", 2)) == [
        (204, Outcome.DELETED, LEAD_IDS[0], False, ""), (404, Outcome.NOT_FOUND, LEAD_IDS[1], False, "ENTITY_IS_DELETED")]
    upserted = apply(org, "upsert", 3)
    assert results(upserted) == [
        (201, Outcome.CREATED, LEAD_IDS[0], False, ""), (200, Outcome.UPDATED, LEAD_IDS[1], False, ""),
        (300, Outcome.AMBIGUOUS, "", False, "MULTIPLE_MATCHES")]
    assert upserted.results[2].matched_ids == (LEAD_IDS[2], LEAD_IDS[3])


def test_several_errors_on_one_record_keep_the_first_code_every_message_and_every_field():
    org = FakeSalesforce()
    org.on("POST", COLLECTIONS, respond(200, [refused(
        ("REQUIRED_FIELD_MISSING", "Required fields are missing: [Company]", ["Company"]),
        ("STRING_TOO_LONG", "Last Name: data value too large", ["LastName"]))]))
    [result] = apply(org, "create", 1).results
    assert (result.status, result.outcome, result.error.code) == (422, Outcome.REJECTED, "REQUIRED_FIELD_MISSING")
    assert result.error.fields == ("Company", "LastName")
    assert "Required fields are missing" in result.error.message and "data value too large" in result.error.message


def test_a_lock_wrapped_in_a_trigger_error_is_resent_alone_then_succeeds():
    org = FakeSalesforce()
    trigger_lock = ("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "LeadTrigger: execution of AfterUpdate caused by: "
                    "System.DmlException: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access to this record", [])
    org.on("PATCH", COLLECTIONS, respond(200, [ok(LEAD_IDS[0]), refused(trigger_lock, rid=LEAD_IDS[1])]),
           respond(200, [ok(LEAD_IDS[1])]))
    assert [r[:2] for r in results(apply(org, "update", 2))] == [(200, Outcome.UPDATED)] * 2
    first, second = org.requests_to("PATCH", COLLECTIONS)
    assert [r["id"] for r in body_of(second)["records"]] == [LEAD_IDS[1]]


# Whole-call answers ------------------------------------------------------------------------------
@pytest.mark.parametrize("status, code", [(403, "API_DISABLED_FOR_ORG"), (403, "INSUFFICIENT_ACCESS_OR_READONLY"),
                                          (403, "INSUFFICIENT_ACCESS")])
def test_permission_errors_are_403_forbidden_and_sent_once(status, code):
    org = FakeSalesforce()
    org.on("GET", QUERY, respond(status, [{"message": "not allowed", "errorCode": code}]))
    report = apply(org, "update_by_email", 2)
    assert [r[:2] + r[3:] for r in results(report)] == [(403, Outcome.FORBIDDEN, False, code)] * 2
    assert len(org.requests_to("GET", QUERY)) == 1


def test_an_error_body_that_is_an_object_not_an_array_is_still_read():
    org = FakeSalesforce()
    org.on("GET", QUERY, respond(400, {"message": "unexpected token: 'FRM'", "errorCode": "MALFORMED_QUERY"}))
    [result] = apply(org, "update_by_email", 1).results
    assert (result.status, result.outcome, result.error.code) == (400, Outcome.INVALID, "MALFORMED_QUERY")
    assert "unexpected token" in result.error.message


@pytest.mark.parametrize("page", [
    httpx.Response(503, text="<html><body>Service Unavailable</body></html>", headers={"Content-Type": "text/html"}),
    httpx.Response(502),
    httpx.Response(503, text="not json", headers={"Content-Type": "application/json"}),
], ids=["html-503", "empty-502", "broken-json-503"])
def test_an_outage_page_that_is_not_salesforce_json_is_retried(page):
    org = FakeSalesforce()
    org.on("GET", QUERY, page, respond(200, fakes.query_page([fakes.lead_record(LEAD_IDS[0], Email="u0@x.com")], 1)))
    org.on("PATCH", COLLECTIONS, respond(200, [ok(LEAD_IDS[0])]))
    clock = FakeClock()
    assert results(apply(org, "update_by_email", 1, clock)) == [(200, Outcome.UPDATED, LEAD_IDS[0], False, "")]
    assert len(org.requests_to("GET", QUERY)) == 2 and len(clock.sleeps) == 1


def test_an_outage_page_that_lasts_is_a_retryable_503():
    org = FakeSalesforce()
    org.on("GET", QUERY, httpx.Response(503, text="<html>down</html>", headers={"Content-Type": "text/html"}))
    report = apply(org, "update_by_email", 2)
    assert [r[:2] + r[3:] for r in results(report)] == [(503, Outcome.TRANSIENT_FAILURE, True,
                                                         "SERVER_UNAVAILABLE")] * 2
    assert len(org.requests_to("GET", QUERY)) == 3


@pytest.mark.parametrize("action, answer, expected", [
    ("create", respond(201), (502, Outcome.UNCERTAIN, False)),
    ("create", httpx.Response(200, text="OK"), (502, Outcome.UNCERTAIN, False)),
    ("update", respond(204), (500, Outcome.TRANSIENT_FAILURE, True)),
    ("delete", respond(204), (500, Outcome.TRANSIENT_FAILURE, True)),
    ("upsert", respond(300, [f"{DATA}/sobjects/Lead/{LEAD_IDS[0]}", f"{DATA}/sobjects/Lead/{LEAD_IDS[1]}"]),
     (500, Outcome.TRANSIENT_FAILURE, True)),
], ids=["create-201-empty", "create-200-text", "update-204", "delete-204", "upsert-300-urls"])
def test_a_write_answered_without_a_per_record_result_is_never_reported_as_success(action, answer, expected):
    org = FakeSalesforce()
    org.on(*ROUTES[action], answer)
    report = apply(org, action, 2)
    assert [(r.status, r.outcome, r.retryable) for r in report.results] == [expected] * 2
    assert len(org.requests_to(*ROUTES[action])) == 1  # an unreadable answer is not a reason to resend
