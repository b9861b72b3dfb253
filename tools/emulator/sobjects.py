"""sObject resources: describe, and single-record create, read, update, delete and upsert by external id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.memory.catalog import describe_json, global_describe_json
from adapters.memory.describe_json import layouts_json
from adapters.memory.results import SaveResult, no_such_external_id_field
from core.describe import ObjectDescribe
from core.ports import RecordRefusal
from tools.emulator.equality import record_id
from tools.emulator.save_results import as_sent
from tools.emulator.wire import ApiError, Reply, error_body, not_found

if TYPE_CHECKING:
    from tools.emulator.routes import Call
    from tools.emulator.server import Emulator

_NOT_FOUND_CODES = ("NOT_FOUND", "ENTITY_IS_DELETED")


def _object(emu: Emulator, call: Call) -> ObjectDescribe:
    return emu.org.describe(call.params["obj"])  # OrgError NOT_FOUND (404) when unknown


def _record(call: Call, obj: ObjectDescribe, row: dict[str, Any]) -> dict[str, Any]:
    url = f"{call.base}/sobjects/{obj.name}/{row.get('Id')}"
    return {"attributes": {"type": obj.name, "url": url}, **row}


def _fields_param(call: Call) -> list[str] | None:
    raw = call.req.param("fields")
    return [f.strip() for f in raw.split(",") if f.strip()] if raw else None


def _failure(result: SaveResult) -> Reply:
    """A refused single-record write. A field the object lacks fails the request while its body is read,
    before any record rule: that error carries no `fields` key."""
    result = as_sent(result)
    status = 404 if result.errors and result.errors[0].code in _NOT_FOUND_CODES else 400
    body = [error_body(e.code, e.message, None if _while_reading(e) else list(e.fields))[0] for e in result.errors]
    if result.duplicate_result is not None:
        # A single record's DUPLICATES_DETECTED carries the matches under Salesforce's own misspelling.
        body[0] = {"duplicateResut": result.duplicate_result, "errorCode": body[0]["errorCode"],
                   "message": body[0]["message"]}
    return Reply.json(status, body)


def _while_reading(error: RecordRefusal) -> bool:
    return error.code == "INVALID_FIELD" and not error.fields and error.message.startswith("No such column")


def _body(call: Call) -> dict[str, Any]:
    body = call.req.json()
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object of field values")
    return body


def _one_id(call: Call) -> str:
    """The record id of the path; a segment that is no id reads as an unknown external-id field."""
    segment = call.params["id"]
    if record_id(segment) is None:
        raise no_such_external_id_field(segment)
    return segment


def describe_global(emu: Emulator, call: Call) -> Reply:
    return Reply.json(200, global_describe_json(emu.org.global_describe(), call.version))


def describe(emu: Emulator, call: Call) -> Reply:
    obj = _object(emu, call)
    body = describe_json(obj, call.version)
    if body["recordTypeInfos"]:  # the org's own record types after the master, as layouts lists them
        layouts = layouts_json(obj, emu.org.record_types(obj.name), call.version)["recordTypeMappings"]
        body["recordTypeInfos"] = body["recordTypeInfos"] + [
            {k: m[k] for k in ("active", "available", "defaultRecordTypeMapping", "developerName", "master", "name",
                               "recordTypeId")} | {"urls": m["urls"]} for m in layouts if not m["master"]]
    return Reply.json(200, body)


def layouts(emu: Emulator, call: Call) -> Reply:
    obj = _object(emu, call)
    return Reply.json(200, layouts_json(obj, emu.org.record_types(obj.name), call.version))


def info(emu: Emulator, call: Call) -> Reply:
    summary = global_describe_json([_object(emu, call)], call.version)["sobjects"][0]
    return Reply.json(200, {"objectDescribe": summary, "recentItems": []})


def create(emu: Emulator, call: Call) -> Reply:
    obj = _object(emu, call)
    result = emu.org.create(obj.name, _body(call))
    if not result.success:
        return _failure(result)
    return Reply.json(201, {"id": result.id, "success": True, "errors": []})


def get(emu: Emulator, call: Call) -> Reply:
    obj = _object(emu, call)
    row = emu.org.get(obj.name, _one_id(call), _fields_param(call))
    return Reply.json(200, _record(call, obj, row))


def update(emu: Emulator, call: Call) -> Reply:
    obj = _object(emu, call)
    result = emu.org.update(obj.name, _one_id(call), _body(call))
    return Reply.empty(204) if result.success else _failure(result)


def delete(emu: Emulator, call: Call) -> Reply:
    obj = _object(emu, call)
    result = emu.org.delete(obj.name, _one_id(call))
    return Reply.empty(204) if result.success else _failure(result)


def _matches(emu: Emulator, call: Call, obj: ObjectDescribe) -> list[str]:
    f = obj.field(call.params["field"])
    if f is None or not f.id_lookup:
        raise no_such_external_id_field(call.params["field"])
    return emu.org.ids_matching(obj.name, f.name, call.params["value"])


def _multiple(call: Call, obj: ObjectDescribe, ids: list[str] | tuple[str, ...]) -> Reply:
    return Reply.json(300, [f"{call.base}/sobjects/{obj.name}/{i}" for i in ids])


def _one_by_key(emu: Emulator, call: Call) -> tuple[ObjectDescribe, str | Reply]:
    """The one record an external-id path names, or the 300 listing several (404 when none)."""
    obj = _object(emu, call)
    ids = _matches(emu, call, obj)
    if not ids:
        raise not_found()
    return obj, (_multiple(call, obj, ids) if len(ids) > 1 else ids[0])


def get_by_key(emu: Emulator, call: Call) -> Reply:
    obj, found = _one_by_key(emu, call)
    if isinstance(found, Reply):
        return found
    return Reply.json(200, _record(call, obj, emu.org.get(obj.name, found, _fields_param(call))))


def delete_by_key(emu: Emulator, call: Call) -> Reply:
    obj, found = _one_by_key(emu, call)
    if isinstance(found, Reply):
        return found
    result = emu.org.delete(obj.name, found)
    return Reply.empty(204) if result.success else _failure(result)


def upsert(emu: Emulator, call: Call) -> Reply:
    """201 created, 200 updated (204 before API 46.0), 300 with the candidates' URLs when several match."""
    obj = _object(emu, call)
    result = emu.org.upsert(obj.name, call.params["field"], call.params["value"], _body(call))
    if result.matched_ids:
        return _multiple(call, obj, result.matched_ids)
    if not result.success:
        return _failure(result)
    body: dict[str, Any] = {"id": result.id, "success": True, "errors": []}
    if call.major >= 46:
        body["created"] = result.created
    elif not result.created:
        return Reply.empty(204)
    return Reply.json(201 if result.created else 200, body)
