"""Per call, before any handler runs: the request id (echoed to the caller) and the bearer-token check."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from server import decoding, errors
from server.config import Secret
from server.metrics import Metrics
from server.security import bearer_matches, presented_bearer
from server.token_scopes import ENV as TOKENS_FILE_ENV
from server.token_scopes import ScopedToken, ScopedTokens

log = logging.getLogger("sfdest.rpc")
REQUEST_ID_KEY = "x-request-id"
# Health checks need no token: load balancers and probes call them, and they reveal nothing but SERVING.
EXEMPT_PREFIXES = ("/grpc.health.v1.Health/",)
OWN_PREFIX = "/sfdest.v1.DestinationService/"
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("sfdest_request_id", default="")


def request_id_from(metadata: Any) -> str:
    """The caller's x-request-id when it is a sane token (it is logged), else a fresh one."""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and _VALID_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex[:16]


def current_request_id() -> str:
    """The request id the interceptor chose for the call this thread is serving ('' outside one)."""
    return _current_request_id.get()


def method_name(full: str) -> str:
    """`/sfdest.v1.DestinationService/Apply` -> `Apply`."""
    return full.rpartition("/")[2] or full


def _same_kind(handler: grpc.RpcMethodHandler, behavior: Callable[..., Any]) -> grpc.RpcMethodHandler:
    """A handler of the same streaming kind and (de)serializers as `handler`, running `behavior`."""
    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(bool(handler.request_streaming), bool(handler.response_streaming))]
    return make(behavior, request_deserializer=decoding.tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer)


def _org_not_allowed(scope: ScopedToken, url: str) -> errors.RequestFault:
    shown = url if len(url) <= 200 else url[:200] + "..."
    return errors.RequestFault("ORG_NOT_ALLOWED", f"this caller ({scope.name}) may not reach {shown}: its token's "
                               f"entry in {TOKENS_FILE_ENV} does not list that instance URL",
                               metadata={"instance_url": shown, "caller": scope.name})


class CallInterceptor(grpc.ServerInterceptor):
    """Refuses calls without the configured bearer token (UNAUTHENTICATED) and gives every call a request id."""

    def __init__(self, token: Secret | Callable[[], Secret], metrics: Metrics | None = None,
                 scoped: Callable[[], ScopedTokens] | None = None):
        self._token = token if callable(token) else (lambda: token)
        self._metrics = metrics
        self._scoped = scoped or ScopedTokens

    def _caller(self, metadata: Any) -> tuple[bool, ScopedToken | None]:
        """Whether the call may proceed, and the org scope of its token (None: any org, or no auth configured)."""
        expected, scoped = self._token(), self._scoped()
        if not expected and not scoped:
            return True, None
        if expected and bearer_matches(metadata, expected):
            return True, None
        presented = presented_bearer(metadata)
        scope = scoped.match(presented) if presented is not None else None
        return scope is not None, scope

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Any],
                          details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None:
            return handler
        method, rid = method_name(details.method), request_id_from(details.invocation_metadata)
        exempt = details.method.startswith(EXEMPT_PREFIXES)
        allowed, scope = (True, None) if exempt else self._caller(details.invocation_metadata)
        if not allowed:
            fault = errors.RequestFault("UNAUTHENTICATED", "missing or invalid bearer token: send the metadata "
                                        "'authorization: Bearer <token>'")
            return _same_kind(handler, lambda _request, context: self._reject(context, method, rid, fault))
        if handler.request_streaming:  # ApplyStream, reflection: each message is checked as it arrives
            inner_stream = handler.stream_stream or handler.stream_unary
            ours = details.method.startswith(OWN_PREFIX)
            return _same_kind(handler, lambda requests, context: inner_stream(
                self._decoded(requests, context, method, rid, scope, ours), context))
        if handler.response_streaming:
            return handler
        inner = handler.unary_unary

        def with_request_id(request: Any, context: grpc.ServicerContext) -> Any:
            fault = self._refusal(request, method, scope)
            if fault is not None:
                return self._reject(context, method, rid, fault)
            token = _current_request_id.set(rid)
            try:
                return inner(request, context)
            finally:
                _current_request_id.reset(token)

        return _same_kind(handler, with_request_id)

    @staticmethod
    def _refusal(request: Any, method: str, scope: ScopedToken | None) -> errors.RequestFault | None:
        """Why a request (or a stream's message) is refused before the handler sees it: it did not decode
        (INVALID_ARGUMENT), or its connection names an org the caller's token may not reach."""
        if isinstance(request, decoding.Undecodable):
            return decoding.refusal(method, request)
        url = getattr(getattr(request, "connection", None), "instance_url", "")
        if scope is not None and url and not scope.allows(url):
            return _org_not_allowed(scope, url)
        return None

    def _decoded(self, requests: Iterator[Any], context: grpc.ServicerContext, method: str, rid: str,
                 scope: ScopedToken | None, ours: bool) -> Iterator[Any]:
        """A request stream that ends the call at the first message refused (see _refusal): our own handlers
        (ApplyStream) get the fault raised where they read the message, and answer it as their own (one log
        line); others (reflection) see the stream end, the call rejected here."""
        for request in requests:
            fault = self._refusal(request, method, scope)
            if fault is not None and ours:
                raise fault
            if fault is not None:
                self._reject(context, method, rid, fault, started=True)
                return
            yield request

    def _reject(self, context: grpc.ServicerContext, method: str, rid: str, fault: errors.RequestFault,
                started: bool = False) -> Any:
        """End a call the handler never sees, with one log line and the metric, like the servicer's calls."""
        if not started:  # a stream may have answered already, and sent its initial metadata with it
            context.send_initial_metadata(((REQUEST_ID_KEY, rid),))
        code = fault.code.name
        log.info("%s %s", method, code, extra={"fields": {
            "rpc": method, "request_id": rid, "code": code, "reason": fault.reason}})
        if self._metrics is not None:
            self._metrics.rpc(method, code)
        return errors.reject(context, fault, None, rid)
