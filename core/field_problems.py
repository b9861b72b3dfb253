"""Each field of a refused record tied to the mapping that produced it, with a hint from the describe."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.codes import Code
from core.describe import FieldDescribe, ObjectDescribe
from core.model import FieldProblem, ResultError
from core.paths import NOWHERE, Path

MAX_LISTED_VALUES = 20
# Salesforce's codes (by name: passed on as they come) beside sfdest's own.
_TOO_LONG = frozenset({"STRING_TOO_LONG"})
_PICKLIST = frozenset({Code.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, Code.PICKLIST_VALUE_INVALID})
_REQUIRED = frozenset({"REQUIRED_FIELD_MISSING", Code.REQUIRED_VALUE_MISSING})


def _allowed(f: FieldDescribe, allowed: tuple[str, ...] | None) -> str:
    values = list(allowed) if allowed is not None else [p.value for p in f.picklist_values if p.active]
    more = len(values) - MAX_LISTED_VALUES
    shown = ", ".join(values[:MAX_LISTED_VALUES]) + (f" and {more} more" if more > 0 else "")
    return f"allowed: {shown}" if values else "no value is allowed"


def _hint(code: str, f: FieldDescribe | None, value: Any, path: Path, allowed: tuple[str, ...] | None) -> str:
    if code in _REQUIRED and not path:
        return "no mapping sets it"
    if f is None:
        return ""
    if code in _TOO_LONG and isinstance(value, str) and f.length:
        return f"length {len(value)}, limit {f.length}"
    if code in _PICKLIST:
        return _allowed(f, allowed)
    return ""


def with_field_problems(error: ResultError, record: Mapping[str, Any], paths: Mapping[str, Path],
                        describe: ObjectDescribe | None,
                        allowed: Mapping[str, tuple[str, ...]] | None = None) -> ResultError:
    """`error` with one FieldProblem per field it names (`paths`: the request path of each field's value, by
    field name; `record`: the values sent; `allowed`: a record type's picklist values by field name)."""
    if error.field_problems or not error.fields:
        return error
    by_lower = {name.lower(): name for name in (*paths, *record)}
    problems = []
    for name in error.fields:
        f = describe.field(name) if describe is not None else None
        known = f.name if f is not None else by_lower.get(name.lower(), name)
        path = paths.get(known, NOWHERE)
        hint = _hint(error.code, f, record.get(known), path, (allowed or {}).get(known))
        problems.append(FieldProblem(known, path, hint))
    return replace(error, field_problems=tuple(problems))
