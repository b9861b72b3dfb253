"""The request layer: 401 replay, limits, retries only where safe, deadlines, usage and call counting."""

from __future__ import annotations

import httpx
import pytest

from adapters.salesforce.transport import parse_usage
from core.model import Action, ApiUsage, Event, FieldMapping, Operation, Outcome, ValueSource
from core.ports import BackendError, FieldIn, Lookup
from core.service import ApplyService
from tests.adapters.salesforce import fakes
from tests.adapters.salesforce.fakes import (
    CONCURRENT_LIMIT,
    DAILY_LIMIT,
    DATA,
    LEAD_IDS,
    SESSION_EXPIRED,
    UNAVAILABLE,
    FakeClock,
    FakeSalesforce,
    respond,
)

DESCRIBE = f"{DATA}/sobjects/Lead/describe"
QUERY = f"{DATA}/query"
COLLECTIONS = f"{DATA}/composite/sobjects"
LOOKUP = Lookup("Lead", ("Id", "Email"), ((FieldIn("Email", ("a@x.com",)),),))


def _open(org, clock=None, deadline=None, **kw):
    return fakes.backend(org, clock, **kw).open(fakes.connection(), deadline)


def _created(n):
    return respond(200, [{"id": LEAD_IDS[i % 4], "success": True, "errors": []} for i in range(n)])


def test_a_401_refreshes_once_and_replays():
    org = FakeSalesforce()
    org.valid_tokens.add("00DHs0000012345!AQold")
    expire_once = [respond(401, SESSION_EXPIRED, {"WWW-Authenticate": "Token"}), respond(200, fakes.LEAD_DESCRIBE)]
    org.on("GET", DESCRIBE, *expire_once)
    store = fakes.backend(org).open(fakes.connection(access="00DHs0000012345!AQold"))
    assert store.describe("Lead").name == "Lead"
    assert len(org.token_requests) == 1
    assert [r.headers["Authorization"][7:] for r in org.data_requests] == [
        "00DHs0000012345!AQold", "00DHs0000012345!AQ0001"]
    assert store.api_calls == 2


def test_a_second_401_is_a_non_retryable_auth_error():
    org = FakeSalesforce()
    org.on("GET", DESCRIBE, respond(401, [{"message": "This session is not valid for use with the REST API",
                                           "errorCode": "INVALID_SESSION_ID"}]))
    store = _open(org)
    with pytest.raises(BackendError) as caught:
        store.describe("Lead")
    assert caught.value.error.code == "AUTH_FAILED"
    assert "not valid for use with the REST API" in caught.value.error.message
    assert len(org.data_requests) == 2
    assert len(org.token_requests) == 2


def test_two_401s_in_a_row_refresh_again_and_the_third_try_succeeds():
    # The token expired again between the refresh and the replay: refreshed again within the call's budget.
    org = FakeSalesforce()
    org.on("GET", DESCRIBE, respond(401, SESSION_EXPIRED), respond(401, SESSION_EXPIRED),
           respond(200, fakes.LEAD_DESCRIBE))
    clock = FakeClock()
    assert _open(org, clock).describe("Lead").name == "Lead"
    assert len(org.requests_to("GET", DESCRIBE)) == 3 and len(org.token_requests) == 3
    tokens = [r.headers["Authorization"] for r in org.requests_to("GET", DESCRIBE)]
    assert len(set(tokens)) == 3  # each try with a token issued after the previous one was refused


def test_401s_that_outlast_every_refresh_are_answered_retryable():
    org = FakeSalesforce()
    org.on("GET", DESCRIBE, respond(401, SESSION_EXPIRED))
    create = Action("Lead", Operation.CREATE, field_mappings=(FieldMapping("LastName", ValueSource.of_literal("Ng")),
                                                              FieldMapping("Company", ValueSource.of_literal("X"))))
    report = ApplyService(fakes.backend(org, FakeClock())).apply(fakes.connection(), create, [Event("e1", {})])
    [result] = report.results
    assert (result.status, result.outcome, result.retryable) == (401, Outcome.AUTH_FAILED, True)
    assert result.error.code == "INVALID_SESSION_ID"
    assert len(org.requests_to("GET", DESCRIBE)) == 3 and len(org.token_requests) == 3
    assert org.requests_to("POST", COLLECTIONS) == []


def test_a_401_on_a_create_is_replayed_because_nothing_was_written():
    org = FakeSalesforce()
    org.valid_tokens.add("old")
    org.on("POST", COLLECTIONS, respond(401, SESSION_EXPIRED), _created(1))
    store = fakes.backend(org).open(fakes.connection(access="old"))
    [outcome] = store.create("Lead", [{"LastName": "Ng", "Company": "Acme"}])
    assert outcome.success and len(org.requests_to("POST", COLLECTIONS)) == 2


def test_the_daily_request_limit_is_not_retried():
    org = FakeSalesforce()
    org.on("GET", QUERY, respond(403, DAILY_LIMIT))
    clock = FakeClock()
    store = _open(org, clock)
    with pytest.raises(BackendError) as caught:
        store.find(LOOKUP)
    assert caught.value.error.code == "REQUEST_LIMIT_EXCEEDED"
    assert len(org.requests_to("GET", QUERY)) == 1
    assert clock.sleeps == []


def test_after_the_daily_limit_the_org_gets_no_call_until_its_cool_off_ends_then_one_probe_reopens_it():
    org = FakeSalesforce()
    org.on("GET", QUERY, respond(403, DAILY_LIMIT), respond(200, fakes.query_page([], 0)))
    clock = FakeClock()
    b = fakes.backend(org, clock)
    waits = []
    for n in range(6):  # other credentials of the same org wait too: the allowance is the org's
        with pytest.raises(BackendError) as caught:
            b.open(fakes.connection(refresh=f"refresh-{n % 2}")).find(LOOKUP)
        assert caught.value.error.code == "REQUEST_LIMIT_EXCEEDED"
        waits.append(caught.value.error.retry_after_seconds)
    assert len(org.requests_to("GET", QUERY)) == 1 and clock.sleeps == []
    assert waits[0] == 60.0 and all(0 < w <= 60.0 for w in waits)
    clock.now += 60
    assert b.open(fakes.connection()).find(LOOKUP) == []  # the probe finds room
    assert b.open(fakes.connection()).find(LOOKUP) == []
    assert len(org.requests_to("GET", QUERY)) == 3


def test_an_overdrawn_usage_header_sets_how_long_the_org_cools_off():
    org = FakeSalesforce(usage_limit=100)
    org.on("GET", QUERY, lambda r: respond(403, DAILY_LIMIT))
    b = fakes.backend(org, FakeClock())
    org._used = iter([99, 109])  # the describe's header, then the refusal's: 109/100, 10 calls must age out
    with pytest.raises(BackendError) as caught:
        b.open(fakes.connection()).find(LOOKUP)
    assert caught.value.error.retry_after_seconds == pytest.approx(10 * 86400 / 100)


def test_a_concurrent_request_limit_is_retried_with_backoff():
    org = FakeSalesforce()
    org.on("GET", QUERY, respond(403, CONCURRENT_LIMIT), respond(200, fakes.query_page([], 0)))
    clock = FakeClock()
    assert _open(org, clock).find(LOOKUP) == []
    assert len(org.requests_to("GET", QUERY)) == 2
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize("failure", [respond(503, UNAVAILABLE), respond(502), respond(500, UNAVAILABLE),
                                     respond(400, [{"message": "unable to obtain exclusive access to this record",
                                                    "errorCode": "UNABLE_TO_LOCK_ROW"}])])
def test_transient_failures_of_a_query_are_retried_then_succeed(failure):
    org = FakeSalesforce()
    org.on("GET", QUERY, failure, respond(200, fakes.query_page([fakes.lead_record(LEAD_IDS[0])], 1)))
    clock = FakeClock()
    assert _open(org, clock).find(LOOKUP) == [{"Id": LEAD_IDS[0]}]
    assert len(org.requests_to("GET", QUERY)) == 2 and len(clock.sleeps) == 1


def test_retries_are_bounded():
    org = FakeSalesforce()
    org.on("GET", QUERY, respond(503, UNAVAILABLE))
    clock = FakeClock()
    with pytest.raises(BackendError) as caught:
        _open(org, clock).find(LOOKUP)
    assert caught.value.error.code == "SERVER_UNAVAILABLE"
    assert len(org.requests_to("GET", QUERY)) == 3
    assert len(clock.sleeps) == 2
    assert all(0 <= s <= 8.0 for s in clock.sleeps)


def test_validation_errors_are_not_retried():
    org = FakeSalesforce()
    org.on("GET", QUERY, respond(400, [{"message": "unexpected token: 'FRM'", "errorCode": "MALFORMED_QUERY"}]))
    with pytest.raises(BackendError) as caught:
        _open(org).find(LOOKUP)
    assert caught.value.error.code == "MALFORMED_QUERY"
    assert len(org.requests_to("GET", QUERY)) == 1


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteTimeout])
def test_a_create_that_may_have_reached_salesforce_is_never_resent(exc):
    org = FakeSalesforce()

    def drop(request):
        raise exc("connection dropped", request=request)

    org.on("POST", COLLECTIONS, drop, _created(2))
    outcomes = _open(org).create("Lead", [{"LastName": "A", "Company": "X"}, {"LastName": "B", "Company": "X"}])
    assert [o.error.code for o in outcomes] == ["OUTCOME_UNKNOWN", "OUTCOME_UNKNOWN"]
    assert len(org.requests_to("POST", COLLECTIONS)) == 1


def test_a_create_answered_with_an_unknown_exception_is_outcome_unknown():
    org = FakeSalesforce()
    org.on("POST", COLLECTIONS, respond(500, [{"message": "An unexpected error occurred. ErrorId: 123",
                                               "errorCode": "UNKNOWN_EXCEPTION"}]), _created(1))
    [outcome] = _open(org).create("Lead", [{"LastName": "A", "Company": "X"}])
    assert outcome.error.code == "OUTCOME_UNKNOWN"
    assert len(org.requests_to("POST", COLLECTIONS)) == 1


def test_a_create_refused_as_unavailable_is_reported_retryable_without_resending():
    org = FakeSalesforce()
    org.on("POST", COLLECTIONS, respond(503, UNAVAILABLE), _created(1))
    [outcome] = _open(org).create("Lead", [{"LastName": "A", "Company": "X"}])
    assert outcome.error.code == "SERVER_UNAVAILABLE"
    assert len(org.requests_to("POST", COLLECTIONS)) == 1


def test_a_create_that_could_not_connect_is_retried():
    org = FakeSalesforce()

    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    org.on("POST", COLLECTIONS, refuse, _created(1))
    clock = FakeClock()
    store = _open(org, clock)
    [outcome] = store.create("Lead", [{"LastName": "A", "Company": "X"}])
    assert outcome.success
    assert len(org.requests_to("POST", COLLECTIONS)) == 2
    assert store.api_calls == 1  # the refused connection never reached Salesforce


def test_an_update_that_timed_out_is_retried():
    org = FakeSalesforce()

    def slow(request):
        raise httpx.ReadTimeout("timed out", request=request)

    org.on("PATCH", COLLECTIONS, slow, respond(200, [{"id": LEAD_IDS[0], "success": True, "errors": []}]))
    [outcome] = _open(org).update("Lead", [(LEAD_IDS[0], {"Company": "Y"})])
    assert outcome.success and outcome.id == LEAD_IDS[0]
    assert len(org.requests_to("PATCH", COLLECTIONS)) == 2


def test_backoff_never_sleeps_past_the_deadline():
    org = FakeSalesforce()
    org.on("GET", QUERY, respond(503, UNAVAILABLE))
    clock = FakeClock(start=100.0)
    deadline = 100.3
    policy_backend = fakes.backend(org, clock, max_attempts=10)
    with pytest.raises(BackendError) as caught:
        policy_backend.open(fakes.connection(), deadline).find(LOOKUP)
    assert caught.value.error.code == "SERVER_UNAVAILABLE"
    assert clock.now < deadline
    assert len(org.requests_to("GET", QUERY)) < 10


def test_an_expired_deadline_sends_nothing():
    org = FakeSalesforce()
    clock = FakeClock(start=50.0)
    store = _open(org, clock, deadline=49.0)
    with pytest.raises(BackendError) as caught:
        store.describe("Lead")
    assert caught.value.error.code == "DEADLINE_EXCEEDED"
    outcomes = store.create("Lead", [{"LastName": "A", "Company": "X"}])
    assert outcomes[0].error.code == "DEADLINE_EXCEEDED"
    assert org.requests == []


def test_request_timeouts_come_from_the_remaining_time():
    org = FakeSalesforce()
    seen = []

    def handler(request):
        seen.append(request.extensions["timeout"])
        return org(request)

    clock = FakeClock(start=10.0)
    fakes.backend(org, clock, handler=handler).open(fakes.connection(), 12.5).describe("Lead")
    assert seen and all(t["read"] == pytest.approx(2.5) and t["connect"] == pytest.approx(2.5) for t in seen)


def test_usage_is_read_from_every_response_and_only_data_calls_are_counted():
    org = FakeSalesforce(usage_limit=5000)
    org.on("GET", QUERY, respond(200, fakes.query_page([], 0)))
    store = _open(org)
    assert store.api_usage is None
    store.describe("Lead")
    store.find(LOOKUP)
    assert store.api_calls == 2 and len(org.token_requests) == 1
    assert store.api_usage == ApiUsage(2, 5000)


@pytest.mark.parametrize(("header", "usage"), [
    ("api-usage=18/5000", ApiUsage(18, 5000)),
    ("api-usage=10018/100000; api-bursts=1/750", ApiUsage(10018, 100000)),
    ("api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)", ApiUsage(25, 5000)),
    ("", None), (None, None), ("api-usage=x/y", None),
])
def test_limit_info_header_parsing(header, usage):
    assert parse_usage(header) == usage


@pytest.mark.parametrize(("version", "path"), [("v58.0", "/services/data/v58.0/"), ("58.0", "/services/data/v58.0/"),
                                               ("", "/services/data/v62.0/")])
def test_api_version_comes_from_the_connection(version, path):
    org = FakeSalesforce()
    org.on("GET", "/services/data/v58.0/sobjects/Lead/describe", respond(200, fakes.LEAD_DESCRIBE))
    fakes.backend(org).open(fakes.connection(api_version=version)).describe("Lead")
    assert org.data_requests[0].url.path.startswith(path)


@pytest.mark.parametrize("version", ["latest", "v62", "v62.0/../../x", "62"])
def test_malformed_api_versions_are_refused(version):
    org = FakeSalesforce()
    with pytest.raises(BackendError) as caught:
        fakes.backend(org).open(fakes.connection(api_version=version))
    assert caught.value.error.code == "INVALID_CONNECTION"
    assert tuple(map(str, caught.value.error.paths)) == ("connection.api_version",)


def test_redirects_are_never_followed():
    org = FakeSalesforce()
    org.on("GET", DESCRIBE, httpx.Response(302, headers={"Location": "https://evil.example/steal"}))
    with pytest.raises(BackendError):
        _open(org).describe("Lead")
    assert all(r.url.host == "acme.my.salesforce.com" or r.url.host == "login.salesforce.com" for r in org.requests)


def test_a_next_page_url_outside_the_data_api_is_refused():
    org = FakeSalesforce()
    org.on("GET", QUERY, respond(200, fakes.query_page([], 3, "https://evil.example/services/data/v62.0/query/01g")))
    with pytest.raises(BackendError):
        _open(org).find(LOOKUP)
    assert all(r.url.host != "evil.example" for r in org.requests)


def test_requests_refused_together_for_the_daily_limit_count_once_and_a_refused_probe_doubles_the_wait():
    org = FakeSalesforce()
    org.on("POST", COLLECTIONS, respond(403, DAILY_LIMIT))
    clock = FakeClock()
    b = fakes.backend(org, clock, batch_size=1)
    waits = {o.error.retry_after_seconds for o in b.open(fakes.connection()).create(
        "Lead", [{"LastName": str(n), "Company": "X"} for n in range(4)])}
    assert max(waits) == 60.0  # the chunks in flight together were one refusal, not four
    clock.now += 60
    [probe] = b.open(fakes.connection()).create("Lead", [{"LastName": "P", "Company": "X"}])
    assert probe.error.retry_after_seconds == 120.0
