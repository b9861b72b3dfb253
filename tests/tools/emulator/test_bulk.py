"""Bulk API 2.0 ingest end to end: job states, CSV rules and shuffled result CSVs."""

from __future__ import annotations

import csv
import io

from tests.tools.emulator.helpers import V

JOBS = f"{V}/jobs/ingest"
SUB = "Subscription__c"


def open_job(api, **spec):
    response = api.post(JOBS, json={"contentType": "CSV", "lineEnding": "LF", **spec})
    assert response.status_code == 200, response.text
    return response.json()


def run(api, job, data: str) -> dict:
    put = api.put(f"{JOBS}/{job['id']}/batches", content=data.encode(), headers={"Content-Type": "text/csv"})
    assert put.status_code == 201
    closed = api.patch(f"{JOBS}/{job['id']}", json={"state": "UploadComplete"})
    assert closed.json()["state"] == "UploadComplete"
    return api.get(f"{JOBS}/{job['id']}").json()


def rows(api, job, kind: str) -> list[dict[str, str]]:
    response = api.get(f"{JOBS}/{job['id']}/{kind}/")
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_upsert_job_end_to_end_with_shuffled_results(emulator, api):
    existing = emulator.org.seed(SUB, {"External_Id__c": "E-0", "Plan__c": "Old"})
    job = open_job(api, object=SUB, operation="upsert", externalIdFieldName="External_Id__c")
    assert job["id"].startswith("750") and job["state"] == "Open"
    assert job["contentUrl"] == f"services/data/v66.0/jobs/ingest/{job['id']}/batches"
    lines = ["External_Id__c,Plan__c,Seats__c"] + [f"E-{n},\"Plan, \"\"{n}\"\"\",{n}" for n in range(40)]
    lines.append("E-bad,Gold,not-a-number")
    info = run(api, job, "\n".join(lines) + "\n")
    assert info["state"] == "JobComplete"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (41, 1)
    ok = rows(api, job, "successfulResults")
    assert [r["External_Id__c"] for r in ok] != [f"E-{n}" for n in range(40)]  # shuffled
    assert sorted(r["External_Id__c"] for r in ok) == sorted(f"E-{n}" for n in range(40))
    by_key = {r["External_Id__c"]: r for r in ok}
    assert by_key["E-0"]["sf__Id"] == existing and by_key["E-0"]["sf__Created"] == "false"
    assert by_key["E-7"]["sf__Created"] == "true" and by_key["E-7"]["Plan__c"] == 'Plan, "7"'
    assert emulator.org.get(SUB, existing)["Plan__c"] == 'Plan, "0"'
    failed = rows(api, job, "failedResults")
    assert failed[0]["sf__Error"].startswith("INVALID_TYPE_ON_FIELD_IN_RECORD:") and failed[0]["Seats__c"] == "not-a-number"


def test_result_csv_headers_follow_salesforce(emulator, api):
    job = open_job(api, object="Lead", operation="insert")
    run(api, job, "LastName,Company\nNg,Acme\nNoCompany,\n")
    success = api.get(f"{JOBS}/{job['id']}/successfulResults/").text.splitlines()
    assert success[0] == '"sf__Id","sf__Created",LastName,Company'
    failed = api.get(f"{JOBS}/{job['id']}/failedResults/").text.splitlines()
    assert failed[0] == '"sf__Id","sf__Error",LastName,Company'
    assert failed[1] == '"","REQUIRED_FIELD_MISSING:Required fields are missing: [Company]:Company --","NoCompany",""'


def test_na_clears_and_empty_leaves_unchanged_on_update(emulator, api):
    rid = emulator.org.seed("Lead", {"LastName": "Ng", "Company": "Acme", "Email": "a@example.com",
                                     "Title": "CEO"})
    job = open_job(api, object="Lead", operation="update")
    info = run(api, job, f"Id,Email,Title\n{rid},#N/A,\n")
    assert info["numberRecordsFailed"] == 0
    record = emulator.org.get("Lead", rid)
    assert (record["Email"], record["Title"]) == (None, "CEO")


def test_delete_job_and_pipe_delimiter(emulator, api):
    a = emulator.org.seed("Lead", {"LastName": "A", "Company": "C"})
    job = open_job(api, object="Lead", operation="delete", columnDelimiter="PIPE")
    info = run(api, job, f"Id\n{a}\n00QHs0000000001AAA\n")
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 1)
    assert emulator.org.records("Lead") == []


def test_job_completes_after_configured_number_of_polls(emulator_factory):
    import httpx

    emulator = emulator_factory(bulk_polls_to_complete=3)
    with httpx.Client(base_url=emulator.base_url,
                      headers={"Authorization": f"Bearer {emulator.issue_token()}"}) as api:
        job = open_job(api, object="Lead", operation="insert")
        first = run(api, job, "LastName,Company\nNg,Acme\n")
        states = [first["state"]] + [api.get(f"{JOBS}/{job['id']}").json()["state"] for _ in range(2)]
    assert states == ["InProgress", "InProgress", "JobComplete"]


def test_unknown_column_fails_the_job_and_leaves_rows_unprocessed(emulator, api):
    job = open_job(api, object="Lead", operation="insert")
    info = run(api, job, "LastName,Nope__c\nNg,x\n")
    assert info["state"] == "Failed" and info["errorMessage"] == "InvalidBatch : Field name not found : Nope__c"
    assert rows(api, job, "unprocessedrecords") == [{"LastName": "Ng", "Nope__c": "x"}]


def test_wrong_line_ending_fails_the_job(api):
    job = open_job(api, object="Lead", operation="insert")
    info = run(api, job, "LastName,Company\r\nNg,Acme\r\n")
    assert info["state"] == "Failed" and "LineEnding is invalid" in info["errorMessage"]


def test_abort_and_upload_to_closed_job(emulator, api):
    job = open_job(api, object="Lead", operation="insert")
    api.put(f"{JOBS}/{job['id']}/batches", content=b"LastName,Company\nNg,Acme\n", headers={"Content-Type": "text/csv"})
    assert api.patch(f"{JOBS}/{job['id']}", json={"state": "Aborted"}).json()["state"] == "Aborted"
    late = api.put(f"{JOBS}/{job['id']}/batches", content=b"LastName\nx\n", headers={"Content-Type": "text/csv"})
    assert late.status_code == 409
    assert rows(api, job, "unprocessedrecords") == [{"LastName": "Ng", "Company": "Acme"}]
    assert emulator.org.records("Lead") == []
    assert emulator.bulk_calls == 5


def test_unknown_object_and_job_are_refused(api):
    assert api.post(JOBS, json={"object": "Nope", "operation": "insert"}).status_code == 400
    assert api.get(f"{JOBS}/750Hs0000000001AAA").status_code == 404


def test_successful_rows_echo_values_as_stored_like_the_bulk_guides_insert(api):
    """The Bulk API 2.0 Developer Guide's insert (tests/adapters/salesforce/recorded_divergences.py): 912260031 -> 9.12260031E8."""
    from tests.adapters.salesforce import recorded_divergences as rec

    job = open_job(api, object="Account", operation="insert")
    lines = [",".join(rec.GUIDE_COLUMNS)] + [",".join(f'"{c}"' for c in map(str, row)) for row in rec.GUIDE_UPLOAD]
    run(api, job, "\n".join(lines) + "\n")
    response = api.get(f"{JOBS}/{job['id']}/successfulResults/")
    assert response.text.splitlines()[0] == '"sf__Id","sf__Created",' + ",".join(rec.GUIDE_COLUMNS)
    echoed = {r["Name"]: (r["NumberOfEmployees"], r["AnnualRevenue"], r["sf__Created"])
              for r in csv.DictReader(io.StringIO(response.text))}
    assert echoed == {row[0]: (str(row[2]), revenue, "true")
                      for row, revenue in zip(rec.GUIDE_UPLOAD, rec.GUIDE_ECHOED_REVENUE, strict=True)}


def test_successful_rows_render_doubles_booleans_and_dates_as_salesforce_does(api):
    job = open_job(api, object=SUB, operation="insert")
    run(api, job, "External_Id__c,Seats__c,Active__c,Renewal_Date__c,Plan__c\n"
                  "A,2.50,TRUE,2024-01-02,\nB,10000000,false,,#N/A\nC,0.0001,true,,x\n")
    echoed = {r["External_Id__c"]: (r["Seats__c"], r["Active__c"], r["Renewal_Date__c"], r["Plan__c"])
              for r in rows(api, job, "successfulResults")}
    assert echoed == {"A": ("2.5", "true", "2024-01-02", ""), "B": ("1.0E7", "false", "", ""),
                      "C": ("1.0E-4", "true", "", "x")}


def test_an_update_or_delete_of_an_id_that_is_no_record_fails_as_invalid_cross_reference(api):
    from core.names import to_18

    never = to_18("00QHs0000ZZZZZZ")
    for operation in ("update", "delete"):
        job = open_job(api, object="Lead", operation=operation)
        run(api, job, f"Id\n{never}\n" if operation == "delete" else f"Id,Title\n{never},CEO\n")
        [failed] = rows(api, job, "failedResults")
        assert (failed["sf__Id"], failed["sf__Error"]) == ("", "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--")


def test_each_closed_job_is_charged_a_daily_bulk_batch_per_ten_thousand_records(emulator, api):
    assert api.get(f"{V}/limits").json()["DailyBulkApiBatches"] == {"Max": 15_000, "Remaining": 15_000}
    for size in (1, 10_000, 10_001):  # closed, not polled: charged, never run (10,000 rows take a while)
        job = open_job(api, object=SUB, operation="upsert", externalIdFieldName="External_Id__c")
        data = "External_Id__c,Plan__c\n" + "".join(f"J{size}-{n},p\n" for n in range(size))
        api.put(f"{JOBS}/{job['id']}/batches", content=data.encode(), headers={"Content-Type": "text/csv"})
        assert api.patch(f"{JOBS}/{job['id']}", json={"state": "UploadComplete"}).status_code == 200
    opened = open_job(api, object=SUB, operation="insert")  # never closed: never charged
    api.put(f"{JOBS}/{opened['id']}/batches", content=b"Plan__c\np\n", headers={"Content-Type": "text/csv"})
    assert emulator.bulk_batches == (1 + 1 + 2, 15_000)
    emulator.set_bulk_batches(used=14_999)
    assert api.get(f"{V}/limits").json()["DailyBulkApiBatches"] == {"Max": 15_000, "Remaining": 1}


def test_uploaded_rows_are_counted_per_job_and_a_row_sent_again_is_seen(emulator, api):
    first = open_job(api, object="Lead", operation="insert")
    run(api, first, "LastName,Company\nNg,Acme\nLi,Acme\n")
    second = open_job(api, object="Lead", operation="insert")
    run(api, second, "LastName,Company\nLi,Acme\nOk,Acme\n")
    assert (emulator.bulk.rows_of(first["id"]), emulator.bulk.rows_of(second["id"])) == (2, 2)
    assert (emulator.bulk.rows_uploaded, emulator.bulk.rows_uploaded_twice) == (4, 1)
