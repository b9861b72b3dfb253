"""Each field Salesforce refuses in a record names the mapping that produced it, with a hint from the describe;
through gRPC (`sfdest serve`'s server, in process) over the memory org and the REST adapter against the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import json_format
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from server.app import build_server
from server.container import build_container
from tests.builders import local_settings
from tests.server.calls import SAFETY_LIMIT


@pytest.fixture
def stub(backend) -> Iterator[tuple[destination_pb2_grpc.DestinationServiceStub, pb.Connection]]:
    settings = local_settings(backend=backend.name)
    container = build_container(settings)
    container.backend.override(backend.factory)
    running = build_server(settings, container)
    conn = backend.connection_for("acme")
    connection = pb.Connection(instance_url=conn.instance_url)
    if conn.credentials is not None:
        c = conn.credentials
        connection.oauth_refresh_token.CopyFrom(pb.OAuthRefreshToken(
            client_id=c.client_id, client_secret=c.client_secret, refresh_token=c.refresh_token))
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        yield destination_pb2_grpc.DestinationServiceStub(channel), connection
    running.stop(0)


def _lead(operation: str, *mappings: dict, matchers: tuple[dict, ...] = ()) -> pb.Action:
    return json_format.ParseDict({"object": "Lead", "operation": operation, "record_matchers": list(matchers),
                                  "field_mappings": list(mappings)}, pb.Action())


def _event(event_id: str, **traits) -> pb.Event:
    return json_format.ParseDict({"id": event_id, "payload": {"traits": traits}}, pb.Event())


def _apply(client, connection, action, *events) -> list[pb.EventResult]:
    request = pb.ApplyRequest(connection=connection, action=action, events=list(events))
    return list(client.Apply(request, timeout=SAFETY_LIMIT).results)


def _problems(result: pb.EventResult) -> list[tuple[str, str, str]]:
    return [(p.field, p.path, p.hint) for p in result.error.field_problems]


def test_a_value_too_long_names_its_mapping_with_length_and_limit(stub):
    client, connection = stub
    action = _lead("OPERATION_CREATE", {"field": "Email", "value": {"path": "traits.email"}},
                   {"field": "Company", "value": {"literal": "Acme"}},
                   {"field": "LastName", "value": {"path": "traits.last_name"}})
    ok, long = _apply(client, connection, action, _event("ok", email="a@x.com", last_name="Short"),
                      _event("long", email="b@x.com", last_name="L" * 95))
    assert ok.status == 201 and not ok.HasField("error")
    assert (long.status, long.error.code) == (422, "STRING_TOO_LONG")
    assert _problems(long) == [("LastName", "action.field_mappings[2]", "length 95, limit 80")]


def test_a_required_field_cleared_names_the_mapping_that_should_supply_it(stub):
    client, connection = stub
    create = _lead("OPERATION_CREATE", {"field": "Email", "value": {"path": "traits.email"}},
                   {"field": "LastName", "value": {"literal": "Lovelace"}},
                   {"field": "Company", "value": {"literal": "Acme"}})
    [created] = _apply(client, connection, create, _event("c", email="req@x.com"))
    assert created.status == 201
    clear = _lead("OPERATION_UPDATE", {"field": "Company", "value": {"path": "traits.company"}},
                  matchers=({"field": "Email", "value": {"path": "traits.email"}},))
    [result] = _apply(client, connection, clear, _event("u", email="req@x.com", company=None))
    assert result.error.code == "REQUIRED_FIELD_MISSING"
    assert _problems(result) == [("Company", "action.field_mappings[0]", "")]


def test_a_value_a_restricted_picklist_refuses_lists_the_allowed_values(stub):
    client, connection = stub
    action = json_format.ParseDict({
        "object": "Subscription__c", "operation": "OPERATION_CREATE",
        "field_mappings": [{"field": "Plan__c", "value": {"literal": "p"}},
                           {"field": "Tier__c", "value": {"path": "traits.tier"}}]}, pb.Action())
    [result] = _apply(client, connection, action, _event("bad", tier="Diamond"))
    assert (result.status, result.error.code) == (400, "PICKLIST_VALUE_INVALID")
    [(field, path, hint)] = _problems(result)
    assert (field, path) == ("Tier__c", "action.field_mappings[1]")
    assert hint.startswith("allowed: ") and "Gold" in hint and "Legacy" not in hint


def test_the_cli_prints_each_field_problem():
    from server.cli_output import result_json

    result = pb.EventResult(event_id="e", status=422, error=pb.ResultError(
        code="STRING_TOO_LONG", fields=["LastName"], field_problems=[
            pb.FieldProblem(field="LastName", path="action.field_mappings[2]", hint="length 95, limit 80")]))
    assert result_json(result)["error"]["field_problems"] == [
        {"field": "LastName", "path": "action.field_mappings[2]", "hint": "length 95, limit 80"}]
    assert "field_problems" not in result_json(pb.EventResult(event_id="e", error=pb.ResultError(code="X")))["error"]
