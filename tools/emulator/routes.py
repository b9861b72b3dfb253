"""The data resources under /services/data/vXX.X: which handler serves a method and path, and its call kind."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote

from tools.emulator import bulk, composite, composite_request, query, sobjects
from tools.emulator.oauth import Session
from tools.emulator.wire import ApiError, Reply, Request

if TYPE_CHECKING:
    from tools.emulator.server import Emulator

Handler = Callable[["Emulator", "Call"], Reply]


@dataclass
class Call:
    req: Request
    version: str  # "66.0"
    local_path: str  # the path after /services/data/vXX.X
    session: Session
    kind: str = "unknown"
    handler: Handler = field(default=lambda emu, call: Reply.empty())
    params: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"/services/data/v{self.version}"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def _resources(emu: Emulator, call: Call) -> Reply:
    names = ("sobjects", "query", "queryAll", "composite", "jobs", "limits")
    return Reply.json(200, {n: f"{call.base}/{n}" for n in names})


def _limits(emu: Emulator, call: Call) -> Reply:
    return Reply.json(200, emu.usage.limits())


_NAME = r"(?P<obj>[^/]+)"
# (pattern, {method: (kind, handler)}), first match wins.
_ROUTES: list[tuple[re.Pattern[str], dict[str, tuple[str, Handler]]]] = [(re.compile(p), m) for p, m in [
    (r"/?", {"GET": ("resources", _resources)}),
    (r"/limits/?", {"GET": ("limits", _limits)}),
    (r"/query(?:All)?/?", {"GET": ("query", query.run)}),
    (r"/query(?:All)?/(?P<locator>01g[^/]*)", {"GET": ("query_more", query.more)}),
    (r"/sobjects/?", {"GET": ("describe_global", sobjects.describe_global)}),
    (rf"/sobjects/{_NAME}/describe/?", {"GET": ("describe", sobjects.describe)}),
    (rf"/sobjects/{_NAME}/describe/layouts/?", {"GET": ("describe_layouts", sobjects.layouts)}),
    (rf"/sobjects/{_NAME}/?", {"GET": ("sobject_info", sobjects.info), "POST": ("sobject_create", sobjects.create)}),
    (rf"/sobjects/{_NAME}/Id/?", {"POST": ("sobject_create", sobjects.create)}),
    (rf"/sobjects/{_NAME}/(?P<id>[^/]+)", {
        "GET": ("sobject_get", sobjects.get), "PATCH": ("sobject_update", sobjects.update),
        "DELETE": ("sobject_delete", sobjects.delete)}),
    (rf"/sobjects/{_NAME}/(?P<field>[^/]+)/(?P<value>[^/]+)", {
        "GET": ("sobject_get", sobjects.get_by_key), "PATCH": ("sobject_upsert", sobjects.upsert),
        "DELETE": ("sobject_delete", sobjects.delete_by_key)}),
    (r"/composite/?", {"POST": ("composite", lambda emu, call: composite_request.run(emu, call))}),
    (r"/composite/sobjects/?", {
        "POST": ("collection_create", composite.create), "PATCH": ("collection_update", composite.update),
        "DELETE": ("collection_delete", composite.delete)}),
    (rf"/composite/sobjects/{_NAME}/?", {
        "GET": ("collection_retrieve", composite.retrieve), "POST": ("collection_retrieve", composite.retrieve)}),
    (rf"/composite/sobjects/{_NAME}/(?P<field>[^/]+)/?", {"PATCH": ("collection_upsert", composite.upsert)}),
    (r"/jobs/ingest/?", {"POST": ("bulk_create", bulk.create), "GET": ("bulk_list", bulk.list_jobs)}),
    (r"/jobs/ingest/(?P<job>[^/]+)/?", {
        "GET": ("bulk_info", bulk.info), "PATCH": ("bulk_state", bulk.set_state), "DELETE": ("bulk_delete", bulk.delete)}),
    (r"/jobs/ingest/(?P<job>[^/]+)/batches/?", {"PUT": ("bulk_upload", bulk.upload)}),
    (r"/jobs/ingest/(?P<job>[^/]+)/(?P<result>successfulResults|failedResults|unprocessedrecords)/?",
     {"GET": ("bulk_results", bulk.results)}),
]]


def _fail(error: ApiError) -> Handler:
    def handler(emu: Emulator, call: Call) -> Reply:
        raise error
    return handler


def resolve(req: Request, version: str, local_path: str, session: Session) -> Call:
    """The call for `req`; unknown paths and methods resolve to handlers answering 404 / 405."""
    call = Call(req, version, local_path, session)
    wrong_method: list[str] = []
    for pattern, methods in _ROUTES:
        m = pattern.fullmatch(local_path)
        if m is None:
            continue
        if req.method not in methods:
            wrong_method.extend(methods)
            continue
        call.kind, call.handler = methods[req.method]
        call.params = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
        return call
    if wrong_method:
        allowed = ",".join(dict.fromkeys(wrong_method))
        call.handler = _fail(ApiError(405, "METHOD_NOT_ALLOWED",
                                      f"HTTP Method '{req.method}' not allowed. Allowed are {allowed}"))
        return call
    call.handler = _fail(ApiError(404, "NOT_FOUND", "The requested resource does not exist"))
    return call
