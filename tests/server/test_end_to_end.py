"""`sfdest serve` as a real process: health, reflection, Apply and Validate over a channel, SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from sfdest.v1 import destination_pb2 as pb

from tests.builders import INSTANCE, action, apply_request, identify_message, lead_create, lead_upsert_on_email
from tests.server.serving import CALL_LIMIT, GRACE, Served, start_server, stop_server


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    s = start_server()
    yield s
    stop_server(s)


def health_status(channel: grpc.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=CALL_LIMIT, wait_for_ready=True).status


def test_health_reports_serving_for_the_server_and_the_service(served):
    assert health_status(served.channel, "") == health_pb2.HealthCheckResponse.SERVING
    assert health_status(served.channel, "sfdest.v1.DestinationService") == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(served):
    services = ProtoReflectionDescriptorDatabase(served.channel).get_services()
    assert {"sfdest.v1.DestinationService", "grpc.health.v1.Health"} <= set(services)


def test_apply_upserts_then_updates_then_finds_two_matches(served):
    def apply(act, *events):
        return served.stub.Apply(apply_request(act, *events), timeout=CALL_LIMIT, wait_for_ready=True)

    first = apply(lead_upsert_on_email(), identify_message("e1", "ada@example.com")).results[0]
    assert (first.event_id, first.status, first.outcome) == ("e1", 201, pb.OUTCOME_CREATED)
    second = apply(lead_upsert_on_email(), identify_message("e2", "ada@example.com", "Byron")).results[0]
    assert (second.status, second.outcome, second.record_id) == (200, pb.OUTCOME_UPDATED, first.record_id)
    seeded = apply(lead_create(), identify_message("e3", "ada@example.com", "King")).results[0]
    assert seeded.status == 201 and seeded.record_id != first.record_id
    response = apply(lead_upsert_on_email(), identify_message("e4", "ada@example.com"))
    third = response.results[0]
    assert (third.status, third.outcome) == (300, pb.OUTCOME_AMBIGUOUS)
    assert sorted(third.matched_ids) == sorted([first.record_id, seeded.record_id])
    assert response.salesforce_api_calls > 0


def test_a_malformed_apply_is_invalid_argument_with_details_over_the_wire(served):
    from grpc_status import rpc_status

    from server import errors

    request = apply_request(lead_upsert_on_email(), identify_message("same", "a@example.com"), identify_message("same", "b@x.io"))
    with pytest.raises(grpc.RpcError) as raised:
        served.stub.Apply(request, timeout=CALL_LIMIT, wait_for_ready=True)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    info, violations = errors.details_of(rpc_status.from_call(raised.value))
    assert (info.reason, info.domain) == ("MALFORMED_REQUEST", "sfdest")
    assert [v.field for v in violations] == ["events[1].id"]


def _errors(served: Served, act: pb.Action) -> set[tuple[str, str]]:
    request = pb.ValidateRequest(action=act, connection=pb.Connection(instance_url=INSTANCE))
    response = served.stub.Validate(request, timeout=CALL_LIMIT, wait_for_ready=True)
    found = {(d.code, d.field_path) for d in response.diagnostics if d.severity == pb.SEVERITY_ERROR}
    assert response.valid is (not found)
    return found


NAMES = [{"field": "LastName", "value": {"path": "traits.last_name"}},
         {"field": "Company", "value": {"literal": "Acme"}}]
VALIDATION_CASES = {
    "matcher on a field that cannot be filtered": (
        action(object="Lead", operation="OPERATION_UPSERT", field_mappings=NAMES,
               record_matchers=[{"field": "Description", "value": {"path": "traits.bio"}}]),
        ("FIELD_NOT_FILTERABLE", "action.record_matchers[0].field")),
    "unknown field": (
        action(object="Lead", operation="OPERATION_CREATE",
               field_mappings=[*NAMES, {"field": "Shoe_Size__c", "value": {"path": "traits.shoe"}}]),
        ("UNKNOWN_FIELD", "action.field_mappings[2].field")),
    "update without matchers": (
        action(object="Lead", operation="OPERATION_UPDATE", field_mappings=NAMES),
        ("MATCHER_REQUIRED", "action.record_matchers")),
    "create without the required LastName": (
        action(object="Lead", operation="OPERATION_CREATE",
               field_mappings=[{"field": "Company", "value": {"literal": "Acme"}},
                               {"field": "Email", "value": {"path": "traits.email"}}]),
        ("REQUIRED_FIELD_NOT_MAPPED", "action.field_mappings")),
    "a field name that smuggles SOQL": (
        action(object="Lead", operation="OPERATION_UPDATE",
               record_matchers=[{"field": "Email OR 1=1", "value": {"path": "traits.email"}}]),
        ("INVALID_NAME", "action.record_matchers[0].field")),
}


@pytest.mark.parametrize("case", VALIDATION_CASES)
def test_validate_reports_each_problem_with_its_field_path(served, case):
    act, expected = VALIDATION_CASES[case]
    assert expected in _errors(served, act)


def test_validate_accepts_a_good_action(served):
    assert _errors(served, lead_upsert_on_email()) == set()


def test_sigterm_drains_and_exits_cleanly():
    s = start_server()
    try:
        assert health_status(s.channel, "") == health_pb2.HealthCheckResponse.SERVING
        s.process.send_signal(signal.SIGTERM)
        assert s.process.wait(timeout=GRACE + CALL_LIMIT) == 0
    finally:
        stop_server(s)
    s.reader.join(timeout=CALL_LIMIT)  # the whole log, up to the process's last line
    log = "\n".join(s.log)
    assert "SIGTERM received: health NOT_SERVING" in log
    assert "sfdest stopped" in log
    assert "Traceback" not in log
