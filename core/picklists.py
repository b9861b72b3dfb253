"""Picklist values: a multi-select array to Salesforce's `a;b;c`, and the values a restricted picklist allows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.describe import FieldDescribe

MULTI_SEPARATOR = ";"
CURRENCY_FIELD = "CurrencyIsoCode"  # a multi-currency org's restricted picklist of enabled currencies
_SHOWN_ALLOWED = 20  # allowed values named in a message before "..."


class PicklistError(ValueError):
    """A value a restricted picklist does not allow; the message names the value and the allowed ones."""


def joined(values: Iterable[Any]) -> str | None:
    """A multi-select array as Salesforce stores it: `a;b;c` (None for an empty array)."""
    parts = []
    for v in values:
        if not isinstance(v, str) or isinstance(v, bool):
            raise ValueError("must hold only strings")
        if MULTI_SEPARATOR in v:
            raise ValueError(f"holds {v[:40]!r}, and a value of a multi-select picklist cannot contain ';'")
        parts.append(v)
    return MULTI_SEPARATOR.join(parts) or None


def selected(field: FieldDescribe, value: str) -> list[str]:
    """The values one field value selects: each of `a;b;c` for a multi-select picklist, else the value."""
    return [v for v in value.split(MULTI_SEPARATOR) if v] if field.type == "multipicklist" else [value]


def allowed_values(field: FieldDescribe) -> tuple[str, ...]:
    """The active values of the field."""
    return tuple(p.value for p in field.picklist_values if p.active)


def check_value(field: FieldDescribe, value: Any, allowed: Iterable[str] | None = None) -> None:
    """PicklistError unless every value selected is allowed: `allowed` (a record type's values) when given,
    else the field's active values. Only restricted picklists are checked; others accept new values."""
    if not field.restricted_picklist or not isinstance(value, str) or field.type not in ("picklist",
                                                                                       "multipicklist"):
        return
    permitted = tuple(allowed) if allowed is not None else allowed_values(field)
    bad = [v for v in selected(field, value) if v not in permitted]
    if bad:
        shown = ", ".join(permitted[:_SHOWN_ALLOWED]) + (", ..." if len(permitted) > _SHOWN_ALLOWED else "")
        raise PicklistError(f"{', '.join(repr(b[:80]) for b in bad)} {'is' if len(bad) == 1 else 'are'} not "
                            f"allowed in the restricted picklist {field.name}; allowed values: {shown or '(none)'}")
