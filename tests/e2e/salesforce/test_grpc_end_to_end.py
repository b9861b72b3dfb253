"""`sfdest serve` with SFDEST_BACKEND=salesforce, driven over a real gRPC channel against the emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sfdest.v1 import destination_pb2 as pb

from core.describe import FieldDescribe, ObjectDescribe
from tests.builders import UPSERT_LEAD_ON_EMAIL, action, grant_connection, identify_message
from tests.server.serving import CALL_LIMIT, ROOT, Served, apply, serving_salesforce

GRANTS = ("oauth_refresh_token", "client_credentials", "jwt_bearer", "username_password")


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """`sfdest serve` on a free port with the Salesforce backend in emulator (loopback http) mode."""
    with serving_salesforce() as s:
        yield s


@pytest.mark.parametrize("grant", GRANTS)
def test_apply_creates_then_updates_through_each_oauth_flow(served, emulator, grant):
    conn = grant_connection(emulator, grant)
    first = apply(served, conn, UPSERT_LEAD_ON_EMAIL, identify_message("e1", "ada@example.com", "Lovelace"))
    [created] = first.results
    assert (created.event_id, created.status, created.outcome) == ("e1", 201, pb.OUTCOME_CREATED)
    assert created.record_id.startswith("00Q") and len(created.record_id) == 18
    second = apply(served, conn, UPSERT_LEAD_ON_EMAIL, identify_message("e2", "ADA@example.com", "Byron"))
    [updated] = second.results
    assert (updated.status, updated.outcome, updated.record_id) == (200, pb.OUTCOME_UPDATED, created.record_id)
    [lead] = emulator.org.records("Lead")
    assert (lead["Id"], lead["LastName"], lead["Email"]) == (created.record_id, "Byron", "ADA@example.com")
    assert emulator.token_requests == 1  # the second Apply reused the cached access token
    assert first.salesforce_api_calls > 0 and second.salesforce_api_calls > 0
    assert first.backend == second.backend == "salesforce"
    # the describe is reported apart, once (then cached): the second Apply is a query and a write
    assert (first.salesforce_describe_calls, second.salesforce_describe_calls) == (1, 0)
    assert second.salesforce_api_calls == 2
    # each write went as one collection inside one Composite call
    assert emulator.calls["composite"] == 2
    assert emulator.subrequests["collection_create"] == 1 and emulator.subrequests["collection_update"] == 1


def validate(served: Served, conn: pb.Connection, act: pb.Action) -> set[tuple[str, str]]:
    request = pb.ValidateRequest(action=act, connection=conn)
    response = served.stub.Validate(request, timeout=CALL_LIMIT, wait_for_ready=True)
    found = {(d.code, d.field_path) for d in response.diagnostics if d.severity == pb.SEVERITY_ERROR}
    assert response.valid is (not found)
    return found


# An object only this emulator's org has: what Validate says about it can only come from its describe.
GADGET = ObjectDescribe("Gadget__c", "a0G", label="Gadget", fields=(
    FieldDescribe("Id", "id", "Gadget ID", 18, nillable=False, createable=False, updateable=False,
                  defaulted_on_create=True, id_lookup=True),
    FieldDescribe("Name", "string", "Gadget Name", 80, nillable=False, defaulted_on_create=True, id_lookup=True),
    FieldDescribe("Serial__c", "string", "Serial", 40, external_id=True, id_lookup=True, unique=True),
    FieldDescribe("Notes__c", "textarea", "Notes", 32000, filterable=False),
    FieldDescribe("Model__c", "string", "Model", 40, nillable=False),
))
GADGET_CASES = {
    "a matcher on a field the org cannot filter": (
        action(object="Gadget__c", operation="OPERATION_UPDATE",
               record_matchers=[{"field": "Notes__c", "value": {"path": "traits.notes"}}],
               field_mappings=[{"field": "Model__c", "value": {"path": "traits.model"}}]),
        {("FIELD_NOT_FILTERABLE", "action.record_matchers[0].field")}),
    "a field the org does not have": (
        action(object="Gadget__c", operation="OPERATION_UPDATE",
               record_matchers=[{"field": "Serial__c", "value": {"path": "traits.serial"}}],
               field_mappings=[{"field": "Colour__c", "value": {"path": "traits.colour"}}]),
        {("UNKNOWN_FIELD", "action.field_mappings[0].field")}),
    "a create without the org's required field": (
        action(object="Gadget__c", operation="OPERATION_CREATE",
               field_mappings=[{"field": "Serial__c", "value": {"path": "traits.serial"}}]),
        {("REQUIRED_FIELD_NOT_MAPPED", "action.field_mappings")}),
    "a good action on the org's own object": (
        action(object="Gadget__c", operation="OPERATION_UPSERT",
               record_matchers=[{"field": "Serial__c", "value": {"path": "traits.serial"}}],
               field_mappings=[{"field": "Model__c", "value": {"path": "traits.model"}}]),
        set()),
}


@pytest.mark.parametrize("case", GADGET_CASES)
def test_validate_reports_what_the_emulators_describe_says(served, emulator, case):
    emulator.org.add_object(GADGET)
    act, expected = GADGET_CASES[case]
    assert validate(served, grant_connection(emulator, "oauth_refresh_token"), act) == expected
    assert emulator.calls["describe"] == 1


def test_validate_reports_a_lead_matcher_the_org_cannot_filter(served, emulator):
    act = action(object="Lead", operation="OPERATION_UPSERT",
                 record_matchers=[{"field": "Description", "value": {"path": "traits.bio"}}],
                 field_mappings=[{"field": "LastName", "value": {"path": "traits.last_name"}},
                                 {"field": "Company", "value": {"literal": "Acme"}}])
    found = validate(served, grant_connection(emulator, "client_credentials"), act)
    assert found == {("FIELD_NOT_FILTERABLE", "action.record_matchers[0].field")}


def test_validate_reports_an_object_the_org_lacks(served, emulator):
    act = action(object="Gizmo__c", operation="OPERATION_CREATE",
                 field_mappings=[{"field": "Name", "value": {"path": "traits.name"}}])
    assert validate(served, grant_connection(emulator, "oauth_refresh_token"), act) == {
        ("OBJECT_NOT_FOUND", "action.object")}


def test_a_revoked_refresh_token_fails_every_event_with_a_bounded_number_of_token_requests(served, emulator):
    conn = grant_connection(emulator, "oauth_refresh_token")
    token = conn.oauth_refresh_token.refresh_token
    emulator.revoke_refresh_token(token)
    for n in range(5):
        events = [identify_message(f"a{n}-{i}", f"user{i}@example.com", "Ng") for i in range(3)]
        response = apply(served, conn, UPSERT_LEAD_ON_EMAIL, *events)
        assert [(r.status, r.outcome, r.retryable, r.error.code) for r in response.results] == [
            (401, pb.OUTCOME_AUTH_FAILED, False, "INVALID_GRANT")] * 3
        assert token not in str(response)
    assert emulator.token_requests == 1  # the refusal is remembered: no storm of token requests
    assert emulator.api_calls == 0
    assert emulator.org.records("Lead") == []


def test_the_readme_command_applies_through_the_cli_with_the_emulators_connection_json(served, emulator, tmp_path):
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(emulator.connection()), encoding="utf-8")

    def sfdest_apply() -> tuple[int, list[dict[str, Any]]]:
        done = subprocess.run(
            [sys.executable, "-m", "server.cli", "apply", "--target", f"127.0.0.1:{served.port}",
             "--connection", str(conn), "--action", str(ROOT / "tests/examples/lead-upsert.json"),
             str(ROOT / "tests/examples/identify-ann.jsonl")],
            cwd=ROOT, capture_output=True, text=True, timeout=CALL_LIMIT)
        return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    code, [created] = sfdest_apply()
    assert (code, created["status"], created["outcome"]) == (0, 201, "created")
    code, [updated] = sfdest_apply()
    assert (code, updated["status"], updated["record_id"]) == (0, 200, created["record_id"])
    [lead] = emulator.org.records("Lead")
    assert (lead["Id"], lead["Email"], lead["LastName"]) == (created["record_id"], "ann@example.com", "Ng")
