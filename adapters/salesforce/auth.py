"""OAuth grants and the token cache: per-tenant keys, single-flight refresh, CAS invalidation, negative cache."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

from adapters.salesforce.instance_url import (
    LOGIN_HOST,
    TEST_HOST,
    host_of,
    is_generic_login,
    is_loopback_host,
    is_my_domain,
)
from adapters.salesforce.retry import RetryPolicy, Timing
from adapters.salesforce.shared_tokens import forget_shared, shared_fetch
from core import outcomes
from core.codes import Code
from core.coordination import CoordinationUnavailable, SharedTokens
from core.credentials import ClientCredentials, JwtBearer, OAuthRefreshToken, UsernamePassword
from core.model import Connection, ResultError
from core.paths import CONNECTION, Path
from core.ports import BackendError
from core.salesforce_codes import oauth_code
from core.telemetry import NullTelemetry, Telemetry

TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a URL path, not a secret
JWT_LIFETIME_SECONDS = 180
_KEY_SALT = secrets.token_bytes(32)  # per process: cache keys never expose a usable hash of a secret
_BUSY = "token request is already being processed"
_HINTS = {
    "expired access/refresh token": "the refresh token was revoked or has expired; re-authorize the connection",
    "authentication failure": "wrong credentials, a locked or inactive user, or a login IP restriction",
    "user hasn't approved this consumer": "the user is not pre-authorized for the connected app",
    "request not supported on this domain": "this grant must be sent to the org's My Domain login host",
    "user is locked": "the Salesforce user is locked",
    "invalid client credentials": "the client secret is wrong",
    "client identifier invalid": "the consumer key (client id) is unknown",
    "grant type not supported": "the connected app does not allow this grant",
}
# Failures cached briefly so a storm of calls with a dead grant makes no storm of token requests.
CREDENTIALS = CONNECTION.field("credentials")
_NEGATIVE_CODES = frozenset({Code.INVALID_GRANT, Code.INVALID_CLIENT, Code.AUTH_FAILED, Code.REQUEST_LIMIT_EXCEEDED})


def _connection_error(message: str, field: Path) -> BackendError:
    return BackendError(outcomes.error(Code.INVALID_CONNECTION, message, paths=(field,)))


def _digest(*parts: str) -> str:
    mac = hmac.new(_KEY_SALT, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    return mac.hexdigest()


class Grant:
    """One connection's way to get a token: where, which flow, the cache key. Its repr shows no secret."""

    def __init__(self, flow: str, token_url: str, key: tuple[str, ...], client_id: str,
                 form: Callable[[], dict[str, str]], secrets_: tuple[str, ...], seed_token: str = "",
                 identity: tuple[str, ...] = ()):
        self.flow, self.token_url, self.key, self.client_id = flow, token_url, key, client_id
        # The key's parts with the secrets themselves, the same in every replica: a shared token store
        # names its entries by a keyed hash of it (never stored or logged as is).
        self.identity = identity
        self._form = form
        self._secrets = tuple(s for s in secrets_ if s)
        self.seed_token = seed_token

    def form(self) -> dict[str, str]:
        return self._form()

    def scrub(self, text: str, *sent: str) -> str:
        """`text` with every secret of this grant (and `sent` values, e.g. an assertion) masked."""
        for s in (*self._secrets, *(v for v in sent if v)):
            if len(s) >= 4:
                # as sent, and as an echo might spell it: form-encoded, percent-encoded, JSON-escaped
                for form in {s, quote_plus(s), quote(s, safe=""), json.dumps(s)[1:-1]}:
                    text = text.replace(form, "***")
        return text

    def __repr__(self) -> str:
        return f"Grant(flow={self.flow!r}, token_url={self.token_url!r})"


def _require(value: str, field: Path) -> str:
    if not isinstance(value, str) or not value:
        raise _connection_error(f"{field} is empty", field)
    return value


def jwt_audience(connection: Connection, token_base: str) -> str:
    """The JWT `aud`: Salesforce expects the login or test server (the emulator: itself)."""
    host = host_of(token_base)
    if is_loopback_host(host):
        return token_base
    if connection.is_sandbox or host == TEST_HOST or ".sandbox.my.salesforce." in host:
        return f"https://{TEST_HOST}"
    return f"https://{LOGIN_HOST}"


def build_grant(connection: Connection, instance_base: str, token_base: str, timing: Timing) -> Grant:
    """The grant for `connection.credentials`, refusing what Salesforce would refuse before any request."""
    creds = connection.credentials
    base_key = (instance_base, token_base)
    if isinstance(creds, OAuthRefreshToken):
        client_id = _require(creds.client_id, CREDENTIALS.field("client_id"))
        refresh = _require(creds.refresh_token, CREDENTIALS.field("refresh_token"))

        def refresh_form() -> dict[str, str]:
            form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": client_id}
            if creds.client_secret:
                form["client_secret"] = creds.client_secret
            return form

        key: tuple[str, ...] = (*base_key, "refresh_token", client_id, _digest(refresh, creds.client_secret))
        return Grant("refresh_token", token_base + TOKEN_PATH, key, client_id, refresh_form,
                     (creds.client_secret, refresh, creds.access_token), seed_token=creds.access_token,
                     identity=(*key[:-1], refresh, creds.client_secret))
    if isinstance(creds, ClientCredentials):
        client_id = _require(creds.client_id, CREDENTIALS.field("client_id"))
        secret = _require(creds.client_secret, CREDENTIALS.field("client_secret"))
        if not connection.login_host and not is_loopback_host(host_of(token_base)):
            if not is_my_domain(instance_base):
                raise _connection_error(
                    "the client credentials flow needs the org's My Domain: set connection.login_host (or the "
                    "instance URL) to e.g. acme.my.salesforce.com", CONNECTION.field("login_host"))
            token_base = instance_base
        if is_generic_login(token_base):
            raise _connection_error(
                f"the client credentials flow is not supported on {host_of(token_base)}; set "
                "connection.login_host to the org's My Domain (e.g. acme.my.salesforce.com)",
                CONNECTION.field("login_host"))
        key = (instance_base, token_base, "client_credentials", client_id, _digest(secret))
        return Grant("client_credentials", token_base + TOKEN_PATH, key, client_id,
                     lambda: {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
                     (secret,), identity=(*key[:-1], secret))
    if isinstance(creds, JwtBearer):
        client_id = _require(creds.client_id, CREDENTIALS.field("client_id"))
        username = _require(creds.username, CREDENTIALS.field("username"))
        pem = _require(creds.private_key_pem, CREDENTIALS.field("private_key_pem"))
        audience = jwt_audience(connection, token_base)

        def jwt_form() -> dict[str, str]:
            import jwt  # PyJWT; imported lazily so the module loads without the crypto backend

            claims = {"iss": client_id, "sub": username, "aud": audience,
                      "exp": int(timing.wall_clock()) + JWT_LIFETIME_SECONDS}
            try:
                assertion = jwt.encode(claims, pem, algorithm="RS256")
            except Exception:  # noqa: BLE001 - never echo the library's text: it may quote the key
                raise BackendError(outcomes.error(
                    Code.AUTH_FAILED, "the JWT bearer private key could not sign an RS256 assertion "
                    "(expected an RSA private key in PEM form)",
                    paths=(CREDENTIALS.field("private_key_pem"),))) from None
            return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}

        key = (*base_key, "jwt_bearer", client_id, username, _digest(pem))
        return Grant("jwt_bearer", token_base + TOKEN_PATH, key, client_id, jwt_form, (pem,),
                     identity=(*key[:-1], pem))
    if isinstance(creds, UsernamePassword):
        client_id = _require(creds.client_id, CREDENTIALS.field("client_id"))
        username = _require(creds.username, CREDENTIALS.field("username"))
        password = _require(creds.password, CREDENTIALS.field("password"))

        def password_form() -> dict[str, str]:
            return {"grant_type": "password", "client_id": client_id, "client_secret": creds.client_secret,
                    "username": username, "password": password + creds.security_token}

        key = (*base_key, "password", client_id, username,
               _digest(password, creds.security_token, creds.client_secret))
        return Grant("password", token_base + TOKEN_PATH, key, client_id, password_form,
                     (creds.client_secret, password, creds.security_token, password + creds.security_token),
                     identity=(*key[:-1], password, creds.security_token, creds.client_secret))
    shown = "none" if creds is None else type(creds).__name__
    raise _connection_error(f"connection.credentials must be OAuth credentials (got {shown})", CREDENTIALS)


@dataclass(frozen=True, repr=False)
class _Token:
    value: str
    expires_at: float | None = None

    def __repr__(self) -> str:
        return "_Token(***)"


@dataclass(frozen=True)
class _Refusal:
    error: ResultError
    until: float


class TokenManager:
    """Access tokens per grant key, shared by every store of the backend; thread-safe."""

    def __init__(self, client: httpx.Client, timing: Timing, policy: RetryPolicy,
                 negative_ttl_seconds: float = 60.0, request_timeout_seconds: float = 30.0,
                 max_entries: int = 10_000):
        self._client, self._timing, self._policy = client, timing, policy
        self.telemetry: Telemetry = NullTelemetry()  # the backend sets its own
        self.shared: SharedTokens | None = None  # tokens shared with other replicas (the backend sets it)
        self._negative_ttl, self._timeout = negative_ttl_seconds, request_timeout_seconds
        self._mutex = threading.Lock()
        self._tokens: dict[tuple[str, ...], _Token] = {}
        self._refusals: dict[tuple[str, ...], _Refusal] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._seeded: dict[tuple[tuple[str, ...], str], None] = {}
        self._rotations: dict[tuple[str, ...], str] = {}  # grant key -> the refresh token Salesforce rotated it to
        self._refused: dict[str, None] = {}  # digests of tokens Salesforce refused, never taken back from `shared`
        self._max = max_entries
        self.token_requests = 0

    def _trim(self) -> None:
        """Keep every table bounded (oldest first); called with the mutex held."""
        now = self._timing.clock()
        for key in [k for k, r in self._refusals.items() if r.until <= now]:
            del self._refusals[key]
        tables: tuple[dict[Any, Any], ...] = (self._tokens, self._refusals, self._seeded, self._refused,
                                              self._rotations)
        for table in tables:
            while len(table) > self._max:
                del table[next(iter(table))]
        if len(self._locks) > self._max:
            for key in [k for k, lock in self._locks.items() if not lock.locked()][: len(self._locks) - self._max]:
                del self._locks[key]

    def _cached(self, grant: Grant) -> str | None:
        with self._mutex:
            token = self._tokens.get(grant.key)
            if token is not None and (token.expires_at is None or self._timing.clock() < token.expires_at):
                return token.value
            refusal = self._refusals.get(grant.key)
            if refusal is not None and self._timing.clock() < refusal.until:
                raise BackendError(refusal.error)
            if grant.seed_token and (grant.key, _digest(grant.seed_token)) not in self._seeded:
                # The host's access token is used first, once, until Salesforce refuses it.
                self._seeded[grant.key, _digest(grant.seed_token)] = None
                self._tokens[grant.key] = _Token(grant.seed_token)
                self._trim()
                return grant.seed_token
            return None

    def token(self, grant: Grant, deadline: float | None = None) -> str:
        """A usable access token; concurrent callers for one key share a single token request."""
        cached = self._cached(grant)
        if cached is not None:
            return cached
        with self._mutex:
            lock = self._locks.setdefault(grant.key, threading.Lock())
        remaining = self._timing.remaining(deadline)
        if not lock.acquire(timeout=-1 if remaining is None else max(remaining, 0)):
            raise BackendError(outcomes.error(Code.DEADLINE_EXCEEDED, "the call's deadline passed while waiting for a "
                                           "Salesforce access token"))
        try:
            cached = self._cached(grant)
            if cached is not None:
                return cached
            try:
                token = self._fetch(grant, deadline) if self.shared is None or not grant.identity else shared_fetch(
                    self.shared, grant.identity, self._timing, deadline, lambda: self._fetch(grant, deadline),
                    _Token, self._stored_as, self._was_refused)
            except BackendError as exc:
                if exc.error.code in _NEGATIVE_CODES:
                    with self._mutex:
                        self._refusals[grant.key] = _Refusal(exc.error, self._timing.clock() + self._negative_ttl)
                        self._trim()
                raise
            with self._mutex:
                self._tokens.pop(grant.key, None)
                if _digest(token.value) not in self._refused:  # read from `shared` just as another call saw it fail
                    self._tokens[grant.key] = token  # re-inserted: the newest entry is trimmed last
                self._refusals.pop(grant.key, None)
                self._trim()
            return token.value
        finally:
            lock.release()

    def invalidate(self, grant: Grant, token: str) -> None:
        """Forget the cached token, but only if it is the one that failed (another caller may have renewed it)."""
        with self._mutex:
            current = self._tokens.get(grant.key)
            if current is not None and hmac.compare_digest(current.value, token):
                del self._tokens[grant.key]
            if self.shared is not None:
                self._refused[_digest(token)] = None
                self._trim()
        if self.shared is not None and grant.identity:
            forget_shared(self.shared, grant.identity, token)

    def _fetch(self, grant: Grant, deadline: float | None) -> _Token:
        busy_tries = transient_tries = 0
        while True:
            if self._timing.expired(deadline):
                raise BackendError(outcomes.error(
                    Code.DEADLINE_EXCEEDED, "the call's deadline passed before a Salesforce "
                    "access token was issued"))
            remaining = self._timing.remaining(deadline)
            timeout = self._timeout if remaining is None else max(min(self._timeout, remaining), 0.001)
            form = grant.form()
            rotated = self.rotated(grant)
            if rotated:
                form["refresh_token"] = rotated
            with self._mutex:
                self.token_requests += 1
            try:
                self.telemetry.salesforce_call("auth")
                response = self._client.post(grant.token_url, data=form, timeout=timeout,
                                             headers={"Accept": "application/json"})
            except httpx.TransportError as exc:
                transient_tries += 1
                code = Code.TIMEOUT if isinstance(exc, httpx.TimeoutException) else Code.CONNECTION_ERROR
                error = outcomes.error(code, f"the Salesforce token endpoint {host_of(grant.token_url)} could not "
                                       f"be reached ({type(exc).__name__})")
                if transient_tries < self._policy.max_attempts and self._timing.backoff(
                        transient_tries, deadline, self._policy.base_delay, self._policy.max_delay):
                    continue
                raise BackendError(error) from None
            body = _json(response)
            if response.status_code == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str) \
                    and body["access_token"]:
                _check_issued_for(grant, body.get("instance_url"))
                self._note_rotation(grant, form, body.get("refresh_token"))
                return _Token(body["access_token"], self._expiry(body))
            error_name = str(body.get("error") or "") if isinstance(body, dict) else ""
            description = str(body.get("error_description") or "") if isinstance(body, dict) else ""
            if error_name == "invalid_grant" and _BUSY in description.lower():
                busy_tries += 1
                if busy_tries < self._policy.token_busy_attempts and self._timing.backoff(
                        busy_tries, deadline, self._policy.base_delay, self._policy.max_delay):
                    continue
                raise BackendError(outcomes.error(
                    Code.SERVER_UNAVAILABLE, "Salesforce is still processing another token "
                    f"request for this connection ({grant.flow}); try again shortly"))
            if response.status_code >= 500:
                transient_tries += 1
                if transient_tries < self._policy.max_attempts and self._timing.backoff(
                        transient_tries, deadline, self._policy.base_delay, self._policy.max_delay):
                    continue
                raise BackendError(outcomes.error(
                    Code.SERVER_UNAVAILABLE, f"the Salesforce token endpoint answered HTTP "
                    f"{response.status_code}"))
            sent = tuple(v for k, v in form.items() if k not in ("grant_type", "client_id", "username"))
            raise BackendError(self._refusal(grant, response.status_code, error_name, description, sent))

    def rotated(self, grant: Grant) -> str:
        """The refresh token Salesforce rotated this grant's to ('' if it never did), as any replica saw it."""
        if grant.flow != "refresh_token":
            return ""
        if self.shared is not None:
            try:
                found = self.shared.rotation(grant.identity)
            except CoordinationUnavailable:
                found = None
            if found:
                with self._mutex:
                    self._rotations[grant.key] = found
                return found
        with self._mutex:
            return self._rotations.get(grant.key, "")

    def _note_rotation(self, grant: Grant, form: dict[str, str], issued: object) -> None:
        if grant.flow != "refresh_token" or not isinstance(issued, str) or not issued \
                or issued == form.get("refresh_token"):
            return
        with self._mutex:
            self._rotations.pop(grant.key, None)
            self._rotations[grant.key] = issued
            self._trim()
        if self.shared is not None:
            try:
                self.shared.rotate(grant.identity, issued)
            except CoordinationUnavailable:
                pass  # this replica still returns it to the host

    def _was_refused(self, token: str) -> bool:
        with self._mutex:
            return _digest(token) in self._refused

    def _stored_as(self, token: _Token) -> tuple[str, float | None]:
        """A token's value and remaining lifetime (None: until Salesforce refuses it), for the shared store."""
        return token.value, None if token.expires_at is None else max(token.expires_at - self._timing.clock(), 1.0)

    def _expiry(self, body: dict[str, Any]) -> float | None:
        """Salesforce sends no expires_in (tokens live until refused); honour it when present."""
        try:
            seconds = float(body["expires_in"])
        except (KeyError, TypeError, ValueError):
            return None
        return self._timing.clock() + max(seconds - 30.0, 0.0)

    @staticmethod
    def _refusal(grant: Grant, status: int, error_name: str, description: str, sent: tuple[str, ...]
                 ) -> ResultError:
        if not error_name and status == 200:
            return outcomes.error(Code.AUTH_FAILED, f"the Salesforce token endpoint answered the {grant.flow} grant "
                               "without an access token")
        if not error_name:
            return outcomes.error(
                Code.AUTH_FAILED, f"the Salesforce token endpoint answered the {grant.flow} grant with "
                f"HTTP {status} and no OAuth error")
        code = oauth_code(error_name)
        said = grant.scrub(description, *sent)[:200]
        hint = next((h for phrase, h in _HINTS.items() if phrase in description.lower()), "")
        message = f"Salesforce refused the {grant.flow} grant: {grant.scrub(error_name, *sent)[:60]}"
        message += f" ({said})" if said else ""
        message += f": {hint}" if hint else ""
        return outcomes.error(code, message)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _check_issued_for(grant: Grant, issued_url: object) -> None:
    """Refuse a token Salesforce issued for another org's instance: it must never be sent elsewhere."""
    if not isinstance(issued_url, str) or not issued_url:
        return  # some flows omit it; the instance URL was validated already
    issued, ours = host_of(issued_url).rstrip("."), host_of(grant.key[0]).rstrip(".")  # key[0]: the instance
    if issued.lower() != ours.lower():
        raise BackendError(outcomes.error(
            Code.INVALID_INSTANCE_URL, f"Salesforce issued the access token for {issued}, not for the connection's "
            f"instance {ours}: set connection.instance_url to https://{issued}",
            paths=(CONNECTION.field("instance_url"),)))
