"""An invalid action is described once per ApplyResponse, with field paths, and every result points to it:
10,000 events and 30 unknown fields make a small response, over a real channel."""

from __future__ import annotations

from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from tests.builders import action, apply_request, identify_message
from tests.server.calls import SAFETY_LIMIT

FIELDS, EVENTS = 30, 10_000


def test_30_unknown_fields_and_10000_events_are_reported_once_in_a_small_response(start):
    _, channel = start()  # the default 16 MiB message limit
    act = action(object="Lead", operation="OPERATION_CREATE", field_mappings=[
        {"field": "LastName", "value": {"literal": "L"}}, {"field": "Company", "value": {"literal": "C"}},
        *({"field": f"Unknown{i}__c", "value": {"path": f"traits.f{i}"}} for i in range(FIELDS))])
    request = apply_request(act, *(identify_message(f"e{i}", f"{i}@x.io", as_json=True) for i in range(EVENTS)))
    response = destination_pb2_grpc.DestinationServiceStub(channel).Apply(request, timeout=SAFETY_LIMIT * 4)
    assert [(d.code, d.field_path) for d in response.diagnostics] == [
        ("UNKNOWN_FIELD", f"action.field_mappings[{i + 2}].field") for i in range(FIELDS)]
    assert all(d.severity == pb.SEVERITY_ERROR for d in response.diagnostics)
    assert len(response.results) == EVENTS
    assert {(r.status, r.error.code, tuple(r.diagnostic_indexes)) for r in response.results} == {
        (400, "INVALID_ACTION", tuple(range(FIELDS)))}
    assert response.ByteSize() < 2 * 1024 * 1024, f"{response.ByteSize():,} bytes"


def test_an_applied_action_reports_its_warnings_once(start):
    _, channel = start()
    act = action(object="Lead", operation="OPERATION_CREATE",
                 record_matchers=[{"field": "Email", "value": {"path": "traits.email"}}],
                 field_mappings=[{"field": "LastName", "value": {"literal": "L"}},
                                 {"field": "Company", "value": {"literal": "C"}}])
    response = destination_pb2_grpc.DestinationServiceStub(channel).Apply(
        apply_request(act, identify_message("e1", "a@x.io"), identify_message("e2", "b@x.io")), timeout=SAFETY_LIMIT)
    assert [r.status for r in response.results] == [201, 201]
    assert [(d.code, d.severity) for d in response.diagnostics] == [("MATCHERS_IGNORED", pb.SEVERITY_WARNING)]
    assert all(not r.diagnostic_indexes for r in response.results)
