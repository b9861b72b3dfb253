"""sObject Collections: per-record results, allOrNone rollback, the 200-record cap, upsert keys."""

from __future__ import annotations

import re

from tests.tools.emulator.helpers import V, error_code, lead

SUB = "Subscription__c"
COLLECTIONS = f"{V}/composite/sobjects"


def typed(kind: str, **fields):
    return {"attributes": {"type": kind}, **fields}


def test_create_reports_each_record_in_order(emulator, api):
    body = {"allOrNone": False, "records": [typed("Lead", **lead()), typed("Lead", LastName="NoCompany")]}
    response = api.post(COLLECTIONS, json=body)
    assert response.status_code == 200
    ok, bad = response.json()
    assert ok["success"] is True and ok["id"].startswith("00Q") and ok["errors"] == []
    assert bad == {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING",
                                                 "message": "Required fields are missing: [Company]",
                                                 "fields": ["Company"]}]}
    assert len(emulator.org.records("Lead")) == 1


def test_all_or_none_rolls_back_every_record(emulator, api):
    body = {"allOrNone": True, "records": [typed("Lead", **lead()), typed("Lead", LastName="NoCompany")]}
    rolled, failed = api.post(COLLECTIONS, json=body).json()
    assert rolled["success"] is False and "id" not in rolled
    assert rolled["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert failed["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert emulator.org.records("Lead") == []


def test_all_or_none_update_restores_previous_values(emulator, api):
    a = emulator.org.seed("Lead", lead(Email="a@example.com"))
    b = emulator.org.seed("Lead", lead(Email="b@example.com"))
    records = [typed("Lead", id=a, Email="changed@example.com"), typed("Lead", id=b, LastName=None)]
    results = api.patch(COLLECTIONS, json={"allOrNone": True, "records": records}).json()
    assert [r["id"] for r in results] == [a, b]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert emulator.org.get("Lead", a)["Email"] == "a@example.com"


def test_update_with_bad_or_missing_id_fails_that_record_only(emulator, api):
    a = emulator.org.seed("Lead", lead())
    account = "001Hs00000AbCdEIAV"
    records = [typed("Lead", id=a, Company="New"), typed("Lead", id=account), typed("Lead", Company="x")]
    ok, malformed, missing = api.patch(COLLECTIONS, json={"records": records}).json()
    assert ok == {"id": a, "success": True, "errors": []}
    assert malformed["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert missing["errors"][0]["statusCode"] == "MISSING_ARGUMENT"


def test_more_than_200_records_is_a_400(api):
    body = {"records": [typed("Lead", **lead()) for _ in range(201)]}
    response = api.post(COLLECTIONS, json=body)
    assert response.status_code == 400 and error_code(response) == "EXCEEDED_ID_LIMIT"


def test_delete_by_ids_with_mixed_outcomes(emulator, api):
    a = emulator.org.seed("Lead", lead())
    b = emulator.org.seed("Account", {"Name": "Acme"})
    response = api.delete(COLLECTIONS, params={"ids": f"{a},{b},bogus", "allOrNone": "false"})
    first, second, third = response.json()
    assert first == {"id": a, "success": True, "errors": []} and second["success"] is True
    assert third["errors"][0]["statusCode"] == "MALFORMED_ID"
    empty = api.delete(COLLECTIONS, params={"ids": ""})
    assert empty.json() == [{"message": "At least 1 Id is required.", "errorCode": "REQUIRED_FIELD_MISSING"}]


def test_upsert_results_carry_created(emulator, api):
    existing = emulator.org.seed(SUB, {"External_Id__c": "E-1"})
    records = [typed(SUB, External_Id__c="e-1", Plan__c="Gold"), typed(SUB, External_Id__c="E-2")]
    updated, created = api.patch(f"{COLLECTIONS}/{SUB}/External_Id__c", json={"records": records}).json()
    assert updated == {"id": existing, "success": True, "errors": [], "created": False}
    assert created["created"] is True and created["success"] is True


def test_upsert_duplicate_keys_in_one_request_fail_both(emulator, api):
    records = [typed(SUB, External_Id__c="D-1"), typed(SUB, External_Id__c="d-1"), typed(SUB, External_Id__c="D-2")]
    results = api.patch(f"{COLLECTIONS}/{SUB}/External_Id__c", json={"records": records}).json()
    assert [r["success"] for r in results] == [False, False, True]
    assert results[0]["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"


def test_upsert_key_matching_several_records_lists_candidate_ids(emulator, api):
    first = emulator.org.seed("Lead", lead(Email="many@example.com"))
    second = emulator.org.seed("Lead", lead(Email="many@example.com"))
    result = api.patch(f"{COLLECTIONS}/Lead/Email", json={"records": [typed("Lead", Email="MANY@example.com")]}).json()
    error = result[0]["errors"][0]
    assert error["statusCode"] == "DUPLICATE_EXTERNAL_ID" and error["fields"] == ["Email"]
    assert re.search(r"\[(.*)\]$", error["message"]).group(1).split(", ") == [first, second]


def test_retrieve_returns_null_for_missing_ids(emulator, api):
    a = emulator.org.seed("Lead", lead(Email="r@example.com"))
    response = api.get(f"{COLLECTIONS}/Lead", params={"ids": f"{a},00QHs0000000001AAA", "fields": "Email"})
    assert response.json() == [{"attributes": {"type": "Lead", "url": f"{V}/sobjects/Lead/{a}"},
                                "Email": "r@example.com"}, None]
    bad_field = api.get(f"{COLLECTIONS}/Lead", params={"ids": a, "fields": "Nope"})
    assert bad_field.status_code == 400 and error_code(bad_field) == "INVALID_FIELD"


def test_collection_calls_are_counted_by_kind(emulator, api):
    api.post(COLLECTIONS, json={"records": [typed("Lead", **lead())]})
    api.patch(f"{COLLECTIONS}/{SUB}/External_Id__c", json={"records": []})
    assert emulator.calls["collection_create"] == 1 and emulator.calls["collection_upsert"] == 1


def test_all_or_none_delete_restores_deleted_records(emulator, api):
    a = emulator.org.seed("Lead", lead())
    response = api.delete(COLLECTIONS, params={"ids": f"{a},00QHs0000000001AAA", "allOrNone": "true"})
    rolled, missing = response.json()
    assert rolled["id"] == a and rolled["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert missing["success"] is False
    assert emulator.org.get("Lead", a)["Id"] == a
    assert api.delete(f"{V}/sobjects/Lead/{a}").status_code == 204


def test_an_update_or_delete_of_an_id_that_is_no_record_is_an_invalid_cross_reference(emulator, api):
    """As real orgs answer (tests/adapters/salesforce/recorded_divergences.py): no id, "fields": []."""
    from core.names import to_18
    from tests.adapters.salesforce.recorded_divergences import NO_SUCH_RECORD

    never = to_18("00QHs0000ZZZZZZ")
    [updated] = api.patch(COLLECTIONS, json={"records": [typed("Lead", id=never, Title="CEO")]}).json()
    [deleted] = api.delete(COLLECTIONS, params={"ids": never}).json()
    assert updated == deleted == NO_SUCH_RECORD
    single = api.patch(f"{V}/sobjects/Lead/{never}", json={"Title": "CEO"})
    assert (single.status_code, error_code(single)) == (404, "NOT_FOUND")
    assert api.delete(f"{V}/sobjects/Lead/{never}").status_code == 404


def test_a_duplicate_value_names_its_field_only_in_the_message(emulator, api):
    first = emulator.org.seed(SUB, {"External_Id__c": "U-1"})
    [refused] = api.post(COLLECTIONS, json={"records": [typed(SUB, External_Id__c="u-1")]}).json()
    assert refused == {"success": False, "errors": [{
        "statusCode": "DUPLICATE_VALUE", "fields": [],
        "message": f"duplicate value found: External_Id__c duplicates value on record with id: {first}"}]}
    single = api.post(f"{V}/sobjects/{SUB}", json={"External_Id__c": "U-1"})
    assert single.status_code == 400 and single.json()[0]["fields"] == []
