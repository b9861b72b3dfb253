"""Instance and token URLs: only Salesforce hosts at a dot boundary, loopback only for the emulator."""

from __future__ import annotations

import pytest

from adapters.salesforce.instance_url import token_base_url, validate_base_url, validate_instance_url
from core.model import Connection
from core.ports import BackendError


@pytest.mark.parametrize(("url", "canonical"), [
    ("https://acme.my.salesforce.com", "https://acme.my.salesforce.com"),
    ("https://ACME.My.Salesforce.com/", "https://acme.my.salesforce.com"),
    ("https://acme.my.salesforce.com:443", "https://acme.my.salesforce.com"),
    ("https://acme--dev.sandbox.my.salesforce.com", "https://acme--dev.sandbox.my.salesforce.com"),
    ("https://na1.salesforce.com", "https://na1.salesforce.com"),
    ("https://acme.lightning.force.com", "https://acme.lightning.force.com"),
    ("https://acme.my.salesforce.mil", "https://acme.my.salesforce.mil"),
    ("https://acme.crmforce.mil", "https://acme.crmforce.mil"),
    ("https://acme.cloudforce.com", "https://acme.cloudforce.com"),
    ("https://acme.salesforce-sites.com", "https://acme.salesforce-sites.com"),
])
def test_salesforce_instance_urls_are_accepted(url, canonical):
    assert validate_instance_url(url) == canonical


@pytest.mark.parametrize("url", [
    "https://x.salesforce.com.evil.example",
    "https://evilsalesforce.com",
    "https://salesforce.com",
    "https://my.salesforce.com.",
    "https://acme.my.salesforce.com.",
    "http://acme.my.salesforce.com",
    "ftp://acme.my.salesforce.com",
    "https://user:pw@acme.my.salesforce.com",
    "https://acme.my.salesforce.com@evil.example",
    "https://acme.my.salesforce.com\\@evil.example",
    "https://acme.my.salesforce.com%2eevil.example",
    "https://acme.my.salesforce.com:8443",
    "https://acme.my.salesforce.com:0",
    "https://acme.my.salesforce.com:99999",
    "https://acme.my.salesforce.com/services/data",
    "https://acme.my.salesforce.com?next=https://evil.example",
    "https://acme.my.salesforce.com#x",
    "https://acme.my.salesforce.com\n",
    "https://acme.my.salesforce.com\t.evil.example",
    "https://acmé.my.salesforce.com",
    "https://login.salesforce.com",
    "https://test.salesforce.com",
    "acme.my.salesforce.com",
    "//acme.my.salesforce.com",
    "",
    "   ",
    "https://",
    "http://127.0.0.1:8080",
    "http://localhost:8080",
    "https://[::1]",
    "https://10.0.0.1",
])
def test_other_urls_are_refused_with_a_clear_error(url):
    with pytest.raises(BackendError) as caught:
        validate_instance_url(url)
    assert caught.value.error.code == "INVALID_INSTANCE_URL"
    assert tuple(map(str, caught.value.error.paths)) == ("connection.instance_url",)
    assert "connection.instance_url" in caught.value.error.message


@pytest.mark.parametrize(("url", "canonical"), [
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://127.9.8.7:1", "http://127.9.8.7:1"),
    ("http://localhost:5000/", "http://localhost:5000"),
    ("http://[::1]:9000", "http://[::1]:9000"),
    ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
    ("https://acme.my.salesforce.com", "https://acme.my.salesforce.com"),
])
def test_emulator_mode_also_accepts_loopback_with_any_port(url, canonical):
    assert validate_instance_url(url, allow_loopback_http=True) == canonical


@pytest.mark.parametrize("url", [
    "http://10.0.0.1:8080",
    "http://192.168.1.1",
    "http://localhost.evil.example:80",
    "http://127.0.0.1.nip.io",
    "http://acme.my.salesforce.com",
    "http://user@127.0.0.1:8080",
    "http://127.0.0.1:8080/prefix",
])
def test_emulator_mode_refuses_non_loopback_http(url):
    with pytest.raises(BackendError) as caught:
        validate_instance_url(url, allow_loopback_http=True)
    assert caught.value.error.code == "INVALID_INSTANCE_URL"


INSTANCE = "https://acme.my.salesforce.com"


@pytest.mark.parametrize(("connection", "expected"), [
    (Connection(INSTANCE), "https://login.salesforce.com"),
    (Connection(INSTANCE, is_sandbox=True), "https://test.salesforce.com"),
    (Connection(INSTANCE, login_host="acme.my.salesforce.com"), "https://acme.my.salesforce.com"),
    (Connection(INSTANCE, login_host="https://login.salesforce.com"), "https://login.salesforce.com"),
    (Connection(INSTANCE, is_sandbox=True, login_host="acme--uat.sandbox.my.salesforce.com"),
     "https://acme--uat.sandbox.my.salesforce.com"),
])
def test_token_host_is_login_host_else_test_for_sandboxes_else_login(connection, expected):
    assert token_base_url(connection, INSTANCE) == expected


@pytest.mark.parametrize("login_host", ["evil.example", "https://login.salesforce.com.evil.example",
                                        "http://login.salesforce.com", "https://login.salesforce.com/x"])
def test_login_host_is_validated_like_the_instance(login_host):
    with pytest.raises(BackendError) as caught:
        token_base_url(Connection(INSTANCE, login_host=login_host), INSTANCE)
    assert caught.value.error.code == "INVALID_INSTANCE_URL"
    assert tuple(map(str, caught.value.error.paths)) == ("connection.login_host",)


def test_emulator_mode_requests_tokens_from_the_emulator_itself():
    base = validate_base_url("http://127.0.0.1:8080", allow_loopback_http=True)
    assert token_base_url(Connection(base), base, allow_loopback_http=True) == "http://127.0.0.1:8080"
    assert token_base_url(Connection(INSTANCE), INSTANCE, allow_loopback_http=True) == "https://login.salesforce.com"
