"""The request-fault table: codes, capped violation lists, and details that round-trip."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2

from server import errors, request_checks


@pytest.mark.parametrize(("reason", "code"), [
    ("MALFORMED_REQUEST", grpc.StatusCode.INVALID_ARGUMENT),
    ("BACKEND_UNAVAILABLE", grpc.StatusCode.FAILED_PRECONDITION),
    ("INTERNAL", grpc.StatusCode.INTERNAL),
])
def test_each_reason_has_its_grpc_code(reason, code):
    fault = errors.RequestFault(reason, "m")
    assert fault.code is code
    assert errors.rich_status(fault).code == getattr(code_pb2, code.name)


def test_a_long_list_of_violations_is_capped_and_says_how_many_were_left_out():
    violations = [errors.Violation(f"events[{i}].id", "must not be empty") for i in range(50)]
    fault = errors.malformed("ApplyRequest", violations)
    assert len(fault.violations) == errors.MAX_VIOLATIONS + 1
    assert fault.violations[-1].description == "... and 30 more problems"
    assert fault.message == "malformed ApplyRequest: events[0].id: must not be empty (and 49 more)"


def test_rich_status_round_trips_error_info_and_field_violations():
    fault = errors.malformed("ValidateRequest", [errors.Violation("action", "an action is required")])
    info, violations = errors.details_of(errors.rich_status(fault, "rid-1"))
    assert (info.reason, info.domain, dict(info.metadata)) == ("MALFORMED_REQUEST", "sfdest", {"request_id": "rid-1"})
    assert violations == [errors.Violation("action", "an action is required")]


def test_a_very_long_duplicate_id_is_shortened_in_the_description():
    from sfdest.v1 import destination_pb2 as pb

    long_id = "x" * 500
    request = pb.ApplyRequest(action=pb.Action(), events=[pb.Event(id=long_id), pb.Event(id=long_id)])
    request.connection.instance_url = "https://a.my.salesforce.com"
    [violation] = request_checks.apply_violations(request, 10)
    assert violation.field == "events[1].id" and len(violation.description) < 120
