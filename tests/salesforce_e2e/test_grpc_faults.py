"""`sfdest serve` with the Salesforce backend, over gRPC, against the emulator's fault knobs: connection
resets after a commit, the org's daily request limit, and naive datetimes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sfdest.v1 import destination_pb2 as pb

from tests.salesforce_e2e.test_grpc_end_to_end import UPSERT_LEAD_ON_EMAIL, action, apply, connection, identify
from tests.server.serving import Served, start_server, stop_server
from tools.emulator.server import Emulator

DELETE_LEAD_BY_EMAIL = action(object="Lead", operation="OPERATION_DELETE",
                              record_matchers=[{"field": "Email", "value": {"path": "traits.email"}}])


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    s = start_server({"SFDEST_BACKEND": "salesforce", "SFDEST_SALESFORCE_ALLOW_LOOPBACK_HTTP": "true",
                      "SFDEST_GRACE_SECONDS": "1"})
    yield s
    stop_server(s)


def seed_leads(emu: Emulator, *ns: int) -> list[str]:
    return [emu.org.seed("Lead", {"LastName": f"Last{n}", "Company": "Acme", "Email": f"user{n}@example.com"})
            for n in ns]


def outcomes(response: pb.ApplyResponse) -> list[tuple[int, int, bool]]:
    return [(r.status, r.outcome, r.retryable) for r in response.results]


def test_a_delete_committed_before_its_connection_was_reset_is_reported_deleted(served, emulator):
    ids = seed_leads(emulator, 1, 2)
    emulator.drop_connection_next(1, "after", call="collection_delete")
    response = apply(served, connection(emulator, "oauth_refresh_token"), DELETE_LEAD_BY_EMAIL,
                     identify("e1", "user1@example.com", ""), identify("e2", "user2@example.com", ""))
    assert outcomes(response) == [(204, pb.OUTCOME_DELETED, False)] * 2
    assert [r.record_id for r in response.results] == ids
    assert emulator.calls["collection_delete"] == 2  # the reset attempt, then the resend that found them gone
    assert emulator.org.records("Lead") == []


def test_a_delete_of_a_record_already_gone_without_a_reset_is_still_not_found(served, emulator):
    [rid] = seed_leads(emulator, 1)
    conn = connection(emulator, "oauth_refresh_token")
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
    conn = connection(emulator, "oauth_refresh_token")
    responses = [apply(served, conn, UPSERT_LEAD_ON_EMAIL, identify(f"e{n}", f"user{n}@example.com", "Ng"))
                 for n in range(10)]
    assert [outcomes(r) for r in responses] == [[(429, pb.OUTCOME_RATE_LIMITED, True)]] * 10
    assert {r.results[0].error.code for r in responses} == {"REQUEST_LIMIT_EXCEEDED"}
    assert all(r.results[0].retry_after.ToMilliseconds() >= 1000 for r in responses)
    assert emulator.api_calls == 1  # the refusal itself; the nine Applies after it sent nothing
    assert [r.salesforce_api_calls for r in responses] == [1] + [0] * 9
    other = emulator_factory()  # another org is not held back
    [created] = apply(served, connection(other, "oauth_refresh_token"), UPSERT_LEAD_ON_EMAIL,
                      identify("o1", "ada@example.com", "Lovelace")).results
    assert (created.status, created.outcome, created.HasField("retry_after")) == (201, pb.OUTCOME_CREATED, False)
