"""Limits over a real channel: concurrent RPCs, message size at the boundary, events per Apply; keepalive options."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from adapters.memory.store import MemoryBackend
from server import errors
from server.app import Running, build_server, server_options
from server.config import Settings
from server.container import build_container
from server.org_limits import OrgLimiter
from tests.builders import apply_request, identify_message, lead_create, local_settings
from tests.server.calls import SAFETY_LIMIT, BlockingBackend

MIB = 1024 * 1024


def _stub(channel: grpc.Channel) -> destination_pb2_grpc.DestinationServiceStub:
    return destination_pb2_grpc.DestinationServiceStub(channel)


def _request(event_id: str) -> pb.ApplyRequest:
    return apply_request(lead_create(), identify_message(event_id, f"{event_id}@x.io"))


def test_calls_beyond_the_concurrency_limit_are_refused_at_once(start):
    backend = BlockingBackend(MemoryBackend())
    _, channel = start(backend, max_concurrent_rpcs=2)
    stub = _stub(channel)
    held = [stub.Apply.future(_request(f"held-{i}"), timeout=SAFETY_LIMIT) for i in range(2)]
    backend.wait_entered(2)
    with pytest.raises(grpc.RpcError) as raised:
        stub.Apply(_request("excess"), timeout=SAFETY_LIMIT)
    assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert not any(f.done() for f in held)  # refused while both slots were still taken: no queueing
    backend.release.set()
    assert [f.result().results[0].status for f in held] == [201, 201]
    assert stub.Apply(_request("after"), timeout=SAFETY_LIMIT).results[0].status == 201  # slots come back


def _sized(size: int) -> pb.ApplyRequest:
    """An Apply request whose serialized form is exactly `size` bytes."""
    request = _request("big")
    pad = size - request.ByteSize()
    while True:
        request.events[0].payload["traits"]["bio"] = "x" * pad
        grown = request.ByteSize()
        if grown == size:
            return request
        pad -= grown - size


@pytest.mark.parametrize(("size", "refused"), [(MIB, False), (MIB + 1, True)])
def test_a_request_over_the_message_limit_is_resource_exhausted(start, size, refused):
    _, channel = start(max_message_mb=1)
    call = lambda: _stub(channel).Apply(_sized(size), timeout=SAFETY_LIMIT)  # noqa: E731
    if refused:
        with pytest.raises(grpc.RpcError) as raised:
            call()
        assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    else:
        assert call().results[0].status == 201


def test_too_many_events_is_invalid_argument_naming_the_limit(start):
    _, channel = start(max_events=3)
    request = apply_request(lead_create(), *(identify_message(f"e{i}", f"{i}@x.io") for i in range(4)))
    with pytest.raises(grpc.RpcError) as raised:
        _stub(channel).Apply(request, timeout=SAFETY_LIMIT)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    _, violations = errors.details_of(rpc_status.from_call(raised.value))
    assert [(v.field, "at most 3 events" in v.description) for v in violations] == [("events", True)]
    request.events.pop()
    assert len(_stub(channel).Apply(request, timeout=SAFETY_LIMIT).results) == 3


def test_limits_and_keepalive_enforcement_come_from_the_environment():
    settings = Settings.from_env({
        "SFDEST_MAX_MESSAGE_MB": "2", "SFDEST_MAX_CONCURRENT_STREAMS": "7", "SFDEST_KEEPALIVE_TIME_MS": "90000",
        "SFDEST_KEEPALIVE_TIMEOUT_MS": "5000", "SFDEST_KEEPALIVE_MIN_PING_INTERVAL_MS": "45000",
        "SFDEST_KEEPALIVE_MAX_PING_STRIKES": "3", "SFDEST_KEEPALIVE_PERMIT_WITHOUT_CALLS": "false",
        "SFDEST_MAX_CONNECTION_IDLE_MS": "1000", "SFDEST_MAX_CONNECTION_AGE_MS": "2000",
        "SFDEST_MAX_CONNECTION_AGE_GRACE_MS": "3000"})
    assert dict(server_options(settings)) == {
        "grpc.max_receive_message_length": 2 * MIB, "grpc.max_send_message_length": 2 * MIB,
        "grpc.max_concurrent_streams": 7, "grpc.keepalive_time_ms": 90000, "grpc.keepalive_timeout_ms": 5000,
        "grpc.http2.min_recv_ping_interval_without_data_ms": 45000, "grpc.http2.max_ping_strikes": 3,
        "grpc.keepalive_permit_without_calls": 0, "grpc.max_connection_idle_ms": 1000,
        "grpc.max_connection_age_ms": 2000, "grpc.max_connection_age_grace_ms": 3000, "grpc.so_reuseport": 0}


def test_connection_idle_and_age_limits_can_be_switched_off():
    options = dict(server_options(Settings(max_connection_idle_ms=0, max_connection_age_ms=0)))
    assert not {"grpc.max_connection_idle_ms", "grpc.max_connection_age_ms",
                "grpc.max_connection_age_grace_ms"} & set(options)
    assert options["grpc.max_concurrent_streams"] == 100  # the documented defaults stay


def test_a_server_with_the_limits_configured_serves(start):
    _, channel = start(max_concurrent_streams=4, keepalive_time_ms=10_000, max_connection_idle_ms=60_000,
                       max_connection_age_ms=60_000)
    assert _stub(channel).Apply(_request("1"), timeout=SAFETY_LIMIT).results[0].status == 201


def test_one_org_cannot_take_every_slot(start):
    backend = BlockingBackend(MemoryBackend())
    _, channel = start(backend, max_applies_per_org=1)
    stub = _stub(channel)
    held = stub.Apply.future(_request("held"), timeout=SAFETY_LIMIT)
    backend.wait_entered(1)
    with pytest.raises(grpc.RpcError) as raised:
        stub.Apply(_request("same-org"), timeout=SAFETY_LIMIT)
    assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    info, _ = errors.details_of(rpc_status.from_call(raised.value))
    assert info is not None and info.reason == "ORG_BUSY"
    other = _request("other-org")
    other.connection.instance_url = "https://other-tenant.my.salesforce.com"
    running_elsewhere = stub.Apply.future(other, timeout=SAFETY_LIMIT)
    backend.wait_entered(1)  # the other org's call got in while the first org's slot was taken
    backend.release.set()
    assert held.result().results[0].status == 201
    assert running_elsewhere.result().results[0].status == 201
    assert stub.Apply(_request("after"), timeout=SAFETY_LIMIT).results[0].status == 201  # the slot came back


class GatedBackend:
    """A memory backend whose open() waits at its org's gate; each `let_one(org)` lets one call through."""

    def __init__(self, inner):
        self.inner = inner
        self.entered: list[str] = []  # orgs, in the order their calls reached the backend
        self._gates: dict[str, threading.Semaphore] = defaultdict(lambda: threading.Semaphore(0))
        self._changed = threading.Condition()

    def open(self, connection, deadline=None, stop=None):
        org = connection.instance_url
        with self._changed:
            self.entered.append(org)
            self._changed.notify_all()
            gate = self._gates[org]
        if not gate.acquire(timeout=SAFETY_LIMIT):
            raise AssertionError("GatedBackend never let the call through")
        return self.inner.open(connection, deadline)

    def let_one(self, org: str) -> None:
        with self._changed:
            self._gates[org].release()

    def wait_entered(self, calls: int) -> list[str]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.entered) >= calls, SAFETY_LIMIT), self.entered
            return list(self.entered)


def _org_request(org: str, event_id: str) -> pb.ApplyRequest:
    request = _request(event_id)
    request.connection.instance_url = f"https://{org}.my.salesforce.com"
    return request


@pytest.fixture
def gated() -> Iterator[Callable[..., tuple[GatedBackend, destination_pb2_grpc.DestinationServiceStub, OrgLimiter]]]:
    """gated(**settings): a real server over a GatedBackend; its stub and its admission (to see who waits)."""
    started: list[tuple[Running, grpc.Channel]] = []

    def make(**settings: Any) -> tuple[GatedBackend, destination_pb2_grpc.DestinationServiceStub, OrgLimiter]:
        backend = GatedBackend(MemoryBackend())
        s = local_settings(**settings)
        container = build_container(s)
        container.backend.override(backend)
        running = build_server(s, container)
        channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
        started.append((running, channel))
        return backend, _stub(channel), container.org_limiter()

    yield make
    for running, channel in started:
        channel.close()
        running.stop(0)


def test_an_orgs_excess_is_refused_before_the_total_and_freed_slots_go_to_the_least_busy_orgs(gated):
    backend, stub, limiter = gated(max_workers=4, max_applies_per_org=3)  # 4 slots; one org may hold 3
    noisy, quiet = "https://noisy.my.salesforce.com", [f"https://quiet{n}.my.salesforce.com" for n in range(3)]
    calls = [stub.Apply.future(_org_request("noisy", f"n{i}"), timeout=SAFETY_LIMIT) for i in range(3)]
    calls.append(stub.Apply.future(_org_request("quiet0", "q0"), timeout=SAFETY_LIMIT))
    backend.wait_entered(4)  # every slot is taken
    with pytest.raises(grpc.RpcError) as raised:  # the noisy org is at its own cap: refused at once
        stub.Apply(_org_request("noisy", "n-excess"), timeout=SAFETY_LIMIT)
    info, _ = errors.details_of(rpc_status.from_call(raised.value))
    assert (raised.value.code(), info.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "ORG_BUSY")
    calls += [stub.Apply.future(_org_request(f"quiet{n}", f"q{n}"), timeout=SAFETY_LIMIT) for n in (1, 2)]
    wait_for(lambda: limiter.waiting == 2)
    backend.let_one(noisy)  # a noisy slot frees: the next call in is a quiet one, not the noisy org's
    assert backend.wait_entered(5)[4] in quiet[1:]
    calls.append(stub.Apply.future(_org_request("noisy", "n-late"), timeout=SAFETY_LIMIT))  # waits its turn
    wait_for(lambda: limiter.waiting == 2)
    backend.let_one(quiet[0])  # the next slot goes to the other quiet org, ahead of the noisy one's call
    assert backend.wait_entered(6)[5] in quiet[1:]
    for org in (noisy, noisy, *quiet[1:], noisy):
        backend.let_one(org)
    assert [f.result().results[0].status for f in calls] == [201] * 7
    assert backend.entered[-1] == noisy


def test_a_call_cancelled_while_it_waits_its_turn_never_runs(gated):
    backend, stub, limiter = gated(max_workers=1)  # one slot
    held = stub.Apply.future(_org_request("first", "a"), timeout=SAFETY_LIMIT)
    backend.wait_entered(1)
    waiting = stub.Apply.future(_org_request("second", "b"), timeout=SAFETY_LIMIT)
    wait_for(lambda: limiter.waiting == 1)
    waiting.cancel()
    wait_for(lambda: limiter.waiting == 0)
    backend.let_one("https://first.my.salesforce.com")
    assert held.result().results[0].status == 201
    later = stub.Apply.future(_org_request("third", "c"), timeout=SAFETY_LIMIT)
    backend.wait_entered(2)
    backend.let_one("https://third.my.salesforce.com")
    assert later.result().results[0].status == 201
    assert backend.entered == ["https://first.my.salesforce.com", "https://third.my.salesforce.com"]


def wait_for(condition: Callable[[], bool]) -> None:
    done = threading.Event()
    for _ in range(int(SAFETY_LIMIT / 0.02)):
        if condition():
            return
        done.wait(0.02)
    raise AssertionError("the condition never held")
