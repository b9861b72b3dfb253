"""Fault knobs: injected statuses, row locks, limit refusals, delays, dropped connections, scoping."""

from __future__ import annotations

import httpx
import pytest

from core.model import ResultError
from tests.tools.emulator.helpers import V, error_code, lead, query
from tools.emulator.faults import CONCURRENT_MESSAGE, LOCK_MESSAGE
from tools.emulator.server import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN

COLLECTIONS = f"{V}/composite/sobjects"


def create_one(api: httpx.Client) -> httpx.Response:
    return api.post(COLLECTIONS, json={"records": [{"attributes": {"type": "Lead"}, **lead()}]})


def test_unavailable_answers_503_n_times_then_recovers(emulator, api):
    emulator.fail_next(2, "unavailable")
    first, second, third = (api.get(f"{V}/sobjects/") for _ in range(3))
    assert (first.status_code, error_code(first)) == (503, "SERVER_UNAVAILABLE")
    assert second.status_code == 503 and third.status_code == 200
    assert emulator.api_calls == 3 and emulator.faults.pending() == 0


def test_row_lock_is_top_level_on_single_calls_and_per_record_in_collections(emulator, api):
    emulator.fail_next(1, "row_lock", call="sobject_create")
    single = api.post(f"{V}/sobjects/Lead", json=lead())
    assert single.status_code == 400
    assert single.json() == [{"message": LOCK_MESSAGE, "errorCode": "UNABLE_TO_LOCK_ROW", "fields": []}]
    emulator.fail_next(1, "row_lock")
    batch = api.post(COLLECTIONS, json={"records": [{"attributes": {"type": "Lead"}, **lead()}] * 2})
    assert batch.status_code == 200
    assert [r["errors"][0]["statusCode"] for r in batch.json()] == ["UNABLE_TO_LOCK_ROW"] * 2
    assert emulator.org.records("Lead") == []


def test_org_planted_record_fault_fails_only_that_record(emulator, api):
    a = emulator.org.seed("Lead", lead())
    b = emulator.org.seed("Lead", lead())
    emulator.org.faults.add(ResultError("UNABLE_TO_LOCK_ROW", LOCK_MESSAGE), record_id=b)
    records = [{"attributes": {"type": "Lead"}, "id": rid, "Title": "x"} for rid in (a, b)]
    ok, locked = api.patch(COLLECTIONS, json={"records": records}).json()
    assert ok["success"] is True and locked["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"


def test_concurrent_limit_is_403_request_limit_exceeded(emulator, api):
    emulator.fail_next(1, "concurrent_limit")
    response = query(api, "SELECT Id FROM Lead")
    assert response.status_code == 403
    assert response.json() == [{"message": CONCURRENT_MESSAGE, "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def test_server_error_is_500_unknown_exception(emulator, api):
    emulator.fail_next(1, "server_error")
    assert error_code(api.get(f"{V}/sobjects/")) == "UNKNOWN_EXCEPTION"


def test_delay_holds_the_answer_back(emulator, api):
    emulator.fail_next(1, "delay", seconds=1.5)
    with pytest.raises(httpx.ReadTimeout):
        api.get(f"{V}/sobjects/", timeout=0.2)
    assert api.get(f"{V}/sobjects/").status_code == 200


def test_drop_before_writes_nothing_and_the_client_hears_nothing(emulator, api):
    emulator.drop_connection_next(1, when="before", call="collection_create")
    with pytest.raises(httpx.RemoteProtocolError):
        create_one(api)
    assert emulator.org.records("Lead") == []
    assert create_one(api).status_code == 200


def test_drop_after_commits_the_write_but_the_client_hears_nothing(emulator, api):
    emulator.drop_connection_next(1, when="after", method="POST", path="/composite/sobjects")
    with pytest.raises(httpx.RemoteProtocolError):
        create_one(api)
    assert len(emulator.org.records("Lead")) == 1


def test_faults_scoped_to_a_path_and_method_leave_other_calls_alone(emulator, api):
    emulator.fail_next(1, "unavailable", path="/composite/sobjects", method="POST")
    assert query(api, "SELECT Id FROM Lead").status_code == 200
    assert api.patch(COLLECTIONS, json={"records": []}).status_code == 200
    assert create_one(api).status_code == 503
    assert create_one(api).status_code == 200


def test_token_endpoint_faults_need_an_explicit_path(emulator, api):
    form = {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET}
    emulator.fail_next(1, "unavailable")
    assert httpx.post(emulator.base_url + "/services/oauth2/token", data=form).status_code == 200
    emulator.clear_faults()
    emulator.fail_next(1, "unavailable", path="/services/oauth2/token")
    assert httpx.post(emulator.base_url + "/services/oauth2/token", data=form).status_code == 503


def test_unknown_fault_kind_is_refused(emulator):
    with pytest.raises(ValueError):
        emulator.fail_next(1, "gremlins")
