"""Answers real orgs gave (tests/adapters/salesforce/recorded_divergences.py) read right by the adapter, over MockTransport."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from core.model import Action, Event, FieldMapping, Operation, Outcome, RecordMatcher, ValueSource
from core.names import to_18
from core.salesforce_answers import read
from core.service import ApplyService
from tests.adapters.salesforce import fakes
from tests.adapters.salesforce import recorded_divergences as rec
from tests.adapters.salesforce.fakes import DATA, LEAD_IDS, FakeSalesforce, respond

COLLECTIONS = f"{DATA}/composite/sobjects"
JOB = f"{DATA}/jobs/ingest/{rec.GUIDE_JOB_ID}"
BY_ID = (RecordMatcher("Id", ValueSource.of_path("id")),)
UPDATE = Action("Lead", Operation.UPDATE, BY_ID, None, (FieldMapping("LastName", ValueSource.of_path("last")),))
DELETE = Action("Lead", Operation.DELETE, BY_ID)


def _open(org: FakeSalesforce, **kw):
    clock = fakes.FakeClock()
    return fakes.backend(org, clock, bulk_poll_seconds=(0.5, 1.0), **kw).open(fakes.connection())


def _csv(text: str) -> httpx.Response:
    return httpx.Response(200, content=text.encode(), headers={"Content-Type": "text/csv"})


def _bulk_job(org: FakeSalesforce, object_name: str, operation: str, processed: int, failed: int = 0) -> None:
    info = {"id": rec.GUIDE_JOB_ID, "operation": operation, "object": object_name, "contentType": "CSV",
            "lineEnding": "LF", "columnDelimiter": "COMMA", "apiVersion": 66.0}
    org.on("POST", f"{DATA}/jobs/ingest", respond(200, {**info, "state": "Open"}))
    org.on("PUT", f"{JOB}/batches", respond(201))
    org.on("PATCH", JOB, respond(200, {**info, "state": "UploadComplete"}))
    org.on("GET", JOB, respond(200, {**info, "state": "JobComplete", "jobType": "V2Ingest",
                                     "numberRecordsProcessed": processed, "numberRecordsFailed": failed}))


# 1. Bulk insert results echo values as stored --------------------------------------------------------
@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4, 5, 6], [6, 4, 2, 0, 5, 3, 1]], ids=["as-documented", "shuffled"])
def test_the_guides_bulk_insert_ties_every_record_back_despite_e_notation(order):
    org = FakeSalesforce()
    org.on("GET", f"{DATA}/sobjects/Account/describe", respond(200, rec.ACCOUNT_DESCRIBE))
    _bulk_job(org, "Account", "insert", processed=7)
    org.on("GET", f"{JOB}/successfulResults/", _csv(rec.guide_successful_results(order)))
    records = [dict(zip(rec.GUIDE_COLUMNS, row, strict=True)) for row in rec.GUIDE_UPLOAD]
    outcomes = _open(org, write_path="bulk").create("Account", records)
    assert [(o.success, o.id, o.created) for o in outcomes] == [(True, rid, True) for rid in rec.GUIDE_IDS]
    [upload] = [r for r in org.requests if r.method == "PUT"]
    uploaded = list(csv.reader(io.StringIO(upload.content.decode(), newline="")))
    assert uploaded[1][3] == "912260031"  # what was sent; the result says 9.12260031E8


def test_a_result_row_that_matches_no_upload_stays_outcome_unknown():
    org = FakeSalesforce()
    org.on("GET", f"{DATA}/sobjects/Account/describe", respond(200, rec.ACCOUNT_DESCRIBE))
    _bulk_job(org, "Account", "insert", processed=7)
    text = rec.guide_successful_results(list(range(7))).replace("9.12260031E8", "9.12260032E8")
    org.on("GET", f"{JOB}/successfulResults/", _csv(text))
    records = [dict(zip(rec.GUIDE_COLUMNS, row, strict=True)) for row in rec.GUIDE_UPLOAD]
    outcomes = _open(org, write_path="bulk").create("Account", records)
    assert [o.error.code if o.error else "" for o in outcomes] == ["OUTCOME_UNKNOWN"] + [""] * 6


# 2. DUPLICATE_VALUE on a raced upsert -------------------------------------------------------------------
UPSERT = f"{COLLECTIONS}/Lead/{rec.DUPLICATE_KEY}"
HOLDER = to_18(rec.DUPLICATE_HOLDER_15)


@pytest.mark.parametrize("refusal", [rec.DUPLICATE_RACE, rec.DUPLICATE_MASKED], ids=["named", "masked"])
def test_a_duplicate_value_naming_the_key_only_in_its_message_is_resent_once(refusal):
    org = FakeSalesforce()
    org.on("PATCH", UPSERT, respond(200, [refusal]),
           respond(200, [{"id": HOLDER, "success": True, "errors": [], "created": False}]))
    [outcome] = _open(org).upsert("Lead", rec.DUPLICATE_KEY, [{rec.DUPLICATE_KEY: "P-1", "LastName": "Ng"}])
    assert (outcome.success, outcome.id, outcome.created) == (True, HOLDER, False)
    assert len(org.requests_to("PATCH", UPSERT)) == 2


def test_a_duplicate_value_on_another_field_is_not_resent_and_names_that_field():
    org = FakeSalesforce()
    org.on("PATCH", UPSERT, respond(200, [rec.DUPLICATE_OTHER_FIELD]))
    [outcome] = _open(org).upsert("Lead", rec.DUPLICATE_KEY, [{rec.DUPLICATE_KEY: "P-1", "ODK_uuid__c": "u"}])
    error = read(outcome, "upsert", "Lead", rec.DUPLICATE_KEY).error
    assert (outcome.success, error.code, error.fields) == (False, "DUPLICATE_VALUE", ("ODK_uuid__c",))
    assert len(org.requests_to("PATCH", UPSERT)) == 1


# 3. An update or delete of an id that is no record ------------------------------------------------------
def _apply(org: FakeSalesforce, action: Action, **kw) -> list[tuple]:
    events = [Event(f"e{i}", {"id": LEAD_IDS[i], "last": "Ng"}) for i in range(2)]
    report = ApplyService(fakes.backend(org, **kw)).apply(fakes.connection(), action, events)
    return [(r.status, r.outcome, r.record_id, r.error.code if r.error else "", r.error.fields if r.error else ())
            for r in report.results]


@pytest.mark.parametrize("method,action", [("PATCH", UPDATE), ("DELETE", DELETE)], ids=["update", "delete"])
def test_invalid_cross_reference_on_the_records_own_id_is_not_found(method, action):
    org = FakeSalesforce()
    org.on(method, COLLECTIONS, respond(200, [{"id": LEAD_IDS[0], "success": True, "errors": []},
                                              rec.NO_SUCH_RECORD]))
    done = (200, Outcome.UPDATED) if method == "PATCH" else (204, Outcome.DELETED)
    assert _apply(org, action) == [(*done, LEAD_IDS[0], "", ()), (404, Outcome.NOT_FOUND, LEAD_IDS[1], "NOT_FOUND", ())]


def test_invalid_cross_reference_on_a_lookup_stays_a_rejection_naming_the_field():
    org = FakeSalesforce()
    org.on("PATCH", COLLECTIONS, respond(200, [rec.BAD_LOOKUP, rec.BAD_LOOKUP]))
    assert {r[:2] + r[3:] for r in _apply(org, UPDATE)} == {
        (422, Outcome.REJECTED, "INVALID_CROSS_REFERENCE_KEY", ("OwnerId",))}


def test_a_bulk_delete_of_an_id_that_is_no_record_is_not_found():
    org = FakeSalesforce()
    _bulk_job(org, "Lead", "delete", processed=2, failed=1)
    org.on("GET", f"{JOB}/successfulResults/", _csv(f'"sf__Id","sf__Created",Id\n"{LEAD_IDS[0]}","false",'
                                                    f'"{LEAD_IDS[0]}"\n'))
    org.on("GET", f"{JOB}/failedResults/", _csv(f'"sf__Id","sf__Error",Id\n"","{rec.BULK_NO_SUCH_RECORD}",'
                                                f'"{LEAD_IDS[1]}"\n'))
    assert _apply(org, DELETE, write_path="bulk") == [
        (204, Outcome.DELETED, LEAD_IDS[0], "", ()), (404, Outcome.NOT_FOUND, LEAD_IDS[1], "NOT_FOUND", ())]
