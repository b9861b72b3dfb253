"""DUPLICATES_DETECTED in the shapes real orgs send (tests/adapters/salesforce/recorded_duplicates.py), read by the
adapter over MockTransport: the matches wherever they are named, else 409 with no ids."""

from __future__ import annotations

import pytest

from core.model import Action, Event, FieldMapping, Operation, Outcome, ValueSource
from core.service import ApplyService
from tests.adapters.salesforce import fakes
from tests.adapters.salesforce import recorded_duplicates as rec
from tests.adapters.salesforce.fakes import DATA, LEAD_IDS, FakeSalesforce, respond

COLLECTIONS = f"{DATA}/composite/sobjects"


def _lead(**options) -> Action:
    return Action("Lead", Operation.CREATE, (), None, (
        FieldMapping("LastName", ValueSource.of_path("last")),
        FieldMapping("Company", ValueSource.of_literal("Acme"))), **options)


def _apply(org: FakeSalesforce, action: Action) -> list[tuple]:
    report = ApplyService(fakes.backend(org)).apply(fakes.connection(), action, [Event("e", {"last": "Ng"})])
    return [(r.status, r.outcome, r.error.code if r.error else "", r.matched_ids, r.record_id)
            for r in report.results]


def _as_element(single_record_body: list[dict]) -> dict:
    """The recorded single-record error, as a Collections element would carry it (statusCode)."""
    [error] = single_record_body
    return {"success": False, "errors": [{**error, "statusCode": error["errorCode"], "fields": []}]}


@pytest.mark.parametrize("element", [_as_element(rec.single_record_refusal(LEAD_IDS[0], object_name="Lead")),
                                     rec.per_record_refusal(LEAD_IDS[0], object_name="Lead")],
                         ids=["duplicateResut", "duplicateResult"])
def test_the_duplicate_is_named_under_either_spelling(element):
    org = FakeSalesforce()
    org.on("POST", COLLECTIONS, respond(200, [element]))
    assert _apply(org, _lead()) == [(409, Outcome.DUPLICATE, "DUPLICATES_DETECTED", (LEAD_IDS[0],), "")]


def test_adopting_the_duplicate_named_under_the_recorded_spelling_updates_it():
    org = FakeSalesforce()
    org.on("POST", COLLECTIONS, respond(200, [_as_element(rec.single_record_refusal(LEAD_IDS[1], object_name="Lead"))]))
    org.on("PATCH", COLLECTIONS, respond(200, [{"id": LEAD_IDS[1], "success": True, "errors": []}]))
    assert _apply(org, _lead(adopt_duplicate=True)) == [(200, Outcome.UPDATED, "", (), LEAD_IDS[1])]
    [update] = org.requests_to("PATCH", COLLECTIONS)
    assert fakes.body_of(update)["records"][0]["id"] == LEAD_IDS[1]


@pytest.mark.parametrize("adopt", [False, True], ids=["plain", "adopting"])
def test_the_documented_collections_element_names_no_duplicate_409_without_ids(adopt):
    org = FakeSalesforce()
    org.on("POST", COLLECTIONS, respond(200, [rec.COLLECTION_DOCUMENTED]))
    assert _apply(org, _lead(adopt_duplicate=adopt)) == [(409, Outcome.DUPLICATE, "DUPLICATES_DETECTED", (), "")]
    assert org.requests_to("PATCH", COLLECTIONS) == []  # nothing named, nothing adopted


def test_a_malformed_duplicate_result_names_nothing_rather_than_failing():
    org = FakeSalesforce()
    broken = {"success": False, "errors": [{"statusCode": "DUPLICATES_DETECTED", "message": "x", "fields": [],
                                            "duplicateResut": {"matchResults": [None, {"matchRecords": "x"},
                                                                                {"matchRecords": [{"record": 7}]}]},
                                            "duplicateResult": ["not", "an", "object"]}]}
    org.on("POST", COLLECTIONS, respond(200, [broken]))
    assert _apply(org, _lead()) == [(409, Outcome.DUPLICATE, "DUPLICATES_DETECTED", (), "")]
