"""Salesforce's answers read for what they mean to sfdest: a store reports what Salesforce said (a
RecordRefusal), and only here does it become an error of sfdest's vocabulary.

Readings that need the write as well as the code: an update or delete whose id names no record (Salesforce:
INVALID_CROSS_REFERENCE_KEY) is NOT_FOUND; an upsert whose key several records hold (DUPLICATE_EXTERNAL_ID
"more than one record", or HTTP 300) is MULTIPLE_MATCHES; a DUPLICATE_VALUE names the field its message names.
Codes alone: core.salesforce_codes.
"""

from __future__ import annotations

import re
from dataclasses import replace

from core.codes import Code
from core.model import ResultError
from core.names import normalize_id
from core.outcomes import error
from core.ports import RecordRefusal, WriteOutcome
from core.salesforce_codes import SEVERAL_BY_KEY

MAX_MESSAGE = 2000  # of Salesforce's message, passed on
# Real orgs send DUPLICATE_VALUE with "fields": [] and name the field (and the record holding the value)
# only in the message: `duplicate value found: Ext__c duplicates value on record with id: 001...`. A user
# who cannot see that record reads `duplicate value found: <unknown> duplicates value on record with id:
# <unknown>`.
_DUPLICATE = re.compile(r"duplicate value found:\s*(?P<field><unknown>|[A-Za-z][A-Za-z0-9_.]*)"
                        r"(?:\s+duplicates value on record with id:\s*(?P<id><unknown>|[A-Za-z0-9]+))?", re.I)
_IDS_IN_BRACKETS = re.compile(r"\[([A-Za-z0-9,\s]+)\]")
UNKNOWN = "<unknown>"


def unexplained() -> ResultError:
    """The error of a record refused with no reason given."""
    return error(Code.UNKNOWN_EXCEPTION, "Salesforce gave no details")


def said(refusal: RecordRefusal) -> ResultError:
    """Salesforce's answer passed on as it came (its code, message and fields): what a code means is read from
    the table when the result is made (core.outcomes.classify)."""
    return ResultError(refusal.code, refusal.message[:MAX_MESSAGE], tuple(refusal.fields))


def read(outcome: WriteOutcome, op: str, object_name: str, key_field: str = "") -> WriteOutcome:
    """A store's outcome of one record of a write (`op`: create, update, upsert or delete) with Salesforce's
    refusal read into `error`; an outcome without a refusal as it is."""
    refusal = outcome.refusal
    if refusal is None or outcome.success:
        return outcome
    if op == "upsert" and _several_by_key(refusal):
        ids = outcome.matched_ids or _ids_in(refusal.message)
        return replace(outcome, matched_ids=ids, error=error(
            Code.MULTIPLE_MATCHES, f"each holds this event's {key_field} (Salesforce: {refusal.message[:300]})",
            (key_field,) if key_field else refusal.fields, count=len(ids) or "several", object_name=object_name))
    return replace(outcome, error=_missing_record(refusal, op, object_name) or said(_with_duplicate_field(refusal)))


def _several_by_key(refusal: RecordRefusal) -> bool:
    text = refusal.message.lower()
    return refusal.code in SEVERAL_BY_KEY and (
        "more than one record" in text or refusal.code != Code.DUPLICATE_EXTERNAL_ID) \
        and "foreign key external id" not in text


def _ids_in(message: str) -> tuple[str, ...]:
    ids = []
    for group in _IDS_IN_BRACKETS.findall(message):
        for part in group.split(","):
            canonical = normalize_id(part.strip())
            if canonical:
                ids.append(canonical)
    return tuple(dict.fromkeys(ids))


def _missing_record(refusal: RecordRefusal, op: str, object_name: str) -> ResultError | None:
    """NOT_FOUND for an update or delete whose own id names no record.

    Collections answer such a record with INVALID_CROSS_REFERENCE_KEY "invalid cross reference id", no id
    and "fields": [] (Bulk: `INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--`). The same code
    naming a lookup field is a refused value, not a missing record: it stays as it is.
    """
    if op not in ("update", "delete") or refusal.code != Code.INVALID_CROSS_REFERENCE_KEY:
        return None
    if any(f.lower() != "id" for f in refusal.fields):
        return None
    what = f"{object_name} record" if object_name else "record"
    return error(Code.NOT_FOUND, f"no {what} has this id (Salesforce: INVALID_CROSS_REFERENCE_KEY "
                 f"{refusal.message[:200]})")


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


def _with_duplicate_field(refusal: RecordRefusal) -> RecordRefusal:
    """A DUPLICATE_VALUE with empty fields gets the field its message names (when the org did not mask it)."""
    if refusal.code != Code.DUPLICATE_VALUE or refusal.fields:
        return refusal
    field, _ = duplicate_of(refusal.message)
    if field is None or field == UNKNOWN:
        return refusal
    return replace(refusal, fields=(field,))


def may_be_a_lost_race(refusal: RecordRefusal | ResultError, key_field: str) -> bool:
    """A DUPLICATE_VALUE an upsert keyed on `key_field` may have got from a writer that created the key first.

    True when the error names the key, or names no field at all (masked or absent): resending an upsert is
    idempotent, so a duplicate on another unique field merely fails again.
    """
    if refusal.code != Code.DUPLICATE_VALUE:
        return False
    if refusal.fields:
        return any(f.lower() == key_field.lower() for f in refusal.fields)
    field, _ = duplicate_of(refusal.message)
    return field is None or field == UNKNOWN or field.lower() == key_field.lower()
