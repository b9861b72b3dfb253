"""Values typed by a field's describe type, once: each parser turns what a host (or core) holds into the Python
value that type means, or CoercionError naming the rule broken. Adapters render typed values in their own syntax
(SOQL literals, CSV cells); core's coercion builds the REST form from the same parsers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from core.describe import ID_TYPES, NUMERIC_TYPES
from core.names import normalize_id

MAX_STRING_LITERAL = 4000  # SOQL's limit for one string literal in WHERE
_TIME_TEXT = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z", re.ASCII)


class CoercionError(ValueError):
    """The value cannot go into the field; the message states the rule."""


@dataclass(frozen=True)
class TypedValue:
    """A value as its field's type means it. `type` is the describe type ("" when the field is unknown: typed by
    the Python value); `value` is None, bool, Decimal, date, datetime (aware, UTC) or str (text, ids, times)."""

    type: str
    value: Any


def parse_number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise CoercionError("must be a number, not a boolean")
    if isinstance(value, (int, float)):
        number = Decimal(str(value))
    elif isinstance(value, (str, Decimal)):
        try:
            number = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise CoercionError(f"must be a number, got {str(value)[:40]!r}") from None
    else:
        raise CoercionError(f"must be a number, not {type(value).__name__}")
    if not number.is_finite():
        raise CoercionError("must be a finite number")
    return number


def parse_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise CoercionError("must be true or false")


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = value.strip() if isinstance(value, str) else None
    try:
        if text and len(text) == 10:
            return date.fromisoformat(text)
        if text:
            return datetime.fromisoformat(text).date()
    except ValueError:
        pass
    raise CoercionError("must be an ISO date (YYYY-MM-DD)")


def parse_datetime(value: Any, naive: tzinfo | None) -> datetime:
    """The instant in UTC; a value without an offset is read in the `naive` zone (refused if None)."""
    moment = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if moment is None:
        raise CoercionError("must be an ISO 8601 datetime")
    if moment.tzinfo is None:
        if naive is None:
            raise CoercionError(f"{str(value).strip()[:40]!r} has no UTC offset: send it with one (Z or +02:00), "
                                "or name its time zone in action.naive_datetime_time_zone")
        moment = moment.replace(tzinfo=naive)
    return moment.astimezone(UTC)


def parse_time(value: Any) -> str:
    if isinstance(value, str) and _TIME_TEXT.fullmatch(value.strip()):
        return value.strip()
    raise CoercionError("must be a time HH:MM:SS.sssZ")


def parse_id(value: Any) -> str:
    canonical = normalize_id(value) if isinstance(value, str) else None
    if canonical is None:
        raise CoercionError("is not a well-formed 15- or 18-character Salesforce id")
    return canonical


def _untyped(value: Any) -> Any:
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, Decimal)):
        return parse_number(value)
    raise CoercionError(f"has unsupported type {type(value).__name__}")


def typed(value: Any, field_type: str | None, naive: tzinfo | None = UTC) -> TypedValue:
    """`value` typed for a field of describe type `field_type` (None or "": by the value's Python type)."""
    kind = (field_type or "").lower()
    if value is None:
        return TypedValue(kind, None)
    if isinstance(value, (dict, list, tuple, set, bytes)):
        raise CoercionError(f"is {type(value).__name__}; only scalars can be matched")
    if kind in NUMERIC_TYPES:
        return TypedValue(kind, parse_number(value))
    parsers: dict[str, Any] = {"boolean": parse_boolean, "date": parse_date, "time": parse_time}
    if kind in parsers:
        return TypedValue(kind, parsers[kind](value))
    if kind == "datetime":
        return TypedValue(kind, parse_datetime(value, naive))
    if kind in ID_TYPES:
        return TypedValue(kind, parse_id(value))
    if kind:  # text of every kind, and types sfdest does not know: sent as text
        return TypedValue(kind, ("true" if value else "false") if isinstance(value, bool) else
                          value if isinstance(value, str) else str(value))
    return TypedValue(kind, _untyped(value))
