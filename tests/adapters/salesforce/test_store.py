"""SalesforceStore: describe caching, paged queries, and sObject Collections writes mapped per record."""

from __future__ import annotations

import threading

import httpx
import pytest

from core.names import to_18
from core.ports import BackendError, FieldIn, Lookup
from core.salesforce_answers import read
from tests.adapters.salesforce import fakes
from tests.adapters.salesforce.fakes import DATA, LEAD_IDS, FakeClock, FakeSalesforce, body_of, respond

DESCRIBE = f"{DATA}/sobjects/Lead/describe"
QUERY = f"{DATA}/query"
COLLECTIONS = f"{DATA}/composite/sobjects"
UPSERT = f"{DATA}/composite/sobjects/Lead/Ext__c"
LOCKED = {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access to this record",
          "fields": []}


def _open(org, clock=None, deadline=None, **kw):
    return fakes.backend(org, clock, **kw).open(fakes.connection(), deadline)


def _ok(rid, **extra):
    return {"id": rid, "success": True, "errors": [], **extra}


def _err(code, message, fields=(), rid=None):
    item = {"success": False, "errors": [{"statusCode": code, "message": message, "fields": list(fields)}]}
    if rid:
        item["id"] = rid
    return item


def lead_id(n: int) -> str:
    return to_18(f"00QHs{n:010d}")


# Describe -----------------------------------------------------------------------------------------
def test_describe_parses_the_rest_shape():
    d = _open(FakeSalesforce()).describe("Lead")
    assert d.name == "Lead" and d.key_prefix == "00Q"
    assert {f.name for f in d.fields if f.required_on_create} == {"LastName", "Company"}
    assert d.field("ext__c").external_id and d.field("Ext__c").id_lookup
    assert not d.field("Description").filterable
    assert d.field("NumberOfEmployees").type == "int"


def test_describe_is_cached_per_connection_with_a_ttl():
    org = FakeSalesforce()
    clock = FakeClock()
    b = fakes.backend(org, clock, describe_ttl_seconds=900)
    b.open(fakes.connection()).describe("Lead")
    again = b.open(fakes.connection())
    again.describe("LEAD")
    assert again.api_calls == 0
    clock.now += 901
    again.describe("Lead")
    assert again.api_calls == 1
    assert len(org.requests_to("GET", DESCRIBE)) == 2


def test_describe_of_an_unknown_object_is_not_found():
    org = FakeSalesforce()
    with pytest.raises(BackendError) as caught:
        _open(org).describe("Leed")
    assert caught.value.error.code == "NOT_FOUND"
    assert "Leed" in caught.value.error.message


# Find ---------------------------------------------------------------------------------------------
def test_find_follows_next_records_urls_and_strips_attributes():
    org = FakeSalesforce()
    owner = {"attributes": {"type": "User", "url": f"{DATA}/sobjects/User/005Hs00000AbCdEIAV"}, "Name": "Ann"}
    next_url = f"{DATA}/query/01gHs00000AbCdEIAV-2"
    org.on("GET", QUERY, respond(200, fakes.query_page(
        [fakes.lead_record(LEAD_IDS[0], Email="a@x.com", Owner=owner),
         fakes.lead_record(LEAD_IDS[1], Email="b@x.com", Owner=None)], 3, next_url)))
    org.on("GET", next_url, respond(200, fakes.query_page([fakes.lead_record(LEAD_IDS[2], Email="c@x.com",
                                                                             Owner=None)], 3)))
    found = _open(org).find(Lookup("Lead", ("Id", "Email"), ((FieldIn("Email", ("a@x.com", "b@x.com",
                                                                                  "c@x.com")),),)))
    assert found == [{"Id": LEAD_IDS[0], "Email": "a@x.com", "Owner": {"Name": "Ann"}},
                     {"Id": LEAD_IDS[1], "Email": "b@x.com", "Owner": None},
                     {"Id": LEAD_IDS[2], "Email": "c@x.com", "Owner": None}]
    assert [r.url.path for r in org.data_requests] == [DESCRIBE, QUERY, next_url]


def test_records_found_by_several_split_queries_are_returned_once():
    org = FakeSalesforce()
    org.on("GET", QUERY, respond(200, fakes.query_page([fakes.lead_record(LEAD_IDS[0])], 1)))
    lookup = Lookup("Lead", ("Id",), ((FieldIn("Email", tuple(f"user{i}@example.com" for i in range(60))),),))
    found = _open(org, max_url_bytes=600).find(lookup)
    assert len(org.requests_to("GET", QUERY)) > 1
    assert found == [{"Id": LEAD_IDS[0]}]


def test_an_invalid_field_refreshes_the_describe_once_and_names_the_missing_field():
    org = FakeSalesforce()
    stale = dict(fakes.LEAD_DESCRIBE, fields=[*fakes.LEAD_DESCRIBE["fields"], fakes.field("Gone__c")])
    org.on("GET", DESCRIBE, respond(200, stale), respond(200, fakes.LEAD_DESCRIBE))
    org.on("GET", QUERY, respond(400, [{"message": "No such column 'Gone__c' on entity 'Lead'.",
                                        "errorCode": "INVALID_FIELD"}]))
    store = _open(org)
    assert store.describe("Lead").field("Gone__c") is not None
    with pytest.raises(BackendError) as caught:
        store.find(Lookup("Lead", ("Id",), ((FieldIn("Gone__c", ("x",)),),)))
    assert caught.value.error.code == "INVALID_FIELD" and caught.value.error.fields == ("Gone__c",)
    assert len(org.requests_to("GET", DESCRIBE)) == 2
    assert len(org.requests_to("GET", QUERY)) == 1
    assert store.describe("Lead").field("Gone__c") is None  # the refreshed describe is the one cached


def test_an_invalid_field_for_a_field_that_still_exists_reruns_the_query_once():
    org = FakeSalesforce()
    org.on("GET", QUERY, respond(400, [{"message": "No such column", "errorCode": "INVALID_FIELD"}]),
           respond(200, fakes.query_page([], 0)))
    assert _open(org).find(Lookup("Lead", ("Id",), ((FieldIn("Email", ("a",)),),))) == []
    assert len(org.requests_to("GET", QUERY)) == 2
    assert len(org.requests_to("GET", DESCRIBE)) == 2


# Writes -------------------------------------------------------------------------------------------
def test_create_sends_a_collection_and_maps_each_result_in_order():
    org = FakeSalesforce()
    org.on("POST", COLLECTIONS, respond(200, [
        _ok(LEAD_IDS[0]),
        _err("REQUIRED_FIELD_MISSING", "Required fields are missing: [Company]", ["Company"]),
        _ok(LEAD_IDS[1]),
    ]))
    records = [{"LastName": "A", "Company": "X"}, {"LastName": "B"}, {"LastName": "C", "Company": "Y"}]
    outcomes = _open(org).create("Lead", records)
    assert [(o.success, o.id, o.created) for o in outcomes] == [(True, LEAD_IDS[0], True), (False, "", False),
                                                               (True, LEAD_IDS[1], True)]
    assert outcomes[1].said.code == "REQUIRED_FIELD_MISSING" and outcomes[1].said.fields == ("Company",)
    [request] = org.requests_to("POST", COLLECTIONS)
    assert body_of(request) == {"allOrNone": False, "records": [
        {"attributes": {"type": "Lead"}, **r} for r in records]}


def test_update_records_carry_their_id_and_malformed_ids_fail_alone():
    org = FakeSalesforce()
    org.on("PATCH", COLLECTIONS, respond(200, [_ok(LEAD_IDS[0]), _err(
        "ENTITY_IS_DELETED", "entity is deleted", rid=LEAD_IDS[1])]))
    outcomes = _open(org).update("Lead", [(LEAD_IDS[0][:15], {"Company": "Y"}), ("not-an-id", {"Company": "Z"}),
                                          (LEAD_IDS[1], {"Company": "W"})])
    assert [o.success for o in outcomes] == [True, False, False]
    assert outcomes[1].error.code == "MALFORMED_ID"
    assert outcomes[2].said.code == "ENTITY_IS_DELETED" and outcomes[2].id == LEAD_IDS[1]
    [request] = org.requests_to("PATCH", COLLECTIONS)
    assert body_of(request)["records"] == [
        {"attributes": {"type": "Lead"}, "id": LEAD_IDS[0], "Company": "Y"},
        {"attributes": {"type": "Lead"}, "id": LEAD_IDS[1], "Company": "W"}]


def test_delete_passes_ids_in_the_query_string_without_all_or_none():
    org = FakeSalesforce()
    org.on("DELETE", COLLECTIONS, respond(200, [_ok(LEAD_IDS[0]), _err("ENTITY_IS_DELETED", "entity is deleted",
                                                                       rid=LEAD_IDS[1])]))
    outcomes = _open(org).delete("Lead", [LEAD_IDS[0], LEAD_IDS[1]])
    assert outcomes[0].success and outcomes[1].said.code == "ENTITY_IS_DELETED"
    [request] = org.requests_to("DELETE", COLLECTIONS)
    assert request.url.params["ids"] == f"{LEAD_IDS[0]},{LEAD_IDS[1]}"
    assert request.url.params["allOrNone"] == "false"


def test_upsert_reports_created_and_updated():
    org = FakeSalesforce()
    org.on("PATCH", UPSERT, respond(200, [_ok(LEAD_IDS[0], created=True), _ok(LEAD_IDS[1], created=False)]))
    outcomes = _open(org).upsert("Lead", "Ext__c", [{"Ext__c": "L-1", "LastName": "A", "Company": "X"},
                                                    {"Ext__c": "L-2", "Company": "Y"}])
    assert [(o.success, o.id, o.created) for o in outcomes] == [(True, LEAD_IDS[0], True),
                                                               (True, LEAD_IDS[1], False)]
    assert body_of(org.requests_to("PATCH", UPSERT)[0])["records"][0] == {
        "attributes": {"type": "Lead"}, "Ext__c": "L-1", "LastName": "A", "Company": "X"}


def test_upsert_matching_several_records_is_a_multiple_match_with_their_ids():
    org = FakeSalesforce()
    org.on("PATCH", UPSERT, respond(200, [_err(
        "DUPLICATE_EXTERNAL_ID", f"Ext__c: more than one record found for external id field: "
        f"[{LEAD_IDS[0]}, {LEAD_IDS[1]}]"), _err("DUPLICATE_EXTERNAL_ID", "Duplicate external id specified: L-2")]))
    outcomes = _open(org).upsert("Lead", "Ext__c", [{"Ext__c": "L-1"}, {"Ext__c": "L-2"}])
    several = read(outcomes[0], "upsert", "Lead", "Ext__c")  # what core reads in Salesforce's answer
    assert several.error.code == "MULTIPLE_MATCHES"
    assert several.matched_ids == (LEAD_IDS[0], LEAD_IDS[1])
    other = read(outcomes[1], "upsert", "Lead", "Ext__c")
    assert other.error.code == "DUPLICATE_EXTERNAL_ID" and other.matched_ids == ()


def test_upsert_records_without_a_key_value_fail_alone():
    org = FakeSalesforce()
    org.on("PATCH", UPSERT, respond(200, [_ok(LEAD_IDS[0], created=True)]))
    outcomes = _open(org).upsert("Lead", "Ext__c", [{"Ext__c": None}, {"Company": "X"}, {"ext__c": "L-3"}])
    assert [o.error.code if o.error else "ok" for o in outcomes] == ["MATCHER_VALUE_MISSING",
                                                                     "MATCHER_VALUE_MISSING", "ok"]
    assert len(body_of(org.requests_to("PATCH", UPSERT)[0])["records"]) == 1


def test_bad_field_names_or_values_fail_their_record_and_are_never_sent():
    org = FakeSalesforce()
    org.on("POST", COLLECTIONS, respond(200, [_ok(LEAD_IDS[0])]))
    outcomes = _open(org).create("Lead", [{"LastName": "A", "Company\" : 1, \"x": "y"},
                                          {"attributes": {"type": "User"}}, {"LastName": float("nan")},
                                          {"LastName": "ok", "Company": "X"}])
    assert [o.error.code if o.error else "ok" for o in outcomes] == [
        "INVALID_FIELD", "INVALID_FIELD", "MAPPING_VALUE_INVALID", "ok"]
    [request] = org.requests_to("POST", COLLECTIONS)
    assert body_of(request)["records"] == [{"attributes": {"type": "Lead"}, "LastName": "ok", "Company": "X"}]


def test_writes_are_chunked_by_200_and_results_keep_request_order():
    org = FakeSalesforce()

    def echo(request):
        records = body_of(request)["records"]
        return respond(200, [_ok(lead_id(int(r["LastName"]))) for r in records])

    org.on("POST", COLLECTIONS, echo)
    outcomes = _open(org).create("Lead", [{"LastName": str(i), "Company": "X"} for i in range(450)])
    assert [o.id for o in outcomes] == [lead_id(i) for i in range(450)]
    sizes = sorted(len(body_of(r)["records"]) for r in org.requests_to("POST", COLLECTIONS))
    assert sizes == [50, 200, 200]


def test_chunks_run_concurrently_up_to_the_per_org_limit():
    org = FakeSalesforce()
    in_flight = 0
    peak = 0
    seen = 0
    lock = threading.Lock()
    two_at_once = threading.Barrier(2, timeout=30)

    def handler(request):
        nonlocal in_flight, peak, seen
        if request.url.path != COLLECTIONS:
            return org(request)
        with lock:
            in_flight += 1
            seen += 1
            first_two = seen <= 2
            peak = max(peak, in_flight)
        try:
            if first_two:
                two_at_once.wait()  # would break (and fail the test) if chunks ran one at a time
            return org(request)
        finally:
            with lock:
                in_flight -= 1

    org.on("POST", COLLECTIONS, lambda r: respond(200, [_ok(LEAD_IDS[0])] * len(body_of(r)["records"])))
    store = fakes.backend(org, handler=handler, max_in_flight_per_org=2).open(fakes.connection())
    outcomes = store.create("Lead", [{"LastName": "x", "Company": "X"}] * 1000)
    assert all(o.success for o in outcomes)
    assert peak == 2
    assert store.api_calls == 5


def test_a_failed_chunk_fails_only_its_own_records():
    org = FakeSalesforce()

    def by_chunk(request):
        records = body_of(request)["records"]
        if records[0]["LastName"] == "200":
            raise httpx.ReadTimeout("timed out", request=request)
        if records[0]["LastName"] == "400":
            return respond(400, [{"message": "Json Deserialization failed", "errorCode": "JSON_PARSER_ERROR"}])
        return respond(200, [_ok(lead_id(int(r["LastName"]))) for r in records])

    org.on("POST", COLLECTIONS, by_chunk)
    outcomes = _open(org).create("Lead", [{"LastName": str(i), "Company": "X"} for i in range(500)])
    assert all(o.success for o in outcomes[:200])
    assert {o.error.code for o in outcomes[200:400]} == {"OUTCOME_UNKNOWN"}
    assert {o.error.code for o in outcomes[400:]} == {"JSON_PARSER_ERROR"}


def test_locked_rows_alone_are_resent_with_backoff():
    org = FakeSalesforce()
    org.on("POST", COLLECTIONS,
           respond(200, [_ok(LEAD_IDS[0]), _err(**{"code": LOCKED["statusCode"], "message": LOCKED["message"]}),
                         _ok(LEAD_IDS[2])]),
           respond(200, [_ok(LEAD_IDS[1])]))
    clock = FakeClock()
    records = [{"LastName": n, "Company": "X"} for n in "ABC"]
    outcomes = _open(org, clock).create("Lead", records)
    assert [o.id for o in outcomes] == [LEAD_IDS[0], LEAD_IDS[1], LEAD_IDS[2]]
    first, second = org.requests_to("POST", COLLECTIONS)
    assert body_of(second)["records"] == [{"attributes": {"type": "Lead"}, "LastName": "B", "Company": "X"}]
    assert len(clock.sleeps) == 1


def test_rows_still_locked_after_the_retries_report_the_lock():
    org = FakeSalesforce()
    locked = {"success": False, "errors": [{"statusCode": "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                                            "message": "Trigger: UNABLE_TO_LOCK_ROW, unable to obtain exclusive "
                                                       "access to this record", "fields": []}], "id": LEAD_IDS[0]}
    org.on("PATCH", COLLECTIONS, respond(200, [locked]))
    [outcome] = _open(org).update("Lead", [(LEAD_IDS[0], {"Company": "Y"})])
    assert outcome.said.code == "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"
    assert len(org.requests_to("PATCH", COLLECTIONS)) == 3


def test_a_collection_locked_every_time_is_sent_three_times_at_least_a_second_apart_with_jitter():
    # One retry loop: the transport does not resend a locked collection inside the store's lock resends.
    org = FakeSalesforce()
    org.on("PATCH", COLLECTIONS, respond(400, [{"errorCode": LOCKED["statusCode"], "message": LOCKED["message"]}]))
    clock = FakeClock()
    outcomes = _open(org, clock).update("Lead", [(LEAD_IDS[0], {"Company": "Y"}), (LEAD_IDS[1], {"Company": "Z"})])
    assert {o.error.code for o in outcomes} == {"UNABLE_TO_LOCK_ROW"}
    assert len(org.requests_to("PATCH", COLLECTIONS)) == 3
    first, second = clock.sleeps
    assert 1.0 < first <= 1.5 and 2.0 < second <= 3.0  # the floor doubles; the jitter only adds


def test_a_locked_row_resent_into_unavailable_answers_is_carried_by_at_most_three_requests():
    org = FakeSalesforce()
    org.on("PATCH", COLLECTIONS, respond(200, [_ok(LEAD_IDS[0]), _err(LOCKED["statusCode"], LOCKED["message"])]),
           respond(503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "Server is unavailable"}]))
    clock = FakeClock()
    first, second = _open(org, clock).update("Lead", [(LEAD_IDS[0], {"Company": "Y"}), (LEAD_IDS[1], {"Company": "Z"})])
    assert first.success and second.error.code == "SERVER_UNAVAILABLE"
    sent = [[r["id"] for r in body_of(q)["records"]] for q in org.requests_to("PATCH", COLLECTIONS)]
    assert sent == [[LEAD_IDS[0], LEAD_IDS[1]], [LEAD_IDS[1]], [LEAD_IDS[1]]]
    assert clock.sleeps[0] >= 1.0  # before resending the locked row


def test_an_unreadable_create_result_is_outcome_unknown():
    org = FakeSalesforce()
    org.on("POST", COLLECTIONS, respond(200, [_ok(LEAD_IDS[0])]))
    outcomes = _open(org).create("Lead", [{"LastName": "A", "Company": "X"}, {"LastName": "B", "Company": "X"}])
    assert {o.error.code for o in outcomes} == {"OUTCOME_UNKNOWN"}


def test_no_request_for_an_empty_batch():
    org = FakeSalesforce()
    store = _open(org)
    assert store.create("Lead", []) == [] and store.delete("Lead", []) == []
    assert org.requests == []
