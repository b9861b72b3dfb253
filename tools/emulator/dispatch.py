"""The request pipeline: size checks, token endpoint, versions, auth, limits, faults, then the route."""

from __future__ import annotations

import re
import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from adapters.memory.results import OrgError
from tools.emulator import composite, routes
from tools.emulator.faults import fault_reply
from tools.emulator.oauth import invalid_session
from tools.emulator.soql import SoqlError
from tools.emulator.wire import ApiError, Reply, Request, error_body

if TYPE_CHECKING:
    from tools.emulator.server import Emulator

URI_LIMIT = 16_384
MIN_VERSION, MAX_VERSION = 20, 66
_VERSIONED = re.compile(r"/services/data/v(\d+)\.0(/.*)?")
_SEASONS = ("Spring", "Summer", "Winter")


def version_label(major: int) -> str:
    k = major - 66  # v66.0 is Spring '26
    season, year = _SEASONS[k % 3], 26 + k // 3
    return f"{season} '{(year + 1 if season == 'Winter' else year) % 100:02d}"


def versions() -> list[dict[str, str]]:
    return [{"label": version_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
            for v in range(MIN_VERSION, MAX_VERSION + 1)]


def run_call(emu: Emulator, call: routes.Call) -> Reply:
    """Run a routed call's handler; errors become Salesforce-shaped replies."""
    limited = composite.trigger_limited(emu, call)  # a chunk too large for the org's trigger (emu.trigger_limit)
    if limited is not None:
        return limited
    try:
        with emu.org.request_headers(call.req.header("sforce-duplicate-rule-header"),
                                     call.req.header("sforce-auto-assign")):
            return call.handler(emu, call)
    except ApiError as exc:
        return exc.reply()
    except OrgError as exc:  # a whole-request refusal: Salesforce writes no `fields` when it names none
        return Reply.json(exc.status, error_body(exc.code, exc.message, list(exc.fields) or None))
    except SoqlError as exc:
        return Reply.json(exc.status, error_body(exc.code, exc.message))
    except Exception:  # an emulator bug: answer like Salesforce's 500, and show the traceback
        traceback.print_exc(file=sys.stderr)
        return Reply.json(500, error_body("UNKNOWN_EXCEPTION", "An unexpected error occurred in the emulator"))


def pause(seconds: float, gone: Callable[[], bool]) -> bool:
    """Wait `seconds` as a slow org would, watching the client (an org goes on with a request whose client
    hung up, but no longer counts it open); False if the client has closed the connection."""
    ends = time.monotonic() + seconds
    while (left := ends - time.monotonic()) > 0:
        if gone():
            time.sleep(left)
            return False
        time.sleep(min(left, 0.02))
    return not gone()


def dispatch(emu: Emulator, req: Request) -> Reply:
    emu.log_request(req)
    if len(req.raw_uri.encode()) > URI_LIMIT:
        return Reply.text(414, "URI Too Long")
    if len(req.raw_uri.encode()) + sum(len(k) + len(v) + 4 for k, v in req.headers.items()) > URI_LIMIT:
        return Reply.text(431, "Request Header Fields Too Large")
    if req.path.rstrip("/") == "/services/oauth2/token":
        fault = emu.faults.take(req.method, req.path, "", "token")
        if fault and fault.kind == "drop" and fault.when == "before":
            return Reply.dropped()
        if fault and fault.kind not in ("drop", "delay", "row_lock"):
            return fault_reply(fault.kind)
        if fault and fault.kind == "delay":
            pause(fault.seconds, req.gone)
        if req.method != "POST":
            return Reply.json(405, {"error": "invalid_request", "error_description": "must use HTTP POST"})
        reply = emu.oauth.handle(req)
        return Reply.dropped() if fault and fault.kind == "drop" else reply
    if req.path in ("/services/data", "/services/data/") and req.method == "GET":
        return Reply.json(200, versions())
    m = _VERSIONED.fullmatch(req.path)
    if m is None or not MIN_VERSION <= int(m.group(1)) <= MAX_VERSION:
        return ApiError(404, "NOT_FOUND", "The requested resource does not exist").reply()
    session = emu.oauth.session_for(req.header("authorization"))
    if session is None:
        return invalid_session()
    call = routes.resolve(req, m.group(1) + ".0", m.group(2) or "/", session)
    allowed = emu.usage.count(call.kind)
    limit_header = {"Sforce-Limit-Info": emu.usage.header()}
    if not allowed:
        return Reply.json(403, error_body("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), limit_header)
    if emu.latency_ms:
        pause(emu.latency_ms / 1000, req.gone)
    fault = emu.faults.take(req.method, req.path, call.local_path, call.kind)
    if fault and fault.kind == "delay":
        pause(fault.seconds, req.gone)
        fault = None
    if fault and fault.kind == "drop" and fault.when == "before":
        return Reply.dropped()
    if fault and fault.kind == "row_lock" and call.kind in composite.WRITE_KINDS:
        reply = composite.locked(call)
    elif fault and fault.kind not in ("drop", "trickle"):
        reply = fault_reply(fault.kind)
    else:
        reply = run_call(emu, call)
    if fault and fault.kind == "drop":
        return Reply.dropped()
    if fault and fault.kind == "trickle":
        reply.trickle = fault.seconds
    if emu.latency is not None:
        pause(emu.latency.seconds(call.kind, reply), req.gone)
    reply.headers.update(limit_header)
    return reply
