"""DestinationService: proto in, core service call, proto out; one structured log line and metrics per call."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from core.erasure import EraseRefused, EraseService
from core.model import Event, ResultError
from core.outcomes import classify
from core.ports import BackendError
from core.service import ApplyService, ValidateService
from core.steps import StepClock
from core.telemetry import org_label
from server import errors, request_checks, translate
from server.interceptors import REQUEST_ID_KEY, current_request_id, request_id_from
from server.metrics import Metrics
from server.org_limits import OrgLimiter
from server.shutdown import ShutdownClock

log = logging.getLogger("sfdest.rpc")
# A remaining time beyond this means the caller set no deadline (gRPC reports "infinite" as huge).
_NO_DEADLINE = 10**8
MAX_TURN_WAIT = 10.0


def request_id(context: grpc.ServicerContext) -> str:
    """The id the interceptor chose for this call; without one (in-process calls), the caller's or a fresh one."""
    return current_request_id() or request_id_from(context.invocation_metadata())


def core_deadline(context: grpc.ServicerContext, margin: float, fraction: float = 0.0,
                  max_seconds: float = 0.0) -> float | None:
    """The caller's deadline on the time.monotonic() clock, less time to answer in: `margin` + `fraction` of it.

    Work not started by then comes back NOT_ATTEMPTED; the store may still be finishing one call
    when it passes, and the rest of the margin is for that call, the response and the network.
    """
    remaining = context.time_remaining()
    if remaining is None or remaining > _NO_DEADLINE:
        if not max_seconds:
            return None
        remaining = max_seconds  # no caller deadline: the server's own limit stands in for it
    return time.monotonic() + remaining - min(remaining, margin + fraction * remaining)


def _erase_fault(error: ResultError) -> errors.RequestFault:
    """An Erase that found nothing: refused by the org's API allowance or sfdest's budget of it (429, retryable:
    nothing was sent), or the org could not answer."""
    status, _, retryable = classify(error)
    if status == 429 and retryable:
        return errors.RequestFault("RATE_LIMITED", f"{error.code}: {error.message}", metadata={"code": error.code},
                                   retry_after_seconds=error.retry_after_seconds)
    return errors.RequestFault("BACKEND_UNAVAILABLE", f"{error.code}: {error.message}")


class DestinationServicer(destination_pb2_grpc.DestinationServiceServicer):
    def __init__(self, apply_service: ApplyService, validate_service: ValidateService, max_events: int = 10_000,
                 deadline_margin: float = 0.25, deadline_fraction: float = 0.1, metrics: Metrics | None = None,
                 org_limiter: OrgLimiter | None = None, max_call_seconds: float = 0.0, backend_name: str = "memory",
                 memory_accepts_credentials: bool = False, shutdown: ShutdownClock | None = None,
                 erase_service: EraseService | None = None):
        self._apply = apply_service
        self._erase = erase_service
        self._validate = validate_service
        self._max_events = max_events
        self._margin = deadline_margin
        self._fraction = deadline_fraction
        self._metrics = metrics
        self._org_limiter = org_limiter or OrgLimiter(0)
        self._max_call = max_call_seconds
        self._backend = backend_name
        self._refuse_credentials = backend_name == "memory" and not memory_accepts_credentials
        self._shutdown = shutdown or ShutdownClock()

    def _check_backend(self, connection: pb.Connection) -> None:
        """The memory backend refuses real credentials: the caller means to write to Salesforce, and would not."""
        if self._refuse_credentials and connection.WhichOneof("credentials"):
            raise errors.RequestFault("MEMORY_BACKEND", (
                "this server runs SFDEST_BACKEND=memory: an in-process org that reaches no Salesforce and forgets "
                "everything at restart, yet the connection carries credentials; set SFDEST_BACKEND=salesforce to "
                "write to Salesforce (or SFDEST_MEMORY_ACCEPT_CREDENTIALS=true to accept them for testing)"),
                metadata={"backend": self._backend})

    def _stop(self, context: grpc.ServicerContext) -> Callable[[], bool]:
        """True once the caller is gone (cancelled, deadline) or the server's shutdown grace is nearly over."""
        return lambda: not context.is_active() or self._shutdown.passed(self._margin, self._fraction)

    def Apply(self, request: pb.ApplyRequest, context: grpc.ServicerContext) -> pb.ApplyResponse:
        def run(line: dict[str, Any]) -> pb.ApplyResponse:
            started = time.monotonic()
            line.update(events=len(request.events), dry_run=request.dry_run)
            with self._admitted("ApplyRequest", request_checks.apply_violations(request, self._max_events),
                                request.connection, context) as org:
                return applied(line, started, org)

        def applied(line: dict[str, Any], started: float, org: str) -> pb.ApplyResponse:
            action = translate.action(request.action)
            line.update(object=action.object_name, operation=action.operation.value if action.operation else "")
            report = self._apply.apply(translate.connection(request.connection), action,
                                       translate.events(request.events), request.dry_run,
                                       core_deadline(context, self._margin, self._fraction, self._max_call),
                                       stop=self._stop(context))
            response = translate.apply_response(report)
            response.backend = self._backend
            line.update(api_calls=report.api_calls,
                        statuses=dict(sorted(Counter(str(r.status) for r in report.results).items())),
                        outcomes=dict(sorted(Counter(r.outcome.value for r in report.results).items())))
            if self._metrics is not None:
                self._metrics.applied(report.results, time.monotonic() - started)
                if report.api_usage is not None:
                    self._metrics.api_usage(org, report.api_usage.used, report.api_usage.limit)
            return response

        return self._call("Apply", context, pb.ApplyResponse(), run)

    @contextmanager
    def _admitted(self, message: str, violations: list[errors.Violation], connection: pb.Connection,
                  context: grpc.ServicerContext) -> Iterator[str]:
        """What every call that writes to an org passes first: the request's checks (INVALID_ARGUMENT naming
        `message`'s fields), the backend, then the org's turn, held while the body runs. Yields the org's label."""
        if violations:
            raise errors.malformed(message, violations)
        self._check_backend(connection)
        org = org_label(connection.instance_url)
        with self._org_limiter.slot(org, self._turn_wait(context), context.is_active) as refusal:
            if refusal is not None:
                raise errors.RequestFault(refusal.reason, refusal.message)
            yield org

    def _turn_wait(self, context: grpc.ServicerContext) -> float:
        """How long an Apply may wait for its turn when the server is full: half its time, at most MAX_TURN_WAIT."""
        remaining = context.time_remaining()
        if remaining is None or remaining > _NO_DEADLINE:
            remaining = self._max_call or MAX_TURN_WAIT
        return min(remaining / 2, MAX_TURN_WAIT)

    def Validate(self, request: pb.ValidateRequest, context: grpc.ServicerContext) -> pb.ValidateResponse:
        def run(line: dict[str, Any]) -> pb.ValidateResponse:
            line.update(sample_events=len(request.sample_events))
            violations = request_checks.validate_violations(request, self._max_events)
            if violations:
                raise errors.malformed("ValidateRequest", violations)
            self._check_backend(request.connection)
            action = translate.action(request.action)
            connection = translate.connection(request.connection) if request.HasField("connection") else None
            report = self._validate.validate(action, connection, translate.events(request.sample_events,
                                                                                  "sample_events"),
                                             core_deadline(context, self._margin, self._fraction, self._max_call),
                                             stop=self._stop(context))
            line.update(object=action.object_name, valid=report.valid,
                        diagnostics=sorted(d.code for d in report.diagnostics))
            return translate.validate_response(report)

        return self._call("Validate", context, pb.ValidateResponse(), run)

    def Erase(self, request: pb.EraseRequest, context: grpc.ServicerContext) -> pb.EraseResponse:
        def run(line: dict[str, Any]) -> pb.EraseResponse:
            line.update(identifiers=len(request.identifiers), hard_delete=request.hard_delete)
            with self._admitted("EraseRequest", request_checks.erase_violations(request), request.connection,
                                context):
                if self._erase is None:
                    raise errors.RequestFault("BACKEND_UNAVAILABLE", "this server has no erase service")
                try:
                    report = self._erase.erase(translate.connection(request.connection),
                                               translate.person_identifiers(request.identifiers), request.hard_delete,
                                               core_deadline(context, self._margin, self._fraction, self._max_call))
                except EraseRefused as refused:
                    raise errors.malformed("EraseRequest", [errors.Violation(path, message)
                                                            for path, message in refused.problems]) from None
                except BackendError as exc:  # nothing could be found: the person is not erased
                    raise _erase_fault(exc.error) from None
            response = translate.erase_response(report)
            response.backend = self._backend
            line.update(api_calls=report.api_calls, records=len(report.records))
            return response

        return self._call("Erase", context, pb.EraseResponse(), run)

    def ApplyStream(self, request_iterator: Iterator[pb.ApplyStreamRequest],
                    context: grpc.ServicerContext) -> Iterator[pb.ApplyStreamResponse]:
        """Apply over a stream (core.streaming): the first message's checks are Apply's, each later message's
        events are checked as it arrives (a malformed one ends the call: INVALID_ARGUMENT, results sent
        before it stand). The org's turn is held for the whole stream."""
        rpc = _Rpc("ApplyStream", context)
        clock = StepClock()
        try:
            with clock.step("receive"):
                first = next(request_iterator, None)
            if first is None:
                raise errors.malformed("ApplyStreamRequest", [errors.Violation("", "the stream carried no message")])
            with self._admitted("ApplyStreamRequest", request_checks.stream_violations(first, True, self._max_events),
                                first.connection, context) as org:
                yield from self._streamed(first, request_iterator, context, rpc.line, clock, org)
        except errors.RequestFault as exc:
            rpc.fault = exc
        except Exception:
            if context.is_active():  # a request stream the caller cancelled raises too: that is no fault
                rpc.fault = self._unexpected("ApplyStream", rpc.rid)
        finally:  # also when gRPC closes this generator (the caller went away between two answers)
            self._finish(rpc)
        if rpc.fault is not None:
            errors.reject(context, rpc.fault, None, rpc.rid)

    def _streamed(self, first: pb.ApplyStreamRequest, requests: Iterator[pb.ApplyStreamRequest],
                  context: grpc.ServicerContext, line: dict[str, Any], clock: StepClock,
                  org: str) -> Iterator[pb.ApplyStreamResponse]:
        action = translate.action(first.action)
        line.update(object=action.object_name, operation=action.operation.value if action.operation else "",
                    dry_run=first.dry_run)
        statuses: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        seen = {"events": 0, "messages": 0}

        def chunks() -> Iterator[tuple[Event, ...]]:
            message: pb.ApplyStreamRequest | None = first
            while message is not None:
                with clock.step("receive"):
                    if seen["messages"]:
                        violations = request_checks.stream_violations(message, False, self._max_events)
                        if violations:
                            raise errors.malformed(f"ApplyStreamRequest (message {seen['messages']})", violations)
                    events = translate.events(message.events)
                seen["messages"] += 1
                seen["events"] += len(events)
                yield events
                with clock.step("receive"):
                    message = next(requests, None)
            if request_checks.stream_end_violations(seen["events"]):
                raise errors.malformed("ApplyStreamRequest", request_checks.stream_end_violations(0))

        parts = self._apply.apply_stream(translate.connection(first.connection), action, chunks(), first.dry_run,
                                         core_deadline(context, self._margin, self._fraction, self._max_call),
                                         stop=self._stop(context), clock=clock)
        for part in parts:
            with clock.step("respond"):
                response = pb.ApplyStreamResponse(results=[
                    pb.StreamedResult(position=position, result=translate.event_result(r))
                    for position, r in part.results])
                statuses.update(str(r.status) for _, r in part.results)
                outcomes.update(r.outcome.value for _, r in part.results)
                if self._metrics is not None:
                    self._metrics.answered(r for _, r in part.results)
                if part.report is not None:
                    response.summary.CopyFrom(translate.apply_response(part.report))
                    response.summary.backend = self._backend
                    line.update(api_calls=part.report.api_calls)
                    if self._metrics is not None and part.report.api_usage is not None:
                        self._metrics.api_usage(org, part.report.api_usage.used, part.report.api_usage.limit)
            if part.report is not None:
                response.cpu_by_step.extend(translate.step_cpu(clock.seconds))
            yield response
        line.update(events=seen["events"], messages=seen["messages"], statuses=dict(sorted(statuses.items())),
                    outcomes=dict(sorted(outcomes.items())))

    def _call(self, method: str, context: grpc.ServicerContext, empty: Any,
              run: Callable[[dict[str, Any]], Any]) -> Any:
        """Run one RPC: echo its request id, time it, turn faults into gRPC errors, log exactly one line."""
        rpc = _Rpc(method, context)
        response = None
        try:
            response = run(rpc.line)
        except errors.RequestFault as exc:
            rpc.fault = exc
        except Exception:
            rpc.fault = self._unexpected(method, rpc.rid)
        self._finish(rpc)
        if rpc.fault is not None:
            return errors.reject(context, rpc.fault, empty, rpc.rid)
        return response

    @staticmethod
    def _unexpected(method: str, rid: str) -> errors.RequestFault:
        # The formatter shows the exception's type and frames, never its text (it may quote secrets).
        log.exception("%s failed unexpectedly", method, extra={"fields": {"rpc": method, "request_id": rid}})
        return errors.RequestFault("INTERNAL", f"internal error (request id {rid})")

    def _finish(self, rpc: _Rpc) -> None:
        """The RPC's one log line and its count."""
        fault = rpc.fault
        code = fault.code.name if fault else "OK" if rpc.context.is_active() else "CANCELLED"
        rpc.line.update(code=code, duration_ms=round((time.monotonic() - rpc.started) * 1000))
        if fault is not None:
            rpc.line.update(reason=fault.reason, violations=[v.field for v in fault.violations])
        log.info("%s %s", rpc.method, code, extra={"fields": rpc.line})
        if self._metrics is not None:
            self._metrics.rpc(rpc.method, code)


class _Rpc:
    """One RPC being answered: its request id (echoed at once), start, log line and fault."""

    def __init__(self, method: str, context: grpc.ServicerContext):
        self.method, self.context = method, context
        self.started = time.monotonic()
        self.rid = request_id(context)
        context.send_initial_metadata(((REQUEST_ID_KEY, self.rid),))
        self.line: dict[str, Any] = {"rpc": method, "request_id": self.rid}
        self.fault: errors.RequestFault | None = None
