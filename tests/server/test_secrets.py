"""No secret and no matcher value in anything the server writes or answers, whatever the request and its fate."""

from __future__ import annotations

import signal
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import text_format
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from tests.builders import action, apply_request, identify_message, lead_upsert_on_email
from tests.server.faulty_server import EXPLODE_ON_OPEN, EXPLODE_ON_QUERY
from tests.server.serving import CALL_LIMIT, GRACE, start_server, stop_server

SERVER_TOKEN = "srv-tok-PLANTED-0a1b2c3d4e5f"
WRONG_TOKEN = "srv-tok-PLANTED-wrong-9z8y7x"
CLIENT_SECRET = "cs-PLANTED-7f3a61"
REFRESH_TOKEN = "5Aep861PLANTEDrefresh.TokenQ_9"
ACCESS_TOKEN = "00D5g000004PLANTED!AQ4AQFnb.access_token"
PASSWORD = "pw-PLANTED-3344"
SECURITY_TOKEN = "st-PLANTED-8899"
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_KEY_PEM = _KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
# Any line of the key's body would give it away.
PEM_LINES = [line for line in PRIVATE_KEY_PEM.splitlines() if "-----" not in line]
EMAILS = ["ada.planted@example.com", "grace.planted@example.org", "alan.planted@example.net"]
# What must never show, by name (names, not values, label the tests: the key is new in every process).
PLANTED: dict[str, list[str]] = {
    "server token": [SERVER_TOKEN], "wrong token": [WRONG_TOKEN], "client secret": [CLIENT_SECRET],
    "refresh token": [REFRESH_TOKEN], "access token": [ACCESS_TOKEN], "password": [PASSWORD],
    "security token": [SECURITY_TOKEN], "private key": PEM_LINES,
    **{f"matcher value {i}": [email] for i, email in enumerate(EMAILS)},
}
AUTH = (("authorization", f"Bearer {SERVER_TOKEN}"),)


def _connection(instance_url: str, kind: str) -> pb.Connection:
    c = pb.Connection(instance_url=instance_url)
    if kind == "oauth":
        c.oauth_refresh_token.CopyFrom(pb.OAuthRefreshToken(client_id="cid", client_secret=CLIENT_SECRET,
                                                            refresh_token=REFRESH_TOKEN, access_token=ACCESS_TOKEN))
    elif kind == "jwt":
        c.jwt_bearer.CopyFrom(pb.JwtBearer(client_id="cid", username="u@x.io", private_key_pem=PRIVATE_KEY_PEM))
    elif kind == "password":
        c.username_password.CopyFrom(pb.UsernamePassword(client_id="cid", client_secret=CLIENT_SECRET,
                                                         username="u@x.io", password=PASSWORD,
                                                         security_token=SECURITY_TOKEN))
    return c


def _apply(act: pb.Action, instance_url: str, kind: str, events: list[pb.Event] | None = None) -> pb.ApplyRequest:
    request = apply_request(act, *(events or [identify_message(f"e{i}", e) for i, e in enumerate(EMAILS)]))
    request.connection.CopyFrom(_connection(instance_url, kind))
    return request


ORG = "https://acme.my.salesforce.com"
BAD_ACTION = action(object="Lead", operation="OPERATION_UPDATE",
                    record_matchers=[{"field": "Email OR 1=1", "value": {"path": "traits.email"}}])
# name -> (method, request, metadata, expected code)
CALLS: dict[str, tuple[str, Any, Any, grpc.StatusCode]] = {
    "apply, refresh token": ("Apply", _apply(lead_upsert_on_email(), ORG, "oauth"), AUTH, grpc.StatusCode.OK),
    "apply, jwt": ("Apply", _apply(lead_upsert_on_email(), ORG, "jwt"), AUTH, grpc.StatusCode.OK),
    "apply, password": ("Apply", _apply(lead_upsert_on_email(), ORG, "password"), AUTH, grpc.StatusCode.OK),
    "apply, ambiguous": ("Apply", _apply(lead_upsert_on_email(), ORG, "oauth"), AUTH, grpc.StatusCode.OK),
    "malformed": ("Apply", _apply(lead_upsert_on_email(), ORG, "oauth", [identify_message("same", EMAILS[0]),
                                                                         identify_message("same", EMAILS[1])]),
                  AUTH, grpc.StatusCode.INVALID_ARGUMENT),
    "invalid action": ("Apply", _apply(BAD_ACTION, ORG, "password"), AUTH, grpc.StatusCode.OK),
    "unreadable event": ("Apply", _apply(lead_upsert_on_email(), ORG, "jwt", [
        pb.Event(id="x", payload_json='{"traits": {"email": "' + EMAILS[2] + '"')]), AUTH, grpc.StatusCode.OK),
    "no token": ("Apply", _apply(lead_upsert_on_email(), ORG, "oauth"), None, grpc.StatusCode.UNAUTHENTICATED),
    "wrong token": ("Apply", _apply(lead_upsert_on_email(), ORG, "jwt"), (("authorization", f"Bearer {WRONG_TOKEN}"),),
                    grpc.StatusCode.UNAUTHENTICATED),
    "backend fails opening": ("Apply", _apply(lead_upsert_on_email(), f"https://{EXPLODE_ON_OPEN}.my.salesforce.com",
                                              "oauth"), AUTH, grpc.StatusCode.INTERNAL),
    "backend fails opening, jwt": ("Apply", _apply(lead_upsert_on_email(), f"https://{EXPLODE_ON_OPEN}.example.com",
                                                   "jwt"), AUTH, grpc.StatusCode.INTERNAL),
    "backend fails querying": ("Apply", _apply(lead_upsert_on_email(), f"https://{EXPLODE_ON_QUERY}.example.com",
                                               "password"), AUTH, grpc.StatusCode.INTERNAL),
    "validate": ("Validate", pb.ValidateRequest(action=lead_upsert_on_email(), connection=_connection(ORG, "jwt"),
                                                sample_events=[identify_message("s", EMAILS[0])]), AUTH, grpc.StatusCode.OK),
    "validate, backend fails": ("Validate", pb.ValidateRequest(
        action=lead_upsert_on_email(), connection=_connection(f"https://{EXPLODE_ON_OPEN}.x.com", "password")),
        AUTH, grpc.StatusCode.INTERNAL),
}


def _call_texts(channel: grpc.Channel, method: str, request: Any, metadata: Any) -> tuple[grpc.StatusCode, list[str]]:
    """The code, and every text the caller gets back: response, details, both metadata, rich status details."""
    stub = destination_pb2_grpc.DestinationServiceStub(channel)
    try:
        response, call = getattr(stub, method).with_call(request, timeout=CALL_LIMIT, metadata=metadata,
                                                         wait_for_ready=True)
        return grpc.StatusCode.OK, [text_format.MessageToString(response), str(call.initial_metadata()),
                                    str(call.trailing_metadata())]
    except grpc.RpcError as exc:
        status = rpc_status.from_call(exc)
        texts = [exc.details() or "", str(exc.initial_metadata()), str(exc.trailing_metadata())]
        texts += [text_format.MessageToString(status)] if status is not None else []
        texts += [v.decode("latin-1") for _, v in exc.trailing_metadata() or () if isinstance(v, bytes)]
        return exc.code(), texts


@pytest.fixture(scope="module")
def exchange() -> tuple[list[str], list[str]]:
    """Run every call against a DEBUG-logging server; then (everything the server wrote, everything answered)."""
    served = start_server({"SFDEST_LOG_LEVEL": "DEBUG", "SFDEST_AUTH_TOKEN": SERVER_TOKEN,
                           "SFDEST_MEMORY_ACCEPT_CREDENTIALS": "true"},
                          command=("-m", "tests.server.faulty_server"))
    answered: list[str] = []
    codes = {}
    try:
        for name, (method, request, metadata, _) in CALLS.items():
            code, texts = _call_texts(served.channel, method, request, metadata)
            codes[name] = code
            answered += texts
    finally:
        served.channel.close()
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(timeout=GRACE + CALL_LIMIT)
        stop_server(served)
        served.reader.join(timeout=CALL_LIMIT)
        served.out_reader.join(timeout=CALL_LIMIT)
    assert codes == {name: expected for name, (*_, expected) in CALLS.items()}
    return served.log + served.out, answered


def test_the_calls_took_the_paths_they_were_meant_to(exchange):
    written, _ = exchange
    text = "\n".join(written)
    for needle in ('"code":"OK"', '"code":"INVALID_ARGUMENT"', '"code":"UNAUTHENTICATED"', '"code":"INTERNAL"',
                   '"exception":"RuntimeError"', '"level":"DEBUG"', '"SFDEST_AUTH_TOKEN":"***"', "sfdest stopped"):
        assert needle in text
    assert all(line.startswith("{") for line in written if line.strip())  # JSON lines only


@pytest.mark.parametrize("name", PLANTED)
def test_nothing_written_or_answered_holds_a_secret_or_a_matcher_value(exchange, name):
    written, answered = exchange
    for planted in PLANTED[name]:
        assert [line for line in written if planted in line] == []
        assert [text for text in answered if planted in text] == []
