"""The OAuth 2.0 token endpoint (four grants) and the bearer-token check of data calls."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

import jwt

from tools.emulator.wire import Reply, Request, error_body

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
_TOKEN_ALPHABET = string.ascii_letters + string.digits + "._"


@dataclass
class Client:
    client_id: str
    secret: str | None  # None: the app does not require the secret for refresh
    run_as: str | None = None  # the client-credentials integration user
    jwt_key: str | None = None  # public key PEM; when set, JWT assertions must be RS256-signed with it


@dataclass
class User:
    username: str
    password: str
    security_token: str
    user_id: str
    active: bool = True


@dataclass(frozen=True)
class Session:
    access_token: str
    client_id: str
    username: str


class TokenError(Exception):
    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error, self.description = error, description


def _reply_error(exc: TokenError) -> Reply:
    return Reply.json(400, {"error": exc.error, "error_description": exc.description})


class OAuth:
    """Registered clients, users and refresh tokens; issued access tokens; the token endpoint."""

    def __init__(self, org_id: str, base_url: Callable[[], str], user_id: Callable[[], str]):
        self._lock = threading.Lock()
        self.org_id = org_id
        self._base_url = base_url
        self._new_user_id = user_id
        self.clients: dict[str, Client] = {}
        self.users: dict[str, User] = {}
        self.refresh_tokens: dict[str, tuple[str, str]] = {}  # token -> (client_id, username)
        self.sessions: dict[str, Session] = {}
        self.token_requests = 0
        self.refresh_conflicts = 0
        self.login_domain = False  # answer as login/test.salesforce.com: client_credentials is refused
        self.rotate_refresh_tokens = False

    # registration -------------------------------------------------------------------------------
    def add_client(self, client_id: str, secret: str | None, run_as: str | None = None) -> None:
        with self._lock:
            self.clients[client_id] = Client(client_id, secret, run_as)

    def add_user(self, username: str, password: str, security_token: str = "") -> None:
        with self._lock:
            self.users[username] = User(username, password, security_token, self._new_user_id())

    def add_refresh_token(self, token: str, client_id: str, username: str | None = None) -> None:
        with self._lock:
            self.refresh_tokens[token] = (client_id, username or next(iter(self.users), "unknown@example.com"))

    def register_jwt_key(self, client_id: str, public_pem: str) -> None:
        with self._lock:
            client = self.clients.setdefault(client_id, Client(client_id, None))
            client.jwt_key = public_pem

    def set_active(self, username: str, active: bool) -> None:
        with self._lock:
            self.users[username].active = active

    def revoke_refresh_token(self, token: str) -> None:
        with self._lock:
            self.refresh_tokens.pop(token, None)

    def expire_all(self) -> None:
        with self._lock:
            self.sessions.clear()

    def expire(self, access_token: str) -> None:
        with self._lock:
            self.sessions.pop(access_token, None)

    def mint(self, client_id: str, username: str) -> str:
        """Issue an access token directly, as if a grant had succeeded."""
        token = self.org_id[:15] + "!AQ" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(96))
        with self._lock:
            self.sessions[token] = Session(token, client_id, username)
        return token

    # data-call check ----------------------------------------------------------------------------
    def session_for(self, authorization: str) -> Session | None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token.strip():
            return None
        with self._lock:
            return self.sessions.get(token.strip())

    # token endpoint -----------------------------------------------------------------------------
    def handle(self, req: Request) -> Reply:
        with self._lock:
            self.token_requests += 1
        form = {k: v[0] for k, v in req.query.items()}
        if req.header("content-type").split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            form.update({k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()})
        basic = req.header("authorization")
        if basic.lower().startswith("basic "):
            try:
                cid, _, secret = base64.b64decode(basic[6:].strip()).decode().partition(":")
                form.setdefault("client_id", cid)
                form.setdefault("client_secret", secret)
            except ValueError:
                return _reply_error(TokenError("invalid_client", "invalid client credentials"))
        grants = {"refresh_token": self._refresh, "client_credentials": self._client_credentials,
                  JWT_GRANT: self._jwt, "password": self._password}
        grant = grants.get(form.get("grant_type", ""))
        try:
            if grant is None:
                raise TokenError("unsupported_grant_type", "grant type not supported")
            client, username, extra = grant(form, req)
        except TokenError as exc:
            return _reply_error(exc)
        return Reply.json(200, self._success(client, username, extra))

    def _client(self, form: dict[str, str], secret_required: bool) -> Client:
        """The authenticated client; a client registered with a secret must always present it."""
        client = self.clients.get(form.get("client_id", ""))
        if client is None:
            raise TokenError("invalid_client_id", "client identifier invalid")
        given = form.get("client_secret")
        if client.secret is None:
            if secret_required:
                raise TokenError("invalid_client", "invalid client credentials")
            return client
        if given is None or not hmac.compare_digest(client.secret.encode(), given.encode()):
            raise TokenError("invalid_client", "invalid client credentials")
        return client

    def _refresh(self, form: dict[str, str], req: Request) -> tuple[Client, str, dict]:
        with self._lock:
            if self.refresh_conflicts > 0:
                self.refresh_conflicts -= 1
                raise TokenError("invalid_grant", "token request is already being processed")
        client = self._client(form, secret_required=False)
        token = form.get("refresh_token", "")
        with self._lock:
            owner = self.refresh_tokens.get(token)
            if owner is None or owner[0] != client.client_id:
                raise TokenError("invalid_grant", "expired access/refresh token")
            self._check_active(owner[1])
            extra = {}
            if self.rotate_refresh_tokens:
                del self.refresh_tokens[token]
                fresh = secrets.token_urlsafe(32)
                self.refresh_tokens[fresh] = owner
                extra["refresh_token"] = fresh
        return client, owner[1], extra

    def _client_credentials(self, form: dict[str, str], req: Request) -> tuple[Client, str, dict]:
        host = req.host.rsplit(":", 1)[0].lower()
        if self.login_domain or host.startswith(("login.", "test.")):
            raise TokenError("invalid_grant", "request not supported on this domain")
        client = self._client(form, secret_required=True)
        if not client.run_as:
            raise TokenError("invalid_grant", "no client credentials user enabled")
        self._check_active(client.run_as)
        return client, client.run_as, {}

    def _password(self, form: dict[str, str], req: Request) -> tuple[Client, str, dict]:
        client = self._client(form, secret_required=True)
        user = self.users.get(form.get("username", ""))
        given = form.get("password", "").encode()
        if user is None or not hmac.compare_digest(given, (user.password + user.security_token).encode()):
            raise TokenError("invalid_grant", "authentication failure")
        self._check_active(user.username)
        return client, user.username, {}

    def _jwt(self, form: dict[str, str], req: Request) -> tuple[Client, str, dict]:
        assertion = form.get("assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenError("invalid_grant", "invalid assertion") from None
        client = self.clients.get(str(claims.get("iss", "")))
        if client is None:
            raise TokenError("invalid_client_id", "client identifier invalid")
        if header.get("alg") != "RS256":
            raise TokenError("invalid_grant", "invalid assertion")
        if client.jwt_key is not None:
            try:
                jwt.decode(assertion, client.jwt_key, algorithms=["RS256"],
                           options={"verify_aud": False, "verify_exp": False, "verify_iat": False,
                                    "verify_nbf": False, "verify_iss": False})
            except jwt.PyJWTError:
                raise TokenError("invalid_grant", "invalid assertion") from None
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if not any(a in (*LOGIN_AUDIENCES, self._base_url()) for a in audiences):
            raise TokenError("invalid_grant", "audience is invalid")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= time.time():
            raise TokenError("invalid_grant", "invalid assertion")
        if str(claims.get("sub", "")) not in self.users:
            raise TokenError("invalid_grant", "user hasn't approved this consumer")
        self._check_active(str(claims["sub"]))
        return client, str(claims["sub"]), {"signed": False}

    def _check_active(self, username: str) -> None:
        user = self.users.get(username)
        if user is not None and not user.active:
            raise TokenError("invalid_grant", "inactive user")

    def _success(self, client: Client, username: str, extra: dict) -> dict:
        """The token answer; a JWT bearer answer has no signature and no issued_at (no client secret signed it)."""
        user = self.users.get(username)
        user_id = user.user_id if user else "005000000000000AAA"
        identity = f"{self._base_url()}/id/{self.org_id}/{user_id}"
        out = {"access_token": self.mint(client.client_id, username)}
        if extra.pop("signed", True):
            issued_at = str(int(time.time() * 1000))
            key = (client.secret or "").encode()
            signature = base64.b64encode(hmac.new(key, (identity + issued_at).encode(), hashlib.sha256).digest())
            out.update(signature=signature.decode(), issued_at=issued_at)
        out.update({"scope": "api", "instance_url": self._base_url(), "id": identity, "token_type": "Bearer", **extra})
        return out


def invalid_session() -> Reply:
    return Reply.json(401, error_body("INVALID_SESSION_ID", "Session expired or invalid"),
                      {"WWW-Authenticate": "Token"})
