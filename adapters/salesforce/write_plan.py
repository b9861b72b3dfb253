"""What one kind of write sends: each record's payload (or its local refusal) and the collection request
that carries a chunk of payloads, whether it goes alone or as a Composite subrequest."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.salesforce.composite import Sub
from core import outcomes
from core.codes import Code
from core.model import ResultError
from core.names import api_name_problem, normalize_id
from core.parents import ParentRef, rest_fields
from core.ports import RecordRefusal, WriteOutcome


def fail(code: Code, message: str, fields: tuple[str, ...] = ()) -> WriteOutcome:
    """A record refused by sfdest itself (never sent, or its answer lost)."""
    return WriteOutcome(False, error=outcomes.error(code, message, fields))


def refused(why: RecordRefusal | ResultError) -> WriteOutcome:
    """A record refused: by Salesforce (what it said), or by sfdest on the way (its error)."""
    if isinstance(why, RecordRefusal):
        return WriteOutcome(False, refusal=why)
    return WriteOutcome(False, error=why)


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, ParentRef):
        return _scalar_problem(value.value)
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "is not a finite number"
    return f"has unsupported type {type(value).__name__}"


def fields_problem(fields: Mapping[str, Any], forbid_id: bool) -> WriteOutcome | None:
    """A local refusal for a record whose field names or values Salesforce must never see."""
    seen: set[str] = set()
    for name, value in fields.items():
        problem = api_name_problem(name) if isinstance(name, str) else "must be a string"
        if problem is None and name.lower() == "attributes":
            problem = "is reserved"
        if problem is None and name.lower() in seen:
            problem = "appears twice (field names are case-insensitive)"
        if isinstance(name, str):
            seen.add(name.lower())
        if problem is None and forbid_id and name.lower() == "id":
            problem = "cannot be set in an update (the record id is the update's target)"
        if problem:
            shown = repr(name)[:90] if isinstance(name, str) else type(name).__name__
            return fail(Code.INVALID_FIELD, f"field name {shown} {problem}", (str(name)[:80],))
        value_problem = _scalar_problem(value)
        if value_problem:
            return fail(Code.MAPPING_VALUE_INVALID, f"the value for {name} {value_problem}", (name,))
    return None


@dataclass
class Plan:
    """One kind of write: `items` hold a payload, or the WriteOutcome that refused the record locally."""

    op: str  # create | update | upsert | delete
    object_name: str
    data_url: str
    items: list[Any]
    external_id_field: str = ""
    tags: Sequence[tuple[str, ...]] = ()  # per item, the keys of the events it writes (WriteBatch.tags)

    @property
    def idempotent(self) -> bool:
        return self.op != "create"

    def sub(self, chunk: list[Any]) -> Sub:
        """The collection request for a chunk of payloads (at most 200)."""
        url = f"{self.data_url}/composite/sobjects"
        if self.op == "delete":
            return Sub("DELETE", f"{url}?ids={','.join(chunk)}&allOrNone=false")
        if self.op == "upsert":
            url = f"{url}/{self.object_name}/{self.external_id_field}"
        return Sub("POST" if self.op == "create" else "PATCH", url, {"allOrNone": False, "records": chunk})


def _malformed(object_name: str) -> WriteOutcome:
    return fail(Code.MALFORMED_ID, f"{object_name} ID: id value of incorrect type", ("Id",))


def plan(data_url: str, object_name: str, op: str, records: Sequence[Any], external_id_field: str = "") -> Plan:
    typed = {"attributes": {"type": object_name}}
    items: list[Any] = []
    for record in records:
        if op == "create":
            items.append(fields_problem(record, forbid_id=False) or {**typed, **rest_fields(record)})
        elif op in ("update", "delete"):
            record_id, fields = record if op == "update" else (record, {})
            canonical = normalize_id(record_id) if isinstance(record_id, str) else None
            if canonical is None:
                items.append(_malformed(object_name))
            elif op == "delete":
                items.append(canonical)
            else:
                items.append(fields_problem(fields, forbid_id=True) or {**typed, "id": canonical,
                                                                        **rest_fields(fields)})
        else:
            problem = fields_problem(record, forbid_id=False)
            key = next((k for k in record if isinstance(k, str) and k.lower() == external_id_field.lower()), None)
            if problem is None and (key is None or record[key] is None or record[key] == ""):
                problem = fail(Code.MATCHER_VALUE_MISSING, f"the record has no value for the external id field "
                               f"{external_id_field}", (external_id_field,))
            items.append(problem or {**typed, **rest_fields(record)})
    return Plan(op, object_name, data_url, items, external_id_field)
