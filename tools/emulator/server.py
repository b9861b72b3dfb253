"""The Salesforce REST emulator: a real HTTP server on 127.0.0.1 backed by the in-memory Org."""

from __future__ import annotations

import functools
import select
import socket
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.memory.ids import IdFactory
from adapters.memory.org import Org
from core.names import to_18
from tools.emulator import equality
from tools.emulator.bulk import Jobs
from tools.emulator.dispatch import dispatch, pause
from tools.emulator.faults import Fault, FaultPlan
from tools.emulator.latency import LatencyModel
from tools.emulator.limits import Usage
from tools.emulator.oauth import OAuth
from tools.emulator.query import Cursors
from tools.emulator.soql import Query
from tools.emulator.soql_parser import parse
from tools.emulator.triggers import TriggerLimit
from tools.emulator.wire import Request

CLIENT_ID = "sfdest-emulator-client"
CLIENT_SECRET = "sfdest-emulator-secret"
USERNAME = "integration@sfdest.emulator"
PASSWORD = "emulator-password"
SECURITY_TOKEN = "EMUTOKEN"
REFRESH_TOKEN = "sfdest-emulator-refresh-token"
ORG_ID = to_18("00DHs00000EMU01")
_LOG_LIMIT = 10_000


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names; Authorization left out
    body: bytes


def rsa_key_pair() -> tuple[str, str]:
    """A fresh 2048-bit RSA key: (private PKCS#8 PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return private.decode(), public.decode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SalesforceEmulator/1.0"
    # Headers and body go out as two writes: without TCP_NODELAY, Nagle plus the client's delayed ACK
    # holds every keep-alive reply back ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _client_gone(self) -> bool:
        """Whether the client closed its end (readable with nothing to read: EOF); from then on the request
        no longer counts as open, though the emulator goes on with it as an org would."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            gone = bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            gone = True
        if gone:
            self._uncount()
        return gone

    def _uncount(self) -> None:
        if getattr(self, "_counted", False):
            self._counted = False
            self.server.emulator.closed()

    def _serve(self) -> None:
        emulator = self.server.emulator
        emulator.opened()
        self._counted = True
        try:
            self._answer(emulator)
        finally:
            self._uncount()

    def _answer(self, emulator: Emulator) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request.build(self.command, self.path, headers, self._body())
        request.gone = self._client_gone
        reply = dispatch(emulator, request)
        # The request stops counting as open before the write that completes its answer, so a client that
        # has its answer never sees it still counted.
        if reply.drop:
            self.close_connection = True
            self._uncount()
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        body = b"" if self.command == "HEAD" else reply.body
        if not body:
            self._uncount()
        self.end_headers()
        for n in range(len(body)) if reply.trickle else ():  # a slow org: a byte at a time, until the client leaves
            if n + 1 == len(body):
                self._uncount()
            self.wfile.write(body[n:n + 1])
            self.wfile.flush()
            if n + 1 < len(body) and not pause(reply.trickle, self._client_gone):
                self.close_connection = True
                return
        if body and not reply.trickle:
            self._uncount()
            self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator
    verbose = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stopped waiting (its deadline passed) is normal traffic, not an emulator failure.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class Emulator:
    """One emulated org: token host and instance at `base_url`, records in `org` (an adapters.memory Org).

    Credentials: add_client, add_user, add_refresh_token, register_jwt_key / new_jwt_key,
    revoke_refresh_token, deactivate_user, issue_token, expire_all_tokens / expire_token, concurrent_refresh_conflicts,
    login_domain, rotate_refresh_tokens. Faults: fail_next, drop_connection_next, clear_faults,
    trigger_limit, latency_ms. Counters: token_requests, api_calls,
    calls (by kind), bulk_calls, api_usage, set_api_usage, bulk_batches, set_bulk_batches, reset_counters,
    requests (logged requests),
    last_queries (parsed SOQL), open_requests and peak_open_requests (requests being served whose client is still
    connected, now and at most).
    Everything is thread-safe.
    """

    parse_soql = staticmethod(parse)

    def __init__(self, *, org: Org | None = None, host: str = "127.0.0.1", port: int = 0, api_limit: int = 100_000,
                 latency_ms: float = 0.0, bulk_polls_to_complete: int = 1, seed: int = 1234, defaults: bool = True,
                 verbose: bool = False, locale: str = equality.DEFAULT_LOCALE, latency: LatencyModel | None = None):
        self.locale = locale  # the API user's locale: it decides SOQL's case rules
        self.org = org or Org()
        # The emulator's own equality, not core's: for queries, unique fields and upsert keys.
        self.org.use_key(functools.partial(equality.key, locale=locale),
                         functools.partial(equality.upsert_key, locale=locale))
        self.host, self.port, self.verbose = host, port, verbose
        self.latency_ms = latency_ms
        # A per-call base plus per-record costs, and Bulk jobs that take time (None: latency_ms per call only).
        self.latency: LatencyModel | None = latency
        self.usage = Usage(api_limit)
        self.faults = FaultPlan()
        # Set (e.g. TriggerLimit(37)) to make collection writes of more records fail as a whole.
        self.trigger_limit: TriggerLimit | None = None
        self.cursors = Cursors()
        self.bulk = Jobs(bulk_polls_to_complete, seed)
        self._user_ids = IdFactory()
        self.oauth = OAuth(ORG_ID, lambda: self.base_url, self._new_user_id)
        self.requests: list[LoggedRequest] = []
        self.last_queries: list[Query] = []
        self._lock = threading.Lock()
        self._open = self._peak_open = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        if defaults:
            self.oauth.add_client(CLIENT_ID, CLIENT_SECRET, run_as=USERNAME)
            self.oauth.add_user(USERNAME, PASSWORD, SECURITY_TOKEN)
            self.oauth.users[USERNAME].user_id = self.org.owner_id
            self.oauth.add_refresh_token(REFRESH_TOKEN, CLIENT_ID, USERNAME)

    def _new_user_id(self) -> str:
        return self._user_ids.new_id("005")

    # lifecycle ----------------------------------------------------------------------------------
    def start(self) -> Emulator:
        server = _Server((self.host, self.port), _Handler)
        server.emulator, server.verbose = self, self.verbose
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sf-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # credentials ------------------------------------------------------------------------------------
    def add_client(self, client_id: str, secret: str | None, run_as: str | None = None) -> None:
        """Register a connected app; `secret=None` lets refresh run without one; `run_as` enables client_credentials."""
        self.oauth.add_client(client_id, secret, run_as)

    def add_user(self, username: str, password: str, security_token: str = "") -> None:
        self.oauth.add_user(username, password, security_token)

    def add_refresh_token(self, token: str, client_id: str, username: str | None = None) -> None:
        self.oauth.add_refresh_token(token, client_id, username)

    def register_jwt_key(self, client_id: str, public_pem: str) -> None:
        self.oauth.register_jwt_key(client_id, public_pem)

    def new_jwt_key(self, client_id: str = CLIENT_ID) -> str:
        """Make an RSA key pair, register its public half for `client_id`, return the private PEM."""
        private_pem, public_pem = rsa_key_pair()
        self.register_jwt_key(client_id, public_pem)
        return private_pem

    def revoke_refresh_token(self, token: str) -> None:
        self.oauth.revoke_refresh_token(token)

    def deactivate_user(self, username: str = USERNAME) -> None:
        """The user can no longer get tokens: every grant for it answers invalid_grant 'inactive user'."""
        self.oauth.set_active(username, False)

    def issue_token(self, client_id: str = CLIENT_ID, username: str = USERNAME) -> str:
        """An access token valid for data calls, without a token request."""
        return self.oauth.mint(client_id, username)

    def expire_all_tokens(self) -> None:
        self.oauth.expire_all()

    def expire_token(self, access_token: str) -> None:
        self.oauth.expire(access_token)

    def concurrent_refresh_conflicts(self, n: int) -> None:
        """The next n refresh_token grants answer 400 invalid_grant 'token request is already being processed'."""
        with self.oauth._lock:
            self.oauth.refresh_conflicts = n

    @property
    def login_domain(self) -> bool:
        return self.oauth.login_domain

    @login_domain.setter
    def login_domain(self, value: bool) -> None:
        """Answer token requests as login/test.salesforce.com would (client_credentials refused)."""
        self.oauth.login_domain = value

    @property
    def rotate_refresh_tokens(self) -> bool:
        return self.oauth.rotate_refresh_tokens

    @rotate_refresh_tokens.setter
    def rotate_refresh_tokens(self, value: bool) -> None:
        self.oauth.rotate_refresh_tokens = value

    def connection(self, grant: str = "oauth_refresh_token") -> dict[str, Any]:
        """A sfdest Connection (JSON form) for this emulator and its default credentials."""
        grants: dict[str, dict[str, str]] = {
            "oauth_refresh_token": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                    "refresh_token": REFRESH_TOKEN},
            "client_credentials": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            "username_password": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "username": USERNAME,
                                  "password": PASSWORD, "security_token": SECURITY_TOKEN},
        }
        return {"instance_url": self.base_url, grant: grants[grant]}

    # faults -----------------------------------------------------------------------------------------
    def fail_next(self, n: int, kind: str, *, seconds: float = 0.0, path: str | None = None,
                  method: str | None = None, call: str | None = None) -> None:
        """The next n matching data calls fail: kind unavailable (503), server_error (500), row_lock,
        concurrent_limit (403 REQUEST_LIMIT_EXCEEDED), api_disabled (403 API_DISABLED_FOR_ORG), delay (`seconds`,
        then served normally) or trickle (served, the body one byte every `seconds`, until the client closes its
        connection).

        Scope with `path` (a prefix: "/composite/sobjects" after the version, or a full "/services/..."
        path, which can also reach the token endpoint), `method` and `call` (a kind of `calls`).
        """
        self.faults.add(Fault(kind, n, seconds=seconds, path=path, method=method, call=call))

    def drop_connection_next(self, n: int, when: str = "before", *, path: str | None = None,
                             method: str | None = None, call: str | None = None) -> None:
        """Close the socket without answering, `before` the call is applied or `after` it is committed."""
        self.faults.add(Fault("drop", n, when=when, path=path, method=method, call=call))

    def clear_faults(self) -> None:
        self.faults.clear()

    # counters ---------------------------------------------------------------------------------------
    @property
    def token_requests(self) -> int:
        return self.oauth.token_requests

    @property
    def api_calls(self) -> int:
        return self.usage.api_calls

    @property
    def calls(self) -> Counter[str]:
        """Data calls by kind: query, query_more, describe, describe_global, sobject_create, sobject_get,
        sobject_update, sobject_upsert, sobject_delete, collection_create/update/upsert/delete/retrieve,
        bulk_create, bulk_upload, bulk_state, bulk_info, bulk_results, bulk_list, bulk_delete, limits."""
        return self.usage.calls

    @property
    def subrequests(self) -> Counter[str]:
        """Subrequests of Composite calls by kind (the Composite call itself is the one counted call)."""
        return self.usage.subrequests

    @property
    def bulk_calls(self) -> int:
        return sum(n for kind, n in self.usage.calls.items() if kind.startswith("bulk_"))

    def set_api_usage(self, used: int | None = None, limit: int | None = None) -> None:
        self.usage.set(used, limit)

    @property
    def api_usage(self) -> tuple[int, int]:
        return self.usage.used, self.usage.limit

    def set_bulk_batches(self, used: int | None = None, limit: int | None = None) -> None:
        """The daily Bulk API batch allowance (DailyBulkApiBatches): batches used so far, and the most a day."""
        self.usage.set_batches(used, limit)

    @property
    def bulk_batches(self) -> tuple[int, int]:
        """(batches used, the daily allowance); each closed ingest job is charged one per 10,000 records."""
        return self.usage.batches_used, self.usage.batches_limit

    def reset_counters(self) -> None:
        """Zero api_calls, calls, token_requests, the peak of open requests, and forget logged requests and
        queries (not the daily usage)."""
        self.usage.reset()
        with self._lock:
            self._peak_open = self._open
            self.oauth.token_requests = 0
            self.requests.clear()
            self.last_queries.clear()

    @property
    def open_requests(self) -> int:
        """Requests the emulator is serving now whose client is still connected."""
        with self._lock:
            return self._open

    @property
    def peak_open_requests(self) -> int:
        """The most requests served at once since the start or the last reset_counters()."""
        with self._lock:
            return self._peak_open

    def opened(self) -> None:
        with self._lock:
            self._open += 1
            self._peak_open = max(self._peak_open, self._open)

    def closed(self) -> None:
        with self._lock:
            self._open -= 1

    def log_request(self, req: Request) -> None:
        entry = LoggedRequest(req.method, req.path, req.query,
                              {k: v for k, v in req.headers.items() if k != "authorization"}, req.body)
        with self._lock:
            self.requests.append(entry)
            del self.requests[:-_LOG_LIMIT]

    def record_query(self, q: Query) -> None:
        with self._lock:
            self.last_queries.append(q)
            del self.last_queries[:-_LOG_LIMIT]
