"""A scripted Salesforce behind httpx.MockTransport (reference-shaped bodies), a fake clock, and helpers."""

from __future__ import annotations

import itertools
import json
import random
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from adapters.memory.catalog import STANDARD_CATALOG, describe_json
from adapters.memory.describe_json import field_json
from adapters.salesforce import SalesforceBackend
from core.credentials import OAuthRefreshToken
from core.describe import FieldDescribe
from core.model import Connection

INSTANCE = "https://acme.my.salesforce.com"
DATA = "/services/data/v62.0"
TOKEN_PATH = "/services/oauth2/token"
SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
DAILY_LIMIT = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
CONCURRENT_LIMIT = [{"message": "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
                     "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
UNAVAILABLE = [{"message": "Server is unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
NOT_FOUND = [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
# Valid 18-character Lead ids (prefix 00Q, correct checksums).
LEAD_IDS = ["00QHs00000LmNoPMAV", "00QHs00000LmNoQMAV", "00QHs00000LmNoRMAV", "00QHs00000LmNoSMAV"]


def field(name: str, type_: str = "string", **flags: Any) -> dict[str, Any]:
    body = {"name": name, "label": name, "type": type_, "length": 255 if type_ == "string" else 0,
            "nillable": True, "createable": True, "updateable": True, "filterable": True, "sortable": True,
            "groupable": True, "defaultedOnCreate": False, "externalId": False, "idLookup": False, "unique": False,
            "caseSensitive": False, "custom": name.endswith("__c"), "calculated": False, "autoNumber": False,
            "picklistValues": [], "referenceTo": [], "relationshipName": None, "soapType": "xsd:string",
            "restrictedPicklist": False, "nameField": False}
    body.update(flags)
    return body


# The real Lead describe (adapters/memory/describe/Lead.json, from a recorded org) plus the tests' own external id.
EXT_FIELD = field_json(FieldDescribe("Ext__c", "string", "Ext", 255, external_id=True, id_lookup=True, unique=True))
LEAD_DESCRIBE = describe_json(STANDARD_CATALOG["Lead"], DATA.rsplit("/v", 1)[1])
LEAD_DESCRIBE["fields"] = [*LEAD_DESCRIBE["fields"], EXT_FIELD]


def respond(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, content=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json;charset=UTF-8", **(headers or {})})


Handler = Callable[[httpx.Request], httpx.Response]


class FakeSalesforce:
    """Routes by (method, path); scripted responses are served in order, the last one repeating.

    Data requests need a bearer token the fake issued (else the reference's 401). Every data response
    carries `Sforce-Limit-Info`. Every request is recorded.
    """

    def __init__(self, usage_limit: int = 15000):
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], list[Handler | httpx.Response]] = {}
        self.valid_tokens: set[str] = set()
        self.token_script: list[Handler | httpx.Response] = []
        self.issued_for = INSTANCE  # the instance_url token responses name
        self._serial = itertools.count(1)
        self._used = itertools.count(1)
        self.usage_limit = usage_limit
        self.lock = threading.Lock()
        self.on("GET", f"{DATA}/sobjects/Lead/describe", respond(200, LEAD_DESCRIBE))

    # Scripting ------------------------------------------------------------------------------------
    def on(self, method: str, path: str, *responses: Handler | httpx.Response) -> FakeSalesforce:
        self.routes[(method, path)] = list(responses)
        return self

    def issue_token(self, request: httpx.Request | None = None) -> httpx.Response:
        token = f"00DHs0000012345!AQ{next(self._serial):04d}"
        self.valid_tokens.add(token)
        return respond(200, {"access_token": token, "signature": "c2ln", "scope": "api",
                             "instance_url": self.issued_for, "id": "https://login.salesforce.com/id/00DHs0000012345MAA/"
                             "005Hs00000AbCdEIAV", "token_type": "Bearer", "issued_at": "1718000000000"})

    # Inspection -----------------------------------------------------------------------------------
    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == TOKEN_PATH]

    @property
    def data_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.startswith("/services/data/")]

    def requests_to(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    # Serving --------------------------------------------------------------------------------------
    def _next(self, script: list[Handler | httpx.Response], request: httpx.Request) -> httpx.Response:
        with self.lock:
            item = script.pop(0) if len(script) > 1 else script[0]
        return item(request) if callable(item) else item

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        if request.url.path == TOKEN_PATH:
            if self.token_script:
                return self._next(self.token_script, request)
            return self.issue_token(request)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.valid_tokens:
            return respond(401, SESSION_EXPIRED, {"WWW-Authenticate": "Token"})
        script = self.routes.get((request.method, request.url.path))
        if script is None:
            response = respond(404, NOT_FOUND)
        else:
            response = self._next(script, request)
        response.headers["Sforce-Limit-Info"] = f"api-usage={next(self._used)}/{self.usage_limit}"
        return response


class FakeClock:
    """monotonic/sleep pair: sleeping advances time instantly, and every sleep is recorded."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def form_of(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def soql_of(request: httpx.Request) -> str:
    return parse_qs(urlsplit(str(request.url)).query)["q"][0]


def connection(instance: str = INSTANCE, refresh: str = "REFRESH-TOKEN-value",
               secret: str = "CLIENT-SECRET-value", access: str = "", **kw: Any) -> Connection:  # noqa: S107
    return Connection(instance, credentials=OAuthRefreshToken("3MVG9client", secret, refresh, access), **kw)


def backend(org: FakeSalesforce, clock: FakeClock | None = None, handler: Handler | None = None,
            **kw: Any) -> SalesforceBackend:
    """A backend whose HTTP goes to `handler` (default: the fake org), with a fake clock and seeded jitter."""
    clock = clock or FakeClock()
    kw.setdefault("use_composite", False)  # the fake org answers sObject Collections, not Composite
    return SalesforceBackend(transport=httpx.MockTransport(handler or org), clock=clock, sleep=clock.sleep,
                             rng=random.Random(7), **kw)


def query_page(records: list[dict[str, Any]], total: int, next_url: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {"totalSize": total, "done": next_url is None, "records": records}
    if next_url:
        page["nextRecordsUrl"] = next_url
    return page


def lead_record(rid: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Lead", "url": f"{DATA}/sobjects/Lead/{rid}"}, "Id": rid, **fields}
