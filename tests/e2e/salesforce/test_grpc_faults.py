"""`sfdest serve` with the Salesforce backend, over gRPC, against the emulator's fault knobs: connection
resets after a commit, the org's daily request limit, and naive datetimes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sfdest.v1 import destination_pb2 as pb

from core.describe import FieldDescribe, ObjectDescribe
from tests.builders import UPSERT_LEAD_ON_EMAIL, action, grant_connection, identify_message
from tests.server.serving import CALL_LIMIT, Served, apply, serving_salesforce
from tools.emulator.server import Emulator

DELETE_LEAD_BY_EMAIL = action(object="Lead", operation="OPERATION_DELETE",
                              record_matchers=[{"field": "Email", "value": {"path": "traits.email"}}])


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serving_salesforce() as s:
        yield s


def seed_leads(emu: Emulator, *ns: int) -> list[str]:
    return [emu.org.seed("Lead", {"LastName": f"Last{n}", "Company": "Acme", "Email": f"user{n}@example.com"})
            for n in ns]


def outcomes(response: pb.ApplyResponse) -> list[tuple[int, int, bool]]:
    return [(r.status, r.outcome, r.retryable) for r in response.results]


def test_a_delete_committed_before_its_connection_was_reset_is_reported_deleted(served, emulator):
    ids = seed_leads(emulator, 1, 2)
    emulator.drop_connection_next(1, "after", call="collection_delete")
    response = apply(served, grant_connection(emulator, "oauth_refresh_token"), DELETE_LEAD_BY_EMAIL,
                     identify_message("e1", "user1@example.com", ""), identify_message("e2", "user2@example.com", ""))
    assert outcomes(response) == [(204, pb.OUTCOME_DELETED, False)] * 2
    assert [r.record_id for r in response.results] == ids
    # the reset attempt, then the resend that found them gone: each a Composite call carrying the delete
    assert emulator.calls["composite"] == 2 and emulator.subrequests["collection_delete"] == 2
    assert emulator.org.records("Lead") == []


def test_a_delete_of_a_record_already_gone_without_a_reset_is_still_not_found(served, emulator):
    [rid] = seed_leads(emulator, 1)
    conn = grant_connection(emulator, "oauth_refresh_token")
    gone = emulator.org.seed("Lead", {"LastName": "Gone", "Company": "Acme", "Email": "gone@example.com"})
    emulator.org.delete("Lead", gone)
    by_id = action(object="Lead", operation="OPERATION_DELETE",
                   record_matchers=[{"field": "Id", "value": {"path": "traits.id"}}])
    events = []
    for n, record_id in enumerate((rid, gone)):
        event = pb.Event(id=f"e{n}")
        event.payload.update({"traits": {"id": record_id}})
        events.append(event)
    response = apply(served, conn, by_id, *events)
    assert [(r.status, r.outcome) for r in response.results] == [(204, pb.OUTCOME_DELETED),
                                                                 (404, pb.OUTCOME_NOT_FOUND)]


def test_after_the_daily_limit_later_applies_for_the_org_send_nothing_and_say_when_to_retry(
        served, emulator, emulator_factory):
    emulator.set_api_usage(used=100_000, limit=100_000)
    conn = grant_connection(emulator, "oauth_refresh_token")
    responses = [apply(served, conn, UPSERT_LEAD_ON_EMAIL, identify_message(f"e{n}", f"user{n}@example.com", "Ng"))
                 for n in range(10)]
    assert [outcomes(r) for r in responses] == [[(429, pb.OUTCOME_RATE_LIMITED, True)]] * 10
    assert {r.results[0].error.code for r in responses} == {"REQUEST_LIMIT_EXCEEDED"}
    assert all(r.results[0].retry_after.ToMilliseconds() >= 1000 for r in responses)
    assert emulator.api_calls == 1  # the refusal itself; the nine Applies after it sent nothing
    assert [r.salesforce_api_calls for r in responses] == [1] + [0] * 9
    other = emulator_factory()  # another org is not held back
    [created] = apply(served, grant_connection(other, "oauth_refresh_token"), UPSERT_LEAD_ON_EMAIL,
                      identify_message("o1", "ada@example.com", "Lovelace")).results
    assert (created.status, created.outcome, created.HasField("retry_after")) == (201, pb.OUTCOME_CREATED, False)


VISIT = ObjectDescribe("Visit__c", "a0V", label="Visit", fields=(
    FieldDescribe("Id", "id", "Visit ID", 18, nillable=False, createable=False, updateable=False,
                  defaulted_on_create=True, id_lookup=True),
    FieldDescribe("Name", "string", "Visit Name", 80, nillable=False, defaulted_on_create=True, id_lookup=True),
    FieldDescribe("Visited_At__c", "datetime", "Visited At"),
))


def create_visit(zone: str = "") -> pb.Action:
    return action(object="Visit__c", operation="OPERATION_CREATE", naive_datetime_time_zone=zone,
                  field_mappings=[{"field": "Visited_At__c", "value": {"path": "properties.at"}}])


def visit(event_id: str, at: str) -> pb.Event:
    event = pb.Event(id=event_id)
    event.payload.update({"type": "track", "properties": {"at": at}})
    return event


def test_a_datetime_without_an_offset_is_refused_naming_its_field(served, emulator):
    emulator.org.add_object(VISIT)
    response = apply(served, grant_connection(emulator, "oauth_refresh_token"), create_visit(),
                     visit("naive", "2024-05-01T10:00:00"), visit("utc", "2024-05-01T10:00:00Z"))
    naive, utc = response.results
    assert (naive.status, naive.outcome, naive.retryable) == (400, pb.OUTCOME_INVALID, False)
    assert naive.error.code == "MAPPING_VALUE_INVALID" and list(naive.error.fields) == ["Visited_At__c"]
    assert "Visited_At__c" in naive.error.message and "naive_datetime_time_zone" in naive.error.message
    assert (utc.status, utc.outcome) == (201, pb.OUTCOME_CREATED)
    assert [r["Visited_At__c"] for r in emulator.org.records("Visit__c")] == ["2024-05-01T10:00:00.000+0000"]


def test_a_datetime_without_an_offset_is_read_in_the_time_zone_the_action_names(served, emulator):
    emulator.org.add_object(VISIT)
    response = apply(served, grant_connection(emulator, "oauth_refresh_token"), create_visit("Europe/Paris"),
                     visit("summer", "2024-07-01T10:00:00"), visit("winter", "2024-01-15T10:00:00"),
                     visit("offset", "2024-07-01T10:00:00-04:00"))
    assert [(r.status, r.outcome) for r in response.results] == [(201, pb.OUTCOME_CREATED)] * 3
    assert sorted(r["Visited_At__c"] for r in emulator.org.records("Visit__c")) == [
        "2024-01-15T09:00:00.000+0000", "2024-07-01T08:00:00.000+0000", "2024-07-01T14:00:00.000+0000"]


def test_a_time_zone_that_is_not_an_iana_name_is_an_invalid_action(served, emulator):
    emulator.org.add_object(VISIT)
    conn = grant_connection(emulator, "oauth_refresh_token")
    report = served.stub.Validate(pb.ValidateRequest(action=create_visit("Mars/Olympus"), connection=conn),
                                  timeout=CALL_LIMIT)
    assert not report.valid
    assert [(d.code, d.field_path) for d in report.diagnostics if d.severity == pb.SEVERITY_ERROR] == [
        ("INVALID_TIME_ZONE", "action.naive_datetime_time_zone")]
    [result] = apply(served, conn, create_visit("Mars/Olympus"), visit("e1", "2024-05-01T10:00:00Z")).results
    assert (result.status, result.error.code) == (400, "INVALID_ACTION")
    assert emulator.org.records("Visit__c") == []
