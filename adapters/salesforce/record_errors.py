"""Per-record Salesforce errors read for what they mean: a DUPLICATE_VALUE's field, a missing record's id."""

from __future__ import annotations

import re

from core.model import ResultError
from core.names import normalize_id

# Real orgs send DUPLICATE_VALUE with "fields": [] and name the field (and the record holding the value)
# only in the message: `duplicate value found: Ext__c duplicates value on record with id: 001...`. A user
# who cannot see that record reads `duplicate value found: <unknown> duplicates value on record with id:
# <unknown>`.
_DUPLICATE = re.compile(r"duplicate value found:\s*(?P<field><unknown>|[A-Za-z][A-Za-z0-9_.]*)"
                        r"(?:\s+duplicates value on record with id:\s*(?P<id><unknown>|[A-Za-z0-9]+))?", re.I)
UNKNOWN = "<unknown>"


def duplicate_of(message: str) -> tuple[str | None, str | None]:
    """The field and the record id a DUPLICATE_VALUE message names; UNKNOWN where the org masked them,
    None where the message does not say."""
    match = _DUPLICATE.search(message or "")
    if match is None:
        return None, None
    field, rid = match.group("field"), match.group("id")
    field = UNKNOWN if field.lower() == UNKNOWN else field
    if rid is not None and rid.lower() != UNKNOWN:
        rid = normalize_id(rid) or rid
    elif rid is not None:
        rid = UNKNOWN
    return field, rid


def with_duplicate_field(error: ResultError) -> ResultError:
    """A DUPLICATE_VALUE with empty fields gets the field its message names (when the org did not mask it)."""
    if error.code != "DUPLICATE_VALUE" or error.fields:
        return error
    field, _ = duplicate_of(error.message)
    if field is None or field == UNKNOWN:
        return error
    return ResultError(error.code, error.message, (field,))


def may_be_a_lost_race(error: ResultError, key_field: str) -> bool:
    """A DUPLICATE_VALUE an upsert keyed on `key_field` may have got from a writer that created the key first.

    True when the error names the key, or names no field at all (masked or absent): resending an upsert is
    idempotent, so a duplicate on another unique field merely fails again.
    """
    if error.code != "DUPLICATE_VALUE":
        return False
    if error.fields:
        return any(f.lower() == key_field.lower() for f in error.fields)
    field, _ = duplicate_of(error.message)
    return field is None or field == UNKNOWN or field.lower() == key_field.lower()


def missing_record(error: ResultError, op: str, object_name: str) -> ResultError | None:
    """NOT_FOUND for an update or delete whose own id names no record.

    Collections answer such a record with INVALID_CROSS_REFERENCE_KEY "invalid cross reference id", no id
    and "fields": [] (Bulk: `INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--`). The same code
    naming a lookup field is a refused value, not a missing record: it stays as it is.
    """
    if op not in ("update", "delete") or error.code != "INVALID_CROSS_REFERENCE_KEY":
        return None
    if any(f.lower() != "id" for f in error.fields):
        return None
    what = f"{object_name} record" if object_name else "record"
    return ResultError("NOT_FOUND", f"no {what} has this id (Salesforce: INVALID_CROSS_REFERENCE_KEY "
                       f"{error.message[:200]})")
