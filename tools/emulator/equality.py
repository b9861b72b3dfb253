"""How Salesforce compares field values: SOQL `=`, `IN`, `<`, `LIKE` and ORDER BY, and upsert key matching.

Written from Salesforce's documentation, on purpose without core.coercion or the memory org's
matching, so a wrong equality in core shows up as a disagreement instead of passing both legs:

- SOQL and SOSL Reference, "Comparison Operators": string comparisons are case-insensitive except
  for unique case-sensitive fields (describe `caseSensitive: true`); the case rules are those of the
  querying user's locale (its example: for a Turkish user `Service` matches `SERVİCE`, not `SERVICE`),
  so case is folded by full Unicode case mapping, upper then lower, with the locale's special letters.
  Nothing else is folded: accents, compatibility forms and whitespace all count (`é` is not `e`).
- "Comparison Operators", LIKE: case-insensitive, `%` any run of characters, `_` exactly one,
  whole-value match; only for string fields.
- "Use null in WHERE": `= null` finds null values; on a boolean field null matches false.
- Record ids: a 15-character id is case-sensitive; the 18-character form appends three characters
  that encode the case of the first 15, so it compares equal to its 15-character body and is read
  whatever the letter case it arrives in.
- Numbers compare by value (`1`, `1.0` and `1E0` are equal); dates by day; datetimes by instant
  (any offset; a SOQL datetime literal has whole seconds, as stored values do: datetime fields drop
  milliseconds on save); booleans as true/false.
- Apex Developer Guide, "Upserting Records": an upsert matches a custom field case-insensitively only
  when it is Unique and case-insensitive, so a non-unique custom external id matches case-exactly
  (`upsert_key`), where SOQL would not.

What Salesforce stores matters as much as how it compares: text fields never keep leading or trailing
whitespace (Apex Developer Guide, "Primitive Data Types": sObject string values "can never include
leading and trailing whitespace", as the SOAP API) and Java's String.trim() rule removes every code
point up to U+0020, not U+00A0 or U+3000 (forcedotcom/dataloader PR #1453 trims full-width spaces
client-side because the server does not). The org the emulator stores in saves text that way and
matches upsert keys trimmed; a SOQL string literal is compared as written (nothing documents literal
trimming), so ` Acme` does not find `Acme`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from core.describe import FieldDescribe

NUMBER_TYPES = frozenset({"int", "long", "double", "currency", "percent"})
ID_FIELD_TYPES = frozenset({"id", "reference"})
DEFAULT_LOCALE = "en_US"
_TYPED = NUMBER_TYPES | ID_FIELD_TYPES | {"boolean", "datetime", "date"}
_ID_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_BODY = re.compile(r"[0-9A-Za-z]{15}", re.ASCII)


def fold_case(text: str, locale: str = DEFAULT_LOCALE) -> str:
    """The case-insensitive form of `text` under the user's locale: full upper-case mapping, then lower."""
    if locale[:2].lower() in ("tr", "az"):  # dotted and dotless i are separate letters
        upper = text.replace("i", "\u0130").upper()
        return upper.replace("I", "\u0131").replace("\u0130", "i").lower()
    return text.upper().lower()


def record_id(text: Any) -> str | None:
    """The case-exact 15-character body an id names, or None when `text` is no well-formed id."""
    if not isinstance(text, str) or len(text) not in (15, 18) or not _ID_BODY.fullmatch(text[:15]):
        return None
    body = text[:15]
    if len(text) == 15:
        return body
    positions = [_ID_SUFFIX.find(ch) for ch in text[15:].upper()]
    if -1 in positions:
        return None
    upper_at = [bool(positions[i // 5] >> (i % 5) & 1) for i in range(15)]
    if any(up and ch.isdigit() for up, ch in zip(upper_at, body, strict=True)):
        return None
    restored = "".join(ch.upper() if up else ch.lower() for up, ch in zip(upper_at, body, strict=True))
    if body != restored and body not in (body.upper(), body.lower()):
        return None  # the body's own mixed case contradicts its suffix
    return restored


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(str(value))
    except InvalidOperation:
        return None
    return number.normalize() if number.is_finite() else None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _day(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        return None


def key(value: Any, field: FieldDescribe, locale: str = DEFAULT_LOCALE) -> Any:
    """A hashable, orderable form of `value` in `field`: two values are SOQL-equal exactly when their keys are.

    None means null (no value), except on a boolean field, where null reads as false.
    Keys of one field share a kind, so they sort; a value the field's type cannot read
    compares as its text and equals nothing of the field's own type.
    """
    kind = field.type
    if value is None:
        return (0, False) if kind == "boolean" else None
    typed: Any = None
    if kind in NUMBER_TYPES:
        typed = _number(value)
    elif kind == "boolean":
        typed = _boolean(value)
    elif kind in ID_FIELD_TYPES:
        typed = record_id(value)
    elif kind == "datetime":
        typed = _instant(value)
    elif kind == "date":
        typed = _day(value)
    if typed is not None:
        return (0, typed)
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if kind in _TYPED:
        return (1, text)  # not of the field's type: equal to no stored value
    return (0, text if field.case_sensitive else fold_case(text, locale))


def upsert_key(value: Any, field: FieldDescribe, locale: str = DEFAULT_LOCALE) -> Any:
    """What an upsert compares: as `key`, except that a custom text field matches case-exactly unless it
    is unique and case-insensitive (Apex Developer Guide, "Upserting Records": custom field matching is
    case-insensitive only with the Unique and "Treat ABC and abc as duplicate values" attributes)."""
    if isinstance(value, str) and field.name.endswith("__c") and not field.unique and field.type not in _TYPED:
        return (0, value)
    return key(value, field, locale)


def equal(left: Any, right: Any, field: FieldDescribe, locale: str = DEFAULT_LOCALE) -> bool:
    """SOQL `field = right` for a record holding `left` (null = null is true, as `= null` finds nulls)."""
    return key(left, field, locale) == key(right, field, locale)


def ordered(op: str, left: Any, right: Any, field: FieldDescribe, locale: str = DEFAULT_LOCALE) -> bool:
    """SOQL `<`, `<=`, `>`, `>=`: false whenever either side is null or of another kind."""
    a, b = key(left, field, locale), key(right, field, locale)
    if a is None or b is None or a[0] != b[0] or a[0] != 0:
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def like(pattern: tuple[tuple[str, str], ...], value: Any, locale: str = DEFAULT_LOCALE) -> bool:
    """SOQL LIKE: `pattern` is (kind, text) parts, kind 'lit', 'any' (%) or 'one' (_); case-insensitive."""
    if value is None:
        return False
    regex = "".join(".*" if kind == "any" else "." if kind == "one" else re.escape(fold_case(text, locale))
                    for kind, text in pattern)
    return re.fullmatch(regex, fold_case(str(value), locale), re.DOTALL) is not None

