"""The Composite resource (POST /composite): up to 25 subrequests run in order as ONE API call.

At most 5 subrequests may be sObject Collections or queries. `allOrNone: true` rolls every subrequest
back when one fails (the others answer 400 PROCESSING_HALTED); with false, a failed subrequest fails
alone and only subrequests that reference it are not run. Facts and their provenance:
tests/tools/emulator/composite_facts.md.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from tools.emulator import composite, routes
from tools.emulator.faults import fault_reply
from tools.emulator.rollback import Snapshot, org_lock
from tools.emulator.wire import ApiError, Reply, Request

if TYPE_CHECKING:
    from tools.emulator.server import Emulator

MAX_SUBREQUESTS = 25
MAX_COLLECTIONS_OR_QUERIES = 5
# Kinds that count toward the limit of 5: sObject Collections and Query/QueryAll (and their next pages).
HEAVY_KINDS = composite.WRITE_KINDS | {"collection_retrieve", "query", "query_more"}
SUPPORTED = re.compile(r"/sobjects(/.*)?|/query(All)?(/.*)?|/composite/sobjects(/.*)?")
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
_URL = re.compile(r"/services/data/v(\d+)\.0(/[^?]*)?(\?.*)?")
_REFERENCE_ID = re.compile(r"[A-Za-z0-9_]+")
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_DROP_AFTER = "x-emulator-drop-after"  # marks a subrequest whose call's connection is dropped once it ran
_TRICKLE = "x-emulator-trickle"  # marks a subrequest that runs, after which the whole call's answer trickles
HALTED = "The transaction was rolled back since another operation in the same transaction failed."
TOO_MANY = f"The request can’t contain more than {MAX_SUBREQUESTS} operations."
TOO_MANY_HEAVY = (f"The request can’t contain more than {MAX_COLLECTIONS_OR_QUERIES} sObject Collections or query "
                  "operations.")


def _limit_exceeded(message: str) -> Reply:
    entry = {"body": [{"errorCode": "LIMIT_EXCEEDED", "message": message}], "httpHeaders": {},
             "httpStatusCode": 400, "referenceId": None}
    return Reply.json(400, {"compositeResponse": [entry]})


def _entry(ref: str, status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"body": body, "httpHeaders": headers or {}, "httpStatusCode": status, "referenceId": ref}


def _halted(ref: str, message: str = HALTED) -> dict[str, Any]:
    return _entry(ref, 400, [{"errorCode": "PROCESSING_HALTED", "message": message}])


class _Unresolved(Exception):
    pass


def _lookup(expr: str, outputs: dict[str, Any]) -> Any:
    match = _REFERENCE.fullmatch(expr)
    if match is None or match.group(1) not in outputs:
        raise _Unresolved(expr)
    value = outputs[match.group(1)]
    for part in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", match.group(2)):
        try:
            value = value[part[0]] if part[0] else value[int(part[1])]
        except (KeyError, IndexError, TypeError):
            raise _Unresolved(expr) from None
    return value


def _substitute(value: Any, outputs: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _lookup(value, outputs)
        return _REFERENCE.sub(lambda m: str(_lookup(m.group(0), outputs)), value)
    if isinstance(value, dict):
        return {k: _substitute(v, outputs) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, outputs) for v in value]
    return value


def _parse(body: Any) -> tuple[bool, list[dict[str, Any]]]:
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must hold a compositeRequest array")
    subs = body["compositeRequest"]
    seen: set[str] = set()
    for sub in subs:
        if not isinstance(sub, dict) or sub.get("method") not in METHODS or not isinstance(sub.get("url"), str):
            raise ApiError(400, "JSON_PARSER_ERROR", "Each subrequest needs a method (GET, POST, PATCH, PUT or "
                           "DELETE) and a url")
        ref = sub.get("referenceId")
        if not isinstance(ref, str) or not _REFERENCE_ID.fullmatch(ref):
            raise ApiError(400, "INVALID_INPUT", "Each subrequest needs a referenceId of letters, digits and "
                           "underscores")
        if ref in seen:
            raise ApiError(400, "INVALID_INPUT", f"Duplicate referenceId provided in the request: {ref}")
        seen.add(ref)
    return composite._flag(body.get("allOrNone", False)), subs


def _inner(call: routes.Call, sub: dict[str, Any], url: str, all_or_none: bool) -> tuple[routes.Call | None, str]:
    """The subrequest as a routed call of its own, or None with why it cannot run."""
    match = _URL.fullmatch(url)
    local = (match.group(2) or "/") if match else ""
    if match is None or not SUPPORTED.fullmatch(local):
        return None, f"The resource {url.split('?')[0]} is not supported in a composite request"
    body = sub.get("body")
    if all_or_none and isinstance(body, dict) and "records" in body:
        body = {**body, "allOrNone": True}  # the outer allOrNone overrides a collection's own
    if all_or_none and "allOrNone=" in url:
        url = url.replace("allOrNone=false", "allOrNone=true")
    headers = {"content-type": "application/json", **{str(k).lower(): str(v) for k, v in
                                                       (sub.get("httpHeaders") or {}).items()}}
    raw = json.dumps(body).encode() if body is not None else b""
    req = Request.build(sub["method"], url, headers, raw)
    return routes.resolve(req, f"{match.group(1)}.0", local, call.session), ""


def _faulted(emu: Emulator, inner: routes.Call) -> Reply | None:
    """A planted fault aimed at this subrequest: row locks per record, a status as its answer, a delay, a
    dropped connection (the whole call's: before this subrequest runs, or after it and the rest ran), or a
    trickle (it and the rest run; the whole call's answer then comes a byte every `seconds`)."""
    fault = emu.faults.take(inner.req.method, inner.req.path, inner.local_path, inner.kind)
    if fault is not None and fault.kind == "delay":
        time.sleep(fault.seconds)
    if fault is not None and fault.kind == "drop":
        return Reply.dropped() if fault.when == "before" else Reply(0, headers={_DROP_AFTER: "1"})
    if fault is not None and fault.kind == "trickle":
        return Reply(0, headers={_TRICKLE: str(fault.seconds)})
    if fault is None or fault.kind == "delay":
        return None
    if fault.kind == "row_lock" and inner.kind in composite.WRITE_KINDS:
        return composite.locked(inner)
    return fault_reply(fault.kind)


def _kind(call: routes.Call, sub: dict[str, Any]) -> str:
    inner, _ = _inner(call, {**sub, "body": None}, _REFERENCE.sub("ref", sub["url"]), False)
    return inner.kind if inner is not None else ""


def run(emu: Emulator, call: routes.Call) -> Reply:
    from tools.emulator.dispatch import run_call  # the pipeline imports the routes, which import this

    all_or_none, subs = _parse(call.req.json())
    if len(subs) > MAX_SUBREQUESTS:
        return _limit_exceeded(TOO_MANY)
    if sum(1 for sub in subs if _kind(call, sub) in HEAVY_KINDS) > MAX_COLLECTIONS_OR_QUERIES:
        return _limit_exceeded(TOO_MANY_HEAVY)
    outputs: dict[str, Any] = {}
    failed: set[str] = set()
    answers: list[dict[str, Any]] = []
    drop, trickle = False, 0.0
    with org_lock(emu.org):
        snapshot = Snapshot(emu.org, list(emu.org._tables)) if all_or_none else None
        for sub in subs:
            ref = sub["referenceId"]
            if all_or_none and failed:
                answers.append(_halted(ref))
                continue
            try:
                url, body = _substitute(sub["url"], outputs), _substitute(sub.get("body"), outputs)
            except _Unresolved as exc:
                name = _REFERENCE.fullmatch(str(exc))
                answers.append(_halted(ref, f"Invalid reference specified. No value for {exc} found in "
                                            f"{name.group(1) if name else exc}."))
                failed.add(ref)
                continue
            inner, why = _inner(call, {**sub, "body": body}, url, all_or_none)
            if inner is None:
                answers.append(_entry(ref, 400, [{"errorCode": "INVALID_API_INPUT", "message": why}]))
                failed.add(ref)
                continue
            emu.usage.count_subrequest(inner.kind)
            reply = _faulted(emu, inner) or run_call(emu, inner)
            if reply.drop:
                return reply
            if _DROP_AFTER in reply.headers:
                drop, reply = True, run_call(emu, inner)
            if _TRICKLE in reply.headers:
                trickle, reply = float(reply.headers[_TRICKLE]), run_call(emu, inner)
            result = json.loads(reply.body) if reply.body else None
            headers = {k: v for k, v in reply.headers.items() if k.lower() not in ("content-type", "content-length")}
            answers.append(_entry(ref, reply.status, result, headers))
            refused = isinstance(result, list) and any(isinstance(r, dict) and r.get("success") is False
                                                       for r in result)
            if reply.status >= 400 or (all_or_none and refused):
                failed.add(ref)
            else:
                outputs[ref] = result
        if snapshot is not None and failed:
            snapshot.restore()
            answers = [a if a["referenceId"] in failed else _halted(a["referenceId"]) for a in answers]
    if drop:
        return Reply.dropped()
    reply = Reply.json(200, {"compositeResponse": answers})
    reply.trickle = trickle
    return reply
