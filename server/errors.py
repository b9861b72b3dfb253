"""The one table from request-level faults to gRPC status codes, with google.rpc rich details."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "sfdest"
# Rich details travel in trailing metadata, whose size gRPC caps (8 KiB by default): keep them short.
MAX_VIOLATIONS = 20

# reason -> gRPC status code. Per-event failures are never here: they are results, not errors.
ERROR_TABLE: dict[str, grpc.StatusCode] = {
    "MALFORMED_REQUEST": grpc.StatusCode.INVALID_ARGUMENT,
    "BACKEND_UNAVAILABLE": grpc.StatusCode.FAILED_PRECONDITION,
    "MEMORY_BACKEND": grpc.StatusCode.FAILED_PRECONDITION,
    "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,
    "ORG_NOT_ALLOWED": grpc.StatusCode.PERMISSION_DENIED,
    "ORG_BUSY": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "SERVER_BUSY": grpc.StatusCode.RESOURCE_EXHAUSTED,
    # The org's API allowance (or sfdest's budget of it) cannot pay for the request: nothing was sent; RetryInfo
    # says when to retry (HTTP's 429).
    "RATE_LIMITED": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "CANCELLED": grpc.StatusCode.CANCELLED,
    "INTERNAL": grpc.StatusCode.INTERNAL,
}


@dataclass(frozen=True)
class Violation:
    field: str
    description: str


@dataclass(eq=False)
class RequestFault(Exception):
    """A fault of the whole request; becomes a gRPC error with ErrorInfo (and BadRequest if any violations)."""

    reason: str
    message: str
    violations: tuple[Violation, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    retry_after_seconds: float = 0.0  # when known: a google.rpc.RetryInfo detail

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def code(self) -> grpc.StatusCode:
        return ERROR_TABLE[self.reason]


def malformed(request_name: str, violations: list[Violation]) -> RequestFault:
    shown = violations[:MAX_VIOLATIONS]
    if len(violations) > MAX_VIOLATIONS:
        shown.append(Violation("", f"... and {len(violations) - MAX_VIOLATIONS} more problems"))
    first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return RequestFault("MALFORMED_REQUEST", f"malformed {request_name}: {first.field}: {first.description}{more}",
                        tuple(shown))


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def rich_status(fault: RequestFault, request_id: str = "") -> status_pb2.Status:
    metadata = dict(fault.metadata)
    if request_id:
        metadata["request_id"] = request_id
    details = [_pack(error_details_pb2.ErrorInfo(reason=fault.reason, domain=DOMAIN, metadata=metadata))]
    if fault.violations:
        details.append(_pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in fault.violations])))
    if fault.retry_after_seconds > 0:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(fault.retry_after_seconds * 1e9))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    code = getattr(code_pb2, fault.code.name)
    return status_pb2.Status(code=code, message=fault.message, details=details)


def reject(context: grpc.ServicerContext, fault: RequestFault, empty_response: Any, request_id: str = "") -> Any:
    """End the RPC with the fault's status and details.

    Real servers abort with the rich status. Contexts without abort_with_status (grpcio-testing's)
    get the same status, message and trailing details set before an empty response is returned.
    """
    status = rpc_status.to_status(rich_status(fault, request_id))
    try:
        context.abort_with_status(status)
    except NotImplementedError:
        context.set_trailing_metadata(status.trailing_metadata)
        context.set_code(status.code)
        context.set_details(status.details)
    return empty_response


def details_of(status: status_pb2.Status) -> tuple[error_details_pb2.ErrorInfo | None, list[Violation]]:
    """The ErrorInfo and field violations packed in a rich status (for clients and tests)."""
    info: error_details_pb2.ErrorInfo | None = None
    violations: list[Violation] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations.extend(Violation(v.field, v.description) for v in bad.field_violations)
    return info, violations
