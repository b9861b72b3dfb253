"""The request layer: bearer auth with replays on 401, error bodies, the limits header and the org's allowance,
bounded retries."""

from __future__ import annotations

import contextlib
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import IO, Any, TypeVar

import httpx

from adapters.salesforce.allowance import Allowance, CoolOff
from adapters.salesforce.auth import Grant, TokenManager
from adapters.salesforce.budget_gate import BudgetGate
from adapters.salesforce.limits_flight import LimitsFlight, Reading, Waiter, learn_once, read_once
from adapters.salesforce.retry import Attempts, RetryPolicy, Timing
from adapters.salesforce.shared_slots import release_shared_slot, take_shared_slot
from adapters.salesforce.thread_scope import scoped
from adapters.salesforce.watchdog import Watchdog
from core import outcomes
from core.codes import Code
from core.coordination import Lease, SharedSlots
from core.model import ApiUsage, ResultError
from core.paths import CONNECTION
from core.ports import BackendError, RecordRefusal
from core.salesforce_answers import said
from core.salesforce_codes import is_concurrent_limit, is_daily_limit, is_row_lock, status_code
from core.telemetry import NullTelemetry, Telemetry, org_label

DEFAULT_API_VERSION = "v62.0"
CALL_OPTIONS = "client=sfdest"
_VERSION = re.compile(r"v\d{2,3}\.\d", re.ASCII)
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
_Said = TypeVar("_Said", RecordRefusal, ResultError)
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# A 401 with this text is a token without the api scope (or a user without API access): no refresh helps.
_NOT_FOR_REST = "not valid for use with the rest api"


def api_version(value: str, default: str = DEFAULT_API_VERSION) -> str:
    """`vNN.N` from a connection's api_version (a bare `62.0` is accepted); INVALID_CONNECTION otherwise."""
    text = (value or default or "").strip()
    if re.fullmatch(r"\d{2,3}\.\d", text, re.ASCII):
        text = "v" + text
    if not _VERSION.fullmatch(text):
        raise BackendError(outcomes.error(Code.INVALID_CONNECTION, "connection.api_version must look like v62.0",
                                       paths=(CONNECTION.field("api_version"),)))
    return text


def parse_usage(header: str | None) -> ApiUsage | None:
    """`Sforce-Limit-Info: api-usage=N/M[; ...]` as ApiUsage."""
    match = _USAGE.search(header or "")
    return ApiUsage(int(match.group(1)), int(match.group(2))) if match else None


def _error_of(item: dict[str, Any], key: str, status: int) -> RecordRefusal:
    fields = item.get("fields") or ()
    return RecordRefusal(str(item.get(key) or Code.UNKNOWN_EXCEPTION), str(item.get("message") or ""),
                         tuple(str(f) for f in fields) if isinstance(fields, list) else (), status)


def merge_errors(items: list[Any], key: str, status: int = 0) -> RecordRefusal | None:
    """One refusal from a list of Salesforce errors, as Salesforce said it: the first code, every message and
    field."""
    errors = [_error_of(i, key, status) for i in items if isinstance(i, dict)]
    if not errors:
        return None
    if len(errors) == 1:
        return errors[0]
    fields = tuple(dict.fromkeys(f for e in errors for f in e.fields))
    return RecordRefusal(errors[0].code, "; ".join(e.message for e in errors if e.message), fields, status)


def refusal_of(status: int, body: Any) -> RecordRefusal:
    """Salesforce's error body (`[{"errorCode", "message", "fields"}]`) as it said it; a body without one is
    the HTTP status alone."""
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    refusal = merge_errors([i for i in items if isinstance(i, dict) and "errorCode" in i], "errorCode", status)
    return refusal or RecordRefusal(status_code(status), f"Salesforce answered HTTP {status}", (), status)


def parse_error(response: httpx.Response) -> ResultError:
    """A top-level Salesforce error body as the error it is to sfdest (core.salesforce_answers)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return said(refusal_of(response.status_code, body))


def is_lock_error(error: RecordRefusal | ResultError) -> bool:
    return is_row_lock(error.code, error.message)


def is_transient(status: int, error: RecordRefusal | ResultError) -> bool:
    """Whether repeating the same (idempotent) request may succeed (row locks aside: see Session._request)."""
    if status in (420, 500, 502, 503, 504) or error.code == Code.SERVER_UNAVAILABLE:
        return not is_lock_error(error)
    return is_concurrent_limit(error.code, error.message)


def call_kind(method: str, url: str) -> str:
    """The telemetry kind of a data API request (a fixed, small set: never the URL itself)."""
    path = url.split("?", 1)[0]
    if "/jobs/ingest" in path:
        return "bulk"
    if path.rstrip("/").endswith("/composite"):
        return "composite"
    if "/composite/sobjects" in path:
        tail = path.split("/composite/sobjects", 1)[1].strip("/")
        if method == "PATCH":
            return "upsert" if tail.count("/") == 1 else "update"
        return {"POST": "create", "DELETE": "delete"}.get(method, "query")
    if path.endswith("/describe") or "/describe/layouts" in path or path.rstrip("/").endswith("/sobjects"):
        return "describe"
    if "/query" in path:
        return "query"
    if path.endswith("/limits"):
        return "limits"
    return {"POST": "create", "PATCH": "update", "DELETE": "delete"}.get(method, "query")


def send_within(client: httpx.Client, request: httpx.Request, ends: float | None, clock: Callable[[], float],
                watchdog: Watchdog | None = None, sink: IO[bytes] | None = None) -> httpx.Response:
    """Send `request` and read its whole answer before `ends` (a `clock` instant; None: no limit), else give
    it up and close its connection. httpx's timeouts bound each read, not the whole answer: an org trickling
    its body would otherwise hold the call, and the org's connection, long past the call's deadline. The
    `watchdog` (on the time.monotonic() clock) shuts the connection at `ends` even while a read is waiting.
    With a `sink`, a 2xx body is written to it (emptied first) as it arrives, and the response holds none."""
    response = client.send(request, stream=True)
    into = sink if sink is not None and 200 <= response.status_code < 300 else None
    if into is not None:
        into.seek(0)
        into.truncate()
    if response.is_stream_consumed:  # a transport that answered in memory: the body is already here
        if into is None:
            return response
        into.write(response.content)
        return httpx.Response(response.status_code, headers=response.headers, request=request)
    cut = _cut_off(response, ends, clock, watchdog)
    try:
        raw = bytearray()
        for chunk in response.iter_raw():
            if into is not None:
                into.write(chunk)
            else:
                raw += chunk
            if ends is not None and clock() >= ends:
                raise httpx.ReadTimeout("Salesforce did not finish its answer within the call's time", request=request)
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(raw), request=request)
    except httpx.TransportError:
        if cut is not None and watchdog is not None and not watchdog.disarm(cut):
            raise httpx.ReadTimeout("Salesforce did not finish its answer within the call's time",
                                    request=request) from None
        raise
    finally:
        if cut is not None and watchdog is not None:
            watchdog.disarm(cut)
        response.close()


def _cut_off(response: httpx.Response, ends: float | None, clock: Callable[[], float],
             watchdog: Watchdog | None) -> int | None:
    """Arm the watchdog to shut the response's socket at `ends`."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if ends is None or watchdog is None or sock is None:
        return None

    def shut() -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    return watchdog.arm(time.monotonic() + max(ends - clock(), 0.0), shut)


class StreamedBody:
    """A request body produced while it is sent (a Bulk API CSV built row by row, chunked on the wire): it
    is sent at most once, so a request carrying it is never replayed (not after a 401 either)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self.started = False

    def __iter__(self) -> Iterator[bytes]:
        self.started = True
        yield from self._chunks


class OrgState:
    """What the backend shares across the stores of one org: its in-flight request slots (and, across
    replicas, `shared`: a SharedSlots semaphore, its key for this org and its cap)."""

    def __init__(self, max_in_flight: int, watchdog: Watchdog | None = None,
                 shared: tuple[SharedSlots, str, int] | None = None):
        self.slots = threading.BoundedSemaphore(max(1, max_in_flight))
        self.watchdog = watchdog  # cuts off answers that would outlast their call
        self.shared = shared
        self.limits = LimitsFlight()  # the org's GET /limits under way in this process


class Session:
    """Requests to one org's data API for one store: counted, authenticated, retried where safe."""

    def __init__(self, client: httpx.Client, base_url: str, version: str, tokens: TokenManager, grant: Grant,
                 org: OrgState, timing: Timing, policy: RetryPolicy, deadline: float | None,
                 request_timeout_seconds: float = 30.0, min_write_seconds: float = 0.5,
                 telemetry: Telemetry | None = None, allowance: Allowance | None = None,
                 budget: BudgetGate | None = None):
        self.base_url, self.version = base_url, version
        self.telemetry = telemetry or NullTelemetry()
        self._org_label = org_label(base_url)
        self.data_url = f"{base_url}/services/data/{version}"
        self._client, self._tokens, self._grant, self._org = client, tokens, grant, org
        self.timing, self.policy, self.deadline = timing, policy, deadline
        self._timeout, self._min_write = request_timeout_seconds, min_write_seconds
        self._allowance = allowance or CoolOff(timing.clock)
        self.budget = budget or BudgetGate(None, base_url, self._org_label, self.telemetry)
        self._lock = threading.Lock()
        self._calls = 0
        self._describes = 0
        self._usage: ApiUsage | None = None
        self._tokens_sent: set[str] = set()
        self.write_headers: dict[str, str] = {}  # an action's write options, sent with every non-GET request
        self.stop: Callable[[], bool] | None = None  # True once the call is cancelled or the server is stopping
        self.limits_seen: Callable[[Any], None] | None = None  # receives each /limits body
        self._gates = threading.local()

    @contextlib.contextmanager
    def gated(self, gate: Callable[[], None] | None) -> Iterator[None]:
        """Requests this thread sends meanwhile call `gate()` once they hold their connection slots, just before
        going out; it raises BackendError to keep one from being sent (core.write_guard)."""
        with scoped(self._gates, "gate", gate):
            yield

    @property
    def calls(self) -> int:
        return self._calls

    def rotated_refresh_token(self) -> str:
        return self._tokens.rotated(self._grant)

    @property
    def describe_calls(self) -> int:
        return self._describes

    @property
    def usage(self) -> ApiUsage | None:
        """Usage as this session's own responses reported it (never another tenant's)."""
        return self._usage

    @property
    def org_usage(self) -> ApiUsage | None:
        """The org's usage as the latest answer reported it: this session's, else any earlier session's."""
        return self._usage or self._allowance.last_usage

    def scrub(self, error: _Said) -> _Said:
        """The error with every secret this session holds or sent masked (an echoing body cannot leak them)."""
        message = self._grant.scrub(error.message, *self._tokens_sent)
        return error if message == error.message else replace(error, message=message)

    def follow(self, path: str) -> str:
        """The URL of a server-given path (nextRecordsUrl); only paths under /services/data/ of this org."""
        if not isinstance(path, str) or not path.startswith("/services/data/") or any(
                ch in path for ch in ("\\", "@", "#")) or "//" in path or ".." in path:
            raise BackendError(outcomes.error(
                Code.UNKNOWN_EXCEPTION, "Salesforce sent a next-page URL outside its data API"))
        return self.base_url + path

    def _count(self, kind: str) -> None:
        with self._lock:
            self._calls += 1
            self._describes += kind == "describe"
        self.telemetry.salesforce_call(kind)

    def _check_stop(self) -> None:
        if self.stop is not None and self.stop():
            raise BackendError(outcomes.error(
                Code.CANCELLED, "the call was cancelled, or the server is stopping, before "
                "this Salesforce request; nothing was sent"))

    def _send(self, method: str, url: str, token: str, body: Any, content_type: str = "application/json",
              accept: str = "application/json", floor: float = 0.0, sink: IO[bytes] | None = None) -> httpx.Response:
        remaining = self.timing.remaining(self.deadline)
        if remaining is not None and not self._org.slots.acquire(timeout=max(remaining, 0)):
            raise BackendError(outcomes.error(Code.DEADLINE_EXCEEDED, "the call's deadline passed while waiting for a "
                                           "free connection to the org; nothing was sent"))
        if remaining is None:
            self._org.slots.acquire()
        shared = None
        try:
            shared = self._shared_slot()
            self._check_stop()  # the wait for a slot may have outlasted the caller, or the call's time
            gate = getattr(self._gates, "gate", None)
            if gate is not None:
                gate()
            remaining = self.timing.remaining(self.deadline)
            if remaining is not None and remaining <= floor:
                raise BackendError(outcomes.error(Code.DEADLINE_EXCEEDED, "the call's deadline left no time for this "
                                               "Salesforce request once a connection to the org was free; nothing "
                                               "was sent"))
            timeout = self._timeout if remaining is None else max(min(self._timeout, remaining), 0.001)
            headers = {"Authorization": f"Bearer {token}", "Accept": accept, "Sforce-Call-Options": CALL_OPTIONS,
                       **(self.write_headers if method != "GET" else {})}
            content = None
            if body is not None:
                headers["Content-Type"] = content_type
                # bytes go as they are (a Bulk API CSV upload); anything else is sent as JSON
                content = body if isinstance(body, bytes | StreamedBody) else json.dumps(
                    body, allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode()
            request = self._client.build_request(method, url, headers=headers, content=content, timeout=timeout)
            self.budget.spend()  # reserved before it is sent (raises, sending nothing, past the budget)
            try:
                response = send_within(self._client, request, None if remaining is None else
                                       self.timing.clock() + timeout, self.timing.clock, self._org.watchdog, sink)
            except _NOT_SENT:
                self.budget.unsent()
                raise
            except (httpx.TransportError, Exception):  # Exception: a StreamedBody's producer failed mid-upload
                self.budget.sent(None)
                raise
            self.budget.sent(parse_usage(response.headers.get("Sforce-Limit-Info")))
            return response
        finally:
            if shared is not None:
                release_shared_slot(self._org.shared, shared)
            self._org.slots.release()

    def _shared_slot(self) -> Lease | None:
        """A slot of the org's cap across replicas, waited for until the deadline; None when there is no cap."""
        if self._org.shared is None:
            return None
        return take_shared_slot(self._org.shared, self._timeout, self.deadline, self.timing, self._check_stop)

    def _floor(self, idempotent: bool) -> float:
        """The least time left in which a request may start: a write needs time to be answered, or its
        outcome would be unknown."""
        return 0.0 if idempotent else self._min_write

    def _deadline_check(self, idempotent: bool, last: ResultError | None) -> None:
        remaining = self.timing.remaining(self.deadline)
        if remaining is None:
            return
        if remaining <= self._floor(idempotent):
            if last is not None:
                raise BackendError(last)
            raise BackendError(outcomes.error(
                Code.DEADLINE_EXCEEDED, "the call's deadline left no time for this Salesforce "
                "request; nothing was sent"))

    def request(self, method: str, url: str, body: Any = None, idempotent: bool = True,
                content_type: str = "application/json", accept: str = "application/json",
                attempts: Attempts | None = None, sink: IO[bytes] | None = None) -> httpx.Response:
        """Send one logical request; returns a 2xx or 300 response, raises BackendError (secrets masked).

        `attempts` is the budget of the logical write this request belongs to (shared with the row-lock
        resends of the same records); without one, the request gets its own `policy.max_attempts`.
        With a `sink` (a large download: a Bulk result CSV), the 2xx answer's body goes there, not in memory.
        """
        if self.budget.needs_limits():
            self.learn_limits()
        try:
            return self._request(method, url, body, idempotent, content_type, accept,
                                 attempts or Attempts(self.policy.max_attempts), retry_locks=attempts is None,
                                 sink=sink)
        except BackendError as exc:
            raise BackendError(self.scrub(exc.error)) from None

    def _request(self, method: str, url: str, body: Any, idempotent: bool, content_type: str,
                 accept: str, attempts: Attempts, retry_locks: bool, sink: IO[bytes] | None = None) -> httpx.Response:
        """Send one logical request; returns a 2xx or 300 response, raises BackendError otherwise.

        Only idempotent requests are repeated after a failure that may have reached Salesforce; a
        non-idempotent one (a collection create) is repeated only when it certainly was not sent.
        Row locks are retried here only for a request of its own budget: a write's owner (the store)
        resends just the locked rows, in the budget it passed.
        """
        replays = 0
        last: ResultError | None = None
        kind = call_kind(method, url)
        while True:
            if isinstance(body, StreamedBody) and body.started:  # its rows are gone: it cannot be sent again
                raise BackendError(last or outcomes.error(Code.UNKNOWN_EXCEPTION,
                                                          "a streamed upload cannot be sent again"))
            self._check_stop()
            self._deadline_check(idempotent, last)
            self._admit()
            token = self._tokens.token(self._grant, self.deadline)
            self._tokens_sent.add(token)
            attempts.spend()
            lock = False
            try:
                response = self._send(method, url, token, body, content_type, accept, self._floor(idempotent), sink)
            except _NOT_SENT as exc:
                last = outcomes.error(Code.CONNECTION_ERROR if isinstance(exc, httpx.ConnectError) else Code.TIMEOUT,
                                      f"could not connect to Salesforce ({type(exc).__name__}); nothing was sent")
            except httpx.TransportError as exc:
                self._count(kind)
                if not idempotent:
                    raise BackendError(outcomes.error(
                        Code.OUTCOME_UNKNOWN, f"the connection failed after the request was sent "
                        f"({type(exc).__name__}); Salesforce may have written these records, so they were not sent "
                        "again: check before retrying")) from None
                attempts.maybe_delivered = True
                last = outcomes.error(
                    Code.TIMEOUT if isinstance(exc, httpx.TimeoutException) else Code.CONNECTION_ERROR,
                    f"Salesforce did not answer ({type(exc).__name__})")
            else:
                self._count(kind)
                usage = self._note_usage(response)
                status = response.status_code
                if status == 401:
                    attempts.refund()  # refused before any work: the replay is not a retry
                    last = self._refused_session(response, token, replays)
                    replays += 1
                    if replays > 1 and not self.timing.backoff(replays - 1, self.deadline, self.policy.base_delay,
                                                               self.policy.max_delay):
                        raise BackendError(last)
                    continue
                if 200 <= status < 300 or status == 300:
                    self._allowance.observe(usage)
                    return response
                last = parse_error(response)
                if is_daily_limit(last.code, last.message):
                    raise BackendError(replace(last, retry_after_seconds=self._allowance.refused(usage)))
                if status < 500:
                    self._allowance.observe(usage)
                unknown = status in (500, 504) and last.code != Code.SERVER_UNAVAILABLE
                if not idempotent:
                    if unknown:
                        raise BackendError(outcomes.error(
                            Code.OUTCOME_UNKNOWN, f"Salesforce failed while processing the request ({last.code}: "
                            f"{last.message[:200]}); it may have written these records, so they were not sent "
                            "again: check before retrying"))
                    raise BackendError(last)
                lock = is_lock_error(last)
                if not (is_transient(status, last) or lock and retry_locks):
                    raise BackendError(last)
                attempts.maybe_delivered = attempts.maybe_delivered or unknown
            if attempts.left <= 0:
                raise BackendError(last)
            if not (self.timing.lock_backoff(attempts.used, self.deadline, self.policy) if lock else
                    self.timing.backoff(attempts.used, self.deadline, self.policy.base_delay, self.policy.max_delay)):
                raise BackendError(last)
            self.telemetry.salesforce_retry(kind, last.code)

    def learn_limits(self) -> None:
        """The org's daily allowance from /limits, for a governor that knows nothing of it yet: one call per org
        for every session and replica (the others wait for its answer)."""
        learn_once(self._org.limits, self.budget, self._ask_limits,
                   Waiter(self.timing, self.deadline, self._timeout, self._check_stop), self._timeout)

    def read_limits(self, reading: Reading) -> None:
        """The org's allowances from /limits until `reading` (the Bulk API batch allowance, which `limits_seen`
        stores) is settled: one request of the org's at a time in this process and across replicas, shared with
        the governor's (learn_limits; the others wait for its answer). A request this session sends is its /limits
        request for the governor too."""
        def ask() -> None:
            self.budget.learning = True
            self._ask_limits()

        read_once(self._org.limits, reading, ask, Waiter(self.timing, self.deadline, self._timeout, self._check_stop),
                  self._timeout)

    def _ask_limits(self) -> None:
        try:
            _, body = self.json("GET", f"{self.data_url}/limits")
        except BackendError:
            return  # the next answer's Sforce-Limit-Info will tell
        daily = body.get("DailyApiRequests") if isinstance(body, dict) else None
        if isinstance(daily, dict) and isinstance(daily.get("Max"), int) and isinstance(daily.get("Remaining"), int):
            self.budget.observe(ApiUsage(daily["Max"] - daily["Remaining"], daily["Max"]))
        if self.limits_seen is not None:
            self.limits_seen(body)

    def _admit(self) -> None:
        """Refuse, sending nothing, while the org's daily API allowance is spent."""
        wait = self._allowance.admit()
        if wait > 0:
            raise BackendError(outcomes.error(
                Code.REQUEST_LIMIT_EXCEEDED, f"the org's daily API request limit was reached (TotalRequests Limit "
                f"exceeded); sfdest sends nothing to it for {math.ceil(wait)} s more", retry_after_seconds=wait))

    def _note_usage(self, response: httpx.Response) -> ApiUsage | None:
        usage = parse_usage(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            with self._lock:
                if self._usage is None or usage.used >= self._usage.used:
                    self._usage = usage
            self.telemetry.api_usage(self._org_label, usage.used, usage.limit)
        return usage

    def _refused_session(self, response: httpx.Response, token: str, replays: int) -> ResultError:
        """After a 401: forget the token and return the error to answer if no replay is left; raises when a
        replay cannot help (the session is refused for good, or every replay of the call's budget is spent)."""
        self._tokens.invalidate(self._grant, token)
        error = parse_error(response)
        said = self._grant.scrub(error.message).replace(token, "***")[:200]
        if replays and _NOT_FOR_REST in error.message.lower():
            raise BackendError(outcomes.error(
                Code.AUTH_FAILED, f"Salesforce refused a freshly issued access token ({error.code}: {said}); check "
                "that the connected app has the api scope and the user may use the REST API"))
        retry = outcomes.error(Code.INVALID_SESSION_ID, f"Salesforce refused {replays + 1} access tokens in a row, the "
                            f"last freshly issued ({error.code}: {said}); the session may have ended meanwhile: "
                            "retry later")
        if replays >= self.policy.auth_replays:
            raise BackendError(retry)
        return retry

    def json(self, method: str, url: str, body: Any = None, idempotent: bool = True,
             attempts: Attempts | None = None) -> tuple[int, Any]:
        response = self.request(method, url, body, idempotent, attempts=attempts)
        if response.status_code == 204 or not response.content:
            return response.status_code, None
        try:
            return response.status_code, response.json()
        except ValueError:
            code = Code.OUTCOME_UNKNOWN if not idempotent else Code.UNKNOWN_EXCEPTION
            raise BackendError(outcomes.error(code, f"Salesforce answered HTTP {response.status_code} with a body that "
                                           "is not JSON")) from None
