"""The token endpoint: the four grants, their success shape and Salesforce's error bodies."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from tests.tools.emulator.helpers import V
from tools.emulator.server import (
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    REFRESH_TOKEN,
    SECURITY_TOKEN,
    USERNAME,
    Emulator,
    rsa_key_pair,
)

TOKEN = "/services/oauth2/token"


def post(emulator: Emulator, data: dict[str, str], **kwargs) -> httpx.Response:
    return httpx.post(emulator.base_url + TOKEN, data=data, **kwargs)


def refresh(emulator: Emulator, token: str = REFRESH_TOKEN, secret: str = CLIENT_SECRET) -> httpx.Response:
    return post(emulator, {"grant_type": "refresh_token", "refresh_token": token, "client_id": CLIENT_ID,
                           "client_secret": secret})


def assertion(emulator: Emulator, key: str, **claims) -> str:
    body = {"iss": CLIENT_ID, "sub": USERNAME, "aud": "https://login.salesforce.com", "exp": int(time.time()) + 180,
            **claims}
    return jwt.encode(body, key, algorithm="RS256")


def assert_error(response: httpx.Response, error: str, description: str) -> None:
    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}


def test_refresh_grant_answers_salesforce_token_fields(emulator):
    response = refresh(emulator)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at"}
    assert body["access_token"].startswith("00D") and body["access_token"][15] == "!"
    assert body["instance_url"] == emulator.base_url
    assert body["token_type"] == "Bearer"
    assert body["issued_at"].isdigit() and len(body["issued_at"]) == 13
    assert "/id/00D" in body["id"]


def test_issued_token_authorises_data_calls(emulator):
    token = refresh(emulator).json()["access_token"]
    response = httpx.get(f"{emulator.base_url}{V}/sobjects/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    oauth_scheme = httpx.get(f"{emulator.base_url}{V}/sobjects/", headers={"Authorization": f"OAuth {token}"})
    assert oauth_scheme.status_code == 200


def test_refresh_with_unknown_or_revoked_token_is_invalid_grant(emulator):
    assert_error(refresh(emulator, token="nope"), "invalid_grant", "expired access/refresh token")
    emulator.revoke_refresh_token(REFRESH_TOKEN)
    assert_error(refresh(emulator), "invalid_grant", "expired access/refresh token")


def test_wrong_secret_is_invalid_client_and_unknown_client_is_invalid_client_id(emulator):
    assert_error(refresh(emulator, secret="wrong"), "invalid_client", "invalid client credentials")
    response = post(emulator, {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN, "client_id": "who"})
    assert_error(response, "invalid_client_id", "client identifier invalid")


def test_unknown_grant_and_json_body_are_unsupported_grant_type(emulator):
    assert_error(post(emulator, {"grant_type": "authorization_cod"}), "unsupported_grant_type",
                 "grant type not supported")
    as_json = httpx.post(emulator.base_url + TOKEN, json={"grant_type": "refresh_token"})
    assert_error(as_json, "unsupported_grant_type", "grant type not supported")


def test_concurrent_refresh_conflicts_answer_already_processing_then_recover(emulator):
    emulator.concurrent_refresh_conflicts(2)
    for _ in range(2):
        assert_error(refresh(emulator), "invalid_grant", "token request is already being processed")
    assert refresh(emulator).status_code == 200
    assert emulator.token_requests == 3


def test_rotation_returns_a_new_refresh_token_and_retires_the_old(emulator):
    emulator.rotate_refresh_tokens = True
    fresh = refresh(emulator).json()["refresh_token"]
    assert_error(refresh(emulator), "invalid_grant", "expired access/refresh token")
    assert refresh(emulator, token=fresh).status_code == 200


def test_client_credentials_with_basic_auth(emulator):
    response = post(emulator, {"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET))
    assert response.status_code == 200
    assert "refresh_token" not in response.json()


def test_client_credentials_refused_on_login_domain(emulator):
    emulator.login_domain = True
    response = post(emulator, {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                               "client_secret": CLIENT_SECRET})
    assert_error(response, "invalid_grant", "request not supported on this domain")


def test_password_grant_needs_password_plus_security_token(emulator):
    form = {"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "username": USERNAME}
    assert post(emulator, {**form, "password": PASSWORD + SECURITY_TOKEN}).status_code == 200
    assert_error(post(emulator, {**form, "password": PASSWORD}), "invalid_grant", "authentication failure")


def test_jwt_grant_verifies_signature_with_registered_key(emulator):
    key = emulator.new_jwt_key()
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}
    ok = post(emulator, {**form, "assertion": assertion(emulator, key)})
    assert ok.status_code == 200 and ok.json()["access_token"].startswith("00D")
    other_key, _ = rsa_key_pair()
    assert_error(post(emulator, {**form, "assertion": assertion(emulator, other_key)}), "invalid_grant",
                 "invalid assertion")


@pytest.mark.parametrize(("claims", "error", "description"), [
    ({"exp": int(time.time()) - 10}, "invalid_grant", "invalid assertion"),
    ({"aud": "https://evil.example.com"}, "invalid_grant", "audience is invalid"),
    ({"sub": "stranger@example.com"}, "invalid_grant", "user hasn't approved this consumer"),
    ({"iss": "unknown-client"}, "invalid_client_id", "client identifier invalid"),
])
def test_jwt_grant_checks_claims(emulator, claims, error, description):
    key = emulator.new_jwt_key()
    response = post(emulator, {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                               "assertion": assertion(emulator, key, **claims)})
    assert_error(response, error, description)


def test_jwt_grant_rejects_a_malformed_assertion(emulator):
    response = post(emulator, {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "a.b"})
    assert_error(response, "invalid_grant", "invalid assertion")


def test_client_credentials_refused_when_the_host_is_login_salesforce_com(emulator):
    response = post(emulator, {"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET),
                    headers={"Host": "login.salesforce.com"})
    assert_error(response, "invalid_grant", "request not supported on this domain")


def test_a_deactivated_user_gets_no_token_by_any_grant(emulator):
    emulator.deactivate_user(USERNAME)
    assert_error(refresh(emulator), "invalid_grant", "inactive user")
    password = post(emulator, {"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                               "username": USERNAME, "password": PASSWORD + SECURITY_TOKEN})
    assert_error(password, "invalid_grant", "inactive user")
    credentials = post(emulator, {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                  "client_secret": CLIENT_SECRET})
    assert_error(credentials, "invalid_grant", "inactive user")


def test_a_jwt_bearer_answer_is_not_signed(emulator):
    key = emulator.new_jwt_key()
    response = post(emulator, {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                               "assertion": assertion(emulator, key)})
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "scope", "instance_url", "id", "token_type"}
