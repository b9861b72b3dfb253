"""Replay one recorded exchange against the emulator: prepare the org as the exchange says, send its request."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from core.model import ResultError
from core.names import to_18
from tests.fidelity.catalogue import Exchange, fill
from tools.emulator import server
from tools.emulator.server import Emulator


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def _names(emu: Emulator) -> dict[str, str]:
    return {"client_id": server.CLIENT_ID, "client_secret": server.CLIENT_SECRET,
            "refresh_token": server.REFRESH_TOKEN, "username": server.USERNAME,
            "password": server.PASSWORD + server.SECURITY_TOKEN, "instance_url": emu.base_url}


def _seed(emu: Emulator, setup: dict[str, Any], names: dict[str, str]) -> None:
    for item in setup.get("seed", []):
        for n in range(int(item.get("count", 1))):
            fields = fill(item.get("fields", {}), {**names, "n": str(n)})
            rid = emu.org.seed(item["object"], fields)
            if "ref" in item:
                names[item["ref"] if "count" not in item else f"{item['ref']}_{n}"] = rid
    for ref in setup.get("delete", []):
        obj = emu.org.object_of_id(names[ref])
        assert obj and emu.org.delete(obj, names[ref]).success, f"setup could not delete {ref}"
    for ref, id15 in setup.get("unknown_ids", {}).items():
        names[ref] = to_18(id15)  # a well-formed id of no record


def _org_faults(emu: Emulator, setup: dict[str, Any], names: dict[str, str]) -> None:
    """Per-record refusals Salesforce's own rules would not produce here (validation rules, duplicate rules)."""
    for f in setup.get("org_faults", []):
        error = ResultError(f["code"], fill(f["message"], names), tuple(f.get("fields", ())))
        emu.org.faults.add(error, value=f.get("value"), record_id=names.get(f.get("ref", ""), ""), times=None)


def _faults(emu: Emulator, setup: dict[str, Any]) -> None:
    if "fault" in setup:
        f = setup["fault"]
        emu.fail_next(int(f.get("times", 1)), f["kind"], path=f.get("path"), method=f.get("method"))
    if "api_usage" in setup:
        emu.set_api_usage(**setup["api_usage"])
    if setup.get("login_domain"):
        emu.login_domain = True
    for rule in setup.get("duplicate_rules", []):
        emu.org.add_duplicate_rule(rule["object"], rule["field"])
    if "deactivate_user" in setup:
        emu.deactivate_user(server.USERNAME)


def _jwt(emu: Emulator, spec: dict[str, Any], names: dict[str, str]) -> None:
    claims = fill(spec, names)
    key = emu.new_jwt_key(server.CLIENT_ID)
    claims = {"aud": "https://login.salesforce.com", "exp": int(time.time()) + 300, **claims}
    names["jwt_assertion"] = jwt.encode(claims, key, algorithm="RS256")


def _data_call(client: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
    response = client.request(method, path, **kw)
    assert response.status_code < 300, f"setup call {method} {path} failed: {response.status_code} {response.text}"
    return response


def _prelude(emu: Emulator, client: httpx.Client, setup: dict[str, Any], names: dict[str, str]) -> None:
    """Calls the exchange needs made first: a query whose next page it reads, a Bulk job in some state."""
    if "query_first" in setup:
        q = setup["query_first"]
        first = _data_call(client, "GET", q["path"], params={"q": q["soql"]},
                           headers={"Sforce-Query-Options": f"batchSize={q['batch_size']}"})
        names["next_records_url"] = first.json()["nextRecordsUrl"]
    if "bulk_job" in setup:
        emu.bulk.polls_to_complete = int(setup.get("bulk_polls_to_complete", emu.bulk.polls_to_complete))
        job = setup["bulk_job"]
        base = job["path"]
        spec = {"object": job["object"], "operation": job["operation"], "contentType": "CSV", "lineEnding": "LF"}
        if "externalIdFieldName" in job:
            spec["externalIdFieldName"] = job["externalIdFieldName"]
        job_id = _data_call(client, "POST", base, json=spec).json()["id"]
        names["job_id"] = job_id
        if "csv" in job:
            _data_call(client, "PUT", f"{base}/{job_id}/batches", content=fill(job["csv"], names).encode(),
                       headers={"Content-Type": "text/csv"})
        if job.get("then") in ("UploadComplete", "done"):
            _data_call(client, "PATCH", f"{base}/{job_id}", json={"state": "UploadComplete"})
        if job.get("then") == "done":
            for _ in range(20):
                if _data_call(client, "GET", f"{base}/{job_id}").json()["state"] in ("JobComplete", "Failed"):
                    break
        if job.get("then") == "Aborted":
            _data_call(client, "PATCH", f"{base}/{job_id}", json={"state": "Aborted"})


def _token(emu: Emulator, setup: dict[str, Any]) -> str | None:
    auth = setup.get("auth", "valid")
    if auth == "none":
        return None
    token = emu.issue_token()
    if auth == "expired":
        emu.expire_token(token)
    return token


def replay(emu: Emulator, ex: Exchange) -> Answer:
    names = _names(emu)
    setup = ex.setup
    _seed(emu, setup, names)
    if "jwt" in setup:
        _jwt(emu, setup["jwt"], names)
    _org_faults(emu, setup, names)
    token = emu.issue_token()
    with httpx.Client(base_url=emu.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        _prelude(emu, client, setup, names)
    _faults(emu, setup)
    req = fill(ex.request, names)
    headers = dict(req.get("headers", {}))
    bearer = None if ex.is_token_call else _token(emu, setup)
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    content: bytes | None = None
    if "json" in req:
        content = json.dumps(req["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif "form" in req:
        content = urlencode(req["form"]).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif "csv" in req:
        content = req["csv"].encode()
        headers.setdefault("Content-Type", "text/csv")
    url = req["path"] + (f"?{urlencode(req['query'])}" if req.get("query") else "")
    with httpx.Client(base_url=emu.base_url, timeout=30) as client:
        response = client.request(req["method"], url, content=content, headers=headers)
    return Answer(response.status_code, response.headers, response.content)
