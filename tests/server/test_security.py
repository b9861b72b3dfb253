"""TLS and mutual TLS over real channels, the bearer-token check, and request ids echoed to the caller."""

from __future__ import annotations

import os
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2_grpc

from adapters.memory.store import MemoryBackend
from server import errors
from server.app import build_server
from server.config import ConfigError, Settings
from tests.builders import apply_request, identify_message, lead_create, local_settings
from tests.server.certs import Certificates, Pair
from tests.server.conftest import SpyFactory

CALL_LIMIT = 30.0
TOKEN = "tok-" + "9f8e7d6c5b4a3f2e1d0c"


def _tls_channel(port: int, certs: Certificates, client: Pair | None = None) -> grpc.Channel:
    key, chain = (client.key.read_bytes(), client.cert.read_bytes()) if client else (None, None)
    credentials = grpc.ssl_channel_credentials(certs.ca.read_bytes(), key, chain)
    return grpc.secure_channel(f"127.0.0.1:{port}", credentials)


def _apply(channel: grpc.Channel, metadata=None, event_id: str = "1"):
    stub = destination_pb2_grpc.DestinationServiceStub(channel)
    return stub.Apply.with_call(apply_request(lead_create(), identify_message(event_id, f"{event_id}@x.io")),
                                timeout=CALL_LIMIT, metadata=metadata)


def _refused_code(channel: grpc.Channel, metadata=None) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised:
        _apply(channel, metadata)
    return raised.value.code()


# TLS --------------------------------------------------------------------------------------------
def test_tls_serves_a_client_that_trusts_the_ca_and_refuses_plaintext(start, certs):
    running, plaintext = start(tls_cert_file=str(certs.server.cert), tls_key_file=str(certs.server.key))
    with _tls_channel(running.port, certs) as channel:
        response, _ = _apply(channel)
        assert [r.status for r in response.results] == [201]
    assert _refused_code(plaintext) is grpc.StatusCode.UNAVAILABLE


@pytest.fixture
def mtls(start, certs):
    running, _ = start(tls_cert_file=str(certs.server.cert), tls_key_file=str(certs.server.key),
                       tls_client_ca_file=str(certs.ca))
    return running


def test_mutual_tls_serves_a_client_with_a_certificate_from_the_ca(mtls, certs):
    with _tls_channel(mtls.port, certs, certs.client) as channel:
        response, _ = _apply(channel)
    assert [r.status for r in response.results] == [201]


@pytest.mark.parametrize("who", ["no certificate", "a certificate from another CA"])
def test_mutual_tls_refuses_other_clients(mtls, certs, who):
    client = None if who == "no certificate" else certs.stranger
    with _tls_channel(mtls.port, certs, client) as channel:
        assert _refused_code(channel) is grpc.StatusCode.UNAVAILABLE
    with _tls_channel(mtls.port, certs, certs.client) as channel:  # and the server still serves its clients
        assert _apply(channel)[0].results[0].status == 201


@pytest.mark.parametrize(("env", "problem"), [
    ({"SFDEST_TLS_CERT_FILE": "a.crt"}, "SFDEST_TLS_CERT_FILE and SFDEST_TLS_KEY_FILE"),
    ({"SFDEST_TLS_KEY_FILE": "a.key"}, "SFDEST_TLS_CERT_FILE and SFDEST_TLS_KEY_FILE"),
    ({"SFDEST_TLS_CLIENT_CA_FILE": "ca.crt"}, "SFDEST_TLS_CLIENT_CA_FILE"),
    ({"SFDEST_AUTH_TOKEN": TOKEN, "SFDEST_AUTH_TOKEN_FILE": "t"}, "set one, not both"),
])
def test_settings_that_only_work_together_are_refused(env, problem):
    with pytest.raises(ConfigError, match=problem):
        Settings.from_env(env)


def test_an_unreadable_key_file_is_named_and_nothing_listens(tmp_path, certs):
    with pytest.raises(ConfigError, match=r"SFDEST_TLS_KEY_FILE=.*missing\.key.*cannot read"):
        build_server(local_settings(tls_cert_file=str(certs.server.cert), tls_key_file=str(tmp_path / "missing.key")))


def test_a_short_token_is_refused_without_echoing_it():
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"SFDEST_AUTH_TOKEN": "hunter2-secret"})
    assert "SFDEST_AUTH_TOKEN" in str(raised.value) and "hunter2" not in str(raised.value)


def test_settings_never_show_the_token():
    settings = Settings.from_env({"SFDEST_AUTH_TOKEN": TOKEN})
    assert settings.auth_token.value == TOKEN
    for text in (repr(settings), str(settings), str(settings.public())):
        assert TOKEN not in text


# Bearer token -----------------------------------------------------------------------------------
@pytest.fixture
def guarded(start):
    backend = SpyFactory(MemoryBackend())
    _, channel = start(backend, auth_token=Settings.from_env({"SFDEST_AUTH_TOKEN": TOKEN}).auth_token)
    return channel, backend


BAD_CREDENTIALS = {
    "no metadata": None,
    "wrong token": (("authorization", "Bearer " + "x" * len(TOKEN)),),
    "token with one character more": (("authorization", f"Bearer {TOKEN}x"),),
    "no Bearer scheme": (("authorization", TOKEN),),
    "Basic scheme": (("authorization", f"Basic {TOKEN}"),),
    "token in another header": (("x-api-key", TOKEN),),
}


@pytest.mark.parametrize("case", BAD_CREDENTIALS)
def test_a_call_without_the_token_is_unauthenticated_before_the_handler_runs(guarded, case):
    channel, backend = guarded
    metadata = (*(BAD_CREDENTIALS[case] or ()), ("x-request-id", "req-auth-1"))
    with pytest.raises(grpc.RpcError) as raised:
        _apply(channel, metadata)
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
    info, _ = errors.details_of(rpc_status.from_call(raised.value))
    assert (info.reason, info.metadata["request_id"]) == ("UNAUTHENTICATED", "req-auth-1")
    assert ("x-request-id", "req-auth-1") in tuple(raised.value.initial_metadata())
    assert TOKEN not in raised.value.details()
    assert backend.opened == []


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_the_right_token_is_served(guarded, scheme):
    channel, _ = guarded
    response, _ = _apply(channel, (("authorization", f"{scheme} {TOKEN}"),))
    assert [r.status for r in response.results] == [201]


def test_health_checks_need_no_token(guarded):
    channel, _ = guarded
    status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=CALL_LIMIT)
    assert status.status == health_pb2.HealthCheckResponse.SERVING


def _list_services(channel: grpc.Channel, metadata=None) -> list[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                        timeout=CALL_LIMIT, metadata=metadata)
    return [s.name for reply in replies for s in reply.list_services_response.service]


def test_reflection_needs_the_token(guarded):
    channel, _ = guarded
    with pytest.raises(grpc.RpcError) as raised:
        _list_services(channel)
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "sfdest.v1.DestinationService" in _list_services(channel, (("authorization", f"Bearer {TOKEN}"),))


def test_the_token_can_come_from_a_file(start, tmp_path):
    (tmp_path / "token").write_text(TOKEN + "\n")
    _, channel = start(auth_token_file=str(tmp_path / "token"))
    assert _refused_code(channel) is grpc.StatusCode.UNAUTHENTICATED
    assert _apply(channel, (("authorization", f"Bearer {TOKEN}"),))[0].results[0].status == 201


def test_a_rotated_token_file_takes_effect_without_a_restart(start, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    _, channel = start(auth_token_file=str(token_file))
    assert _apply(channel, (("authorization", f"Bearer {TOKEN}"),))[0].results[0].status == 201
    rotated = "rotated-" + TOKEN[::-1]
    token_file.write_text(rotated + "\n")
    os.utime(token_file, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))  # a visibly newer file
    assert _apply(channel, (("authorization", f"Bearer {rotated}"),))[0].results[0].status == 201
    with pytest.raises(grpc.RpcError) as raised:
        _apply(channel, (("authorization", f"Bearer {TOKEN}"),))
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
    token_file.write_text("short\n")  # not a valid token: the rotated one stays in force
    os.utime(token_file, ns=(time.time_ns(), time.time_ns() + 2_000_000_000))
    assert _apply(channel, (("authorization", f"Bearer {rotated}"),))[0].results[0].status == 201


def test_tls_and_token_together(start, certs):
    running, _ = start(tls_cert_file=str(certs.server.cert), tls_key_file=str(certs.server.key),
                       auth_token=Settings.from_env({"SFDEST_AUTH_TOKEN": TOKEN}).auth_token)
    with _tls_channel(running.port, certs) as channel:
        assert _refused_code(channel) is grpc.StatusCode.UNAUTHENTICATED
        assert _apply(channel, (("authorization", f"Bearer {TOKEN}"),))[0].results[0].status == 201


# Request ids ------------------------------------------------------------------------------------
def test_the_callers_request_id_is_echoed_and_a_fresh_one_made_otherwise(start):
    _, channel = start()
    _, call = _apply(channel, (("x-request-id", "req-42"),))
    assert ("x-request-id", "req-42") in tuple(call.initial_metadata())
    _, first = _apply(channel, event_id="a")
    _, second = _apply(channel, event_id="b")
    ids = [dict(c.initial_metadata())["x-request-id"] for c in (first, second)]
    assert all(ids) and ids[0] != ids[1]


def test_a_failed_call_carries_its_request_id_too(start):
    _, channel = start()
    stub = destination_pb2_grpc.DestinationServiceStub(channel)
    with pytest.raises(grpc.RpcError) as raised:
        stub.Apply(apply_request(lead_create()), timeout=CALL_LIMIT, metadata=(("x-request-id", "req-bad"),))
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert ("x-request-id", "req-bad") in tuple(raised.value.initial_metadata())
    info, _ = errors.details_of(rpc_status.from_call(raised.value))
    assert info.metadata["request_id"] == "req-bad"


def test_an_unusable_request_id_is_replaced(start):
    _, channel = start()
    _, call = _apply(channel, (("x-request-id", "bad id with spaces and {json}"),))
    rid = dict(call.initial_metadata())["x-request-id"]
    assert rid and " " not in rid
