"""Many events for one record, one write: when folding a later event into an earlier write cannot change
any event's result.

Folding event B into write A sends A's fields overwritten by B's (the later value of a field wins).
Every value that is still sent is checked by Salesforce; a value that is overwritten is not, so it may
only be dropped when Salesforce would certainly have taken it (by describe alone: a text within its
length, a checkbox, a null in a nillable field) and when no other record can object to it (no unique or
external id field, no lookup, no email address). Otherwise the events stay separate writes. When a merged
write is refused for a value, it is split (the first half again, the rest after it) until the refused event
stands alone, so every event gets the result it would have had on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.codes import Code
from core.describe import ID_TYPES, FieldDescribe, ObjectDescribe
from core.model import ResultError
from core.outcomes import classify

_PLAIN_TEXT = frozenset({"string", "textarea", "phone", "url", "combobox"})
# Statuses of errors that do not come from one event's values: every event of a merged write shares them.
_WHOLE_WRITE = frozenset({300, 401, 404, 423, 429, 500, 502, 503, 504})


def certainly_accepted(f: FieldDescribe | None, value: Any) -> bool:
    """Whether Salesforce takes `value` in field `f` whatever else the record or the org holds."""
    if f is None or f.unique or f.external_id or f.type in ID_TYPES:
        return False
    if value is None or value == "":
        return f.nillable or f.type == "boolean"
    if isinstance(value, bool):
        return f.type == "boolean"
    if isinstance(value, str):
        text = f.type in _PLAIN_TEXT or (f.type == "picklist" and not f.restricted_picklist)
        return text and (not f.length or len(value) <= f.length)
    return False


def fold(record: dict[str, Any], later: Mapping[str, Any], describe: ObjectDescribe) -> bool:
    """Fold `later`'s fields into `record` (later values win) when no overwritten value could have been
    refused; False (and `record` unchanged) otherwise."""
    for name, value in later.items():
        if name in record and not _same(record[name], value) and not certainly_accepted(
                describe.field(name), record[name]):
            return False
    record.update(later)
    return True


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def splits(error: ResultError) -> bool:
    """Whether a merged write refused with `error` is split to find the event it belongs to."""
    return classify(error)[0] not in _WHOLE_WRITE and error.code != Code.OUTCOME_UNKNOWN
