"""Salesforce API names and record ids: strict checks, never rewriting."""

from __future__ import annotations

import re

# Letters, digits and single underscores; custom names end with __c and may carry a namespace (ns__Name__c).
_PART = r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*"
API_NAME = re.compile(rf"(?:(?:{_PART}__)?{_PART}__c|{_PART})", re.ASCII)
MAX_API_NAME = 80
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-5]{3})?", re.ASCII)
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def api_name_problem(name: str) -> str | None:
    """Why `name` is not a valid object or field API name, or None when it is."""
    if not name:
        return "must not be empty"
    if len(name) > MAX_API_NAME:
        return f"must be at most {MAX_API_NAME} characters"
    if not API_NAME.fullmatch(name):
        return (
            "must start with a letter and hold only ASCII letters, digits and single underscores "
            "(custom names end with __c)"
        )
    return None


def checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character id case-insensitive-safe."""
    out = []
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        out.append(_SUFFIX_ALPHABET[bits])
    return "".join(out)


def to_18(id15: str) -> str:
    return id15 + checksum(id15)


def normalize_id(value: str) -> str | None:
    """The canonical 18-character form of a 15- or 18-character id, or None if malformed.

    An 18-character id whose letter case was lost (upper- or lower-cased by a spreadsheet) is
    recovered from its suffix; an id whose suffix contradicts its body is malformed.
    """
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return None
    if len(value) == 15:
        return to_18(value)
    body, suffix = value[:15], value[15:].upper()
    if checksum(body) == suffix:
        return body + suffix
    if body not in (body.upper(), body.lower()):
        return None  # mixed case that contradicts the suffix: not a lost-case id
    recovered = []
    for n, chunk in enumerate((body[0:5], body[5:10], body[10:15])):
        bits = _SUFFIX_ALPHABET.index(suffix[n])
        for i, ch in enumerate(chunk):
            upper = bool(bits & (1 << i))
            if ch.isdigit():
                if upper:
                    return None
                recovered.append(ch)
            else:
                recovered.append(ch.upper() if upper else ch.lower())
    fixed = "".join(recovered)
    return fixed + suffix if checksum(fixed) == suffix else None
