"""Data-call authentication (401 shape), the versions resource, and the daily API allocation."""

from __future__ import annotations

import httpx
import pytest

from tests.tools.emulator.helpers import V, error_code

SESSION_ERROR = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic abc"])
def test_missing_or_unknown_bearer_is_401_invalid_session(emulator, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(f"{emulator.base_url}{V}/sobjects/", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert response.json() == SESSION_ERROR


def test_expired_tokens_are_refused_until_a_new_one_is_issued(emulator, api):
    assert api.get(f"{V}/sobjects/").status_code == 200
    emulator.expire_all_tokens()
    response = api.get(f"{V}/query", params={"q": "SELECT Id FROM Lead"})
    assert (response.status_code, response.json()) == (401, SESSION_ERROR)
    fresh = emulator.issue_token()
    assert api.get(f"{V}/sobjects/", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_versions_resource_needs_no_auth_and_is_not_counted(emulator):
    response = httpx.get(f"{emulator.base_url}/services/data/")
    assert response.status_code == 200
    assert {"label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0"} in response.json()
    assert "Sforce-Limit-Info" not in response.headers
    assert emulator.api_calls == 0


def test_every_data_response_carries_usage_that_counts_up(emulator, api):
    first = api.get(f"{V}/sobjects/")
    second = api.get(f"{V}/sobjects/Lead/describe")
    missing = api.get(f"{V}/sobjects/Nope__c/describe")
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
    assert second.headers["Sforce-Limit-Info"] == "api-usage=2/100000"
    assert missing.status_code == 404 and missing.headers["Sforce-Limit-Info"] == "api-usage=3/100000"
    assert emulator.api_calls == 3
    assert emulator.calls["describe"] == 2 and emulator.calls["describe_global"] == 1


def test_past_the_daily_limit_calls_are_refused_with_403(emulator_factory):
    emulator = emulator_factory(api_limit=2)
    headers = {"Authorization": f"Bearer {emulator.issue_token()}"}
    statuses = [httpx.get(f"{emulator.base_url}{V}/sobjects/", headers=headers) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 403]
    assert statuses[2].json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert statuses[2].headers["Sforce-Limit-Info"] == "api-usage=2/2"


def test_usage_can_be_preset_and_counters_reset(emulator, api):
    emulator.set_api_usage(used=99_999)
    assert api.get(f"{V}/sobjects/").headers["Sforce-Limit-Info"] == "api-usage=100000/100000"
    assert error_code(api.get(f"{V}/sobjects/")) == "REQUEST_LIMIT_EXCEEDED"
    emulator.reset_counters()
    assert emulator.api_calls == 0 and not emulator.calls
    assert emulator.api_usage == (100_000, 100_000)


def test_unknown_version_and_resource_are_404_and_wrong_method_405(api):
    assert api.get("/services/data/v99.0/sobjects/").status_code == 404
    assert error_code(api.get(f"{V}/nothing/here")) == "NOT_FOUND"
    wrong = api.put(f"{V}/composite/sobjects", json={})
    assert wrong.status_code == 405 and error_code(wrong) == "METHOD_NOT_ALLOWED"


def test_limits_resource_reports_remaining_calls(emulator, api):
    body = api.get(f"{V}/limits").json()
    assert body["DailyApiRequests"] == {"Max": 100_000, "Remaining": 100_000 - 1}
