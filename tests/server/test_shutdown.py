"""Graceful shutdown through serve()'s signal path: health first, in-flight calls finish, new calls are refused."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2
from sfdest.v1 import destination_pb2_grpc

from adapters.memory.store import MemoryBackend
from server.app import SERVICE_NAME, Running, serve
from server.container import build_container
from tests.builders import INSTANCE, apply_request, identify_message, lead_create, local_settings
from tests.server.calls import SAFETY_LIMIT, BlockingBackend
from tests.server.serving import CALL_LIMIT, start_server, stop_server

# A call arriving once the server stopped taking calls: refused, or cancelled before it reaches sfdest.
REFUSED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
NOT_SERVING, SERVING = health_pb2.HealthCheckResponse.NOT_SERVING, health_pb2.HealthCheckResponse.SERVING


def _health(running: Running) -> set[int]:
    return {running.health.Check(health_pb2.HealthCheckRequest(service=name), None).status
            for name in ("", SERVICE_NAME)}


def _request(event_id: str):
    return apply_request(lead_create(), identify_message(event_id, f"{event_id}@x.io"))


def _serve_in_main_thread(backend: BlockingBackend, client: Callable[[Running, BlockingBackend], None],
                          **settings) -> int:
    """serve() in this (the main) thread, as the process runs it; `client` runs in another thread and signals.

    Whatever happens in `client`, SIGTERM is sent twice at its end, so serve() always returns.
    """
    if threading.current_thread() is not threading.main_thread():
        pytest.fail("signal handlers can only be installed from the main thread")
    failures: list[BaseException] = []
    threads: list[threading.Thread] = []

    def run(running: Running) -> None:
        def body() -> None:
            try:
                client(running, backend)
            except BaseException as exc:  # re-raised in the test's thread
                failures.append(exc)
            finally:
                backend.release.set()
                if not running.refusing.is_set():
                    os.kill(os.getpid(), signal.SIGTERM)
                    os.kill(os.getpid(), signal.SIGTERM)

        threads.append(threading.Thread(target=body, daemon=True))
        threads[0].start()

    s = local_settings(**{"grace_seconds": SAFETY_LIMIT, **settings})
    container = build_container(s)
    container.backend.override(backend)
    code = serve(s, container, started=run)
    threads[0].join(SAFETY_LIMIT)  # serve() may return while the client is still noting what it saw
    assert not threads[0].is_alive(), "the client thread never finished"
    if failures:
        raise failures[0]
    return code


def test_sigterm_flips_health_first_lets_the_in_flight_call_finish_and_refuses_new_calls():
    seen: dict[str, object] = {}

    def client(running: Running, backend: BlockingBackend) -> None:
        channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
        stub = destination_pb2_grpc.DestinationServiceStub(channel)
        assert _health(running) == {SERVING}
        in_flight = stub.Apply.future(_request("in-flight"), timeout=SAFETY_LIMIT)
        backend.wait_entered()
        os.kill(os.getpid(), signal.SIGTERM)
        assert running.refusing.wait(SAFETY_LIMIT), "the server never stopped taking calls"
        seen["health"] = _health(running)
        # gRPC closes the listening socket asynchronously after stop(): a connection the kernel accepted just
        # before gets its call cancelled instead of refused. Either way the call never reaches sfdest.
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as fresh:
            with pytest.raises(grpc.RpcError) as raised:
                destination_pb2_grpc.DestinationServiceStub(fresh).Apply(_request("new"), timeout=SAFETY_LIMIT)
        seen["new call refused"] = raised.value.code() in REFUSED
        # On the open connection a call can race the server's GOAWAY: refused, or cancelled before any work.
        with pytest.raises(grpc.RpcError) as raised:
            stub.Apply(_request("racing"), timeout=SAFETY_LIMIT)
        seen["call on the open connection refused"] = raised.value.code() in REFUSED
        seen["in flight done before release"] = in_flight.done()
        backend.release.set()
        seen["in flight"] = [(r.event_id, r.status) for r in in_flight.result().results]
        seen["written"] = len(backend.inner.org(INSTANCE).records("Lead"))
        seen["calls that reached the backend"] = backend.calls
        channel.close()

    assert _serve_in_main_thread(BlockingBackend(MemoryBackend()), client) == 0
    assert seen == {"health": {NOT_SERVING}, "new call refused": True, "call on the open connection refused": True,
                    "in flight done before release": False, "in flight": [("in-flight", 201)], "written": 1,
                    "calls that reached the backend": 1}


def test_during_the_drain_health_is_not_serving_but_calls_are_still_taken_and_a_second_signal_ends_it():
    seen: dict[str, object] = {}

    def client(running: Running, backend: BlockingBackend) -> None:
        backend.release.set()
        channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
        stub = destination_pb2_grpc.DestinationServiceStub(channel)
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(int(SAFETY_LIMIT * 100)):  # until the handler has run (polling; no timing asserted)
            if _health(running) == {NOT_SERVING}:
                break
            threading.Event().wait(0.01)
        seen["health"] = _health(running)
        seen["call while draining"] = stub.Apply(_request("late"), timeout=SAFETY_LIMIT).results[0].status
        seen["refusing while draining"] = running.refusing.is_set()
        os.kill(os.getpid(), signal.SIGTERM)
        seen["refusing after the second signal"] = running.refusing.wait(SAFETY_LIMIT)
        channel.close()

    assert _serve_in_main_thread(BlockingBackend(MemoryBackend()), client, drain_seconds=SAFETY_LIMIT * 10) == 0
    assert seen == {"health": {NOT_SERVING}, "call while draining": 201, "refusing while draining": False,
                    "refusing after the second signal": True}


# `sfdest serve` ROUNDS times in one process beside threads that keep creating threads, as gRPC's pools do: a
# thread being created briefly blocks every signal and then unblocks them, and the kernel may hand a pending
# SIGTERM to it instead of to the main thread.
BUSY_SERVE = """
import sys, threading
from server.cli import main

def spawn_threads():
    while True:
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()

for _ in range(2):
    threading.Thread(target=spawn_threads, daemon=True).start()
for _ in range({rounds}):
    if main(["serve"]) != 0:
        sys.exit(1)
"""


def _wait_for_lines(log: list[str], text: str, count: int) -> bool:
    """Poll (bounded by CALL_LIMIT; nothing asserted on time) until `count` lines of `log` hold `text`."""
    done = threading.Event()
    for _ in range(int(CALL_LIMIT * 20)):
        if sum(text in line for line in list(log)) >= count:
            return True
        done.wait(0.05)
    return False


def test_sigterm_stops_the_server_even_when_another_thread_of_the_process_takes_the_signal():
    rounds = 10
    s = start_server(command=("-c", BUSY_SERVE.format(rounds=rounds)))
    stopped = 0
    try:
        for n in range(1, rounds + 1):
            assert _wait_for_lines(s.log, "listening on", n), "serve did not start again:\n" + "\n".join(s.log)
            s.process.send_signal(signal.SIGTERM)
            if not _wait_for_lines(s.log, "sfdest stopped", n):
                break
            stopped = n
        code = s.process.wait(timeout=CALL_LIMIT) if stopped == rounds else None
    finally:
        stop_server(s)
    assert (stopped, code) == (rounds, 0), "\n".join(s.log)
