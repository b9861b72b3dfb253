"""Every emulator fault knob through ApplyService and the REST adapter: the per-event outcome it must give,
how many calls it took, and the org afterwards (nothing written twice). Backoff sleeps are faked."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.model import (
    Action,
    ApiUsage,
    ApplyReport,
    Event,
    FieldMapping,
    Operation,
    Outcome,
    RecordMatcher,
    ResultError,
    ValueSource,
)
from core.service import ApplyService
from tests.e2e.salesforce.conftest import FakeClock, refresh_connection
from tools.emulator.faults import LOCK_MESSAGE
from tools.emulator.server import CLIENT_ID, USERNAME, Emulator

COLLECTIONS = "/composite/sobjects"
# The longest a test waits for the emulator to finish a request the adapter gave up on; never asserted.
SETTLE_LIMIT = 30.0


def _path(*parts: str) -> ValueSource:
    return ValueSource.of_path(*parts)


UPSERT_LEAD_ON_EMAIL = Action("Lead", Operation.UPSERT,
                              record_matchers=(RecordMatcher("Email", _path("traits.email")),),
                              field_mappings=(FieldMapping("LastName", _path("traits.last_name")),
                                              FieldMapping("Company", ValueSource.of_literal("Acme")),
                                              FieldMapping("Email", _path("traits.email"))))
UPDATE_LEAD_BY_EMAIL = Action("Lead", Operation.UPDATE,
                              record_matchers=(RecordMatcher("Email", _path("traits.email")),),
                              field_mappings=(FieldMapping("Title", _path("traits.title")),))
CREATE_LEAD = Action("Lead", Operation.CREATE,
                     field_mappings=(FieldMapping("LastName", _path("traits.last_name")),
                                     FieldMapping("Company", ValueSource.of_literal("Acme")),
                                     FieldMapping("Email", _path("traits.email"))))
UPSERT_SUBSCRIPTION = Action("Subscription__c", Operation.UPSERT,
                             record_matchers=(RecordMatcher("External_Id__c", _path("traits.key")),),
                             field_mappings=(FieldMapping("Plan__c", _path("traits.plan")),))


def event(n: int, **traits: Any) -> Event:
    traits.setdefault("email", f"user{n}@example.com")
    traits.setdefault("last_name", f"Last{n}")
    return Event(f"e{n}", {"type": "identify", "traits": traits})


def summary(report: ApplyReport) -> list[tuple[int, Outcome, bool]]:
    return [(r.status, r.outcome, r.retryable) for r in report.results]


def seed_leads(emu: Emulator, *ns: int) -> list[str]:
    return [emu.org.seed("Lead", {"LastName": f"Last{n}", "Company": "Acme", "Email": f"user{n}@example.com"})
            for n in ns]


def leads(emu: Emulator) -> dict[str, dict[str, Any]]:
    """Live Leads by lower-cased Email; a duplicate email fails the test (a record written twice)."""
    rows = emu.org.records("Lead")
    by_email = {str(r["Email"]).lower(): r for r in rows}
    assert len(by_email) == len(rows), f"a Lead was written twice: {[r['Email'] for r in rows]}"
    return by_email


def sent_bodies(emu: Emulator, method: str, path_end: str) -> list[Any]:
    return [json.loads(r.body) for r in emu.requests if r.method == method and r.path.endswith(path_end)]


def wait_until(condition: Callable[[], bool]) -> None:
    """For a request the adapter stopped waiting for but the emulator is still serving (a delay fault)."""
    settled = threading.Event()
    limit = time.monotonic() + SETTLE_LIMIT
    while not condition():
        assert time.monotonic() < limit, "the emulator never finished the delayed request"
        settled.wait(0.02)


class _Wrapped(httpx.HTTPTransport):
    """Real HTTP to the emulator, with a hook before and after each request."""

    def __init__(self, before: Callable[[httpx.Request], None] = lambda r: None,
                 after: Callable[[httpx.Request], None] = lambda r: None):
        super().__init__()
        self._before, self._after = before, after

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._before(request)
        response = super().handle_request(request)
        self._after(request)
        return response


@pytest.fixture
def apply(emulator, backend_factory) -> Callable[..., ApplyReport]:
    """Apply with a fresh SalesforceBackend (kwargs) over the emulator's refresh-token connection."""

    def run(action: Action, events: list[Event], deadline: float | None = None, backend: Any = None,
            **kwargs: Any) -> ApplyReport:
        backend = backend or backend_factory(**kwargs)
        return ApplyService(backend).apply(refresh_connection(emulator), action, events, deadline=deadline)

    return run


# Tokens -------------------------------------------------------------------------------------------
def test_tokens_expiring_mid_apply_are_refreshed_once_and_every_write_succeeds(emulator, apply):
    seed_leads(emulator, 1, 2)
    expired = []

    def expire_after_the_lookup(request: httpx.Request) -> None:
        if request.url.path.endswith("/query") and not expired:
            emulator.expire_all_tokens()
            expired.append(request.url.path)

    report = apply(UPSERT_LEAD_ON_EMAIL, [event(n, last_name="New") for n in (1, 2, 3, 4)],
                   transport=_Wrapped(after=expire_after_the_lookup))
    assert expired and summary(report) == [(200, Outcome.UPDATED, False)] * 2 + [(201, Outcome.CREATED, False)] * 2
    assert emulator.token_requests == 2
    assert emulator.calls["collection_create"] == emulator.calls["collection_update"] == 1
    assert {e: r["LastName"] for e, r in leads(emulator).items()} == {
        f"user{n}@example.com": "New" for n in (1, 2, 3, 4)}


def test_a_revoked_refresh_token_fails_every_event_with_one_token_request_until_the_refusal_expires(
        emulator, backend_factory):
    token = "refresh-to-be-revoked"
    emulator.add_refresh_token(token, CLIENT_ID, USERNAME)
    emulator.revoke_refresh_token(token)
    clock = FakeClock()
    backend = backend_factory(clock=clock, negative_auth_ttl_seconds=60)
    connection = refresh_connection(emulator, token)
    for _ in range(4):
        report = ApplyService(backend).apply(connection, UPSERT_LEAD_ON_EMAIL, [event(n) for n in range(3)])
        assert summary(report) == [(401, Outcome.AUTH_FAILED, False)] * 3
        assert {r.error.code for r in report.results} == {"INVALID_GRANT"}
    assert emulator.token_requests == 1 and emulator.api_calls == 0
    clock.now += 61  # the refusal is remembered for a minute, then the grant is tried again, once
    for _ in range(3):
        ApplyService(backend).apply(connection, UPSERT_LEAD_ON_EMAIL, [event(1)])
    assert emulator.token_requests == 2
    assert emulator.org.records("Lead") == []


def test_concurrent_refresh_conflicts_are_waited_out(emulator, apply, sleeps):
    emulator.concurrent_refresh_conflicts(2)
    report = apply(CREATE_LEAD, [event(1)])
    assert summary(report) == [(201, Outcome.CREATED, False)]
    assert emulator.token_requests == 3 and len(sleeps.calls) == 2
    assert list(leads(emulator)) == ["user1@example.com"]


# Unavailable, limits and locks --------------------------------------------------------------------
def test_503s_within_the_retry_budget_are_retried_until_they_succeed(emulator, apply, sleeps):
    ids = seed_leads(emulator, 1, 2)
    emulator.fail_next(2, "unavailable", path="/query")
    emulator.fail_next(2, "unavailable", call="collection_update")
    report = apply(UPDATE_LEAD_BY_EMAIL, [event(1, title="CTO"), event(2, title="CFO")])
    assert summary(report) == [(200, Outcome.UPDATED, False)] * 2
    assert [r.record_id for r in report.results] == ids
    assert emulator.calls["query"] == 3 and emulator.calls["collection_update"] == 3
    assert len(sleeps.calls) == 4
    assert {e: r["Title"] for e, r in leads(emulator).items()} == {"user1@example.com": "CTO",
                                                                  "user2@example.com": "CFO"}


def test_503s_beyond_the_retry_budget_are_a_retryable_transient_failure(emulator, apply):
    seed_leads(emulator, 1, 2)
    emulator.fail_next(10, "unavailable", call="collection_update")
    report = apply(UPDATE_LEAD_BY_EMAIL, [event(1, title="CTO"), event(2, title="CFO")])
    assert summary(report) == [(503, Outcome.TRANSIENT_FAILURE, True)] * 2
    assert {r.error.code for r in report.results} == {"SERVER_UNAVAILABLE"}
    assert emulator.calls["collection_update"] == 3  # the retry budget (max_attempts=3), no more
    assert {r["Title"] for r in leads(emulator).values()} == {None}


def test_a_create_refused_with_503_is_retryable_and_not_resent(emulator, apply):
    emulator.fail_next(1, "unavailable", call="collection_create")
    report = apply(CREATE_LEAD, [event(1), event(2)])
    assert summary(report) == [(503, Outcome.TRANSIENT_FAILURE, True)] * 2
    assert emulator.calls["collection_create"] == 1
    assert leads(emulator) == {}
    assert summary(apply(CREATE_LEAD, [event(1), event(2)])) == [(201, Outcome.CREATED, False)] * 2
    assert sorted(leads(emulator)) == ["user1@example.com", "user2@example.com"]


def test_only_the_locked_row_of_a_collection_is_resent(emulator, apply, sleeps):
    a, b, c = seed_leads(emulator, 1, 2, 3)
    emulator.org.faults.add(ResultError("UNABLE_TO_LOCK_ROW", LOCK_MESSAGE), record_id=b, times=1)
    report = apply(UPDATE_LEAD_BY_EMAIL, [event(n, title=f"T{n}") for n in (1, 2, 3)])
    assert summary(report) == [(200, Outcome.UPDATED, False)] * 3
    first, second = sent_bodies(emulator, "PATCH", COLLECTIONS)
    assert [r["id"] for r in first["records"]] == [a, b, c]
    assert [r["id"] for r in second["records"]] == [b]
    assert len(sleeps.calls) == 1
    assert {e: r["Title"] for e, r in leads(emulator).items()} == {f"user{n}@example.com": f"T{n}" for n in (1, 2, 3)}


def test_a_row_locked_beyond_the_retries_is_423_retryable_and_its_neighbours_succeed(emulator, apply):
    a, b, c = seed_leads(emulator, 1, 2, 3)
    emulator.org.faults.add(ResultError("UNABLE_TO_LOCK_ROW", LOCK_MESSAGE), record_id=b, times=None)
    report = apply(UPDATE_LEAD_BY_EMAIL, [event(n, title=f"T{n}") for n in (1, 2, 3)])
    assert summary(report) == [(200, Outcome.UPDATED, False), (423, Outcome.ROW_LOCKED, True),
                               (200, Outcome.UPDATED, False)]
    assert report.results[1].record_id == b and report.results[1].error.code == "UNABLE_TO_LOCK_ROW"
    assert [[r["id"] for r in body["records"]] for body in sent_bodies(emulator, "PATCH", COLLECTIONS)] == [
        [a, b, c], [b], [b]]
    assert {e: r["Title"] for e, r in leads(emulator).items()} == {
        "user1@example.com": "T1", "user2@example.com": None, "user3@example.com": "T3"}


def test_a_whole_collection_locked_is_resent_then_succeeds(emulator, apply):
    seed_leads(emulator, 1, 2)
    emulator.fail_next(1, "row_lock", call="collection_update")
    report = apply(UPDATE_LEAD_BY_EMAIL, [event(1, title="A"), event(2, title="B")])
    assert summary(report) == [(200, Outcome.UPDATED, False)] * 2
    assert emulator.calls["collection_update"] == 2


def test_the_concurrent_request_limit_is_retried(emulator, apply, sleeps):
    seed_leads(emulator, 1)
    emulator.fail_next(1, "concurrent_limit", path="/query")
    emulator.fail_next(1, "concurrent_limit", call="collection_update")
    report = apply(UPDATE_LEAD_BY_EMAIL, [event(1, title="CEO")])
    assert summary(report) == [(200, Outcome.UPDATED, False)]
    assert emulator.calls["query"] == 2 and emulator.calls["collection_update"] == 2
    assert len(sleeps.calls) == 2
    assert leads(emulator)["user1@example.com"]["Title"] == "CEO"


def test_the_daily_limit_is_429_retryable_without_any_retry(emulator, apply, sleeps):
    emulator.set_api_usage(used=100_000, limit=100_000)
    report = apply(UPSERT_LEAD_ON_EMAIL, [event(n) for n in range(3)])
    assert summary(report) == [(429, Outcome.RATE_LIMITED, True)] * 3
    assert {r.error.code for r in report.results} == {"REQUEST_LIMIT_EXCEEDED"}
    assert emulator.api_calls == 1 and sleeps.calls == []
    assert report.api_usage == ApiUsage(100_000, 100_000)
    assert leads(emulator) == {}


# Deadlines ----------------------------------------------------------------------------------------
def test_a_write_slower_than_the_deadline_is_uncertain_and_later_ones_are_not_attempted(emulator, apply):
    # One record per request, one request at a time: the first is held back past the caller's deadline.
    # The deadline leaves room for the token and describe calls before the first write on a loaded
    # machine; the delay outlasts it by far, so the write is still in flight when the deadline passes.
    emulator.fail_next(1, "delay", seconds=8.0, call="collection_create")
    deadline = time.monotonic() + 4.0
    report = apply(CREATE_LEAD, [event(1), event(2), event(3)], deadline=deadline, batch_size=1,
                   max_in_flight_per_org=1, min_write_seconds=0.05)
    assert summary(report) == [(502, Outcome.UNCERTAIN, False), (504, Outcome.NOT_ATTEMPTED, True),
                               (504, Outcome.NOT_ATTEMPTED, True)]
    assert [r.error.code for r in report.results] == ["OUTCOME_UNKNOWN", "DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED"]
    wait_until(lambda: len(emulator.org.records("Lead")) == 1)
    assert list(leads(emulator)) == ["user1@example.com"]  # the uncertain create landed once, never resent
    assert emulator.calls["collection_create"] == 1


def test_a_lookup_slower_than_the_deadline_writes_nothing_and_is_retryable(emulator, apply):
    seed_leads(emulator, 1)
    emulator.fail_next(1, "delay", seconds=2.5, path="/query")
    report = apply(UPSERT_LEAD_ON_EMAIL, [event(1, last_name="New"), event(2)], deadline=time.monotonic() + 1.0)
    assert [(r.status, r.retryable) for r in report.results] == [(504, True)] * 2
    assert all(r.outcome in (Outcome.TRANSIENT_FAILURE, Outcome.NOT_ATTEMPTED) for r in report.results)
    assert emulator.calls["collection_create"] == emulator.calls["collection_update"] == 0
    assert {e: r["LastName"] for e, r in leads(emulator).items()} == {"user1@example.com": "Last1"}


# Dropped connections ------------------------------------------------------------------------------
def test_a_create_dropped_before_it_was_committed_is_not_resent_and_not_reported_as_success(emulator, apply):
    # The adapter cannot tell "dropped before" from "dropped after": either way the request was sent.
    emulator.drop_connection_next(1, "before", call="collection_create")
    report = apply(CREATE_LEAD, [event(1), event(2)])
    assert summary(report) == [(502, Outcome.UNCERTAIN, False)] * 2
    assert emulator.calls["collection_create"] == 1
    assert leads(emulator) == {}


def test_a_create_that_could_not_connect_is_retried_safely(emulator, apply):
    refused = []

    def refuse_first_create(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path.endswith(COLLECTIONS) and not refused:
            refused.append(request.url.path)
            raise httpx.ConnectError("connection refused", request=request)

    report = apply(CREATE_LEAD, [event(1), event(2)], transport=_Wrapped(before=refuse_first_create))
    assert refused and summary(report) == [(201, Outcome.CREATED, False)] * 2
    assert emulator.calls["collection_create"] == 1
    assert sorted(leads(emulator)) == ["user1@example.com", "user2@example.com"]


def test_a_create_dropped_after_it_was_committed_is_uncertain_exists_once_and_is_not_resent(emulator, apply):
    emulator.drop_connection_next(1, "after", call="collection_create")
    report = apply(CREATE_LEAD, [event(1, last_name="Ng")])
    assert summary(report) == [(502, Outcome.UNCERTAIN, False)]
    assert report.results[0].error.code == "OUTCOME_UNKNOWN"
    assert emulator.calls["collection_create"] == 1
    assert len(sent_bodies(emulator, "POST", COLLECTIONS)) == 1
    [(email, lead)] = leads(emulator).items()
    assert (email, lead["LastName"]) == ("user1@example.com", "Ng")


def test_an_update_dropped_after_it_was_committed_is_resent_and_written_once(emulator, apply):
    [rid] = seed_leads(emulator, 1)
    emulator.drop_connection_next(1, "after", call="collection_update")
    report = apply(UPDATE_LEAD_BY_EMAIL, [event(1, title="VP")])
    assert summary(report) == [(200, Outcome.UPDATED, False)] and report.results[0].record_id == rid
    assert emulator.calls["collection_update"] == 2
    assert [(r["Id"], r["Title"]) for r in leads(emulator).values()] == [(rid, "VP")]


def test_an_upsert_by_external_id_dropped_after_it_was_committed_is_resent_and_written_once(emulator, apply):
    existing = emulator.org.seed("Subscription__c", {"External_Id__c": "K-1", "Plan__c": "basic"})
    emulator.drop_connection_next(1, "after", call="collection_upsert")
    report = apply(UPSERT_SUBSCRIPTION, [Event("e1", {"traits": {"key": "K-1", "plan": "pro"}}),
                                         Event("e2", {"traits": {"key": "K-2", "plan": "team"}})])
    assert emulator.calls["collection_upsert"] == 2
    rows = {r["External_Id__c"]: r for r in emulator.org.records("Subscription__c")}
    assert {k: r["Plan__c"] for k, r in rows.items()} == {"K-1": "pro", "K-2": "team"}
    assert len(emulator.org.records("Subscription__c")) == 2
    assert [(r.status, r.record_id) for r in report.results][0] == (200, existing)
    # K-2 was created by the dropped request; the resend found it, so it may read as updated.
    assert report.results[1].status in (200, 201) and report.results[1].record_id == rows["K-2"]["Id"]
