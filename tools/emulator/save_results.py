"""Per-record save results worded as real orgs word them: collections, Bulk results and single records."""

from __future__ import annotations

from dataclasses import replace

from adapters.memory.results import SaveResult
from core.ports import RecordRefusal

# The in-memory Org answers in the port's terms (NOT_FOUND for an id that is no record, a duplicate's
# field in `fields`), which is what both adapters report to core; this module words them as the wire does.
#
# An update or delete whose id names no record. sObject Collections and Bulk API answer it with
# INVALID_CROSS_REFERENCE_KEY "invalid cross reference id", "fields": [] and no id; the single-record
# resource answers 404 NOT_FOUND "The requested resource does not exist" (sobjects.py).
NO_SUCH_RECORD = RecordRefusal("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ())


def _unfielded(error: RecordRefusal) -> RecordRefusal:
    # DUPLICATE_VALUE arrives with "fields": []; the field is named only in the message
    # (`duplicate value found: Ext__c duplicates value on record with id: 001...`).
    return replace(error, fields=()) if error.code == "DUPLICATE_VALUE" and error.fields else error


def as_sent(result: SaveResult) -> SaveResult:
    """A result as the single-record resource words its errors."""
    errors = tuple(_unfielded(e) for e in result.errors)
    return result if errors == result.errors else replace(result, errors=errors)


def in_collection(result: SaveResult) -> SaveResult:
    """A result as sObject Collections and Bulk API word it."""
    if result.error is not None and result.error.code == "NOT_FOUND":
        return SaveResult(False, errors=(NO_SUCH_RECORD,))
    return as_sent(result)
