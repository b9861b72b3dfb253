"""OAuth grants, the per-tenant token cache, single-flight refresh and the negative cache."""

from __future__ import annotations

import threading

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.credentials import ClientCredentials, JwtBearer, OAuthRefreshToken, UsernamePassword
from core.model import Connection
from core.ports import BackendError
from tests.adapters.salesforce import fakes
from tests.adapters.salesforce.fakes import DATA, INSTANCE, FakeClock, FakeSalesforce, form_of, respond

DESCRIBE = f"{DATA}/sobjects/Lead/describe"


def _token_error(error: str, description: str):
    return respond(400, {"error": error, "error_description": description})


def _rsa_pem() -> tuple[str, rsa.RSAPublicKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


def test_refresh_token_grant_posts_a_form_to_the_login_host_and_uses_the_token():
    org = FakeSalesforce()
    fakes.backend(org).open(fakes.connection()).describe("Lead")
    [token_request] = org.token_requests
    assert str(token_request.url) == "https://login.salesforce.com/services/oauth2/token"
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_of(token_request) == {"grant_type": "refresh_token", "refresh_token": "REFRESH-TOKEN-value",
                                      "client_id": "3MVG9client", "client_secret": "CLIENT-SECRET-value"}
    assert "REFRESH" not in str(token_request.url)
    [data] = org.data_requests
    assert data.headers["Authorization"] == "Bearer 00DHs0000012345!AQ0001"
    assert data.headers["Sforce-Call-Options"] == "client=sfdest"


def test_sandbox_tokens_come_from_the_test_host():
    org = FakeSalesforce()
    fakes.backend(org).open(fakes.connection(is_sandbox=True)).describe("Lead")
    assert org.token_requests[0].url.host == "test.salesforce.com"


def test_the_hosts_access_token_is_used_first_and_refreshed_only_when_refused():
    org = FakeSalesforce()
    org.valid_tokens.add("00DHs0000012345!AQgiven")
    b = fakes.backend(org, describe_ttl_seconds=0)
    store = b.open(fakes.connection(access="00DHs0000012345!AQgiven"))
    store.describe("Lead")
    assert org.token_requests == []
    assert org.data_requests[0].headers["Authorization"] == "Bearer 00DHs0000012345!AQgiven"
    org.valid_tokens.discard("00DHs0000012345!AQgiven")
    store.describe("Lead")
    assert len(org.token_requests) == 1
    assert [r.headers["Authorization"][7:] for r in org.data_requests] == [
        "00DHs0000012345!AQgiven", "00DHs0000012345!AQgiven", "00DHs0000012345!AQ0001"]


def test_client_credentials_go_to_the_my_domain():
    org = FakeSalesforce()
    conn = Connection(INSTANCE, credentials=ClientCredentials("3MVG9cc", "CC-SECRET"))
    fakes.backend(org).open(conn).describe("Lead")
    [request] = org.token_requests
    assert str(request.url) == "https://acme.my.salesforce.com/services/oauth2/token"
    assert form_of(request) == {"grant_type": "client_credentials", "client_id": "3MVG9cc",
                                "client_secret": "CC-SECRET"}


@pytest.mark.parametrize("conn", [
    Connection(INSTANCE, login_host="login.salesforce.com", credentials=ClientCredentials("c", "s")),
    Connection(INSTANCE, login_host="https://test.salesforce.com", credentials=ClientCredentials("c", "s")),
    Connection("https://na1.salesforce.com", credentials=ClientCredentials("c", "s")),
])
def test_client_credentials_on_login_or_test_hosts_are_refused_up_front(conn):
    org = FakeSalesforce()
    with pytest.raises(BackendError) as caught:
        fakes.backend(org).open(conn)
    assert caught.value.error.code == "INVALID_CONNECTION"
    assert "My Domain" in caught.value.error.message
    assert org.requests == []


def test_jwt_bearer_signs_a_short_lived_rs256_assertion():
    org = FakeSalesforce()
    pem, public = _rsa_pem()
    clock = FakeClock()
    b = fakes.backend(org, clock, wall_clock=lambda: 1_700_000_000.0)
    b.open(Connection(INSTANCE, credentials=JwtBearer("3MVG9jwt", "int@acme.com", pem))).describe("Lead")
    form = form_of(org.token_requests[0])
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = jwt.decode(form["assertion"], public, algorithms=["RS256"], audience="https://login.salesforce.com",
                        options={"verify_exp": False})
    assert claims == {"iss": "3MVG9jwt", "sub": "int@acme.com", "aud": "https://login.salesforce.com",
                      "exp": 1_700_000_180}
    assert jwt.get_unverified_header(form["assertion"])["alg"] == "RS256"


def test_jwt_audience_is_the_test_host_for_sandboxes():
    org = FakeSalesforce()
    org.issued_for = "https://acme--uat.sandbox.my.salesforce.com"
    pem, public = _rsa_pem()
    conn = Connection("https://acme--uat.sandbox.my.salesforce.com", is_sandbox=True,
                      credentials=JwtBearer("c", "u@acme.com.uat", pem))
    fakes.backend(org).open(conn).describe("Lead")
    assertion = form_of(org.token_requests[0])["assertion"]
    assert jwt.decode(assertion, public, algorithms=["RS256"], options={"verify_aud": False,
                                                                        "verify_exp": False})["aud"] == \
        "https://test.salesforce.com"


def test_password_grant_appends_the_security_token():
    org = FakeSalesforce()
    conn = Connection(INSTANCE, credentials=UsernamePassword("c", "s", "u@acme.com", "pw", "SECTOKEN"))
    fakes.backend(org).open(conn).describe("Lead")
    assert form_of(org.token_requests[0]) == {"grant_type": "password", "client_id": "c", "client_secret": "s",
                                              "username": "u@acme.com", "password": "pwSECTOKEN"}


@pytest.mark.parametrize("credentials", [None, "a-token-string",
                                         OAuthRefreshToken("", "s", "r"), OAuthRefreshToken("c", "s", ""),
                                         UsernamePassword("c", "s", "", "pw")])
def test_missing_or_incomplete_credentials_are_refused_without_requests(credentials):
    org = FakeSalesforce()
    with pytest.raises(BackendError) as caught:
        fakes.backend(org).open(Connection(INSTANCE, credentials=credentials))
    assert caught.value.error.code == "INVALID_CONNECTION"
    assert org.requests == []


def test_fifty_callers_with_one_expired_token_cause_one_token_request():
    org = FakeSalesforce()  # "AQstale" is not among its valid tokens: the session has expired
    all_sent_stale = threading.Barrier(50, timeout=30)

    def handler(request):
        if request.headers.get("Authorization") == "Bearer 00DHs0000012345!AQstale":
            all_sent_stale.wait()  # nobody learns of the 401 before all 50 presented the stale token
        return org(request)

    b = fakes.backend(org, handler=handler, describe_ttl_seconds=0, max_in_flight_per_org=50)
    conn = fakes.connection(access="00DHs0000012345!AQstale")
    stores = [b.open(conn) for _ in range(50)]
    errors: list[BaseException] = []

    def run(store):
        try:
            store.describe("Lead")
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(org.token_requests) == 1
    assert sum(s.api_calls for s in stores) == 100  # each: the refused call and its replay
    assert {r.headers["Authorization"] for r in org.data_requests} == {
        "Bearer 00DHs0000012345!AQstale", "Bearer 00DHs0000012345!AQ0001"}


def test_tenants_never_see_each_others_tokens():
    org = FakeSalesforce()
    tokens: dict[tuple[str, str], str] = {}

    def issue(request):
        response = org.issue_token(request)
        form = form_of(request)
        tokens[form["refresh_token"], form["client_secret"]] = response.json()["access_token"]
        return response

    org.token_script = [issue]
    b = fakes.backend(org, describe_ttl_seconds=0)
    # Same org, same connected app, same secret: only the tenants' refresh tokens differ.
    b.open(fakes.connection(refresh="REFRESH-alpha")).describe("Lead")
    b.open(fakes.connection(refresh="REFRESH-beta")).describe("Lead")
    b.open(fakes.connection(refresh="REFRESH-alpha")).describe("Lead")
    b.open(fakes.connection(refresh="REFRESH-beta", secret="OTHER-SECRET")).describe("Lead")
    assert len(org.token_requests) == 3
    alpha, beta = tokens["REFRESH-alpha", "CLIENT-SECRET-value"], tokens["REFRESH-beta", "CLIENT-SECRET-value"]
    used = [r.headers["Authorization"][7:] for r in org.data_requests]
    assert used == [alpha, beta, alpha, tokens["REFRESH-beta", "OTHER-SECRET"]]
    assert len(set(used)) == 3


def test_describes_are_not_shared_across_tenants():
    org = FakeSalesforce()
    b = fakes.backend(org)
    b.open(fakes.connection(refresh="REFRESH-alpha")).describe("Lead")
    beta = b.open(fakes.connection(refresh="REFRESH-beta"))
    beta.describe("Lead")
    assert beta.api_calls == 1


@pytest.mark.parametrize(("description", "code"), [
    ("expired access/refresh token", "INVALID_GRANT"),
    ("authentication failure", "INVALID_GRANT"),
    ("user hasn't approved this consumer", "INVALID_GRANT"),
    ("user is locked", "INVALID_GRANT"),
])
def test_a_revoked_grant_fails_every_call_with_one_token_request(description, code):
    org = FakeSalesforce()
    org.token_script = [_token_error("invalid_grant", description)]
    clock = FakeClock()
    b = fakes.backend(org, clock)
    codes = set()
    for _ in range(25):
        with pytest.raises(BackendError) as caught:
            b.open(fakes.connection()).describe("Lead")
        codes.add(caught.value.error.code)
        assert description in caught.value.error.message
    assert codes == {code}
    assert len(org.token_requests) == 1
    assert org.data_requests == []
    clock.now += 61  # the negative cache expires: the grant is tried again
    with pytest.raises(BackendError):
        b.open(fakes.connection()).describe("Lead")
    assert len(org.token_requests) == 2


@pytest.mark.parametrize(("error", "description", "code"), [
    ("invalid_client", "invalid client credentials", "INVALID_CLIENT"),
    ("invalid_client_id", "client identifier invalid", "INVALID_CLIENT"),
    ("unsupported_grant_type", "grant type not supported", "AUTH_FAILED"),
    ("inactive_org", "", "AUTH_FAILED"),
])
def test_other_token_errors_are_non_retryable_auth_errors(error, description, code):
    org = FakeSalesforce()
    org.token_script = [_token_error(error, description)]
    with pytest.raises(BackendError) as caught:
        fakes.backend(org).open(fakes.connection()).describe("Lead")
    assert caught.value.error.code == code
    assert len(org.token_requests) == 1


def test_a_token_request_already_being_processed_is_retried_with_backoff():
    org = FakeSalesforce()
    busy = _token_error("invalid_grant", "token request is already being processed")
    org.token_script = [busy, busy, org.issue_token]
    clock = FakeClock()
    fakes.backend(org, clock).open(fakes.connection()).describe("Lead")
    assert len(org.token_requests) == 3
    assert len(clock.sleeps) == 2


def test_a_token_request_busy_for_too_long_is_a_retryable_failure_not_a_revocation():
    org = FakeSalesforce()
    org.token_script = [_token_error("invalid_grant", "token request is already being processed")]
    clock = FakeClock()
    b = fakes.backend(org, clock)
    with pytest.raises(BackendError) as caught:
        b.open(fakes.connection()).describe("Lead")
    assert caught.value.error.code == "SERVER_UNAVAILABLE"
    assert len(org.token_requests) == 5
    org.token_script = []
    b.open(fakes.connection()).describe("Lead")  # not negatively cached


def test_token_endpoint_outages_are_retried_then_reported_as_transient():
    org = FakeSalesforce()
    org.token_script = [respond(503), org.issue_token]
    clock = FakeClock()
    fakes.backend(org, clock).open(fakes.connection()).describe("Lead")
    assert len(org.token_requests) == 2
    org2 = FakeSalesforce()
    org2.token_script = [respond(503)]
    with pytest.raises(BackendError) as caught:
        fakes.backend(org2, FakeClock()).open(fakes.connection()).describe("Lead")
    assert caught.value.error.code == "SERVER_UNAVAILABLE"
    assert len(org2.token_requests) == 3


def test_token_responses_are_parsed_leniently():
    org = FakeSalesforce()
    org.valid_tokens.add("tok-minimal")
    org.token_script = [respond(200, {"access_token": "tok-minimal", "extra": {"nested": True}})]
    fakes.backend(org).open(fakes.connection()).describe("Lead")
    assert org.data_requests[0].headers["Authorization"] == "Bearer tok-minimal"


def test_emulator_mode_sends_token_and_data_requests_to_the_loopback_base_url():
    org = FakeSalesforce()
    org.issued_for = "http://127.0.0.1:8080"
    store = fakes.backend(org, allow_loopback_http=True).open(fakes.connection("http://127.0.0.1:8080"))
    store.describe("Lead")
    assert [str(r.url) for r in org.requests] == ["http://127.0.0.1:8080/services/oauth2/token",
                                                  f"http://127.0.0.1:8080{DATA}/sobjects/Lead/describe"]


def test_the_token_cache_stays_bounded_and_working():
    org = FakeSalesforce()
    b = fakes.backend(org, describe_ttl_seconds=0)
    b.tokens._max = 3
    for i in range(6):
        b.open(fakes.connection(refresh=f"REFRESH-{i}", access=f"seed-{i}")).describe("Lead")
    assert len(b.tokens._tokens) <= 3 and len(b.tokens._seeded) <= 3 and len(b.tokens._locks) <= 3
    b.open(fakes.connection(refresh="REFRESH-5")).describe("Lead")
    assert len(org.token_requests) == 6  # each tenant refreshed its refused seed once; the newest is still cached


def test_a_malformed_default_api_version_is_a_configuration_error():
    with pytest.raises(ValueError, match="api_version"):
        fakes.backend(FakeSalesforce(), api_version="latest")


def test_a_token_issued_for_another_org_is_never_sent_anywhere():
    org = FakeSalesforce()
    org.issued_for = "https://other-org.my.salesforce.com"
    store = fakes.backend(org).open(fakes.connection())
    with pytest.raises(BackendError) as caught:
        store.describe("Lead")
    assert caught.value.error.code == "INVALID_INSTANCE_URL"
    assert "other-org.my.salesforce.com" in caught.value.error.message
    assert org.data_requests == []
