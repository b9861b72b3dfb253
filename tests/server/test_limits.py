"""Limits over a real channel: concurrent RPCs, message size at the boundary, events per Apply; keepalive options."""

from __future__ import annotations

import grpc
import pytest
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from adapters.memory.store import MemoryBackend
from server import errors
from server.app import server_options
from server.config import Settings
from tests.server.builders import SAFETY_LIMIT, BlockingBackend, apply_request, identify, lead_create

MIB = 1024 * 1024


def _stub(channel: grpc.Channel) -> destination_pb2_grpc.DestinationServiceStub:
    return destination_pb2_grpc.DestinationServiceStub(channel)


def _request(event_id: str) -> pb.ApplyRequest:
    return apply_request(lead_create(), identify(event_id, f"{event_id}@x.io"))


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
    request = apply_request(lead_create(), *(identify(f"e{i}", f"{i}@x.io") for i in range(4)))
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
