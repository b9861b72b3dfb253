"""DestinationService: proto in, core service call, proto out; one structured log line per call."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import grpc
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from core.service import ApplyService, ValidateService
from server import errors, translate

log = logging.getLogger("sfdest.rpc")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# A remaining time beyond this means the caller set no deadline (gRPC reports "infinite" as huge).
_NO_DEADLINE = 10**8


def request_id(context: grpc.ServicerContext) -> str:
    """The caller's x-request-id when it is a sane token, else a fresh one."""
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id" and isinstance(value, str) and _REQUEST_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex[:16]


def core_deadline(context: grpc.ServicerContext, margin: float) -> float | None:
    """The caller's deadline on the time.monotonic() clock, less a margin to answer in (at most a fifth)."""
    remaining = context.time_remaining()
    if remaining is None or remaining > _NO_DEADLINE:
        return None
    return time.monotonic() + remaining - min(margin, remaining / 5)


class DestinationServicer(destination_pb2_grpc.DestinationServiceServicer):
    def __init__(self, apply_service: ApplyService, validate_service: ValidateService, max_events: int = 10_000,
                 deadline_margin: float = 0.25):
        self._apply = apply_service
        self._validate = validate_service
        self._max_events = max_events
        self._margin = deadline_margin

    def Apply(self, request: pb.ApplyRequest, context: grpc.ServicerContext) -> pb.ApplyResponse:
        def run(line: dict[str, Any]) -> pb.ApplyResponse:
            line.update(events=len(request.events), dry_run=request.dry_run)
            violations = errors.apply_violations(request, self._max_events)
            if violations:
                raise errors.malformed("ApplyRequest", violations)
            action = translate.action(request.action)
            line.update(object=action.object_name, operation=action.operation.value if action.operation else "")
            report = self._apply.apply(translate.connection(request.connection), action,
                                       translate.events(request.events), request.dry_run,
                                       core_deadline(context, self._margin))
            response = translate.apply_response(report)
            line.update(api_calls=report.api_calls,
                        statuses=dict(sorted(Counter(str(r.status) for r in report.results).items())),
                        outcomes=dict(sorted(Counter(r.outcome.value for r in report.results).items())))
            return response

        return self._call("Apply", context, pb.ApplyResponse(), run)

    def Validate(self, request: pb.ValidateRequest, context: grpc.ServicerContext) -> pb.ValidateResponse:
        def run(line: dict[str, Any]) -> pb.ValidateResponse:
            line.update(sample_events=len(request.sample_events))
            violations = errors.validate_violations(request, self._max_events)
            if violations:
                raise errors.malformed("ValidateRequest", violations)
            action = translate.action(request.action)
            connection = translate.connection(request.connection) if request.HasField("connection") else None
            report = self._validate.validate(action, connection, translate.events(request.sample_events,
                                                                                  "sample_events"),
                                             core_deadline(context, self._margin))
            line.update(object=action.object_name, valid=report.valid,
                        diagnostics=sorted(d.code for d in report.diagnostics))
            return translate.validate_response(report)

        return self._call("Validate", context, pb.ValidateResponse(), run)

    def _call(self, method: str, context: grpc.ServicerContext, empty: Any,
              run: Callable[[dict[str, Any]], Any]) -> Any:
        """Run one RPC: time it, turn faults into gRPC errors, and log exactly one line."""
        started = time.monotonic()
        rid = request_id(context)
        line: dict[str, Any] = {"rpc": method, "request_id": rid}
        fault: errors.RequestFault | None = None
        try:
            response = run(line)
        except errors.RequestFault as exc:
            fault = exc
        except Exception:
            log.exception("rpc=%s request_id=%s failed unexpectedly", method, rid)
            fault = errors.RequestFault("INTERNAL", f"internal error (request id {rid})")
        line.update(code=fault.code.name if fault else "OK", duration_ms=round((time.monotonic() - started) * 1000))
        if fault is not None:
            line.update(reason=fault.reason, violations=[v.field for v in fault.violations])
        log.info(json.dumps(line, separators=(",", ":")))
        if fault is not None:
            return errors.reject(context, fault, empty, rid)
        return response
