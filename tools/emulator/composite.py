"""sObject Collections: create, update, upsert, delete and retrieve up to 200 records, with allOrNone."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from adapters.memory.results import OrgError, SaveResult, failed
from core.ports import RecordRefusal
from tools.emulator.faults import LOCK_MESSAGE, fault_reply
from tools.emulator.rollback import Snapshot, org_lock
from tools.emulator.save_results import in_collection
from tools.emulator.triggers import CODE
from tools.emulator.wire import ApiError, Reply

if TYPE_CHECKING:
    from tools.emulator.routes import Call
    from tools.emulator.server import Emulator

WRITE_KINDS = frozenset({"collection_create", "collection_update", "collection_upsert", "collection_delete"})
MAX_RECORDS = 200
MAX_CHUNKS = 10
ROLLED_BACK = RecordRefusal("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records were "
                          "valid and the request was using AllOrNone header")
_TOO_MANY = ApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _payload(call: Call) -> tuple[bool, list[dict[str, Any]]]:
    body = call.req.json()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be {\"allOrNone\": ..., \"records\": [...]}")
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise _TOO_MANY
    if not all(isinstance(r, dict) for r in records):
        raise ApiError(400, "JSON_PARSER_ERROR", "Each element of records must be a JSON object")
    return _flag(body.get("allOrNone", False)), records


def _type(record: dict[str, Any]) -> str:
    attributes = record.get("attributes")
    return str(attributes.get("type") or "") if isinstance(attributes, dict) else ""


def _id(record: dict[str, Any]) -> Any:
    return next((v for k, v in record.items() if k.lower() == "id"), None)


def _check_chunks(types: list[str]) -> None:
    chunks = sum(1 for i, t in enumerate(types) if i == 0 or t.lower() != types[i - 1].lower())
    if chunks > MAX_CHUNKS:
        raise ApiError(400, "INVALID_OPERATION", "Cannot have more than 10 chunks in a single operation. Please "
                       "rearrange the data to reduce chunking.")


def _execute(emu: Emulator, objects: list[str], all_or_none: bool, run: Callable[[], list[SaveResult]],
             keeps_id: Callable[[SaveResult], bool], with_created: bool = False) -> Reply:
    with org_lock(emu.org):
        snapshot = Snapshot(emu.org, objects) if all_or_none else None
        results = [in_collection(r) for r in run()]
        if snapshot is not None and not all(r.success for r in results):
            snapshot.restore()
            results = [r if not r.success else SaveResult(False, r.id if keeps_id(r) else "", errors=(ROLLED_BACK,))
                       for r in results]
    return Reply.json(200, [_element(r, with_created) for r in results])


# A record refused because its id names no record it could write carries no id in its result element.
_UNIDENTIFIED = frozenset({"MALFORMED_ID", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})


def _element(result: SaveResult, with_created: bool) -> dict[str, Any]:
    out = result.to_json(with_created)
    if not result.success and result.errors and result.errors[0].code in _UNIDENTIFIED:
        out.pop("id", None)
    return out


def _save(emu: Emulator, record: dict[str, Any], creating: bool) -> SaveResult:
    obj = _type(record)
    if not obj:
        return failed("INVALID_TYPE", "sObject type not specified: each record needs attributes.type")
    rid = _id(record)
    if not creating and not rid:
        return failed("MISSING_ARGUMENT", "Id not specified in an update call", ("Id",))
    try:
        return emu.org.create(obj, record) if creating else emu.org.update(obj, str(rid), record)
    except OrgError as exc:  # an unknown type fails its record only
        return failed(exc.code, exc.message, exc.fields, "" if creating else str(rid))


def create(emu: Emulator, call: Call) -> Reply:
    all_or_none, records = _payload(call)
    types = [_type(r) for r in records]
    _check_chunks(types)
    return _execute(emu, types, all_or_none, lambda: [_save(emu, r, True) for r in records], lambda r: False)


def update(emu: Emulator, call: Call) -> Reply:
    all_or_none, records = _payload(call)
    types = [_type(r) for r in records]
    _check_chunks(types)
    return _execute(emu, types, all_or_none, lambda: [_save(emu, r, False) for r in records], lambda r: True)


def upsert(emu: Emulator, call: Call) -> Reply:
    """PATCH /composite/sobjects/{Obj}/{Field}; each result carries `created`.

    A key matching several existing records fails that record with statusCode DUPLICATE_EXTERNAL_ID,
    fields [Field] and the message `<Field label>: more than one record found for external id field:
    [<id>, <id>]` (the candidate ids inside the trailing brackets). Records of one request sharing a
    key all fail with DUPLICATE_EXTERNAL_ID `Duplicate external id specified: <value>`.
    """
    if call.major < 46:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    obj = emu.org.describe(call.params["obj"]).name
    all_or_none, records = _payload(call)
    wrong = [i for i, r in enumerate(records) if _type(r).lower() != obj.lower()]

    def run() -> list[SaveResult]:
        good = [r for i, r in enumerate(records) if i not in wrong]
        done = iter(emu.org.upsert_many(obj, call.params["field"], good))
        bad = failed("INVALID_TYPE", f"Only records of type {obj} can be upserted at this URI")
        return [bad if i in wrong else next(done) for i in range(len(records))]

    return _execute(emu, [obj], all_or_none, run, lambda r: not r.created, with_created=True)


def _delete_one(emu: Emulator, rid: str) -> SaveResult:
    obj = emu.org.object_of_id(rid)
    if obj is None:
        return failed("MALFORMED_ID", f"malformed id {rid}", (), rid)
    return emu.org.delete(obj, rid)


def delete(emu: Emulator, call: Call) -> Reply:
    ids = [i for i in (call.req.param("ids") or "").split(",") if i]
    if not ids:
        raise ApiError(400, "REQUIRED_FIELD_MISSING", "At least 1 Id is required.")
    if len(ids) > MAX_RECORDS:
        raise _TOO_MANY
    objects = [o for o in (emu.org.object_of_id(i) for i in ids) if o]
    return _execute(emu, objects, _flag(call.req.param("allOrNone", "false")),
                    lambda: [_delete_one(emu, i) for i in ids], lambda r: True)


def retrieve(emu: Emulator, call: Call) -> Reply:
    obj = emu.org.describe(call.params["obj"]).name
    if call.req.method == "POST":
        body = call.req.json()
        body = body if isinstance(body, dict) else {}
        ids, fields = list(body.get("ids") or []), list(body.get("fields") or [])
    else:
        ids = [i for i in (call.req.param("ids") or "").split(",") if i]
        fields = [f.strip() for f in (call.req.param("fields") or "").split(",") if f.strip()]
    if not fields:
        raise ApiError(400, "MISSING_ARGUMENT", "The fields parameter is required")
    if len(ids) > (2000 if call.req.method == "POST" else MAX_RECORDS * 4):
        raise _TOO_MANY
    names = list(dict.fromkeys(emu.org.query_field(obj, f).name for f in fields))
    out: list[dict[str, Any] | None] = []
    for rid in ids:
        try:
            row = emu.org.get(obj, str(rid), names)
        except OrgError:  # missing, deleted or malformed ids read as null, as in Salesforce
            out.append(None)
            continue
        url = f"{call.base}/sobjects/{obj}/{row['Id']}"
        out.append({"attributes": {"type": obj, "url": url}, **{n: row.get(n) for n in names}})
    return Reply.json(200, out)


def locked(call: Call) -> Reply:
    """Every record of a collection write refused with UNABLE_TO_LOCK_ROW (nothing written)."""
    try:
        return refused(call, _ids(call), "UNABLE_TO_LOCK_ROW", LOCK_MESSAGE)
    except ApiError:
        return fault_reply("row_lock")


def _ids(call: Call) -> list[Any]:
    """The record ids of a collection write (None where a record names none)."""
    if call.kind == "collection_delete":
        return [i for i in (call.req.param("ids") or "").split(",") if i]
    return [_id(r) if call.kind == "collection_update" else None for r in _payload(call)[1]]


def trigger_limited(emu: Emulator, call: Call) -> Reply | None:
    """The answer of a write whose chunk is too large for the org's trigger (emu.trigger_limit), or None."""
    limit = emu.trigger_limit
    if limit is None or call.kind not in WRITE_KINDS:
        return None
    try:
        ids = _ids(call)
        if call.kind == "collection_delete":
            objects = [o for o in (emu.org.object_of_id(i) for i in ids) if o]
        elif call.kind == "collection_upsert":
            objects = [call.params["obj"]]
        else:
            objects = [_type(r) for r in _payload(call)[1]]
    except ApiError:
        return None
    if not limit.fires(call.kind, objects, len(ids)):
        return None
    return refused(call, ids, CODE, limit.message(call.kind))


def refused(call: Call, ids: list[Any], code: str, message: str) -> Reply:
    """Every record of a collection write failed with `code` (nothing written)."""
    error = [{"statusCode": code, "message": message, "fields": []}]
    out = []
    for rid in ids:
        entry: dict[str, Any] = {"id": rid} if rid else {}
        entry.update(success=False, errors=error)
        if call.kind == "collection_upsert":
            entry["created"] = False
        out.append(entry)
    return Reply.json(200, out)
