"""Org features over a real gRPC channel to `sfdest serve` (Salesforce backend) and the emulator's REST wire."""

from __future__ import annotations

from google.protobuf import json_format
from sfdest.v1 import destination_pb2 as pb

from adapters.memory.org_options import OrgOptions, RecordTypeSpec, new_org
from tests.builders import grant_connection
from tests.e2e.salesforce.test_grpc_end_to_end import served  # noqa: F401 (a fixture)
from tests.server.serving import apply


def _event(event_id: str, **traits) -> pb.Event:
    event = pb.Event(id=event_id)
    event.payload.update({"type": "identify", "traits": traits})
    return event


def test_parent_keys_record_types_and_write_headers_cross_the_wire(served, emulator_factory):  # noqa: F811
    emu = emulator_factory(org=new_org(OrgOptions(
        external_ids=("Account",), record_types=(RecordTypeSpec("Contact", "Partner"),),
        duplicate_rules=(("Contact", "Email"),))))
    acme = emu.org.seed("Account", {"Name": "Acme", "External_Id__c": "A-1"})
    conn = grant_connection(emu, "oauth_refresh_token")
    act = json_format.ParseDict({
        "object": "Contact", "operation": "OPERATION_CREATE", "recordType": "Partner",
        "duplicateRuleHeader": {"allowSave": False}, "adoptDuplicate": True,
        "fieldMappings": [{"field": "LastName", "value": {"path": "traits.last_name"}},
                          {"field": "Email", "value": {"path": "traits.email"}},
                          {"field": "AccountId", "value": {"path": "traits.company_id"},
                           "parent": {"keyField": "External_Id__c"}}]}, pb.Action())
    first = apply(served, conn, act, _event("a", last_name="Ng", email="ann@example.com", company_id="A-1"),
                  _event("b", last_name="Li", email="bo@example.com", company_id="NOPE"))
    assert [(r.status, r.error.code) for r in first.results] == [(201, ""), (422, "PARENT_NOT_FOUND")]
    again = apply(served, conn, act, _event("c", last_name="Nguyen", email="ann@example.com", company_id="A-1"))
    [adopted] = again.results
    assert (adopted.status, adopted.outcome, adopted.record_id) == (200, pb.OUTCOME_UPDATED, first.results[0].record_id)
    contact = emu.org.get("Contact", adopted.record_id)
    partner = next(rt.id for rt in emu.org.record_types("Contact") if rt.developer_name == "Partner")
    assert (contact["LastName"], contact["AccountId"], contact["RecordTypeId"]) == ("Nguyen", acme, partner)
    writes = [r for r in emu.requests if r.method in ("POST", "PATCH") and "/composite/sobjects" in r.path]
    assert all(r.headers["sforce-duplicate-rule-header"].startswith("allowSave=false") for r in writes)
    assert emu.calls["describe_layouts"] == 1  # record types resolved once for the org and object
