"""Event values to Salesforce field values, by the field's describe type."""

from __future__ import annotations

import math
from datetime import UTC, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.describe import ID_TYPES, NUMERIC_TYPES, TEXT_TYPES, FieldDescribe
from core.names import normalize_id
from core.picklists import joined
from core.typed_values import (
    MAX_STRING_LITERAL,
    CoercionError,
    parse_boolean,
    parse_date,
    parse_datetime,
    parse_id,
    parse_number,
)

__all__ = ["MAX_STRING_LITERAL", "CoercionError", "check_scalar", "coerce", "match_key", "time_zone"]

MAX_DIGITS = 18  # Salesforce numbers hold at most 18 digits
MAX_TIME_ZONE_NAME = 64
# Salesforce saves text (TEXT_TYPES) without leading or trailing whitespace: Java's String.trim() rule.
_TRIMMED = "".join(chr(c) for c in range(0x21))


def _kind(value: Any) -> str:
    return "an object" if isinstance(value, dict) else "an array" if isinstance(value, list) else type(value).__name__


def check_scalar(value: Any) -> None:
    if isinstance(value, (dict, list, tuple)):
        raise CoercionError(f"is {_kind(value)}; only strings, numbers, booleans and ISO dates are allowed")
    if isinstance(value, float) and not math.isfinite(value):
        raise CoercionError("is not a finite number")
    if value is not None and not isinstance(value, (str, int, float, bool)):
        raise CoercionError(f"has unsupported type {type(value).__name__}")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise CoercionError("is not valid Unicode text (it holds a lone surrogate)") from None


def _number(value: Any, integral: bool) -> int | float:
    number = parse_number(value)
    if number and not -MAX_DIGITS <= number.adjusted() < MAX_DIGITS:
        raise CoercionError(f"is outside the range of a Salesforce number (at most {MAX_DIGITS} digits)")
    if number == number.to_integral_value():
        return int(number)
    if integral:
        raise CoercionError("must be a whole number")
    return float(number)


def _date(value: Any) -> str:
    if not isinstance(value, str):
        raise CoercionError("must be an ISO date (YYYY-MM-DD)")
    return parse_date(value).isoformat()


def time_zone(name: str) -> tzinfo:
    """The IANA time zone called `name` (e.g. Europe/Paris, UTC), or CoercionError."""
    try:
        if 0 < len(name) <= MAX_TIME_ZONE_NAME:
            return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    raise CoercionError(f"{name[:MAX_TIME_ZONE_NAME]!r} is not an IANA time zone name (e.g. Europe/Paris, "
                        "America/New_York, UTC)")


def _datetime(value: Any, naive: tzinfo | None) -> str:
    """UTC with milliseconds; a value without an offset is read in the `naive` zone (refused if None)."""
    if not isinstance(value, str):
        raise CoercionError("must be an ISO 8601 datetime")
    moment = parse_datetime(value, naive)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def coerce(value: Any, field: FieldDescribe | None, naive_time_zone: tzinfo | None = None) -> Any:
    """The value to send for `field`, or CoercionError naming the rule broken. A datetime without an
    offset is read in `naive_time_zone`, and refused without one. An array for a multi-select picklist
    becomes Salesforce's `a;b;c` (an empty array clears the field)."""
    if field is not None and field.type == "multipicklist" and isinstance(value, (list, tuple)):
        try:
            return joined(value)
        except ValueError as exc:
            raise CoercionError(str(exc)) from None
    check_scalar(value)
    if value is None or field is None:
        return value
    kind = field.type
    if kind in NUMERIC_TYPES:
        return _number(value, integral=kind in ("int", "long"))
    if kind == "boolean":
        return parse_boolean(value)
    if kind == "date":
        return _date(value)
    if kind == "datetime":
        return _datetime(value, naive_time_zone)
    if kind in ID_TYPES:
        return parse_id(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    return text.strip(_TRIMMED) if kind in TEXT_TYPES else text


def fold_case(text: str) -> str:
    """Text as SOQL compares it on a case-insensitive field: full case mapping, upper then lower (ß = SS = ss)."""
    return text.upper().lower()


def match_key(value: Any, field: FieldDescribe | None) -> Any:
    """A key such that two values are equal in a SOQL `=` exactly when their keys are equal."""
    if value is None:
        return None
    kind = field.type if field else ""
    if kind in NUMERIC_TYPES and not isinstance(value, bool):
        try:
            return ("n", Decimal(str(value)).normalize())
        except InvalidOperation:
            return ("s", str(value))
    if kind == "boolean":
        try:
            return ("b", parse_boolean(value))
        except CoercionError:
            return ("s", str(value))
    if kind in ID_TYPES:
        return ("i", normalize_id(str(value)) or str(value))
    if kind == "datetime":
        try:
            return ("t", _datetime(value, UTC)[:19])  # values compared are typed already
        except CoercionError:
            return ("s", str(value))
    if kind == "date":
        return ("d", str(value)[:10])
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value).strip(_TRIMMED) if kind in TEXT_TYPES else str(value)
    return ("s", text if field is not None and field.case_sensitive else fold_case(text))
