"""Calling a servicer in-process (grpcio-testing), holding calls in flight, and the CLI in-process: the server
tests' call helpers (what they send is built by tests.builders)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import grpc
import grpc_testing
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2 as pb

from server import errors

SERVICE = pb.DESCRIPTOR.services_by_name["DestinationService"]
# A safety net so a broken server fails a test instead of hanging it; nothing asserts on time.
SAFETY_LIMIT = 30.0


@dataclass
class Termination:
    response: Any
    trailing_metadata: Any
    code: grpc.StatusCode
    details: str

    def error_details(self) -> tuple[error_details_pb2.ErrorInfo | None, list[errors.Violation]]:
        status = rpc_status.from_call(_CallView(self))
        assert status is not None, "no google.rpc.Status in the trailing metadata"
        return errors.details_of(status)


class _CallView:
    """grpc.Call's accessors over a termination, so grpc_status.rpc_status.from_call can read it."""

    def __init__(self, t: Termination):
        self._t = t

    def code(self) -> grpc.StatusCode:
        return self._t.code

    def details(self) -> str:
        return self._t.details

    def trailing_metadata(self) -> Any:
        return self._t.trailing_metadata


class TestServer:
    """The servicer behind grpcio-testing's in-process server."""

    __test__ = False

    def __init__(self, servicer: Any):
        self._server = grpc_testing.server_from_dictionary({SERVICE: servicer}, grpc_testing.strict_real_time())

    def call(self, method: str, request: Any, timeout: float | None = None,
             metadata: tuple[tuple[str, str], ...] = ()) -> Termination:
        rpc = self._server.invoke_unary_unary(SERVICE.methods_by_name[method], metadata, request, timeout)
        return Termination(*rpc.termination())

    def apply(self, request: pb.ApplyRequest, **kw: Any) -> Termination:
        return self.call("Apply", request, **kw)

    def validate(self, request: pb.ValidateRequest, **kw: Any) -> Termination:
        return self.call("Validate", request, **kw)


class BlockingBackend:
    """A memory backend whose open() waits until released: holds RPCs in flight for as long as a test needs."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.release = threading.Event()
        self._entered = threading.Semaphore(0)
        self.calls = 0  # calls that reached open()

    def open(self, connection: Any, deadline: float | None = None, stop: Any = None) -> Any:
        self.calls += 1
        self._entered.release()
        if not self.release.wait(SAFETY_LIMIT):
            raise AssertionError("BlockingBackend was never released")
        return self.inner.open(connection, deadline)

    def wait_entered(self, calls: int = 1) -> None:
        """Block until `calls` more calls are inside open()."""
        for _ in range(calls):
            assert self._entered.acquire(timeout=SAFETY_LIMIT), "the call never reached the backend"


def run_cli(capsys: Any, *argv: str) -> tuple[int, list[dict], str]:
    """`sfdest ARGV` in-process: exit code, the JSON results on stdout, and stderr."""
    from server import cli

    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err
