"""Secrets (tokens, client secrets, private keys, passwords) never reach errors, reprs or logs."""

from __future__ import annotations

import logging
import traceback

import pytest

from core.credentials import ClientCredentials, JwtBearer, OAuthRefreshToken, UsernamePassword
from core.model import Connection
from core.ports import BackendError
from tests.adapters.salesforce import fakes
from tests.adapters.salesforce.fakes import DATA, INSTANCE, FakeSalesforce, respond

REFRESH = "PLANTED-REFRESH-7f3a"
CLIENT_SECRET = "PLANTED-CLIENT-SECRET-91c2"
ACCESS = "PLANTED-ACCESS-TOKEN-55e1"
ISSUED = "PLANTED-ISSUED-TOKEN-a8d0"
PASSWORD = "PLANTED-PASSWORD-0d9e"
SECURITY_TOKEN = "PLANTED-SECTOKEN-4b7c"
KEY_MATERIAL = "PLANTEDKEYMATERIAL6c1f"
PEM = f"-----BEGIN PRIVATE KEY-----\n{KEY_MATERIAL}\n-----END PRIVATE KEY-----\n"
SECRETS = (REFRESH, CLIENT_SECRET, ACCESS, ISSUED, PASSWORD, SECURITY_TOKEN, KEY_MATERIAL, "PLANTED")

CREDENTIALS = [
    OAuthRefreshToken("3MVG9client", CLIENT_SECRET, REFRESH, ACCESS),
    ClientCredentials("3MVG9client", CLIENT_SECRET),
    JwtBearer("3MVG9client", "int@acme.com", PEM),
    UsernamePassword("3MVG9client", CLIENT_SECRET, "int@acme.com", PASSWORD, SECURITY_TOKEN),
]


def _assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret} leaked into: {text[:300]}"


def _exception_texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc)),
            repr(getattr(exc, "error", None))]


def _echoing_token_error(request):
    # A hostile or buggy token endpoint that quotes what it was sent.
    return respond(400, {"error": "invalid_grant",
                         "error_description": f"authentication failure for {request.content.decode()}"})


@pytest.mark.parametrize("credentials", CREDENTIALS, ids=lambda c: type(c).__name__)
def test_token_errors_echoing_the_request_never_show_secrets(credentials, caplog):
    caplog.set_level(logging.DEBUG)
    org = FakeSalesforce()
    org.token_script = [_echoing_token_error]
    b = fakes.backend(org)
    store = b.open(Connection(INSTANCE, credentials=credentials))
    with pytest.raises(BackendError) as caught:
        store.describe("Lead")
    if not isinstance(credentials, JwtBearer):  # the bad PEM never gets as far as a request
        assert caught.value.error.code == "INVALID_GRANT"
    outcomes = store.create("Lead", [{"LastName": "A", "Company": "X"}])
    _assert_clean(*_exception_texts(caught.value), repr(outcomes), repr(store), repr(b), repr(b.tokens),
                  repr(credentials), repr(store._session._grant), caplog.text)


def test_auth_failures_on_data_calls_never_show_tokens(caplog):
    caplog.set_level(logging.DEBUG)
    org = FakeSalesforce()
    org.token_script = [respond(200, {"access_token": ISSUED, "instance_url": INSTANCE})]
    org.valid_tokens.add(ISSUED)
    org.on("GET", f"{DATA}/sobjects/Lead/describe",
           lambda r: respond(401, [{"message": f"Session {r.headers['Authorization']} is not valid",
                                    "errorCode": "INVALID_SESSION_ID"}]))
    store = fakes.backend(org).open(Connection(INSTANCE, credentials=CREDENTIALS[0]))
    with pytest.raises(BackendError) as caught:
        store.describe("Lead")
    assert caught.value.error.code == "INVALID_SESSION_ID"  # refused again and again: may pass later
    _assert_clean(*_exception_texts(caught.value), caplog.text)


def test_a_private_key_that_cannot_sign_is_reported_without_its_material():
    org = FakeSalesforce()
    store = fakes.backend(org).open(Connection(INSTANCE, credentials=CREDENTIALS[2]))
    with pytest.raises(BackendError) as caught:
        store.describe("Lead")
    assert caught.value.error.code == "AUTH_FAILED" and "private key" in caught.value.error.message
    _assert_clean(*_exception_texts(caught.value))
    assert org.requests == []


def test_credential_and_connection_reprs_are_masked():
    for credentials in CREDENTIALS:
        _assert_clean(repr(credentials), str(credentials), repr(Connection(INSTANCE, credentials=credentials)))


def test_a_signed_assertion_echoed_back_is_masked():
    from tests.adapters.salesforce.test_auth import _rsa_pem

    pem, _ = _rsa_pem()
    org = FakeSalesforce()
    org.token_script = [_echoing_token_error]
    store = fakes.backend(org).open(Connection(INSTANCE, credentials=JwtBearer("3MVG9client", "int@acme.com", pem)))
    with pytest.raises(BackendError) as caught:
        store.describe("Lead")
    assertion = fakes.form_of(org.token_requests[0])["assertion"]
    assert assertion not in str(caught.value)
    assert "BEGIN" not in str(caught.value)


SPECIAL_SECRET = "PLANTED/sec+ret=&\"x\u00e9"


def test_secrets_echoed_in_any_encoding_by_the_token_endpoint_are_masked():
    org = FakeSalesforce()
    org.token_script = [_echoing_token_error]
    store = fakes.backend(org).open(Connection(INSTANCE, credentials=OAuthRefreshToken(
        "3MVG9client", SPECIAL_SECRET, REFRESH)))
    with pytest.raises(BackendError) as caught:
        store.describe("Lead")
    from urllib.parse import quote, quote_plus

    for form in (SPECIAL_SECRET, quote_plus(SPECIAL_SECRET), quote(SPECIAL_SECRET, safe="")):
        assert form not in str(caught.value)
    _assert_clean(*_exception_texts(caught.value))


def test_data_errors_and_record_errors_echoing_the_access_token_are_masked():
    org = FakeSalesforce()
    org.token_script = [respond(200, {"access_token": ISSUED, "instance_url": INSTANCE})]
    org.valid_tokens.add(ISSUED)
    org.on("GET", f"{DATA}/sobjects/Lead/describe",
           lambda r: respond(400, [{"message": f"bad header {r.headers['Authorization']}", "errorCode": "X"}]))
    org.on("POST", f"{DATA}/composite/sobjects",
           lambda r: respond(200, [{"success": False, "errors": [{"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                                                  "message": f"trigger saw {r.headers['Authorization']}",
                                                                  "fields": []}]}]))
    store = fakes.backend(org).open(Connection(INSTANCE, credentials=CREDENTIALS[0]))
    with pytest.raises(BackendError) as caught:
        store.describe("Lead")
    [outcome] = store.create("Lead", [{"LastName": "A", "Company": "X"}])
    assert outcome.said.code == "FIELD_CUSTOM_VALIDATION_EXCEPTION" and "***" in outcome.said.message
    _assert_clean(*_exception_texts(caught.value), repr(outcome))
