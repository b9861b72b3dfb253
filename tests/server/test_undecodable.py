"""Requests gRPC cannot decode (a payload Struct nested too deeply, garbage bytes) answer INVALID_ARGUMENT, and
a connection that carried many of them keeps serving: over a real channel."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2_grpc

from server import errors
from tests.builders import apply_request, identify_message, lead_create
from tests.server.calls import SAFETY_LIMIT

APPLY = "/sfdest.v1.DestinationService/Apply"


def _field(number: int, body: bytes) -> bytes:
    """One length-delimited protobuf field."""
    size, out = len(body), bytearray([number << 3 | 2])
    while True:
        low, size = size & 0x7F, size >> 7
        out.append(low | (0x80 if size else 0))
        if not size:
            return bytes(out) + body


def _deep_event(levels: int) -> bytes:
    """ApplyRequest.events entry whose payload nests `levels` Structs ({"a": {"a": ...}}), built on the wire: the
    Python protobuf library refuses to build it."""
    struct = b""
    for _ in range(levels):
        struct = _field(1, _field(1, b"a") + _field(2, _field(5, struct)))  # fields{"a": Value{struct_value}}
    return _field(3, _field(1, b"deep") + _field(2, struct))


def _raw_apply(channel: grpc.Channel):
    return channel.unary_unary(APPLY, request_serializer=lambda b: b, response_deserializer=lambda b: b)


def _good_apply(channel: grpc.Channel, event_id: str) -> int:
    stub = destination_pb2_grpc.DestinationServiceStub(channel)
    request = apply_request(lead_create(), identify_message(event_id, f"{event_id}@x.io"))
    return stub.Apply(request, timeout=SAFETY_LIMIT).results[0].status


def test_a_payload_nested_too_deeply_is_invalid_argument_recommending_payload_json(start):
    _, channel = start()
    request = apply_request(lead_create(), identify_message("e1", "a@x.io")).SerializeToString() + _deep_event(40)
    try:
        _raw_apply(channel)(request, timeout=SAFETY_LIMIT)
        raise AssertionError("a request nested 40 levels deep was accepted")
    except grpc.RpcError as exc:
        assert exc.code() is grpc.StatusCode.INVALID_ARGUMENT, exc.details()
        assert "payload_json" in exc.details()
        info, violations = errors.details_of(rpc_status.from_call(exc))
        assert info is not None and info.reason == "MALFORMED_REQUEST"
        assert [v.field for v in violations] == ["events.payload"]


def test_150_undecodable_requests_leave_the_connection_serving(start):
    _, channel = start()
    codes = []
    for _ in range(150):
        try:
            _raw_apply(channel)(b"\xff\xff\xff", timeout=SAFETY_LIMIT)
        except grpc.RpcError as exc:
            codes.append(exc.code())
    assert codes == [grpc.StatusCode.INVALID_ARGUMENT] * 150
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=SAFETY_LIMIT)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert _good_apply(channel, "after") == 201


def test_undecodable_reflection_streams_leave_the_connection_serving(start):
    _, channel = start()
    reflection = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                       request_serializer=lambda b: b, response_deserializer=lambda b: b)
    codes = []
    for _ in range(150):
        try:
            list(reflection(iter([b"\xff\xff"]), timeout=SAFETY_LIMIT))
        except grpc.RpcError as exc:
            codes.append(exc.code())
    assert codes == [grpc.StatusCode.INVALID_ARGUMENT] * 150
    assert _good_apply(channel, "after-reflection") == 201
