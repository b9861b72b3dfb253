"""RecordStore.hard_delete over MockTransport: one Bulk API 2.0 hardDelete job; the missing permission raised."""

from __future__ import annotations

import httpx
import pytest

from core.ports import BackendError
from tests.adapters.salesforce import fakes
from tests.adapters.salesforce.fakes import DATA, LEAD_IDS, FakeSalesforce, body_of, respond

JOB_ID = "750Hs00000AbCdEIAV"
JOB = f"{DATA}/jobs/ingest/{JOB_ID}"
REFUSAL = "hardDelete operation requires special user profile permission, please contact your system administrator"


def _store(org: FakeSalesforce):
    clock = fakes.FakeClock()
    return fakes.backend(org, clock, bulk_poll_seconds=(0.5, 1.0)).open(fakes.connection())


def _job(org: FakeSalesforce, **final) -> None:
    info = {"id": JOB_ID, "operation": "hardDelete", "object": "Lead", "contentType": "CSV", "lineEnding": "LF",
            "columnDelimiter": "COMMA", "apiVersion": 66.0}
    org.on("POST", f"{DATA}/jobs/ingest", respond(200, {**info, "state": "Open"}))
    org.on("PUT", f"{JOB}/batches", respond(201))
    org.on("PATCH", JOB, respond(200, {**info, "state": "UploadComplete"}))
    org.on("GET", JOB, respond(200, {**info, "jobType": "V2Ingest", **final}))


def test_a_hard_delete_is_one_job_whose_rows_come_back_by_id():
    org = FakeSalesforce()
    _job(org, state="JobComplete", numberRecordsProcessed=2, numberRecordsFailed=0)
    results = '"sf__Id","sf__Created",Id\n' + "".join(f'"{i}","false","{i}"\n' for i in reversed(LEAD_IDS[:2]))
    org.on("GET", f"{JOB}/successfulResults/",
           httpx.Response(200, content=results.encode(), headers={"Content-Type": "text/csv"}))
    outcomes = _store(org).hard_delete("Lead", LEAD_IDS[:2])
    assert [(o.success, o.id) for o in outcomes] == [(True, LEAD_IDS[0]), (True, LEAD_IDS[1])]
    [create] = org.requests_to("POST", f"{DATA}/jobs/ingest")
    assert body_of(create)["operation"] == "hardDelete"
    [upload] = org.requests_to("PUT", f"{JOB}/batches")
    assert upload.content.decode().splitlines() == ["Id", *(f'"{i}"' for i in LEAD_IDS[:2])]  # one Id column


@pytest.mark.parametrize("where", ["creating the job", "the job failing"])
def test_a_user_without_the_permission_gets_featurenotenabled_and_nothing_is_deleted(where):
    org = FakeSalesforce()
    if where == "creating the job":
        org.on("POST", f"{DATA}/jobs/ingest", respond(400, [{"errorCode": "FEATURENOTENABLED", "message": REFUSAL}]))
    else:
        _job(org, state="Failed", numberRecordsProcessed=0, numberRecordsFailed=0,
             errorMessage=f"FeatureNotEnabled : {REFUSAL}")
        org.on("GET", f"{JOB}/unprocessedrecords/",
               httpx.Response(200, content=f"Id\n{LEAD_IDS[0]}\n".encode(), headers={"Content-Type": "text/csv"}))
    with pytest.raises(BackendError) as refused:
        _store(org).hard_delete("Lead", LEAD_IDS[:1])
    assert refused.value.error.code == "FEATURENOTENABLED"
    if where == "creating the job":
        assert not org.requests_to("PUT", f"{JOB}/batches")  # refused before any data went
