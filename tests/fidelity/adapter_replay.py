"""Replay one recorded answer to the adapter: adapters/salesforce over httpx.MockTransport, and what sfdest
makes of the answer (per-record status and outcome, or the error of a whole call)."""

from __future__ import annotations

import csv
import io
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.memory.catalog import STANDARD_CATALOG, describe_json
from core.credentials import ClientCredentials, JwtBearer, OAuthRefreshToken, UsernamePassword
from core.describe import ObjectDescribe
from core.execution import Write, success
from core.model import Connection, EventResult
from core.names import to_18
from core.outcomes import failure
from core.ports import BackendError, FieldIn, Lookup, WriteOutcome
from core.preparation import Prepared
from core.salesforce_answers import read
from tests.adapters.salesforce.fakes import INSTANCE, FakeClock, backend, respond
from tests.fidelity.catalogue import Exchange, fill
from tools.emulator.server import rsa_key_pair

DATA = "/services/data/v62.0"
TOKEN_PATH = "/services/oauth2/token"
JOB_ID = "750xx0000000001AAA"
ISSUED = "00DHs0000012345!AQ0001"


def catalog_object(name: str) -> ObjectDescribe | None:
    return next((o for o in STANDARD_CATALOG.values() if o.name.lower() == name.lower()), None)


def fake_ids(ex: Exchange) -> dict[str, str]:
    """A well-formed id for every record the exchange's setup names ({{account_1}} -> an Account id)."""
    names: dict[str, str] = {}
    for n, item in enumerate(ex.setup.get("seed", [])):
        if "ref" in item:
            obj = catalog_object(item["object"])
            names[item["ref"]] = to_18(f"{obj.key_prefix if obj else '001'}Hs0000{n:06d}")
    for ref, id15 in ex.setup.get("unknown_ids", {}).items():
        names[ref] = to_18(id15)
    return names


@dataclass
class Script:
    """The org's side: token grants, describes, and the recorded answer where the exchange belongs."""

    ex: Exchange
    token: httpx.Response | None = None
    routes: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, path prefix, answer or callable)
    requests: list[httpx.Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        path = request.url.path
        if path == TOKEN_PATH:
            return self.token or respond(200, {"access_token": ISSUED, "instance_url": INSTANCE, "token_type": "Bearer",
                                               "id": f"{INSTANCE}/id/00DHs0000012345MAA/005Hs00000AbCdEIAV"})
        for method, prefix, answer in self.routes:
            if request.method == method and path.startswith(prefix):
                return answer(request) if callable(answer) else answer
        if request.method == "GET" and path.endswith("/describe"):
            obj = catalog_object(path.split("/")[-2])
            if obj is not None:
                return respond(200, describe_json(obj, "62.0"))
        return respond(404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])


def recorded(ex: Exchange) -> httpx.Response:
    r = ex.response
    headers = {k: v for k, v in r.get("headers", {}).items() if v not in ("present", "absent")}
    if "Sforce-Limit-Info" in r.get("headers", {}) and r["headers"]["Sforce-Limit-Info"] == "present":
        headers["Sforce-Limit-Info"] = "api-usage=10/15000"
    if "json" in r:
        return httpx.Response(r["status"], content=json.dumps(r["json"]).encode(), headers=headers)
    if "csv" in r:
        return httpx.Response(r["status"], content=r["csv"].encode(), headers=headers)
    return httpx.Response(r["status"], headers=headers)


@dataclass(frozen=True)
class Seen:
    """What the adapter made of a call: per-record results, or the error of the whole call, and more."""

    results: list[EventResult] = field(default_factory=list)
    error: EventResult | None = None
    records: int = 0
    followed_next: bool = False
    bearer: str = ""
    describe: Any = None


def _event(n: int) -> Prepared:
    return Prepared(index=n, event_id=f"e{n}")


def per_event(op: str, outcomes: list[WriteOutcome], targets: list[str], object_name: str,
              key_field: str = "") -> list[EventResult]:
    """Each record's result as core reports it to the host (what Salesforce said, read by core)."""
    out = []
    for n, (outcome, target) in enumerate(zip(outcomes, targets, strict=True)):
        outcome = read(outcome, op, object_name, key_field)
        if outcome.success:
            out.append(success(Write(op, _event(n), target), outcome))
        else:
            out.append(failure(f"e{n}", outcome.error, outcome.matched_ids, outcome.id))
    return out


def _call_error(fn: Any) -> tuple[Any, EventResult | None]:
    """fn's value, or the host's view of the error that failed the whole call."""
    try:
        return fn(), None
    except BackendError as exc:
        return None, failure("call", exc.error)


def _connection(spec: dict[str, Any]) -> Connection:
    grant = spec.get("grant", "refresh_token")
    instance = spec.get("instance_url", INSTANCE)
    creds: Any
    if grant == "password":
        creds = UsernamePassword("3MVG9client", "client-secret", "api@example.com", "password", "TOKEN")
    elif grant == "client_credentials":
        creds = ClientCredentials("3MVG9client", "client-secret")
    elif grant == "jwt_bearer":
        creds = JwtBearer("3MVG9client", "api@example.com", rsa_key_pair()[0])
    else:
        creds = OAuthRefreshToken("3MVG9client", "client-secret", "refresh-token")
    return Connection(instance, credentials=creds)


def _token_face(ex: Exchange, spec: dict[str, Any]) -> Seen:
    script = Script(ex, token=recorded(ex))
    store = backend(None, FakeClock(), handler=script).open(_connection(spec))
    _, error = _call_error(lambda: store.describe("Lead"))
    described = [r for r in script.requests if r.url.path.endswith("/describe")]
    bearer = described[0].headers.get("Authorization", "") if described else ""
    return Seen(error=error, bearer=bearer)


def _call_face(ex: Exchange, spec: dict[str, Any]) -> Seen:
    script = Script(ex)
    script.routes.append(("GET", f"{DATA}/sobjects/{spec['object']}/describe", recorded(ex)))
    store = backend(None, FakeClock(), handler=script).open(_connection({}))
    _, error = _call_error(lambda: store.describe(spec["object"]))
    return Seen(error=error)


def _find_face(ex: Exchange, spec: dict[str, Any]) -> Seen:
    script = Script(ex)
    answer = recorded(ex)
    next_url = (ex.response.get("json") or {}).get("nextRecordsUrl") if isinstance(ex.response.get("json"), dict) \
        else None
    if next_url:
        script.routes.append(("GET", next_url, respond(200, {"totalSize": 1, "done": True, "records": []})))
    script.routes.append(("GET", f"{DATA}/query", answer))
    store = backend(None, FakeClock(), handler=script).open(_connection({}))
    where = tuple((FieldIn(name, tuple(values)),) for name, values in spec["where"].items())
    found, error = _call_error(lambda: store.find(Lookup(spec["object"], ("Id",), where)))
    followed = bool(next_url) and any(r.url.path == next_url for r in script.requests)
    return Seen(error=error, records=len(found or []), followed_next=followed)


def _write_payload(ex: Exchange, spec: dict[str, Any], names: dict[str, str]) -> tuple[list[Any], list[str]]:
    op = spec["op"]
    if op == "delete":
        ids = fill(spec["ids"], names)
        return ids, ids
    records = [{k: v for k, v in r.items() if k != "attributes"} for r in fill(ex.request["json"]["records"], names)]
    if op == "update":
        pairs = [(str(r.pop(next(k for k in r if k.lower() == "id"))), r) for r in records]
        return pairs, [p[0] for p in pairs]
    return records, [""] * len(records)


def _write_face(ex: Exchange, spec: dict[str, Any]) -> Seen:
    names = fake_ids(ex)
    script = Script(ex)
    answers = [recorded(ex)]
    if spec.get("race"):  # the resend of a lost race updates the record the winner created
        answers.append(respond(200, [{"id": to_18("a0SHs0000000001"), "success": True, "errors": [], "created": False}]))
    method = {"create": "POST", "update": "PATCH", "upsert": "PATCH", "delete": "DELETE"}[spec["op"]]

    def serve(request: httpx.Request) -> httpx.Response:
        with script.lock:
            return answers.pop(0) if len(answers) > 1 else answers[0]

    script.routes.append((method, f"{DATA}/composite/sobjects", serve))
    store = backend(None, FakeClock(), handler=script).open(_connection({}))
    payload, targets = _write_payload(ex, spec, names)
    obj = spec["object"]
    calls = {"create": lambda: store.create(obj, payload), "update": lambda: store.update(obj, payload),
             "upsert": lambda: store.upsert(obj, spec["external_id"], payload),
             "delete": lambda: store.delete(obj, payload)}
    outcomes, error = _call_error(calls[spec["op"]])
    return Seen(results=per_event(spec["op"], outcomes, targets, obj, spec.get("external_id", ""))
                if outcomes is not None else [], error=error)


def _bulk_face(ex: Exchange, spec: dict[str, Any]) -> Seen:
    script = Script(ex)
    uploaded: list[str] = []
    state = spec.get("state", "JobComplete")
    kind = spec["result"]
    rows_failed = len(list(csv.reader(io.StringIO(ex.response["csv"])))) - 1 if kind == "failedResults" else 0
    records = spec["records"]
    info = {"id": JOB_ID, "state": state,
            "numberRecordsProcessed": spec.get("processed", len(records) if state == "JobComplete" else 0),
            "numberRecordsFailed": spec.get("failed", rows_failed)}

    def upload(request: httpx.Request) -> httpx.Response:
        uploaded.append(request.content.decode())
        return httpx.Response(201)

    def results(request: httpx.Request) -> httpx.Response:
        asked = request.url.path.rstrip("/").rsplit("/", 1)[1]
        if asked == kind:
            return recorded(ex)
        if asked in spec.get("other_results", {}):
            return httpx.Response(200, content=spec["other_results"][asked].encode(), headers={"Content-Type": "text/csv"})
        header = uploaded[0].split("\n", 1)[0] if uploaded else ""
        lead = {"successfulResults": '"sf__Id","sf__Created",', "failedResults": '"sf__Id","sf__Error",'}.get(asked, "")
        return httpx.Response(200, content=f"{lead}{header}\n".encode(), headers={"Content-Type": "text/csv"})

    jobs = f"{DATA}/jobs/ingest"
    script.routes += [("POST", jobs, respond(200, {"id": JOB_ID, "state": "Open"})),
                      ("PUT", f"{jobs}/{JOB_ID}/batches", upload),
                      ("PATCH", f"{jobs}/{JOB_ID}", lambda r: respond(200, {"id": JOB_ID, **json.loads(r.content)})),
                      ("GET", f"{jobs}/{JOB_ID}/", results),
                      ("GET", f"{jobs}/{JOB_ID}", respond(200, info))]
    store = backend(None, FakeClock(), handler=script, write_path="bulk").open(_connection({}))
    obj, op = spec["object"], spec["op"]
    calls = {"create": lambda: store.create(obj, records),
             "upsert": lambda: store.upsert(obj, spec["external_id"], records)}
    outcomes, error = _call_error(calls[op])
    targets = [""] * len(records)
    return Seen(results=per_event(op, outcomes, targets, obj, spec.get("external_id", ""))
                if outcomes is not None else [], error=error)


def _describe_face(ex: Exchange, spec: dict[str, Any]) -> Seen:
    script = Script(ex)
    script.routes.append(("GET", f"{DATA}/sobjects/{spec['object']}/describe", recorded(ex)))
    store = backend(None, FakeClock(), handler=script).open(_connection({}))
    described, error = _call_error(lambda: store.describe(spec["object"]))
    return Seen(error=error, describe=described)


FACES = {"token": _token_face, "call": _call_face, "find": _find_face, "write": _write_face, "bulk": _bulk_face,
         "describe": _describe_face}


def replay(ex: Exchange) -> Seen:
    assert ex.adapter is not None
    return FACES[ex.adapter["face"]](ex, ex.adapter)
