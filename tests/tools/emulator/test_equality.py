"""The emulator's SOQL comparison, on Salesforce's documented examples, directly and over HTTP."""

from __future__ import annotations

import httpx
import pytest

from core.describe import FieldDescribe
from tests.tools.emulator.helpers import lead, query
from tools.emulator import equality

TEXT = FieldDescribe("Company", "string")
CASE_SENSITIVE = FieldDescribe("Key__c", "string", unique=True, case_sensitive=True)
NUMBER = FieldDescribe("Seats__c", "double")
FLAG = FieldDescribe("Active__c", "boolean")
WHEN = FieldDescribe("At__c", "datetime")
DAY = FieldDescribe("On__c", "date")
ID = FieldDescribe("Id", "id")


@pytest.mark.parametrize(("locale", "stored", "literal", "same"), [
    # "Comparison Operators": for a Turkish user a filter with Service matches SERVİCE, not SERVICE.
    ("tr_TR", "SERVİCE", "Service", True),
    ("tr_TR", "SERVICE", "Service", False),
    ("en_US", "SERVICE", "Service", True),
    ("en_US", "Straße", "STRASSE", True),
    ("en_US", "Café", "CAFÉ", True),
    ("en_US", "Café", "Cafe", False),  # accents are never folded
    ("en_US", "Café", "Cafe\u0301", False),  # nor are precomposed and combining forms unified
    ("en_US", "Acme", " Acme", False),  # a literal is compared as written
    ("en_US", "a\u00a0", "A\u00a0", True),
])
def test_text_is_compared_by_the_locales_case_rules_and_nothing_else(locale, stored, literal, same):
    assert equality.equal(stored, literal, TEXT, locale) is same


def test_unique_case_sensitive_fields_compare_case_exactly():
    assert equality.equal("ABC", "ABC", CASE_SENSITIVE) and not equality.equal("ABC", "abc", CASE_SENSITIVE)


def test_numbers_dates_datetimes_and_booleans_compare_by_value():
    assert equality.equal(12, "1.2E1", NUMBER) and equality.equal(12.0, 12, NUMBER)
    assert not equality.equal(12, "twelve", NUMBER)
    assert equality.equal("2024-05-20T20:49:32.000+0000", "2024-05-20T22:49:32+02:00", WHEN)
    assert not equality.equal("2024-05-20T20:49:32.500+0000", "2024-05-20T20:49:32Z", WHEN)
    assert equality.equal("2024-05-20", "2024-05-20", DAY) and not equality.equal("2024-05-20", "2024-05-21", DAY)
    # "Use null in WHERE": on a boolean field null matches false.
    assert equality.equal(False, None, FLAG) and not equality.equal(True, None, FLAG)
    assert equality.equal(None, None, TEXT) and not equality.equal("", None, TEXT)


def test_ids_compare_in_15_or_18_characters_whatever_the_case_of_the_18():
    id18 = "00QHs00000LmNoPMAV"
    assert equality.record_id(id18) == id18[:15]
    for form in (id18[:15], id18.upper(), id18.lower()):
        assert equality.equal(id18, form, ID), form
    assert not equality.equal(id18, id18[:15].lower(), ID)  # a 15-character id is case-sensitive
    assert equality.record_id("00QHS00000LmNoPMAV") is None  # a mixed-case body contradicting its suffix
    assert equality.record_id("00QHs00000LmNo") is None


def test_ordering_and_like():
    assert equality.ordered("<", "apple", "BANANA", TEXT) and equality.ordered(">=", 3, "2.5", NUMBER)
    assert not equality.ordered("<", None, "a", TEXT)
    pattern = (("lit", "APP"), ("any", ""), ("one", ""))
    assert equality.like(pattern, "Appleton", "en_US") and not equality.like(pattern, "App", "en_US")
    assert not equality.like(pattern, None, "en_US")


def test_a_turkish_org_answers_soql_by_turkish_case_rules(emulator_factory):
    emulator = emulator_factory(locale="tr_TR")
    dotted = emulator.org.seed("Lead", lead(Company="SERVİCE"))
    emulator.org.seed("Lead", lead(Company="SERVICE"))
    with httpx.Client(base_url=emulator.base_url,
                      headers={"Authorization": f"Bearer {emulator.issue_token()}"}) as api:
        found = query(api, "SELECT Id FROM Lead WHERE Company = 'Service'").json()["records"]
    assert [r["Id"] for r in found] == [dotted]


def test_upsert_keys_match_by_the_emulators_equality(emulator_factory):
    emulator = emulator_factory(locale="tr_TR")
    rid = emulator.org.seed("Subscription__c", {"External_Id__c": "İD-1"})
    with httpx.Client(base_url=emulator.base_url,
                      headers={"Authorization": f"Bearer {emulator.issue_token()}"}) as api:
        same = api.patch("/services/data/v60.0/sobjects/Subscription__c/External_Id__c/id-1 ", json={"Plan__c": "x"})
        other = api.patch("/services/data/v60.0/sobjects/Subscription__c/External_Id__c/ID-1", json={"Plan__c": "y"})
    assert (same.status_code, same.json()["id"]) == (200, rid)
    assert other.status_code == 201 and other.json()["id"] != rid


def test_collections_and_bulk_upserts_match_keys_by_the_emulators_equality(emulator_factory):
    from tests.tools.emulator.test_bulk import open_job, rows, run

    emulator = emulator_factory(locale="tr_TR")
    collections = emulator.org.seed("Subscription__c", {"External_Id__c": "İD-2"})
    bulk = emulator.org.seed("Subscription__c", {"External_Id__c": "İD-3"})
    with httpx.Client(base_url=emulator.base_url,
                      headers={"Authorization": f"Bearer {emulator.issue_token()}"}) as api:
        body = {"allOrNone": False, "records": [
            {"attributes": {"type": "Subscription__c"}, "External_Id__c": "id-2", "Plan__c": "c"},
            {"attributes": {"type": "Subscription__c"}, "External_Id__c": "ID-2", "Plan__c": "d"}]}
        results = api.patch("/services/data/v60.0/composite/sobjects/Subscription__c/External_Id__c", json=body).json()
        job = open_job(api, object="Subscription__c", operation="upsert", externalIdFieldName="External_Id__c")
        run(api, job, "External_Id__c,Plan__c\nid-3 ,b\nID-3,e\n")
        done = {r["External_Id__c"]: (r["sf__Id"], r["sf__Created"]) for r in rows(api, job, "successfulResults")}
    assert [(r["id"] == collections, r["created"]) for r in results] == [(True, False), (False, True)]
    assert done["id-3"] == (bulk, "false") and done["ID-3"][1] == "true"  # results echo values as stored
