"""Salesforce's per-record write rules that need no other record: field access, types, lengths, defaults."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from adapters.memory.field_facts import STAGE_PROBABILITY
from core.coercion import CoercionError, coerce, match_key
from core.describe import TEXT_TYPES, FieldDescribe, ObjectDescribe
from core.names import normalize_id
from core.picklists import PicklistError, check_value
from core.ports import RecordRefusal

# Deliberately lenient: refusing an address real Salesforce accepts would be worse than the reverse.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_SHOWN_VALUE = 255  # longest value quoted back in an error message
# Keys a REST body may carry besides fields.
IGNORED_KEYS = frozenset({"attributes"})
# Text is saved without leading or trailing whitespace, by Java's String.trim() rule (code points <= U+0020).
_TRIMMED = "".join(chr(c) for c in range(0x21))


class Refusal(Exception):
    """The record breaks a rule; carries the per-record error Salesforce would report."""

    def __init__(self, code: str, message: str, fields: tuple[str, ...] = ()):
        super().__init__(message)
        self.error = RecordRefusal(code, message, fields)


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _SHOWN_VALUE else text[:_SHOWN_VALUE] + "..."


def id_label(obj: ObjectDescribe) -> str:
    f = obj.field("Id")
    return f.label if f is not None and f.label else f"{obj.label or obj.name} ID"


def malformed_id(label: str, value: Any, fields: tuple[str, ...] = ("Id",)) -> Refusal:
    return Refusal("MALFORMED_ID", f"{label}: id value of incorrect type: {_shown(value)}", fields)


def writable_fields(obj: ObjectDescribe, body: Mapping[str, Any], creating: bool) -> dict[FieldDescribe, Any]:
    """The body's fields by describe; refuses unknown fields and fields the operation cannot write."""
    found: dict[FieldDescribe, Any] = {}
    for name, value in body.items():
        if name in IGNORED_KEYS:
            continue
        f = obj.field(name)
        if f is None:
            raise Refusal("INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")
        if f.name == "Id":
            if creating:
                raise Refusal("INVALID_FIELD", "cannot specify Id in an insert call", ("Id",))
            continue  # an update body may repeat the record's id
        found[f] = value
    locked = [f.name for f in found if not (f.createable if creating else f.updateable)]
    if locked:
        raise Refusal("INVALID_FIELD_FOR_INSERT_UPDATE",
                      f"Unable to create/update fields: {', '.join(locked)}. Please check the security settings "
                      "of this field and verify that it is read/write for your profile or permission set.",
                      tuple(locked))
    return found


def saved_form(value: Any, key: FieldDescribe) -> Any:
    """The value as a text field would save it (trimmed): what an upsert key matches on."""
    return value.strip(_TRIMMED) if isinstance(value, str) and key.type in TEXT_TYPES else value


def upsert_match_key(value: Any, key: FieldDescribe) -> Any:
    """What an upsert compares: SOQL's key, but text of a custom field exactly unless the field is unique and
    case-insensitive (Apex Developer Guide, "Upserting Records")."""
    if isinstance(value, str) and key.type in TEXT_TYPES and key.name.endswith("__c") and not key.unique:
        return ("exact", value)
    return match_key(value, key)


def stored_value(f: FieldDescribe, value: Any, allowed: tuple[str, ...] | None = None) -> Any:
    """The value as the org stores it; Refusal with Salesforce's error when it cannot go in the field.

    `allowed`: the values the record's record type allows in this picklist, when it has one."""
    if isinstance(value, str) and f.type in TEXT_TYPES:
        value = value.strip(_TRIMMED)
    if value is None or value == "":
        # Salesforce stores an empty string as null; a checkbox cannot be null and reads as false.
        return False if f.type == "boolean" else None
    if f.type in ("id", "reference"):
        canonical = normalize_id(value) if isinstance(value, str) else None
        if canonical is None:
            raise malformed_id(f.label or f.name, value, (f.name,))
        return canonical
    if isinstance(value, (dict, list)):
        raise Refusal("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{f.label or f.name}: value not of required type: "
                      f"{_shown(value)}", (f.name,))
    try:
        converted = coerce(value, f, naive_time_zone=UTC)  # Salesforce reads an offset-less datetime as UTC
    except CoercionError:
        raise Refusal("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{f.label or f.name}: value not of required type: "
                      f"{_shown(value)}", (f.name,)) from None
    if f.type == "datetime":
        # Datetime fields keep whole seconds (milliseconds are dropped on save); the offset reads +0000, not Z.
        return converted[:19] + ".000+0000"
    if f.type in TEXT_TYPES:
        if f.length and len(converted) > f.length:
            raise Refusal("STRING_TOO_LONG", f"{f.label or f.name}: data value too large: {_shown(converted)} "
                          f"(max length={f.length})", (f.name,))
        try:
            check_value(f, converted, allowed)
        except PicklistError:
            raise Refusal("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f"{f.label or f.name}: bad value for restricted "
                          f"picklist field: {_shown(converted)}", (f.name,)) from None
        if f.type == "email" and not _EMAIL.fullmatch(converted):
            raise Refusal("INVALID_EMAIL_ADDRESS", f"{f.label or f.name}: invalid email address: {_shown(converted)}",
                          (f.name,))
    return converted


def converted_values(fields: Mapping[FieldDescribe, Any],
                     picklists: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """The body's values as stored; `picklists`: a record type's allowed values by field name."""
    return {f.name: stored_value(f, value, (picklists or {}).get(f.name)) for f, value in fields.items()}


def check_required_on_create(obj: ObjectDescribe, values: Mapping[str, Any]) -> None:
    missing = tuple(f.name for f in obj.fields if f.required_on_create and values.get(f.name) is None)
    if missing:
        raise Refusal("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)


def check_required_on_update(obj: ObjectDescribe, changes: Mapping[str, Any]) -> None:
    cleared = tuple(f.name for f in obj.fields
                    if f.name in changes and changes[f.name] is None and not f.nillable and f.type != "boolean")
    if cleared:
        raise Refusal("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(cleared)}]", cleared)


# Audit fields the server stamps on create: the time, or the API user.
_STAMPED_TIMES = frozenset({"CreatedDate", "LastModifiedDate", "SystemModstamp"})
_STAMPED_USERS = frozenset({"OwnerId", "CreatedById", "LastModifiedById"})


def fill_defaults(obj: ObjectDescribe, record: dict[str, Any], *, record_id: str, now: str, number: int,
                  owner_id: str) -> None:
    """Set what the server fills in on create (defaultedOnCreate fields): ids, audit stamps, owner,
    checkboxes, auto-numbers, a custom object's Name, picklist defaults and the stage's probability."""
    for f in obj.fields:
        if record.get(f.name) is not None or not f.defaulted_on_create:
            continue
        record[f.name] = _default(obj, f, record, record_id=record_id, now=now, number=number, owner_id=owner_id)


def _default(obj: ObjectDescribe, f: FieldDescribe, record: dict[str, Any], *, record_id: str, now: str,
             number: int, owner_id: str) -> Any:
    if f.type == "id":
        return record_id
    if f.type == "boolean":
        return f.default_value if isinstance(f.default_value, bool) else False
    if f.auto_number:
        return f"{number:08d}"
    if f.name in _STAMPED_TIMES:
        return now
    if f.name in _STAMPED_USERS:
        return owner_id
    if f.name_field and obj.name.endswith("__c"):
        return record_id
    if f.name == "Probability" and obj.name == "Opportunity":
        return STAGE_PROBABILITY.get(record.get("StageName") or "")
    return f.default_picklist_value


def derive(obj: ObjectDescribe, record: dict[str, Any]) -> None:
    """Recompute read-only fields built from others (a person's full Name)."""
    name = obj.field("Name")
    if name is not None and not name.createable and obj.field("LastName") is not None:
        record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p) or None
